// bench/report_test.cc: the text block and the JSON of a hand-made report.
#include "bench/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace edgelab::bench {
namespace {

LoadReport SampleReport() {
  LoadReport r;
  r.completed = 900;
  r.failed = 100;
  r.by_status = {{200, 900}, {500, 90}};
  r.errors = 10;
  r.error_kinds = {{"timeout", 10}};
  r.failures = {{"status 500", 90}, {"timeout", 10}};
  r.seconds = 0.5;
  // Values at the middle of their buckets, so percentiles come back exact.
  for (int i = 0; i < 500; ++i) r.latency.Record(1203);
  for (int i = 0; i < 480; ++i) r.latency.Record(2003);
  for (int i = 0; i < 19; ++i) r.latency.Record(4559);
  r.latency.Record(12345);
  return r;
}

TEST(ReportTest, FormatsOneReadableBlock) {
  EXPECT_EQ(FormatReport(SampleReport()),
            "requests   1000 in 0.50 s, 2000.0 req/s\n"
            "completed  900 (1800.0 req/s)\n"
            "failed     100: status 500 x 90, timeout x 10\n"
            "latency    p50 1.20 ms, p90 2.00 ms, p99 4.56 ms, p99.9 12.3 ms, p99.99 12.3 ms, "
            "max 12.3 ms\n");
}

TEST(ReportTest, SaysSoWhenNothingAnswered) {
  LoadReport r;
  r.failed = 2;
  r.errors = 2;
  r.error_kinds = {{"connect: Connection refused", 2}};
  r.failures = {{"connect", 2}};
  std::string text = FormatReport(r);
  EXPECT_NE(text.find("failed     2: connect x 2 (connect: Connection refused x 2)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency    no responses\n"), std::string::npos) << text;
}

TEST(ReportTest, ExportsJsonForScripts) {
  nlohmann::json j = ToJson(SampleReport());
  EXPECT_EQ(j["requests"], 1000);
  EXPECT_EQ(j["completed"], 900);
  EXPECT_EQ(j["failed"], 100);
  EXPECT_EQ(j["by_status"]["500"], 90);
  EXPECT_EQ(j["errors"], 10);
  EXPECT_EQ(j["error_kinds"]["timeout"], 10);
  EXPECT_DOUBLE_EQ(j["requests_per_second"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p50"].get<double>(), 1.203);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p99"].get<double>(), 4.559);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["max"].get<double>(), 12.345);
  EXPECT_TRUE(j["latency_ms"].contains("p99_9"));
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p99_99"].get<double>(), 12.345);
}

// A repetition of a counter run: `kept` of `wanted` updates, latencies
// spread over [base, 3 x base] microseconds.
Rep CounterRep(int64_t kept, int64_t wanted, int64_t base_us, double seconds) {
  Rep rep;
  rep.load.completed = static_cast<uint64_t>(wanted);
  rep.load.by_status = {{200, rep.load.completed}};
  rep.load.seconds = seconds;
  for (int64_t i = 0; i < wanted; ++i)
    rep.load.latency.Record(base_us + (i * 2 * base_us) / wanted);
  rep.load.service_latency = rep.load.latency;
  rep.load.series.resize(static_cast<size_t>(seconds * 1e6 / kSeriesBinMicros) + 1);
  for (int64_t i = 0; i < wanted; ++i) {
    rep.load.series[static_cast<size_t>(i) % rep.load.series.size()].completed++;
  }
  rep.verify = Verify{"/value", 0, kept, wanted};
  rep.usage.known = true;
  rep.usage.requests = static_cast<uint64_t>(wanted);
  rep.usage.cpu_ms = 0.1 * static_cast<double>(wanted);
  rep.usage.kv_reads = static_cast<uint64_t>(wanted);
  rep.usage.kv_writes = static_cast<uint64_t>(wanted);
  rep.cost = MonthlyCost(rep.usage, kDefaultMonthlyRequests, Prices{});
  return rep;
}

