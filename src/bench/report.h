// bench/report.h: how a bench reads, for people (text blocks and the post's
// table) and for scripts (one JSON document). Pure functions of the results.
//
// Threading: none; plain values in, plain values out.
// Times print in milliseconds: two decimals below 10 ms, one above; seconds
// from 10 s up.
//
// The JSON document (schema "edgelab-bench/1"; docs/bench.md). Every key below
// is always present; null where a figure does not apply. Latencies are in
// milliseconds with microsecond resolution; rates in requests per second.
// {
//   "schema": "edgelab-bench/1",
//   "created": "2026-11-27T05:30:00Z",         // UTC, when the bench ended
//   "command": "edgelab bench ...",            // as typed, for the record
//   "load": {"model": "closed"|"open", "requests": n|null, "duration_s": x|null,
//            "rate": x|null, "connections": c, "threads": t, "warmup_s": x,
//            "timeout_s": x, "method": "GET", "paths": [{"path", "weight"}],
//            "headers": [["Name", "value"]], "body_bytes": n, "reps": r,
//            "verify": "/value"|null, "monthly_requests": n},
//   "prices": {"base_usd": 5, "do_memory_gb": 0.128,
//              "requests": {"included", "usd_per_million"}, ...},
//   "targets": [{                              // one; two with --compare (A, then B)
//     "label": "counter-broken",               // folder of edge.toml, or host:port
//     "target": "examples/counter-broken/edge.toml" | "http://...",
//     "kind": "worker" | "url",
//     "reps": [{
//       "rep": 1, "requests", "completed", "failed", "failed_pct", "seconds",
//       "requests_per_second",                   // every request, answered or not
//       "completed_per_second",                  // 2xx/3xx: the throughput figure
//       "target_rate": x|null, "send_rate": x|null, "late": n|null, "unsent": n|null,
//       "by_status": {"200": n, ...},
//       "failures": {"status 500": n, "timeout": n, ...},  // load.h classes
//       "errors": n,                                       // no response at all
//       "error_kinds": {"connect: Connection refused": n, ...},
//       "latency_ms": {"min", "mean", "p50", "p90", "p99", "p99_9", "p99_99", "max"},
//       "service_latency_ms": {same keys} | null,          // open loop only
//       "series": [{"second": 1, "completed": n, "failed": n}, ...],  // ended in it
//       "warmup": {"requests", "completed", "failed", "seconds"} | null,
//       "verify": {"path", "before", "after", "expected", "indeterminate",
//                  "kept", "lost", "extra", "accuracy_pct"} | null,
//       "usage": {"known", "requests", "cpu_ms", "kv_reads", "kv_writes",
//                 "kv_deletes", "kv_lists", "do_requests", "do_wall_s", "do_cpu_ms",
//                 "do_read_units", "do_write_units"},
//       "cost": {"complete", "monthly_requests", "monthly_usd",
//                "usd_per_million_requests",
//                "lines": [{"item", "monthly_units", "billed_units", "usd"}]}
//     }, ...],
//     "summary": {                             // over the reps: see Figure
//       "<figure key>": {"mean", "stddev", "min", "max", "n"}, ...},
//     "histogram": {"unit": "us", "count": n,  // every rep's latency merged
//                   "buckets": [[low_us, high_us, count], ...]},  // non-empty only
//     "percentile_curve": [[percentile, ms], ...],  // merged; 0 .. 99.999, then 100 (max)
//     "throughput_series": [[t_s, req_per_s], ...]  // mean over reps, at the end of each
//                                              // interval: 1 s, finer for short runs
//   }, ...],
//   "interrupted": false,                      // true: Ctrl-C ended it; reps so far
//   "comparison": null | {"a": 0, "b": 1, "rows": [{
//       "key", "label", "a": {mean, stddev, ...}, "b": {...},
//       "change_pct": x|null,                  // (b - a) / a * 100; null when a is 0
//       "better": "lower"|"higher",            // which direction is good
//       "verdict": "better"|"worse"|"same"|"unsure"}, ...]}  // same: within 0.5% or
//                                              // Welch's t at 95%; unsure: one rep
// }
#ifndef EDGELAB_BENCH_REPORT_H_
#define EDGELAB_BENCH_REPORT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/cost.h"
#include "bench/load.h"
#include "bench/stats.h"

