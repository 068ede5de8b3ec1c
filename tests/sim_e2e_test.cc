// `edgelab test` end to end (issue 6): the real binary on the example
// workers: exit codes, the failing seed and its replay, byte-identical
// replays, --shrink, --strategy pct, examples/flag's scenarios and the
// command's errors. src/sim/simulation_test.cc checks the engine's results
// in-process; this checks what a user sees.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/server_process.h"

namespace edgelab::e2e {
namespace {

std::string Scenario(const std::string& rel) { return SourcePath("examples/" + rel); }

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// The words of the line of `out` that starts with `prefix` (without it), or
// {} when there is none.
std::vector<std::string> LineAfter(const std::string& out, const std::string& prefix) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream words(line.substr(prefix.size()));
    std::vector<std::string> all;
    for (std::string w; words >> w;) all.push_back(w);
    return all;
  }
  return {};
}

// The last "replay: edgelab test ..." line of `out`, as arguments after "edgelab".
std::vector<std::string> LastReplay(const std::string& out) {
  const std::string tag = "\nreplay: edgelab ";
  size_t at = out.rfind(tag);
  if (at == std::string::npos) return {};
  size_t end = out.find('\n', at + 1);
  std::istringstream words(out.substr(at + tag.size(), end - at - tag.size()));
  std::vector<std::string> args;
  for (std::string w; words >> w;) args.push_back(w);
  return args;
}

