// End-to-end tests: the real edgelab binary over real HTTP on 127.0.0.1.
// The post's story (the broken counter loses updates, the CAS counter is
// exact), guest faults as data, config/module errors, and shutdown.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/server_process.h"

namespace edgelab::e2e {
namespace {

// An edge.toml in `dir` for the module at build path `wasm`.
std::string Config(const TempDir& dir, const std::string& wasm, const std::string& extra = "") {
  return dir.Write("edge.toml",
                   "name = \"t\"\nmain = \"" + BuildPath(wasm) + "\"\n" +
                       "[[kv_namespaces]]\nbinding = \"EDGE_COUNTER_KV\"\nid = \"c\"\n" +
                       "[[kv_namespaces]]\nbinding = \"KV\"\nid = \"kv\"\n" + extra);
}

// Runs `edgelab bench URL -n N -c C --verify /value --json -` and returns its one repetition.
nlohmann::json Bench(const ServerProcess& s, int n, int c, const std::string& path = "/") {
  ProcessRun r = RunEdgelab({"bench", s.url(path), "-n", std::to_string(n), "-c", std::to_string(c),
                             "--verify", "/value", "--json", "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j.is_discarded() ? j : j["targets"][0]["reps"][0];
}

TEST(EndToEnd, HelloAnswersHello) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(Config(dir, "examples/hello.wasm"), {"--data", ":memory:"})) << s.err();
  HttpResult r = HttpGet(s.port(), "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(s.WaitForLog("GET / 200"));
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, BrokenCounterLosesUpdatesUnderConcurrency) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(Config(dir, "examples/counter-broken.wasm"), {"--quiet"})) << s.err();
  auto j = Bench(s, 1000, 100);
  EXPECT_EQ(j["completed"], 1000);
  EXPECT_EQ(j["failed"], 0);
  int64_t value = j["verify"]["after"];
  EXPECT_LT(value, 1000) << "the race did not lose any update";
  EXPECT_GT(value, 0);
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, CasCounterIsExactWithNo5xx) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(Config(dir, "examples/counter-cas.wasm"), {"--quiet"})) << s.err();
  auto j = Bench(s, 1000, 100);
  EXPECT_EQ(j["completed"], 1000);
  EXPECT_EQ(j["failed"], 0) << j.dump();
  EXPECT_EQ(j["verify"]["after"], 1000);
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, CounterSurvivesRestartOnSqlite) {
  TempDir dir;
  std::string config = Config(dir, "examples/counter-cas.wasm");
  {
    ServerProcess s;
    ASSERT_TRUE(s.Start(config, {"--quiet"})) << s.err();
    for (int i = 0; i < 5; ++i) ASSERT_EQ(HttpGet(s.port(), "/").status, 200);
    ASSERT_EQ(s.Stop(), 0);
  }
  ServerProcess s;
  ASSERT_TRUE(s.Start(config, {"--quiet"})) << s.err();
  EXPECT_EQ(HttpGet(s.port(), "/value").body, "5");
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, ThousandRequestsInFlightSleepingInGuestsAllSucceed) {
  TempDir dir;
  ServerProcess s;
  // Every request sleeps 200 ms inside the guest: 1000 of them at once only
  // finish without errors if a sleeping guest holds no OS thread.
  ASSERT_TRUE(s.Start(Config(dir, "tests/guests/abi_probe.wasm", "[isolates]\nmax = 1000\n"),
                      {"--quiet", "--data", ":memory:"}))
      << s.err();
  ProcessRun r =
      RunEdgelab({"bench", s.url("/sleep/200"), "-n", "2000", "-c", "1000", "--json", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out)["targets"][0]["reps"][0];
  EXPECT_EQ(j["completed"], 2000);
  EXPECT_EQ(j["failed"], 0) << j.dump();
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, GuestFaultsEndTheRequestAndTheServerKeepsServing) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(Config(dir, "tests/guests/limits.wasm", "[limits]\nmemory_mb = 16\n"),
                      {"--data", ":memory:"}))
      << s.err();
  EXPECT_EQ(HttpGet(s.port(), "/loop").status, 503);
  EXPECT_TRUE(s.WaitForLog("exceeded CPU limit"));
  EXPECT_EQ(HttpGet(s.port(), "/ok").body, "ok");
  EXPECT_EQ(HttpGet(s.port(), "/bomb").status, 503);
  EXPECT_TRUE(s.WaitForLog("exceeded memory limit"));
  EXPECT_EQ(HttpGet(s.port(), "/ok").body, "ok");
  EXPECT_EQ(HttpGet(s.port(), "/recurse").status, 500);
  EXPECT_EQ(HttpGet(s.port(), "/ok").body, "ok");
  HttpResult trap = HttpGet(s.port(), "/trap");
  EXPECT_EQ(trap.status, 500);
  EXPECT_TRUE(s.WaitForLog("trap in "));
  EXPECT_EQ(HttpGet(s.port(), "/ok").body, "ok");
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, MalformedHttpIs400AndOversizedBodyIs413) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(
      s.Start(Config(dir, "examples/hello.wasm"), {"--data", ":memory:", "--max-body", "1024"}))
      << s.err();
  EXPECT_EQ(RawExchange(s.port(), "BLAH\r\n\r\n").substr(0, 12), "HTTP/1.1 400");
  EXPECT_EQ(HttpRequest(s.port(), "POST", "/", std::string(2048, 'x')).status, 413);
  EXPECT_EQ(HttpGet(s.port(), "/").status, 200);
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, SigtermLetsInFlightRequestsFinishThenExitsZero) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(Config(dir, "tests/guests/abi_probe.wasm"), {"--data", ":memory:"}))
      << s.err();
  auto slow = std::async(std::launch::async, [&] { return HttpGet(s.port(), "/sleep/300"); });
  // The probe logs before it sleeps: from here the request is in flight.
  ASSERT_TRUE(s.WaitForLog("sleeping 300 ms")) << s.err();
  auto stopped = std::async(std::launch::async, [&] { return s.Stop(SIGTERM); });
  HttpResult r = slow.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(stopped.get(), 0);
}