namespace edgelab::bench {

// 1234567.8 -> "1,234,568" (rounded to a whole number; "-" when not finite).
std::string Thousands(double v);

// For example:
//   requests   1000 in 0.52 s, 1923.1 req/s
//   completed  900
//   failed     100: status 500 x 90, timeout x 10
//   latency    p50 1.20 ms, p90 2.00 ms, p99 4.56 ms, p99.9 12.3 ms, p99.99 12.3 ms,
//              max 12.3 ms   (one line)
// Each line ends with '\n'.
std::string FormatReport(const LoadReport& report);

// The counter check of one repetition (--verify).
struct Verify {
  std::string path;
  int64_t before = 0;    // the number at `path` before the run (warm-up included)
  int64_t after = 0;     // after it, once the server had finished every request
  int64_t expected = 0;  // before + every 2xx answer of the run and its warm-up, on
                         // paths other than `path` (reads of the counter are not updates)
  // Requests that got no answer (timeout, closed): the server may or may not
  // have counted them, as Jepsen's "info" operations.
  int64_t indeterminate = 0;
  int64_t kept() const { return after - before; }
  int64_t wanted() const { return expected - before; }
  // Updates answered as done but missing; 0 when the count is at least the
  // answered ones (the unanswered may add more).
  int64_t lost() const { return expected > after ? expected - after : 0; }
  // More than every request could have added: double counting.
  int64_t extra() const {
    return after > expected + indeterminate ? after - expected - indeterminate : 0;
  }
  double AccuracyPct() const {
    return wanted() <= 0
               ? 100.0
               : 100.0 * static_cast<double>(wanted() - lost()) / static_cast<double>(wanted());
  }
};

struct Rep {
  LoadReport load;
  std::optional<LoadReport> warmup;
  std::optional<Verify> verify;
  Usage usage;
  Cost cost;
};

struct TargetResult {
  std::string label;
  std::string target;
  bool worker = false;  // an edge.toml run in-process; else a URL
  std::vector<Rep> reps;
};

struct BenchSpec {
  LoadOptions load;
  double warmup_s = 0;
  uint32_t reps = 1;
  std::string verify;  // "" when none
  uint64_t monthly_requests = kDefaultMonthlyRequests;
  Prices prices;
  std::string command;  // as typed
  std::string created;  // UTC ISO 8601
  bool interrupted = false;
};

// The figures of the post's table and of every summary, in table order.
struct Figure {
  const char* key;    // "p99_ms", "throughput", "accuracy_pct", "monthly_usd", "failed_pct", ...
  const char* label;  // "p99 latency", ...
  bool lower_is_better;
};
const std::vector<Figure>& Figures();
// Figure `key` of one repetition; nullopt when it does not apply (no --verify).
std::optional<double> FigureOf(const Rep& rep, const std::string& key);

// The post's table over one or two targets (mean ± stddev of the reps, and
// for two the % change column), then a line per target with min–max, e.g.
//   metric             counter-broken        counter-lock         change
//   p99 latency        48.2 ± 3.1 ms         262 ± 9 ms           444% higher (worse)
//   throughput         1,950 ± 80 req/s      3,120 ± 90 req/s     60% higher (better)
//   counter accuracy   64 ± 5 of 1000        1000 ± 0 of 1000     1462% higher (better)
//   monthly cost       $21,400               $96,200              349% higher (worse)
//   failed requests    0.0%                  0.0%                 same
std::string FormatTable(const BenchSpec& spec, const std::vector<TargetResult>& targets);

// The whole JSON document above.
nlohmann::json ToJson(const BenchSpec& spec, const std::vector<TargetResult>& targets);
// One run alone, as printed by `bench --json` before reps existed: the "reps"
// element above without "rep", "warmup", "verify", "usage" and "cost".
nlohmann::json ToJson(const LoadReport& report);

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_REPORT_H_
