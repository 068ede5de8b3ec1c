// `edgelab bench` end to end: the real binary loading workers it starts in
// its own process (edge.toml targets: a free loopback port and fresh storage
// for each repetition) and a URL served by another process; the JSON document
// (--json -), the text table, the HTML file, and bad input.
//
// Timing: nothing here asserts a duration or a rate; counts and the shape of
// the record are exact.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/server_process.h"

namespace edgelab::e2e {
namespace {

// An edge.toml for example `name` in `dir`, pointing at the built module.
std::string CounterConfig(const TempDir& dir, const std::string& name) {
  return dir.Write(name + ".toml", "name = \"" + name + "\"\nmain = \"" +
                                       BuildPath("examples/" + name + ".wasm") +
                                       "\"\n[[kv_namespaces]]\nbinding = \"EDGE_COUNTER_KV\"\n"
                                       "id = \"counter\"\n[isolates]\nmin = 2\nmax = 16\n");
}

struct BenchRun {
  int exit_code = -1;
  nlohmann::json doc;
  std::string err;  // the text table and rep lines go to stderr with --json -
};

BenchRun Bench(std::vector<std::string> args) {
  args.insert(args.begin(), "bench");
  args.insert(args.end(), {"--json", "-", "--quiet"});
  ProcessRun r = RunEdgelab(args);
  BenchRun b;
  b.exit_code = r.exit_code;
  b.err = r.err;
  b.doc = nlohmann::json::parse(r.out, nullptr, false);
  return b;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(BenchE2E, ComparesTwoWorkersWithFreshStorageEachRep) {
  TempDir dir;
  std::string broken = CounterConfig(dir, "counter-broken");
  std::string cas = CounterConfig(dir, "counter-cas");
  std::string html = dir.path() + "/report.html";
  BenchRun b = Bench({broken, "--compare", cas, "-n", "300", "-c", "30", "--reps", "2", "--verify",
                      "/value", "--html", html});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_FALSE(b.doc.is_discarded()) << b.err;
  ASSERT_EQ(b.doc["targets"].size(), 2u);
  const auto& a = b.doc["targets"][0];
  const auto& c = b.doc["targets"][1];
  EXPECT_EQ(a["label"], "counter-broken");
  EXPECT_EQ(c["label"], "counter-cas");
  EXPECT_EQ(a["kind"], "worker");
  int64_t broken_lost = 0;
  for (const auto* t : {&a, &c}) {
    ASSERT_EQ((*t)["reps"].size(), 2u);
    for (const auto& rep : (*t)["reps"]) {
      EXPECT_EQ(rep["requests"], 300);
      EXPECT_EQ(rep["completed"], 300) << rep.dump();
      // Fresh storage for each repetition: every run starts from nothing.
      EXPECT_EQ(rep["verify"]["before"], 0) << rep.dump();
      EXPECT_EQ(rep["verify"]["expected"], 300);
      // What the guests used, seen by the runtime: each request reads the key at least once.
      EXPECT_TRUE(rep["usage"]["known"].get<bool>());
      EXPECT_EQ(rep["usage"]["requests"], 300) << rep["usage"].dump();
      EXPECT_GE(rep["usage"]["kv_reads"].get<int64_t>(), 300);
      EXPECT_GE(rep["usage"]["kv_writes"].get<int64_t>(), 1);
      EXPECT_GT(rep["usage"]["cpu_ms"].get<double>(), 0);
      EXPECT_TRUE(rep["cost"]["complete"].get<bool>());
      EXPECT_GT(rep["cost"]["monthly_usd"].get<double>(), 5);
    }
  }
  for (const auto& rep : a["reps"]) broken_lost += rep["verify"]["lost"].get<int64_t>();
  for (const auto& rep : c["reps"]) EXPECT_EQ(rep["verify"]["kept"], 300) << rep.dump();
  // 30 read-wait-write cycles in flight at once lose updates (the post's bug).
  EXPECT_GT(broken_lost, 0);
  // The table, with the change column.
  EXPECT_NE(b.err.find("counter accuracy"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("300 ± 0 of 300"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("change"), std::string::npos) << b.err;
  ASSERT_TRUE(b.doc["comparison"].is_object());
  EXPECT_EQ(b.doc["comparison"]["rows"][0]["key"], "p99_ms");
  // The page: self-contained, with its charts.
  std::string page = ReadFile(html);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_EQ(page.find("<script src"), std::string::npos);
  EXPECT_NE(page.find("counter-cas"), std::string::npos);
}

TEST(BenchE2E, WarmUpCountsForTheCounter) {
  TempDir dir;
  BenchRun b = Bench({CounterConfig(dir, "counter-cas"), "-n", "100", "-c", "10", "--warmup", "0.2",
                      "--verify", "/value"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto& rep = b.doc["targets"][0]["reps"][0];
  ASSERT_TRUE(rep["warmup"].is_object()) << rep.dump();
  int64_t warm = rep["warmup"]["completed"].get<int64_t>();
  EXPECT_GT(warm, 0);
  EXPECT_EQ(rep["requests"], 100);
  EXPECT_EQ(rep["verify"]["expected"].get<int64_t>(), warm + 100);
  EXPECT_EQ(rep["verify"]["lost"], 0);
  // The cost is of the measured run only: the warm-up's requests are not in it.
  EXPECT_EQ(rep["usage"]["requests"], 100);
}

TEST(BenchE2E, OpenLoopSendsTheRateForTheDuration) {
  TempDir dir;
  BenchRun b = Bench({CounterConfig(dir, "counter-cas"), "-R", "200", "-d", "1", "-c", "20"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto& rep = b.doc["targets"][0]["reps"][0];
  EXPECT_EQ(b.doc["load"]["model"], "open");
  EXPECT_EQ(rep["target_rate"], 200.0);
  // Due at 0, 5 ms, ..., 995 ms: exactly 200, whatever the server does.
  EXPECT_EQ(rep["requests"], 200) << rep.dump();
  EXPECT_TRUE(rep["late"].is_number());
  EXPECT_TRUE(rep["service_latency_ms"].is_object());
  EXPECT_FALSE(b.doc["targets"][0]["summary"]["late_pct"].is_null());
}

TEST(BenchE2E, DurationModeCountsEveryRequestItSent) {
  TempDir dir;
  BenchRun b = Bench({CounterConfig(dir, "counter-cas"), "-d", "0.5", "-c", "8", "-t", "2"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto& rep = b.doc["targets"][0]["reps"][0];
  EXPECT_TRUE(b.doc["load"]["requests"].is_null());
  EXPECT_GT(rep["requests"].get<int64_t>(), 0);
  EXPECT_EQ(rep["requests"].get<int64_t>(),
            rep["completed"].get<int64_t>() + rep["failed"].get<int64_t>());
  EXPECT_EQ(rep["usage"]["requests"], rep["requests"]);
}

TEST(BenchE2E, UrlTargetIsCostedOnRequestsAlone) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(CounterConfig(dir, "counter-cas"), {"--quiet", "--data", ":memory:"}))
      << s.err();
  BenchRun b = Bench({s.url("/"), "-n", "50", "-c", "5", "--verify", "/value"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto& t = b.doc["targets"][0];
  EXPECT_EQ(t["kind"], "url");
  EXPECT_FALSE(t["reps"][0]["usage"]["known"].get<bool>());
  EXPECT_FALSE(t["reps"][0]["cost"]["complete"].get<bool>());
  EXPECT_EQ(t["reps"][0]["verify"]["kept"], 50);
  EXPECT_NE(b.err.find("requests only"), std::string::npos) << b.err;
  EXPECT_EQ(s.Stop(), 0);
}

// Reads of the counter are not updates: in a mixed workload --verify counts
// only the 2xx answers of the other paths.
TEST(BenchE2E, VerifyCountsUpdatesNotReadsInAMixedWorkload) {
  TempDir dir;
  BenchRun b = Bench({CounterConfig(dir, "counter-cas"), "-n", "400", "-c", "10", "-p", "/@3", "-p",
                      "/value@1", "--verify", "/value"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const auto& rep = b.doc["targets"][0]["reps"][0];
  EXPECT_EQ(rep["completed"], 400) << rep.dump();
  EXPECT_EQ(rep["verify"]["expected"], 300) << rep.dump();
  EXPECT_EQ(rep["verify"]["kept"], 300) << rep.dump();
  EXPECT_EQ(rep["verify"]["lost"], 0);
  EXPECT_DOUBLE_EQ(rep["verify"]["accuracy_pct"].get<double>(), 100.0);
}

// A typo in the verify path would read as every update lost: after the run a
// 404 is an error naming the path.
TEST(BenchE2E, VerifyPathThatDoesNotExistIsAnError) {
  TempDir dir;
  ProcessRun r = RunEdgelab(
      {"bench", CounterConfig(dir, "counter-cas"), "-n", "20", "-c", "2", "--verify", "/valeu"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("/valeu"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("a race"), std::string::npos) << r.out;
}

// Ctrl-C ends the run with its report (marked interrupted), exit 130, and
// leaves no temporary data folder behind.
TEST(BenchE2E, InterruptWritesWhatWasMeasuredAndCleansUp) {
  TempDir dir;
  TempDir tmp;  // the bench's $TMPDIR, to see what it leaves
  std::string json = dir.path() + "/run.json";
  std::string cmd = "TMPDIR=" + tmp.path() + " timeout --preserve-status -s INT 1.5 " +
                    BuildPath("edgelab") + " bench " + CounterConfig(dir, "counter-cas") +
                    " -d 30 -c 4 -q --json " + json + " >/dev/null 2>&1";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::ifstream in(json);
  ASSERT_TRUE(in.good()) << "no JSON written";
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_TRUE(doc["interrupted"].get<bool>());
  const auto& rep = doc["targets"][0]["reps"][0];
  EXPECT_GT(rep["completed"].get<int64_t>(), 0);
  EXPECT_LT(rep["seconds"].get<double>(), 20.0);  // ended early, not after -d 30
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
}

TEST(BenchE2E, BadInputExitsTwoNamingTheProblem) {
  TempDir dir;
  ProcessRun missing = RunEdgelab({"bench", dir.path() + "/nope.toml", "-n", "1"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.toml"), std::string::npos) << missing.err;
  ProcessRun price =
      RunEdgelab({"bench", CounterConfig(dir, "counter-cas"), "--price", "kv_wrtes=3"});
  EXPECT_EQ(price.exit_code, 2);
  EXPECT_NE(price.err.find("kv_wrtes"), std::string::npos) << price.err;
  std::string bad_module =
      dir.Write("bad.toml", "name = \"bad\"\nmain = \"" + dir.path() + "/missing.wasm\"\n");
  ProcessRun module = RunEdgelab({"bench", bad_module, "-n", "1"});
  EXPECT_EQ(module.exit_code, 2);
  EXPECT_NE(module.err.find("missing.wasm"), std::string::npos) << module.err;
  ProcessRun https = RunEdgelab({"bench", "https://example.com/", "-n", "1"});
  EXPECT_EQ(https.exit_code, 2);
  EXPECT_NE(https.err.find("https"), std::string::npos) << https.err;
  ProcessRun prices = RunEdgelab({"bench", "--list-prices"});
  EXPECT_EQ(prices.exit_code, 0);
  EXPECT_NE(prices.out.find("kv_writes.usd_per_million="), std::string::npos) << prices.out;
}

}  // namespace
}  // namespace edgelab::e2e