TEST(SimE2E, CounterBrokenFailsWithinTenSchedulesAndSaysHowToReplay) {
  TempDir dir;
  const std::string config = ExampleConfig(dir, "counter-broken");
  ProcessRun r =
      RunEdgelab({"test", config, "-c", "10", "--schedules", "10", "--verify", "/value"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Has(
      r.out, "test counter-broken: 100 requests, 10 in flight, 10 schedules from seed 1 (random)"))
      << r.out;
  std::vector<std::string> failed = LineAfter(r.out, "schedule ");
  ASSERT_EQ(failed.size(), 6u) << r.out;  // N of 10, seed S: FAILED
  EXPECT_EQ(failed.back(), "FAILED");
  EXPECT_TRUE(Has(r.out, "\n  counter: /value is ")) << r.out;
  EXPECT_TRUE(Has(r.out, "\n  race: ")) << r.out;
  EXPECT_TRUE(Has(r.out, "\n  linearizable: key counter/global_counter: not linearizable"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "WARNING: edgelab: lost update")) << r.out;
  std::vector<std::string> replay = LastReplay(r.out);
  ASSERT_FALSE(replay.empty()) << r.out;
  EXPECT_EQ(replay[1], config);
  EXPECT_EQ(replay[replay.size() - 2], "--replay");
  EXPECT_EQ(replay.back() + ":", failed[4]) << r.out;
}

TEST(SimE2E, ReplayPrintsTheSameBytesTwiceAndExits1) {
  TempDir dir;
  const std::string config = ExampleConfig(dir, "counter-broken");
  const std::vector<std::string> args = {"test", config,     "-n",     "100",      "-c",
                                         "10",   "--verify", "/value", "--replay", "1"};
  ProcessRun first = RunEdgelab(args);
  ProcessRun second = RunEdgelab(args);
  ASSERT_EQ(first.exit_code, 1) << first.out << first.err;
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_EQ(first.out, second.out);
  EXPECT_EQ(first.err, second.err);
  EXPECT_TRUE(Has(first.out,
                  "replay counter-broken: seed 1 (random), 100 requests, 10 in flight\nFAILED\n"))
      << first.out;
  // --replay prints every request's lines: all 100 began and ended.
  EXPECT_TRUE(Has(first.out, "#100  begin GET /")) << first.out;
  EXPECT_TRUE(Has(first.out, "(every request;")) << first.out;
}

struct Shrunk {
  uint64_t requests = 0;
  std::string report;  // the output from the "shrunk:" line on
};

// Runs `edgelab test ... --shrink` on counter-broken (100 requests, 10 in flight, seed 1), checks
// the shrunk run is smaller and that its replay command fails.
Shrunk ShrinkCounterBroken(const std::vector<std::string>& extra) {
  TempDir dir;
  const std::string config = ExampleConfig(dir, "counter-broken");
  std::vector<std::string> args = {"test", config,     "-n",     "100",     "-c",
                                   "10",   "--verify", "/value", "--shrink"};
  args.insert(args.end(), extra.begin(), extra.end());
  ProcessRun r = RunEdgelab(args);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // "shrunk: N requests at C in flight still fail with seed S"
  std::vector<std::string> shrunk = LineAfter(r.out, "shrunk: ");
  EXPECT_EQ(shrunk.size(), 11u) << r.out;
  if (shrunk.size() != 11u) return {};
  const uint64_t n = std::stoull(shrunk[0]);
  const uint64_t c = std::stoull(shrunk[3]);
  EXPECT_EQ(shrunk[10], "1");  // the seed that failed
  EXPECT_LT(n, 100u);
  EXPECT_LE(c, n);
  std::vector<std::string> replay = LastReplay(r.out);
  EXPECT_FALSE(replay.empty()) << r.out;
  std::string cmd;
  for (const auto& w : replay) cmd += " " + w;
  EXPECT_TRUE(Has(cmd, " -n " + std::to_string(n) + " -c " + std::to_string(c) + " ")) << cmd;
  EXPECT_TRUE(Has(cmd, " --replay 1")) << cmd;
  ProcessRun again = RunEdgelab(replay);
  EXPECT_EQ(again.exit_code, 1) << cmd << "\n" << again.out << again.err;
  EXPECT_TRUE(Has(again.out, "FAILED")) << again.out;
  return {n, r.out.substr(r.out.find("\nshrunk: "))};
}

// The race detector predicts counter-broken's bug from one request alone (a read, then an
// unconditional write of the same key), so the race invariant may shrink to a single request.
TEST(SimE2E, ShrinkFindsFewerRequestsWhoseReplayStillFails) {
  Shrunk s = ShrinkCounterBroken({});
  EXPECT_GE(s.requests, 1u);
  EXPECT_TRUE(Has(s.report, "\n  race: ")) << s.report;
}

// Without the detector, what is left to fail is the lost update itself: at least two requests.
TEST(SimE2E, ShrinkWithoutTheRaceDetectorKeepsTheLostUpdate) {
  Shrunk s = ShrinkCounterBroken({"--no-race"});
  EXPECT_GE(s.requests, 2u);
  EXPECT_TRUE(Has(s.report, "\n  counter: /value is ")) << s.report;
  EXPECT_TRUE(Has(s.report, " --no-race --replay 1\n")) << s.report;
}

TEST(SimE2E, PctFindsTheLostUpdateAndRepeatsByteForByte) {
  TempDir dir;
  const std::string config = ExampleConfig(dir, "counter-broken");
  const std::vector<std::string> args = {"test", config,     "-n",     "50",         "-c",
                                         "10",   "--verify", "/value", "--strategy", "pct"};
  ProcessRun first = RunEdgelab(args);
  ProcessRun second = RunEdgelab(args);
  ASSERT_EQ(first.exit_code, 1) << first.out << first.err;
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_EQ(first.out, second.out);
  EXPECT_TRUE(Has(first.out, "(pct)")) << first.out;
  EXPECT_TRUE(Has(first.out, "lost update")) << first.out;
  std::vector<std::string> replay = LastReplay(first.out);
  ASSERT_FALSE(replay.empty()) << first.out;
  const std::string cmd = [&] {
    std::string s;
    for (const auto& w : replay) s += " " + w;
    return s;
  }();
  EXPECT_TRUE(Has(cmd, " --strategy pct --pct-depth 3 --replay ")) << cmd;
  ProcessRun again = RunEdgelab(replay);
  EXPECT_EQ(again.exit_code, 1) << cmd << "\n" << again.out;
}

TEST(SimE2E, CounterDoPassesAndSaysWhatHeld) {
  TempDir dir;
  ProcessRun r = RunEdgelab({"test", ExampleConfig(dir, "counter-do"), "-n", "20", "-c", "10",
                             "--verify", "/value", "--schedules", "50", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Has(r.out,
                  "passed: 50 of 50 schedules (seeds 1..50): every request answered, "
                  "counter /value = 2xx answers, no race reported, history linearizable"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "1000 requests simulated in ")) << r.out;
}

// ---- examples/flag ----

TEST(SimE2E, FlagStaleReadFailsAndStrongReadPasses) {
  TempDir dir;
  const std::string config = ExampleConfig(dir, "flag");
  ProcessRun stale = RunEdgelab({"test", config, "--scenario", Scenario("flag/stale-read.toml")});
  ASSERT_EQ(stale.exit_code, 1) << stale.out << stale.err;
  EXPECT_TRUE(Has(stale.out, "schedule 1 of 100, seed 1: FAILED")) << stale.out;
  EXPECT_TRUE(Has(stale.out, "\n  linearizable: key flags/flag: not linearizable")) << stale.out;
  EXPECT_FALSE(Has(stale.out, "\n  race: ")) << stale.out;
  EXPECT_TRUE(Has(stale.out, "#3  begin GET /flag @sjc")) << stale.out;
  EXPECT_TRUE(Has(stale.out, "#3  kv get FLAG_KV \"flag\" -> absent")) << stale.out;
  EXPECT_TRUE(Has(stale.out, "--scenario " + Scenario("flag/stale-read.toml") + " -n 3 -c 1"))
      << stale.out;

  ProcessRun strong = RunEdgelab({"test", config, "--scenario", Scenario("flag/strong-read.toml")});
  EXPECT_EQ(strong.exit_code, 0) << strong.out << strong.err;
  EXPECT_TRUE(Has(strong.out, "passed: 100 of 100 schedules")) << strong.out;
}

TEST(SimE2E, FlagStaleReadPassesWithoutACacheOrWithAStrongBinding) {
  TempDir dir;
  const std::string scenario = Scenario("flag/stale-read.toml");
  ProcessRun no_cache = RunEdgelab(
      {"test", ExampleConfig(dir, "flag", {{"cache_ttl_ms = 60000", "cache_ttl_ms = 0"}}),
       "--scenario", scenario});
  EXPECT_EQ(no_cache.exit_code, 0) << no_cache.out << no_cache.err;
  TempDir dir2;
  ProcessRun strong = RunEdgelab(
      {"test",
       ExampleConfig(dir2, "flag", {{"# consistency = \"strong\"", "consistency = \"strong\""}}),
       "--scenario", scenario});
  EXPECT_EQ(strong.exit_code, 0) << strong.out << strong.err;
}

// ---- Errors: exit 2, naming what is wrong ----

TEST(SimE2E, AMissingEdgeTomlExits2NamingIt) {
  TempDir dir;
  const std::string missing = dir.path() + "/nope/edge.toml";
  ProcessRun r = RunEdgelab({"test", missing});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, missing)) << r.err;
}