std::vector<TargetResult> Comparison() {
  TargetResult a{"counter-broken", "examples/counter-broken/edge.toml", true, {}};
  TargetResult b{"counter-lock", "examples/counter-lock/edge.toml", true, {}};
  for (int64_t kept : {60, 64, 68}) a.reps.push_back(CounterRep(kept, 1000, 20'000, 0.5));
  for (int i = 0; i < 3; ++i) b.reps.push_back(CounterRep(1000, 1000, 100'000, 0.25));
  return {a, b};
}

BenchSpec Spec() {
  BenchSpec spec;
  spec.load.requests = 1000;
  spec.load.connections = 100;
  spec.reps = 3;
  spec.verify = "/value";
  spec.command = "edgelab bench a --compare b";
  spec.created = "2026-11-27T05:30:00Z";
  return spec;
}

TEST(ReportTest, TableHasThePostsRowsMeansAndTheChange) {
  std::string table = FormatTable(Spec(), Comparison());
  // Header, then the five rows of the post's table in its order.
  EXPECT_NE(table.find("metric"), std::string::npos) << table;
  size_t p99 = table.find("p99 latency"), thr = table.find("throughput"),
         acc = table.find("counter accuracy"), cost = table.find("monthly cost"),
         failed = table.find("failed requests");
  ASSERT_NE(p99, std::string::npos) << table;
  EXPECT_LT(p99, thr);
  EXPECT_LT(thr, acc);
  EXPECT_LT(acc, cost);
  EXPECT_LT(cost, failed);
  // "64 ± 4 of 1,000" (sample stddev of 60, 64, 68) and the fixed "1,000 ± 0 of 1,000".
  EXPECT_NE(table.find("64 ± 4 of 1,000"), std::string::npos) << table;
  EXPECT_NE(table.find("1,000 ± 0 of 1,000"), std::string::npos) << table;
  // Accuracy up 1462.5%; latency up (worse); throughput doubled (better).
  EXPECT_NE(table.find("1462% higher (better)"), std::string::npos) << table;
  EXPECT_NE(table.find("% higher (worse)"), std::string::npos) << table;
  EXPECT_NE(table.find("throughput"), std::string::npos);
  EXPECT_NE(table.find("2,000 ± 0 req/s"), std::string::npos) << table;
  EXPECT_NE(table.find("4,000 ± 0 req/s"), std::string::npos) << table;
  EXPECT_NE(table.find("100% higher (better)"), std::string::npos) << table;
  EXPECT_NE(table.find("same"), std::string::npos) << table;  // failed: 0% and 0%
  EXPECT_NE(table.find("range over 3 reps"), std::string::npos) << table;
  EXPECT_NE(table.find("kept 60–68"), std::string::npos) << table;
}

TEST(ReportTest, TableWithoutVerifyLeavesAccuracyOut) {
  BenchSpec spec = Spec();
  spec.verify = "";
  std::vector<TargetResult> one = {Comparison()[0]};
  for (Rep& rep : one[0].reps) rep.verify.reset();
  std::string table = FormatTable(spec, one);
  EXPECT_EQ(table.find("counter accuracy"), std::string::npos) << table;
  EXPECT_EQ(table.find("change"), std::string::npos) << table;
  EXPECT_NE(table.find("p99 latency"), std::string::npos) << table;
}

// A version compared with itself differs by noise: the verdict must say so
// rather than call it better or worse; one rep cannot tell noise at all.
TEST(ReportTest, ChangeWithinTheRepsNoiseIsSameAndOneRepIsUnsure) {
  TargetResult a{"a", "a", true, {}}, b{"b", "b", true, {}};
  for (double s : {0.50, 0.55, 0.45}) a.reps.push_back(CounterRep(1000, 1000, 20'000, s));
  for (double s : {0.52, 0.47, 0.54}) b.reps.push_back(CounterRep(1000, 1000, 20'000, s));
  std::string table = FormatTable(Spec(), {a, b});
  size_t row = table.find("throughput");
  ASSERT_NE(row, std::string::npos) << table;
  std::string line = table.substr(row, table.find('\n', row) - row);
  EXPECT_NE(line.find("(within noise)"), std::string::npos) << table;
  nlohmann::json doc = ToJson(Spec(), {a, b});
  for (const auto& r : doc["comparison"]["rows"]) {
    if (r["key"] == "throughput") {
      EXPECT_EQ(r["verdict"], "same");
    }
  }
  TargetResult a1{"a", "a", true, {CounterRep(1000, 1000, 20'000, 0.5)}};
  TargetResult b1{"b", "b", true, {CounterRep(1000, 1000, 20'000, 0.4)}};
  BenchSpec one = Spec();
  one.reps = 1;
  table = FormatTable(one, {a1, b1});
  EXPECT_NE(table.find("25% higher (one rep: noise unknown)"), std::string::npos) << table;
}

// With -d the reps want different numbers of updates: accuracy is compared
// and shown as a share, not as counts of different totals.
TEST(ReportTest, AccuracyIsAShareWhenTheRepsWantDifferentTotals) {
  TargetResult a{
      "a", "a", true, {CounterRep(50, 1000, 20'000, 0.5), CounterRep(60, 1200, 20'000, 0.5)}};
  std::string table = FormatTable(Spec(), {a});
  EXPECT_NE(table.find("counter accuracy   5.0% ± 0.0%"), std::string::npos) << table;
  EXPECT_EQ(table.find(" of 1,"), std::string::npos) << table;
}

TEST(ReportTest, SummaryIsMeanStddevAndRange) {
  Summary s = Summarize({60, 64, 68});
  EXPECT_EQ(s.n, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 64);
  EXPECT_DOUBLE_EQ(s.stddev, 4);
  EXPECT_DOUBLE_EQ(s.min, 60);
  EXPECT_DOUBLE_EQ(s.max, 68);
  EXPECT_DOUBLE_EQ(Summarize({7}).stddev, 0);
  EXPECT_EQ(Summarize({}).n, 0u);
}

// Every key path of a JSON value, arrays collapsed to "[]": the schema.
void KeyPaths(const nlohmann::json& j, const std::string& at, std::set<std::string>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      out->insert(at + "." + k);
      KeyPaths(v, at + "." + k, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) KeyPaths(v, at + "[]", out);
  }
}

// The document's schema is a contract with scripts (report.h): a change to
// it must be deliberate, here and in docs/bench.md, with a new schema name.
TEST(ReportTest, JsonSchemaIsStable) {
  nlohmann::json doc = ToJson(Spec(), Comparison());
  EXPECT_EQ(doc["schema"], "edgelab-bench/1");
  std::set<std::string> paths;
  KeyPaths(doc, "", &paths);
  std::set<std::string> top, target, rep, comparison;
  for (const std::string& p : paths) {
    if (p.rfind(".targets[].reps[].", 0) == 0) {
      std::string rest = p.substr(18);
      if (rest.find('.') == std::string::npos) rep.insert(rest);
    } else if (p.rfind(".targets[].", 0) == 0) {
      std::string rest = p.substr(11);
      if (rest.find('.') == std::string::npos) target.insert(rest);
    } else if (p.rfind(".comparison.rows[].", 0) == 0) {
      comparison.insert(p.substr(19));
    } else if (std::count(p.begin(), p.end(), '.') == 1) {
      top.insert(p.substr(1));
    }
  }
  EXPECT_EQ(top, (std::set<std::string>{"schema", "created", "command", "load", "prices", "targets",
                                        "interrupted", "comparison"}));
  EXPECT_EQ(target, (std::set<std::string>{"label", "target", "kind", "reps", "summary",
                                           "histogram", "percentile_curve", "throughput_series"}));
  EXPECT_EQ(rep, (std::set<std::string>{"rep",
                                        "requests",
                                        "completed",
                                        "failed",
                                        "failed_pct",
                                        "seconds",
                                        "requests_per_second",
                                        "completed_per_second",
                                        "send_rate",
                                        "unsent",
                                        "target_rate",
                                        "late",
                                        "by_status",
                                        "failures",
                                        "errors",
                                        "error_kinds",
                                        "latency_ms",
                                        "service_latency_ms",
                                        "series",
                                        "warmup",
                                        "verify",
                                        "usage",
                                        "cost"}));
  EXPECT_EQ(comparison,
            (std::set<std::string>{"key", "label", "a", "b", "change_pct", "better", "verdict",
                                   "a.mean", "a.stddev", "a.min", "a.max", "a.n", "b.mean",
                                   "b.stddev", "b.min", "b.max", "b.n"}));
  const auto& t0 = doc["targets"][0];
  EXPECT_EQ(t0["kind"], "worker");
  EXPECT_EQ(t0["reps"].size(), 3u);
  EXPECT_EQ(t0["reps"][1]["verify"]["kept"], 64);
  EXPECT_EQ(t0["reps"][1]["verify"]["lost"], 936);
  EXPECT_DOUBLE_EQ(t0["summary"]["kept"]["mean"].get<double>(), 64);
  EXPECT_DOUBLE_EQ(t0["summary"]["kept"]["stddev"].get<double>(), 4);
  EXPECT_TRUE(t0["summary"]["late_pct"].is_null());  // closed loop
  // The histogram holds every latency of every rep; the curve rises.
  uint64_t count = 0;
  for (const auto& b : t0["histogram"]["buckets"]) count += b[2].get<uint64_t>();
  EXPECT_EQ(count, 3000u);
  EXPECT_EQ(t0["histogram"]["count"], 3000);
  const auto& curve = t0["percentile_curve"];
  ASSERT_GE(curve.size(), 10u);
  for (size_t i = 1; i < curve.size(); ++i) {
    EXPECT_GE(curve[i][1].get<double>(), curve[i - 1][1].get<double>());
  }
  // 0.5 s runs: the throughput chart takes 100 ms steps, ~2,000 req/s each.
  ASSERT_GE(t0["throughput_series"].size(), 4u);
  EXPECT_NEAR(t0["throughput_series"][0][1].get<double>(), 2000, 200);
  const auto& rows = doc["comparison"]["rows"];
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0]["key"], "p99_ms");
  EXPECT_EQ(rows[0]["verdict"], "worse");
  EXPECT_EQ(rows[0]["better"], "lower");
}

}  // namespace
}  // namespace edgelab::bench
