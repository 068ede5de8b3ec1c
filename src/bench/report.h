// bench/report.h: how a load run reads, for people (one block of text) and
// for scripts (JSON). Pure functions of a LoadReport.
//
// Threading: none; plain values in, plain values out.
// Times print in milliseconds: two decimals below 10 ms, one above.
#ifndef EDGELAB_BENCH_REPORT_H_
#define EDGELAB_BENCH_REPORT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "bench/load.h"

namespace edgelab::bench {

// For example:
//   requests   1000 in 0.52 s, 1923.1 req/s
//   completed  900
//   failed     100: status 500 x 90, timeout x 10
//   latency    p50 1.20 ms, p90 2.00 ms, p99 4.56 ms, p99.9 12.3 ms, p99.99 12.3 ms,
//              max 12.3 ms   (one line)
// Each line ends with '\n'.
std::string FormatReport(const LoadReport& report);

// {"requests", "completed", "failed", "by_status": {"200": n, ...}, "errors",
//  "error_kinds": {...}, "seconds", "requests_per_second",
//  "latency_ms": {"min", "mean", "p50", "p90", "p99", "p99_9", "p99_99", "max"}}
// Latencies are numbers in milliseconds with microsecond resolution.
nlohmann::json ToJson(const LoadReport& report);

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_REPORT_H_