TEST(SimE2E, AMissingScenarioExits2NamingIt) {
  TempDir dir;
  const std::string missing = dir.path() + "/nope.toml";
  ProcessRun r = RunEdgelab({"test", ExampleConfig(dir, "flag"), "--scenario", missing});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, missing)) << r.err;
}

TEST(SimE2E, ABadScenarioExits2NamingFileLineAndKey) {
  TempDir dir;
  const std::string bad = dir.Write("bad.toml", "requests = 3\n[[request]]\npth = \"/\"\n");
  ProcessRun r = RunEdgelab({"test", ExampleConfig(dir, "flag"), "--scenario", bad});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, bad + ":3:1: request.pth: unknown key")) << r.err;
}

TEST(SimE2E, AnUnknownLocationExits2NamingIt) {
  TempDir dir;
  const std::string scenario =
      dir.Write("s.toml", "[[request]]\npath = \"/flag\"\nlocation = \"fra\"\n");
  const std::string config = ExampleConfig(dir, "flag");
  ProcessRun r = RunEdgelab({"test", config, "--scenario", scenario});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "\"fra\"")) << r.err;
  EXPECT_TRUE(Has(r.err, scenario)) << r.err;
  EXPECT_TRUE(Has(r.err, config)) << r.err;
  EXPECT_EQ(r.out, "");  // nothing ran
}

TEST(SimE2E, VerifyWithoutALeadingSlashExits2) {
  TempDir dir;
  ProcessRun r = RunEdgelab({"test", ExampleConfig(dir, "counter-broken"), "--verify", "value"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "--verify")) << r.err;
  EXPECT_TRUE(Has(r.err, "\"value\"")) << r.err;
  EXPECT_EQ(r.out, "");
}

// The same caches in real time: `serve` routes by the location header and a
// location that read the flag keeps its stale copy (propagation set to ten
// minutes, so the test never races it); a strong read sees the origin.
TEST(SimE2E, ServeRoutesByLocationAndServesAStaleCachedRead) {
  TempDir dir;
  const std::string config = ExampleConfig(
      dir, "flag",
      {{"# \\[kv\\.propagation\\]\n# dist = \"lognormal\"\n# median_ms = 1000\n# sigma = 0.5",
        "[kv.propagation]\ndist = \"fixed\"\nms = 600000"}});
  ServerProcess s;
  ASSERT_TRUE(s.Start(config, {"--quiet", "--data", ":memory:", "--threads", "2"})) << s.err();
  const std::vector<std::string> sjc = {"X-Edgelab-Location: sjc"};
  const std::vector<std::string> ams = {"x-edgelab-location: ams"};
  EXPECT_EQ(HttpRequest(s.port(), "GET", "/flag", "", sjc).body, "0");  // cached absent at sjc
  EXPECT_EQ(HttpRequest(s.port(), "PUT", "/flag", "", ams).status, 200);
  EXPECT_EQ(HttpRequest(s.port(), "GET", "/flag", "", ams).body, "1");  // its own write, at once
  EXPECT_EQ(HttpRequest(s.port(), "GET", "/flag", "", sjc).body, "0");  // stale
  EXPECT_EQ(HttpRequest(s.port(), "GET", "/flag?consistency=strong", "", sjc).body, "1");
  HttpResult unknown = HttpRequest(s.port(), "GET", "/flag", "", {"x-edgelab-location: fra"});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(Has(unknown.body, "ams, sjc")) << unknown.body;
  ExpectCleanStop(s);
}

}  // namespace
}  // namespace edgelab::e2e