TEST(EndToEnd, IsolatesMaxBoundsTheWholeProcessNotEachThread) {
  TempDir dir;
  ServerProcess s;
  // max = 1 on two loop threads: one isolate serves everything, so its module
  // global counts every request (once each loop had its own isolate).
  ASSERT_TRUE(s.Start(Config(dir, "tests/guests/abi_probe.wasm", "[isolates]\nmax = 1\n"),
                      {"--quiet", "--data", ":memory:", "--threads", "2"}))
      << s.err();
  for (int i = 1; i <= 20; ++i) EXPECT_EQ(HttpGet(s.port(), "/global").body, std::to_string(i));
  EXPECT_EQ(s.Stop(), 0);
}

TEST(EndToEnd, DrainGivesUpAfterItsTimeoutAndExitsOne) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(Config(dir, "tests/guests/abi_probe.wasm"),
                      {"--data", ":memory:", "--drain-timeout", "0.2"}))
      << s.err();
  auto stuck = std::async(std::launch::async, [&] { return HttpGet(s.port(), "/sleep/600000"); });
  ASSERT_TRUE(s.WaitForLog("sleeping 600000 ms")) << s.err();
  EXPECT_EQ(s.Stop(SIGTERM), 1);
  EXPECT_NE(s.err().find("drain timed out"), std::string::npos) << s.err();
  EXPECT_EQ(stuck.get().status, 0);  // the connection closed unanswered
}

TEST(EndToEnd, ASecondSignalStopsAtOnce) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(Config(dir, "tests/guests/abi_probe.wasm"), {"--data", ":memory:"}))
      << s.err();
  auto stuck = std::async(std::launch::async, [&] { return HttpGet(s.port(), "/sleep/600000"); });
  ASSERT_TRUE(s.WaitForLog("sleeping 600000 ms")) << s.err();
  s.Signal(SIGTERM);
  ASSERT_TRUE(s.WaitForLog("again to stop now")) << s.err();
  EXPECT_EQ(s.Stop(SIGINT), 1);
  EXPECT_NE(s.err().find("again: stopping now"), std::string::npos) << s.err();
  EXPECT_EQ(stuck.get().status, 0);
}

TEST(EndToEnd, ConfigErrorsNameTheFileAndKey) {
  TempDir dir;
  std::string bad = dir.Write("edge.toml", "main = \"w.wasm\"\n[limits]\ncpu = 5\n");
  ProcessRun r = RunEdgelab({"serve", bad, "--port", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(bad + ":3:1: limits.cpu: unknown key"), std::string::npos) << r.err;
}

TEST(EndToEnd, MalformedModuleIsAnErrorNamingTheFile) {
  TempDir dir;
  std::string wasm = dir.Write("bad.wasm", "\0asm\x01\0\0\0garbage");
  std::string config = dir.Write("edge.toml", "main = \"bad.wasm\"\n");
  ProcessRun r = RunEdgelab({"serve", config, "--port", "0", "--data", ":memory:"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(wasm), std::string::npos) << r.err;
  std::string missing = dir.Write("edge2.toml", "main = \"nope.wasm\"\n");
  r = RunEdgelab({"serve", missing, "--port", "0", "--data", ":memory:"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nope.wasm"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgelab::e2e
