// bench/report.cc: text and JSON views of a LoadReport (see report.h).
#include "bench/report.h"

#include <cstdio>

namespace edgelab::bench {

namespace {

std::string Millis(int64_t micros) {
  double ms = static_cast<double>(micros) / 1000.0;
  char buf[32];
  std::snprintf(buf, sizeof(buf), ms < 10 ? "%.2f ms" : "%.1f ms", ms);
  return buf;
}

std::string Fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// "status 500 x 90, timeout x 10", or "" when nothing failed.
std::string FailureBreakdown(const LoadReport& r) {
  std::string out;
  auto add = [&out](const std::string& what, uint64_t n) {
    if (!out.empty()) out += ", ";
    out += what + " x " + std::to_string(n);
  };
  for (const auto& [status, n] : r.by_status) {
    if (status < 200 || status >= 400) add("status " + std::to_string(status), n);
  }
  for (const auto& [kind, n] : r.error_kinds) add(kind, n);
  return out;
}

double JsonMillis(int64_t micros) { return static_cast<double>(micros) / 1000.0; }

}  // namespace

std::string FormatReport(const LoadReport& r) {
  std::string out = "requests   " + std::to_string(r.requests()) + " in " + Fixed(r.seconds, 2) +
                    " s, " + Fixed(r.RequestsPerSecond(), 1) + " req/s\n";
  out += "completed  " + std::to_string(r.completed) + "\n";
  out += "failed     " + std::to_string(r.failed);
  std::string breakdown = FailureBreakdown(r);
  if (!breakdown.empty()) out += ": " + breakdown;
  out += "\n";
  const Histogram& h = r.latency;
  if (h.Count() == 0) return out + "latency    no responses\n";
  out += "latency    p50 " + Millis(h.Percentile(50)) + ", p90 " + Millis(h.Percentile(90)) +
         ", p99 " + Millis(h.Percentile(99)) + ", p99.9 " + Millis(h.Percentile(99.9)) +
         ", p99.99 " + Millis(h.Percentile(99.99)) + ", max " + Millis(h.Max()) + "\n";
  return out;
}

nlohmann::json ToJson(const LoadReport& r) {
  nlohmann::json by_status = nlohmann::json::object();
  for (const auto& [status, n] : r.by_status) by_status[std::to_string(status)] = n;
  const Histogram& h = r.latency;
  return {
      {"requests", r.requests()},
      {"completed", r.completed},
      {"failed", r.failed},
      {"by_status", by_status},
      {"errors", r.errors},
      {"error_kinds", r.error_kinds},
      {"seconds", r.seconds},
      {"requests_per_second", r.RequestsPerSecond()},
      {"latency_ms",
       {{"min", JsonMillis(h.Min())},
        {"mean", h.Mean() / 1000.0},
        {"p50", JsonMillis(h.Percentile(50))},
        {"p90", JsonMillis(h.Percentile(90))},
        {"p99", JsonMillis(h.Percentile(99))},
        {"p99_9", JsonMillis(h.Percentile(99.9))},
        {"p99_99", JsonMillis(h.Percentile(99.99))},
        {"max", JsonMillis(h.Max())}}},
  };
}

}  // namespace edgelab::bench
