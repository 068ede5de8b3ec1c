// Tests for edge.toml parsing: wrangler's names, defaults, and errors that
// point at the file, line and key.
#include "runtime/config.h"

#include <gtest/gtest.h>

namespace edgelab::runtime {
namespace {

Result<Config> Parse(std::string_view text) { return ParseConfig("/w/edge.toml", text); }

testing::AssertionResult FailsWith(std::string_view text, std::string_view needle) {
  auto c = Parse(text);
  if (c.ok()) return testing::AssertionFailure() << "parsed fine";
  if (c.status().message().find(needle) == std::string::npos) {
    return testing::AssertionFailure() << "message was: " << c.status().message();
  }
  return testing::AssertionSuccess();
}

TEST(ConfigTest, FullConfigParsesWithWranglerNames) {
  auto c = Parse(R"(
name = "counter"
main = "build/counter.wasm"
[[kv_namespaces]]
binding = "EDGE_COUNTER_KV"
id = "counter"
[limits]
cpu_ms = 20
memory_mb = 64
[isolates]
min = 2
max = 8
[kv.latency]
dist = "uniform"
min_ms = 1
max_ms = 9
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "counter");
  EXPECT_EQ(c->main, "/w/build/counter.wasm");
  ASSERT_EQ(c->kv_namespaces.size(), 1u);
  EXPECT_EQ(c->kv_namespaces[0].binding, "EDGE_COUNTER_KV");
  EXPECT_EQ(c->cpu_ms, 20u);
  EXPECT_EQ(c->memory_mb, 64u);
  EXPECT_EQ(c->isolates_min, 2u);
  EXPECT_EQ(c->isolates_max, 8u);
  EXPECT_EQ(c->kv_latency.dist, kv::Latency::Dist::kUniform);
  EXPECT_EQ(c->kv_latency.max_ms, 9);
}

TEST(ConfigTest, DefaultsApplyWhenSectionsAreMissing) {
  auto c = Parse("main = \"/abs/w.wasm\"\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->main, "/abs/w.wasm");
  EXPECT_EQ(c->name, "w");  // the folder's name
  EXPECT_EQ(c->cpu_ms, 50u);
  EXPECT_EQ(c->kv_latency.dist, kv::Latency::Dist::kNone);
}

TEST(ConfigTest, UnknownKeysAreErrorsNamingThemAndTheirLine) {
  EXPECT_TRUE(FailsWith("main = \"a.wasm\"\nmian = 1\n", "/w/edge.toml:2:1: mian: unknown key"));
  EXPECT_TRUE(FailsWith("main = \"a.wasm\"\n[limits]\ncpu = 5\n", "limits.cpu: unknown key"));
  EXPECT_TRUE(FailsWith("main = \"a.wasm\"\n[kv.latency]\ndist = \"fixed\"\nmedian_ms = 3\n",
                        "kv.latency.median_ms: unknown key"));
}

TEST(ConfigTest, BadValuesAreErrorsNamingTheKey) {
  EXPECT_TRUE(FailsWith("name = \"x\"\n", "main: missing"));
  EXPECT_TRUE(FailsWith("main = 5\n", "main: must be a string"));
  EXPECT_TRUE(FailsWith("main = \"a\"\n[limits]\ncpu_ms = 0\n", "limits.cpu_ms: must be in"));
  EXPECT_TRUE(FailsWith("main = \"a\"\n[isolates]\nmin = 5\nmax = 2\n", "min (5) is above max"));
  EXPECT_TRUE(FailsWith("main = \"a\"\n[kv.latency]\ndist = \"normal\"\n", "not one of"));
  EXPECT_TRUE(
      FailsWith("main = \"a\"\n[[kv_namespaces]]\nbinding = \"A\"\n"
                "[[kv_namespaces]]\nbinding = \"A\"\n",
                "duplicate binding"));
  EXPECT_TRUE(FailsWith("main = \"a\"\nkv_namespaces = 3\n", "kv_namespaces"));
}

TEST(ConfigTest, NonFiniteLatencyIsRejected) {
  EXPECT_TRUE(FailsWith("main = \"a\"\n[kv.latency]\ndist = \"fixed\"\nms = nan\n",
                        "kv.latency.ms: must be a number from 0"));
  EXPECT_TRUE(FailsWith("main = \"a\"\n[kv.latency]\ndist = \"fixed\"\nms = inf\n",
                        "kv.latency.ms: must be a number from 0"));
}

TEST(ConfigTest, ARelativePathStillNamesTheWorkerAfterItsFolder) {
  auto c = ParseConfig("edge.toml", "main = \"w.wasm\"\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->name.empty());
}

TEST(ConfigTest, TomlSyntaxErrorsNameFileAndLine) {
  EXPECT_TRUE(FailsWith("main = \"a\"\n[limits\n", "/w/edge.toml:2:"));
}

TEST(ConfigTest, MissingFileIsNotFoundNamingIt) {
  auto c = LoadConfig("/nonexistent/edge.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/edge.toml"), std::string::npos);
}

TEST(ConfigTest, DurableObjectBindingsFollowWrangler) {
  auto c = Parse(R"(
main = "build/counter.wasm"
[vars]
LOCK_SHARDS = "4"
RETRIES = 3
RATIO = 0.5
VERBOSE = true
[durable_objects]
idle_timeout_ms = 500
alarm_retry_ms = 20
alarm_max_retries = 2
max_live_objects = 50
[[durable_objects.bindings]]
name = "COUNTER_LOCK"
class_name = "CounterLock"
script = "build/lock.wasm"
[[durable_objects.bindings]]
name = "SELF"
class_name = "Counter"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->durable_objects.size(), 2u);
  EXPECT_EQ(c->durable_objects[0].name, "COUNTER_LOCK");
  EXPECT_EQ(c->durable_objects[0].class_name, "CounterLock");
  EXPECT_EQ(c->durable_objects[0].script, "/w/build/lock.wasm");
  EXPECT_EQ(c->durable_objects[1].script, "/w/build/counter.wasm");  // the worker's own module
  EXPECT_EQ(c->do_idle_timeout_ms, 500u);
  EXPECT_EQ(c->do_alarm_retry_ms, 20u);
  EXPECT_EQ(c->do_alarm_max_retries, 2u);
  EXPECT_EQ(c->do_max_live_objects, 50u);
  EXPECT_EQ(c->vars.at("LOCK_SHARDS"), "4");
  EXPECT_EQ(c->vars.at("RETRIES"), "3");
  EXPECT_EQ(c->vars.at("RATIO"), "0.5");
  EXPECT_EQ(c->vars.at("VERBOSE"), "true");
}

TEST(ConfigTest, DurableObjectMistakesAreErrorsNamingTheKey) {
  const std::string head = "main = \"a.wasm\"\n";
  EXPECT_TRUE(FailsWith(head + "[[durable_objects.bindings]]\nclass_name = \"C\"\n",
                        "durable_objects.bindings.name: missing"));
  EXPECT_TRUE(FailsWith(head + "[[durable_objects.bindings]]\nname = \"A\"\n",
                        "durable_objects.bindings.class_name: missing"));
  EXPECT_TRUE(FailsWith(head + "[[durable_objects.bindings]]\nname = \"A\"\nclass = \"C\"\n",
                        "durable_objects.bindings.class: unknown key"));
  EXPECT_TRUE(FailsWith(head + "[[durable_objects.bindings]]\nname = \"A\"\nclass_name = \"C\"\n"
                               "[[durable_objects.bindings]]\nname = \"A\"\nclass_name = \"D\"\n",
                        "duplicate binding \"A\""));
  EXPECT_TRUE(FailsWith(head + "[[durable_objects.bindings]]\nname = \"A\"\nclass_name = \"C\"\n"
                               "[[durable_objects.bindings]]\nname = \"B\"\nclass_name = \"C\"\n"
                               "script = \"other.wasm\"\n",
                        "class \"C\" is already implemented by /w/a.wasm"));
  EXPECT_TRUE(FailsWith(head + "[durable_objects]\nidle_timeout_ms = 0\n",
                        "durable_objects.idle_timeout_ms: must be in"));
  EXPECT_TRUE(FailsWith(head + "[vars]\nLIST = [1, 2]\n", "vars.LIST: must be a string"));
}

TEST(ConfigTest, LocationsCachingAndRoutingDefaultToOneLocalLocation) {
  auto c = Parse("main = \"a.wasm\"\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->locations.size(), 1u);
  EXPECT_EQ(c->locations[0].name, "local");
  EXPECT_EQ(c->locations[0].weight, 1);
  EXPECT_EQ(c->kv_cache_ttl_ms, 60'000);
  EXPECT_EQ(c->kv_propagation.dist, kv::Latency::Dist::kLogNormal);
  EXPECT_EQ(c->kv_propagation.median_ms, 1000);
  EXPECT_EQ(c->kv_propagation.sigma, 0.5);
  EXPECT_EQ(c->spread, Config::Spread::kRoundRobin);
  EXPECT_EQ(c->location_header, "x-edgelab-location");
}

TEST(ConfigTest, LocationsCachingAndRoutingParse) {
  auto c = Parse(R"(
main = "a.wasm"
[[kv_namespaces]]
binding = "EVENTUAL"
[[kv_namespaces]]
binding = "STRONG"
consistency = "strong"
[[kv_namespaces]]
binding = "EXPLICIT"
consistency = "eventual"
[[locations]]
name = "fra"
weight = 2
[[locations]]
name = "sjc_1-b"
[[locations]]
name = "syd"
weight = 0.5
[kv]
cache_ttl_ms = 0
[kv.latency]
dist = "fixed"
ms = 3
[kv.propagation]
dist = "uniform"
min_ms = 100
max_ms = 900
[routing]
spread = "weighted"
header = "CF-Colo"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->kv_namespaces.size(), 3u);
  EXPECT_EQ(c->kv_namespaces[0].consistency, kv::Consistency::kEventual);
  EXPECT_EQ(c->kv_namespaces[1].consistency, kv::Consistency::kStrong);
  EXPECT_EQ(c->kv_namespaces[2].consistency, kv::Consistency::kEventual);
  ASSERT_EQ(c->locations.size(), 3u);
  EXPECT_EQ(c->locations[0].name, "fra");
  EXPECT_EQ(c->locations[0].weight, 2);
  EXPECT_EQ(c->locations[1].name, "sjc_1-b");
  EXPECT_EQ(c->locations[1].weight, 1);
  EXPECT_EQ(c->locations[2].weight, 0.5);
  EXPECT_EQ(c->kv_cache_ttl_ms, 0);
  EXPECT_EQ(c->kv_latency.dist, kv::Latency::Dist::kFixed);
  EXPECT_EQ(c->kv_latency.ms, 3);
  EXPECT_EQ(c->kv_propagation.dist, kv::Latency::Dist::kUniform);
  EXPECT_EQ(c->kv_propagation.min_ms, 100);
  EXPECT_EQ(c->kv_propagation.max_ms, 900);
  EXPECT_EQ(c->spread, Config::Spread::kWeighted);
  EXPECT_EQ(c->location_header, "cf-colo");  // header names compare case-insensitively
}

TEST(ConfigTest, APropagationTableReplacesTheDefaultWhole) {
  auto c = Parse("main = \"a\"\n[kv.propagation]\nms = 0\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kv_propagation.dist, kv::Latency::Dist::kNone);  // instant
  EXPECT_EQ(c->kv_propagation.median_ms, 0);
  c = Parse("main = \"a\"\n[kv]\ncache_ttl_ms = 5\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kv_cache_ttl_ms, 5);
  EXPECT_EQ(c->kv_propagation.dist, kv::Latency::Dist::kLogNormal);  // untouched
}

TEST(ConfigTest, LocationMistakesAreErrorsNamingTheKey) {
  const std::string head = "main = \"a.wasm\"\n";
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nweight = 2\n", "locations.name: missing"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"\"\n",
                        "locations.name: \"\" must be 1 to 32 characters"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"a b\"\n",
                        "/w/edge.toml:3:8: locations.name: \"a b\" must be 1 to 32"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"" + std::string(33, 'x') + "\"\n",
                        "must be 1 to 32 characters"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = 7\n", "locations.name: must be a string"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"fra\"\n[[locations]]\nname = \"fra\"\n",
                        "/w/edge.toml:5:8: locations.name: duplicate location \"fra\""));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"fra\"\nweight = 0\n",
                        "locations.weight: must be a positive number"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"fra\"\nweight = -1.5\n",
                        "locations.weight: must be a positive number"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"fra\"\nweight = inf\n",
                        "locations.weight: must be a positive number"));
  EXPECT_TRUE(FailsWith(head + "[[locations]]\nname = \"fra\"\nweight = \"2\"\n",
                        "locations.weight: must be a positive number"));
  EXPECT_TRUE(
      FailsWith(head + "[[locations]]\nname = \"fra\"\ncolo = 1\n", "locations.colo: unknown key"));
  EXPECT_TRUE(FailsWith(head + "locations = \"fra\"\n", "locations: must be [[locations]] tables"));
  std::string many = head;
  for (int i = 0; i <= 1000; ++i) many += "[[locations]]\nname = \"l" + std::to_string(i) + "\"\n";
  EXPECT_TRUE(FailsWith(many, "1001 locations; at most 1000"));
}

TEST(ConfigTest, CachingAndRoutingMistakesAreErrorsNamingTheKey) {
  const std::string head = "main = \"a.wasm\"\n";
  EXPECT_TRUE(FailsWith(head + "[kv]\ncache_ttl_ms = -1\n",
                        "/w/edge.toml:3:16: kv.cache_ttl_ms: must be an integer >= 0"));
  EXPECT_TRUE(
      FailsWith(head + "[kv]\ncache_ttl_ms = 1.5\n", "kv.cache_ttl_ms: must be an integer"));
  EXPECT_TRUE(FailsWith(head + "[kv]\ncache_ttl = 5\n", "kv.cache_ttl: unknown key"));
  EXPECT_TRUE(FailsWith(head + "[kv.propagation]\ndist = \"normal\"\n",
                        "kv.propagation.dist: \"normal\" is not one of fixed, uniform, lognormal"));
  EXPECT_TRUE(FailsWith(head + "[kv.propagation]\ndist = \"fixed\"\nmedian_ms = 3\n",
                        "kv.propagation.median_ms: unknown key"));
  EXPECT_TRUE(FailsWith(head + "[kv.propagation]\ndist = \"uniform\"\nmin_ms = 5\nmax_ms = 1\n",
                        "kv.propagation: max_ms is below min_ms"));
  EXPECT_TRUE(FailsWith(head + "[kv.propagation]\ndist = \"lognormal\"\nmedian_ms = nan\n",
                        "kv.propagation.median_ms: must be a number from 0"));
  EXPECT_TRUE(FailsWith(head + "[kv]\npropagation = 5\n", "propagation: must be a table"));
  EXPECT_TRUE(FailsWith(head + "[routing]\nspread = \"random\"\n",
                        "/w/edge.toml:3:10: routing.spread: \"random\" is not one of "
                        "round-robin, weighted"));
  EXPECT_TRUE(FailsWith(head + "[routing]\nspread = 1\n", "routing.spread: must be a string"));
  EXPECT_TRUE(
      FailsWith(head + "[routing]\nheader = \"\"\n", "routing.header: \"\" is not a header"));
  EXPECT_TRUE(FailsWith(head + "[routing]\nheader = \"x location\"\n",
                        "routing.header: \"x location\" is not a header name"));
  EXPECT_TRUE(FailsWith(head + "[routing]\nheaders = \"x\"\n", "routing.headers: unknown key"));
  EXPECT_TRUE(FailsWith(head + "routing = 1\n", "routing: must be a table"));
  EXPECT_TRUE(FailsWith(head + "[[kv_namespaces]]\nbinding = \"A\"\nconsistency = \"linear\"\n",
                        "/w/edge.toml:4:15: kv_namespaces.consistency: \"linear\" is not one of "
                        "eventual, strong"));
}

}  // namespace
}  // namespace edgelab::runtime
