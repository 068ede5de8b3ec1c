// bench/report.cc: text and JSON views of bench results (see report.h).
#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgelab::bench {

namespace {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string Millis(int64_t micros) {
  double ms = static_cast<double>(micros) / 1000.0;
  return Fixed(ms, ms < 10 ? 2 : 1) + " ms";
}

}  // namespace

std::string Thousands(double v) {
  if (!std::isfinite(v)) return "-";
  std::string digits = Fixed(std::fabs(std::round(v)), 0);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 && std::round(v) != 0 ? "-" : "") + out;
}

namespace {

// A latency in ms with about three significant digits; seconds from 10 s.
std::string MsText(double ms) {
  if (ms >= 10000) return Fixed(ms / 1000, 1) + " s";
  return Fixed(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0);
}

std::string UsdText(double usd) {
  return "$" + (std::fabs(usd) >= 100 ? Thousands(usd) : Fixed(usd, 2));
}

std::string PctText(double pct) {
  if (pct == 0) return "0%";
  return Fixed(pct, pct < 1 ? 2 : 1) + "%";
}

double JsonMillis(int64_t micros) { return static_cast<double>(micros) / 1000.0; }

nlohmann::json LatencyJson(const Histogram& h) {
  return {{"min", JsonMillis(h.Min())},
          {"mean", h.Mean() / 1000.0},
          {"p50", JsonMillis(h.Percentile(50))},
          {"p90", JsonMillis(h.Percentile(90))},
          {"p99", JsonMillis(h.Percentile(99))},
          {"p99_9", JsonMillis(h.Percentile(99.9))},
          {"p99_99", JsonMillis(h.Percentile(99.99))},
          {"max", JsonMillis(h.Max())}};
}

// "status 500 x 90, timeout x 10", or "" when nothing failed.
std::string FailureBreakdown(const LoadReport& r) {
  std::string out;
  for (const auto& [kind, n] : r.failures) {
    if (!out.empty()) out += ", ";
    out += kind + " x " + std::to_string(n);
  }
  // The detail of requests without a response, when it says more.
  std::string detail;
  for (const auto& [kind, n] : r.error_kinds) {
    if (r.failures.count(kind) != 0) continue;
    if (!detail.empty()) detail += ", ";
    detail += kind + " x " + std::to_string(n);
  }
  if (!detail.empty()) out += " (" + detail + ")";
  return out;
}

// The throughput over time of one repetition, in intervals of `bin_us`
// (a multiple of kSeriesBinMicros): [end of interval in s, requests/s].
std::vector<std::pair<double, double>> Throughput(const LoadReport& r, int64_t bin_us) {
  std::vector<std::pair<double, double>> out;
  const size_t per = static_cast<size_t>(bin_us / kSeriesBinMicros);
  const double run_us = r.seconds * 1e6;
  for (size_t i = 0; i * per < r.series.size(); ++i) {
    uint64_t n = 0;
    for (size_t j = i * per; j < std::min(r.series.size(), (i + 1) * per); ++j) {
      n += r.series[j].completed + r.series[j].failed;
    }
    double begin = static_cast<double>(i) * static_cast<double>(bin_us);
    double width = std::min(static_cast<double>(bin_us), run_us - begin);
    // A last sliver of an interval says little about a rate.
    if (width < static_cast<double>(bin_us) / 4) break;
    out.push_back({(begin + width) / 1e6, static_cast<double>(n) / (width / 1e6)});
  }
  return out;
}

// The interval for the throughput chart: a second, or finer so that the
// shortest repetition still gives ten points.
int64_t ThroughputBin(const TargetResult& t) {
  double shortest = 0;
  for (const Rep& rep : t.reps) {
    if (shortest == 0 || rep.load.seconds < shortest) shortest = rep.load.seconds;
  }
  for (int64_t bin : {1'000'000, 100'000}) {
    if (shortest * 1e6 >= 10.0 * static_cast<double>(bin)) return bin;
  }
  return kSeriesBinMicros;
}

nlohmann::json SummaryJson(const Summary& s) {
  return {{"mean", s.mean}, {"stddev", s.stddev}, {"min", s.min}, {"max", s.max}, {"n", s.n}};
}

// The summary of figure `key` over the reps that have it.
Summary SummaryOf(const TargetResult& t, const std::string& key) {
  std::vector<double> values;
  for (const Rep& rep : t.reps) {
    if (auto v = FigureOf(rep, key)) values.push_back(*v);
  }
  return Summarize(values);
}

// Mean number of updates a repetition wanted kept (the "of 1000").
double MeanWanted(const TargetResult& t) {
  std::vector<double> values;
  for (const Rep& rep : t.reps) {
    if (rep.verify) values.push_back(static_cast<double>(rep.verify->wanted()));
  }
  return Summarize(values).mean;
}

// "48.2 ± 3.1 ms" and the like for figure `key`; "n/a" when no rep has it.
std::string MeanText(const TargetResult& t, const std::string& key) {
  Summary s = SummaryOf(t, key);
  if (s.n == 0) return "n/a";
  // The deviation in the mean's unit and precision: "45.5 ± 1.1 ms".
  auto pm = [&](const std::string& mean, const std::string& sd) {
    return s.n > 1 && !(s.mean == 0 && s.stddev == 0) ? mean + " ± " + sd : mean;
  };
  if (key.size() > 3 && key.compare(key.size() - 3, 3, "_ms") == 0 && key != "cpu_ms_per_request") {
    if (s.mean >= 10000) return pm(Fixed(s.mean / 1000, 1), Fixed(s.stddev / 1000, 1)) + " s";
    int decimals = s.mean < 10 ? 2 : s.mean < 100 ? 1 : 0;
    return pm(Fixed(s.mean, decimals), Fixed(s.stddev, decimals)) + " ms";
  }
  if (key == "requests_per_second" || key == "throughput") {
    return pm(Thousands(s.mean), Thousands(s.stddev)) + " req/s";
  }
  if (key == "kept") {
    return pm(Thousands(s.mean), Thousands(s.stddev)) + " of " + Thousands(MeanWanted(t));
  }
  if (key == "monthly_usd") {
    if (std::fabs(s.mean) >= 100) return pm("$" + Thousands(s.mean), "$" + Thousands(s.stddev));
    return pm(UsdText(s.mean), UsdText(s.stddev));
  }
  if (key == "cpu_ms_per_request") return pm(Fixed(s.mean, 3), Fixed(s.stddev, 3)) + " ms";
  int decimals = s.mean < 1 ? 2 : 1;
  return pm(Fixed(s.mean, decimals) + "%", Fixed(s.stddev, decimals) + "%");
}

// "1,870–2,040" and the like: the range of figure `key` over the reps.
std::string RangeText(const TargetResult& t, const std::string& key) {
  Summary s = SummaryOf(t, key);
  if (s.n == 0) return "n/a";
  auto one = [&](double v) {
    if (key == "requests_per_second" || key == "throughput" || key == "kept") return Thousands(v);
    if (key == "monthly_usd") return UsdText(v);
    if (key == "failed_pct" || key == "late_pct" || key == "accuracy_pct") return PctText(v);
    return MsText(v);
  };
  return one(s.min) + "–" + one(s.max);
}

struct Change {
  std::optional<double> pct;  // null when a is 0
  std::string verdict;        // "better", "worse", "same", or "unsure" (one rep)
  bool noise = false;         // "same" because the reps cannot tell the two apart
};

// Two-sided 95% critical values of Student's t for 1..30 degrees of freedom.
double CriticalT(double df) {
  static const double kT[] = {12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                              2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                              2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (!(df >= 1)) return kT[0];
  if (df > 30) return 1.96;
  return kT[static_cast<size_t>(std::floor(df)) - 1];
}

// The verdict on B against A: "same" when the means are within 0.5% or,
// with two reps or more on each side, when Welch's t-test cannot tell them
// apart at 95%; "unsure" with a single rep; else better or worse.
Change ChangeOf(const Figure& f, const Summary& a, const Summary& b) {
  Change c;
  if (a.n == 0 || b.n == 0) return {std::nullopt, "same", false};
  if (a.mean != 0) c.pct = (b.mean - a.mean) / std::fabs(a.mean) * 100;
  bool same = c.pct ? std::fabs(*c.pct) < 0.5 : b.mean == a.mean;
  if (!same && a.n >= 2 && b.n >= 2) {
    double va = a.stddev * a.stddev / static_cast<double>(a.n);
    double vb = b.stddev * b.stddev / static_cast<double>(b.n);
    if (va + vb > 0) {
      double t = std::fabs(b.mean - a.mean) / std::sqrt(va + vb);
      double df =
          (va + vb) * (va + vb) /
          ((va * va) / static_cast<double>(a.n - 1) + (vb * vb) / static_cast<double>(b.n - 1));
      if (t < CriticalT(df)) same = c.noise = true;
    }
  }
  if (same) {
    c.verdict = "same";
  } else if (a.n < 2 || b.n < 2) {
    c.verdict = "unsure";
  } else {
    c.verdict = (b.mean < a.mean) == f.lower_is_better ? "better" : "worse";
  }
  return c;
}

std::string ChangeText(const Change& c, const Summary& a, const Summary& b) {
  if (a.n == 0 || b.n == 0) return "";
  if (c.verdict == "same" && !c.noise) return "same";
  std::string dir = b.mean < a.mean ? "lower" : "higher";
  if (!c.pct)
    return "up from 0" + std::string(c.verdict == "unsure" ? " (one rep)" : " (" + c.verdict + ")");
  std::string amount = Fixed(std::fabs(*c.pct), std::fabs(*c.pct) < 10 ? 1 : 0) + "% " + dir;
  if (c.noise) return amount + " (within noise)";
  if (c.verdict == "unsure") return amount + " (one rep: noise unknown)";
  return amount + " (" + c.verdict + ")";
}

// Display columns of UTF-8 `s` ("±" and "–" are one column each).
size_t Columns(const std::string& s) {
  size_t cols = 0;
  for (unsigned char ch : s) cols += (ch & 0xC0) != 0x80;
  return cols;
}

// Pads `s` to `width` display columns.
std::string Pad(const std::string& s, size_t width) {
  size_t cols = Columns(s);
  return cols >= width ? s + "  " : s + std::string(width - cols, ' ');
}

}  // namespace

const std::vector<Figure>& Figures() {
  static const std::vector<Figure> kFigures = {
      {"p99_ms", "p99 latency", true},
      {"throughput", "throughput", false},
      {"accuracy_pct", "counter accuracy", false},
      {"monthly_usd", "monthly cost", true},
      {"failed_pct", "failed requests", true},
      {"kept", "updates kept", false},
      {"p50_ms", "p50 latency", true},
      {"p90_ms", "p90 latency", true},
      {"p99_9_ms", "p99.9 latency", true},
      {"p99_99_ms", "p99.99 latency", true},
      {"max_ms", "max latency", true},
      {"cpu_ms_per_request", "CPU per request", true},
      {"late_pct", "late requests", true},
      {"unsent_pct", "requests never sent", true},
      {"requests_per_second", "requests sent or failed per second", false},
  };
  return kFigures;
}

// The post's table: the first five figures.
constexpr size_t kTableRows = 5;

std::optional<double> FigureOf(const Rep& rep, const std::string& key) {
  const LoadReport& r = rep.load;
  const Histogram& h = r.latency;
  auto ms = [&](double p) -> std::optional<double> {
    if (h.Count() == 0) return std::nullopt;
    return JsonMillis(p >= 100 ? h.Max() : h.Percentile(p));
  };
  if (key == "p50_ms") return ms(50);
  if (key == "p90_ms") return ms(90);
  if (key == "p99_ms") return ms(99);
  if (key == "p99_9_ms") return ms(99.9);
  if (key == "p99_99_ms") return ms(99.99);
  if (key == "max_ms") return ms(100);
  if (key == "requests_per_second") return r.RequestsPerSecond();
  if (key == "throughput") return r.CompletedPerSecond();
  if (key == "failed_pct") {
    if (r.requests() == 0) return std::nullopt;
    return 100.0 * static_cast<double>(r.failed) / static_cast<double>(r.requests());
  }
  if (key == "kept") {
    if (!rep.verify) return std::nullopt;
    return static_cast<double>(rep.verify->kept());
  }
  if (key == "accuracy_pct") {
    if (!rep.verify) return std::nullopt;
    return rep.verify->AccuracyPct();
  }
  if (key == "unsent_pct") {
    if (r.target_rate <= 0 || r.requests() == 0) return std::nullopt;
    return 100.0 * static_cast<double>(r.unsent) / static_cast<double>(r.requests());
  }
  if (key == "monthly_usd") return rep.cost.monthly_usd;
  if (key == "cpu_ms_per_request") {
    if (!rep.usage.known || rep.usage.requests == 0) return std::nullopt;
    return (rep.usage.cpu_ms + rep.usage.do_cpu_ms) / static_cast<double>(rep.usage.requests);
  }
  if (key == "late_pct") {
    if (r.target_rate <= 0 || r.requests() == 0) return std::nullopt;
    return 100.0 * static_cast<double>(r.late) / static_cast<double>(r.requests());
  }
  return std::nullopt;
}

std::string FormatReport(const LoadReport& r) {
  std::string out = "requests   " + std::to_string(r.requests()) + " in " + Fixed(r.seconds, 2) +
                    " s, " + Fixed(r.RequestsPerSecond(), 1) + " req/s";
  if (r.target_rate > 0) {
    out += "\nrate       target " + Fixed(r.target_rate, 1) + " req/s, sent at " +
           Fixed(r.SendRate(), 1) + " req/s; " + std::to_string(r.late) + " sent late (> " +
           std::to_string(kLateMicros / 1000) + " ms), " + std::to_string(r.unsent) + " never sent";
  }
  out += "\ncompleted  " + std::to_string(r.completed) + " (" + Fixed(r.CompletedPerSecond(), 1) +
         " req/s)\n";
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

std::string FormatTable(const BenchSpec& spec, const std::vector<TargetResult>& targets) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"metric"};
  for (const TargetResult& t : targets) head.push_back(t.label);
  bool compare = targets.size() == 2;
  if (compare) head.push_back("change");
  rows.push_back(head);
  const auto& figures = Figures();
  // Accuracy reads as the post's "872 ± 45 of 1000" when every rep of every
  // target wanted the same number of updates (-n), else as a percentage.
  std::optional<int64_t> wanted;
  bool same_wanted = true;
  for (const TargetResult& t : targets) {
    for (const Rep& rep : t.reps) {
      if (!rep.verify) continue;
      if (wanted && *wanted != rep.verify->wanted()) same_wanted = false;
      wanted = rep.verify->wanted();
    }
  }
  for (size_t i = 0; i < kTableRows; ++i) {
    const Figure& f = figures[i];
    std::string key = f.key;
    if (key == "accuracy_pct" && spec.verify.empty()) continue;
    std::vector<std::string> row = {f.label};
    for (const TargetResult& t : targets) {
      row.push_back(MeanText(t, key == "accuracy_pct" && same_wanted ? "kept" : key));
    }
    if (compare) {
      Summary a = SummaryOf(targets[0], f.key), b = SummaryOf(targets[1], f.key);
      row.push_back(ChangeText(ChangeOf(f, a, b), a, b));
    }
    rows.push_back(row);
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], Columns(row[c]) + 3);
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += c + 1 == row.size() ? row[c] : Pad(row[c], width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  // What the table's means hide: ranges, the latency tail, failures, cost.
  size_t name_width = 0;
  for (const TargetResult& t : targets) name_width = std::max(name_width, Columns(t.label) + 2);
  size_t reps = targets.empty() ? 0 : targets[0].reps.size();
  if (reps > 1) {
    out += "\nrange over " + std::to_string(reps) + " reps (min–max)\n";
    for (const TargetResult& t : targets) {
      out += "  " + Pad(t.label + ":", name_width) + "p99 " + RangeText(t, "p99_ms") + " ms, " +
             RangeText(t, "throughput") + " req/s";
      if (!spec.verify.empty()) out += ", kept " + RangeText(t, "kept");
      out += ", " + RangeText(t, "monthly_usd") + ", failed " + RangeText(t, "failed_pct") + "\n";
    }
  }
  out += "\nlatency (mean over reps)\n";
  for (const TargetResult& t : targets) {
    out += "  " + Pad(t.label + ":", name_width);
    std::string line;
    for (auto [key, name] :
         std::initializer_list<std::pair<const char*, const char*>>{{"p50_ms", "p50"},
                                                                    {"p90_ms", "p90"},
                                                                    {"p99_ms", "p99"},
                                                                    {"p99_9_ms", "p99.9"},
                                                                    {"p99_99_ms", "p99.99"},
                                                                    {"max_ms", "max"}}) {
      Summary s = SummaryOf(t, key);
      if (s.n == 0) continue;
      if (!line.empty()) line += ", ";
      line += std::string(name) + " " + MsText(s.mean) + (s.mean >= 10000 ? "" : " ms");
    }
    out += (line.empty() ? "no responses" : line) + "\n";
  }
  bool any_failed = false;
  for (const TargetResult& t : targets) {
    for (const Rep& rep : t.reps) any_failed |= rep.load.failed > 0;
  }
  if (any_failed) {
    out += "\nfailures (all reps)\n";
    for (const TargetResult& t : targets) {
      LoadReport sum;
      for (const Rep& rep : t.reps) {
        for (const auto& [k, n] : rep.load.failures) sum.failures[k] += n;
        for (const auto& [k, n] : rep.load.error_kinds) sum.error_kinds[k] += n;
      }
      std::string text = FailureBreakdown(sum);
      out += "  " + Pad(t.label + ":", name_width) + (text.empty() ? "none" : text) + "\n";
    }
  }
  out += "\nmonthly cost at " + Thousands(static_cast<double>(spec.monthly_requests)) +
         " requests (docs/cost.md; --monthly-requests, --price)\n";
  for (const TargetResult& t : targets) {
    out += "  " + Pad(t.label + ":", name_width);
    if (t.reps.empty()) {
      out += "n/a\n";
      continue;
    }
    // The lines of the rep nearest the mean, to show where the money goes.
    Summary s = SummaryOf(t, "monthly_usd");
    const Rep* typical = &t.reps[0];
    for (const Rep& rep : t.reps) {
      if (std::fabs(rep.cost.monthly_usd - s.mean) <
          std::fabs(typical->cost.monthly_usd - s.mean)) {
        typical = &rep;
      }
    }
    std::string parts = "base " + UsdText(spec.prices.base_usd);
    for (const CostLine& line : typical->cost.lines) {
      if (line.usd >= 0.005) parts += " + " + line.item + " " + UsdText(line.usd);
    }
    out += UsdText(typical->cost.monthly_usd) + " = " + parts;
    if (!typical->cost.complete)
      out += " (requests only: a URL target's CPU and storage are unseen)";
    out += "\n";
  }
  return out;
}

nlohmann::json ToJson(const LoadReport& r) {
  nlohmann::json by_status = nlohmann::json::object();
  for (const auto& [status, n] : r.by_status) by_status[std::to_string(status)] = n;
  nlohmann::json series = nlohmann::json::array();
  const size_t per_second = static_cast<size_t>(1'000'000 / kSeriesBinMicros);
  for (size_t s = 0; s * per_second < r.series.size(); ++s) {
    uint64_t completed = 0, failed = 0;
    for (size_t j = s * per_second; j < std::min(r.series.size(), (s + 1) * per_second); ++j) {
      completed += r.series[j].completed;
      failed += r.series[j].failed;
    }
    series.push_back({{"second", s + 1}, {"completed", completed}, {"failed", failed}});
  }
  bool open = r.target_rate > 0;
  return {
      {"requests", r.requests()},
      {"completed", r.completed},
      {"failed", r.failed},
      {"failed_pct", r.requests() == 0 ? 0.0
                                       : 100.0 * static_cast<double>(r.failed) /
                                             static_cast<double>(r.requests())},
      {"seconds", r.seconds},
      {"requests_per_second", r.RequestsPerSecond()},
      {"completed_per_second", r.CompletedPerSecond()},
      {"target_rate", open ? nlohmann::json(r.target_rate) : nlohmann::json()},
      {"send_rate", open ? nlohmann::json(r.SendRate()) : nlohmann::json()},
      {"late", open ? nlohmann::json(r.late) : nlohmann::json()},
      {"unsent", open ? nlohmann::json(r.unsent) : nlohmann::json()},
      {"by_status", by_status},
      {"failures", r.failures},
      {"errors", r.errors},
      {"error_kinds", r.error_kinds},
      {"latency_ms", LatencyJson(r.latency)},
      {"service_latency_ms", open ? LatencyJson(r.service_latency) : nlohmann::json()},
      {"series", series},
  };
}

nlohmann::json ToJson(const BenchSpec& spec, const std::vector<TargetResult>& targets) {
  const LoadOptions& lo = spec.load;
  nlohmann::json paths = nlohmann::json::array();
  for (const PathWeight& p : lo.paths) paths.push_back({{"path", p.path}, {"weight", p.weight}});
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [name, value] : lo.headers) headers.push_back({name, value});
  auto null_if_zero = [](double v) { return v > 0 ? nlohmann::json(v) : nlohmann::json(); };
  nlohmann::json prices = nlohmann::json::object();
  for (const std::string& kv : ListPrices(spec.prices)) {
    size_t eq = kv.find('='), dot = kv.find('.');
    double value = std::stod(kv.substr(eq + 1));
    if (dot == std::string::npos || dot > eq) {  // base_usd, do_memory_gb
      prices[kv.substr(0, eq)] = value;
    } else {
      prices[kv.substr(0, dot)][kv.substr(dot + 1, eq - dot - 1)] = value;
    }
  }
  nlohmann::json doc = {
      {"schema", "edgelab-bench/1"},
      {"created", spec.created},
      {"command", spec.command},
      {"load",
       {{"model", lo.rate > 0 ? "open" : "closed"},
        {"requests", lo.requests > 0 ? nlohmann::json(lo.requests) : nlohmann::json()},
        {"duration_s", null_if_zero(lo.duration_s)},
        {"rate", null_if_zero(lo.rate)},
        {"connections", lo.connections},
        {"threads", lo.threads},
        {"warmup_s", spec.warmup_s},
        {"timeout_s", lo.timeout_s},
        {"method", lo.method},
        {"paths", paths},
        {"headers", headers},
        {"body_bytes", lo.body.size()},
        {"reps", spec.reps},
        {"verify", spec.verify.empty() ? nlohmann::json() : nlohmann::json(spec.verify)},
        {"monthly_requests", spec.monthly_requests}}},
      {"prices", prices},
      {"targets", nlohmann::json::array()},
      {"interrupted", spec.interrupted},
      {"comparison", nullptr},
  };
  for (const TargetResult& t : targets) {
    nlohmann::json reps = nlohmann::json::array();
    Histogram merged;
    for (size_t i = 0; i < t.reps.size(); ++i) {
      const Rep& rep = t.reps[i];
      merged.Merge(rep.load.latency);
      nlohmann::json j = ToJson(rep.load);
      j["rep"] = i + 1;
      j["warmup"] = nullptr;
      if (rep.warmup) {
        j["warmup"] = {{"requests", rep.warmup->requests()},
                       {"completed", rep.warmup->completed},
                       {"failed", rep.warmup->failed},
                       {"seconds", rep.warmup->seconds}};
      }
      j["verify"] = nullptr;
      if (rep.verify) {
        const Verify& v = *rep.verify;
        j["verify"] = {{"path", v.path},
                       {"before", v.before},
                       {"after", v.after},
                       {"expected", v.expected},
                       {"indeterminate", v.indeterminate},
                       {"kept", v.kept()},
                       {"lost", v.lost()},
                       {"extra", v.extra()},
                       {"accuracy_pct", v.AccuracyPct()}};
      }
      const Usage& u = rep.usage;
      j["usage"] = {{"known", u.known},
                    {"requests", u.requests},
                    {"cpu_ms", u.cpu_ms},
                    {"kv_reads", u.kv_reads},
                    {"kv_writes", u.kv_writes},
                    {"kv_deletes", u.kv_deletes},
                    {"kv_lists", u.kv_lists},
                    {"do_requests", u.do_requests},
                    {"do_wall_s", u.do_wall_s},
                    {"do_cpu_ms", u.do_cpu_ms},
                    {"do_read_units", u.do_read_units},
                    {"do_write_units", u.do_write_units}};
      nlohmann::json lines = nlohmann::json::array();
      for (const CostLine& l : rep.cost.lines) {
        lines.push_back({{"item", l.item},
                         {"monthly_units", l.monthly_units},
                         {"billed_units", l.billed_units},
                         {"usd", l.usd}});
      }
      j["cost"] = {{"complete", rep.cost.complete},
                   {"monthly_requests", rep.cost.monthly_requests},
                   {"monthly_usd", rep.cost.monthly_usd},
                   {"usd_per_million_requests", rep.cost.usd_per_million_requests},
                   {"lines", lines}};
      reps.push_back(std::move(j));
    }
    nlohmann::json summary = nlohmann::json::object();
    for (const Figure& f : Figures()) {
      Summary s = SummaryOf(t, f.key);
      summary[f.key] = s.n == 0 ? nlohmann::json() : SummaryJson(s);
    }
    nlohmann::json buckets = nlohmann::json::array();
    merged.ForEachBucket([&](int64_t low, int64_t high, uint64_t count) {
      buckets.push_back({low, high, count});
    });
    nlohmann::json curve = nlohmann::json::array();
    if (merged.Count() > 0) {
      // Ten points a decade of 1/(1 - p), from 0 up to 99.999 or one in count.
      for (int k = 0; k <= 50; ++k) {
        double p = 100.0 * (1.0 - std::pow(10.0, -k / 10.0));
        if (k > 0 && std::pow(10.0, k / 10.0) > static_cast<double>(merged.Count()) * 10) break;
        curve.push_back({p, JsonMillis(merged.Percentile(p))});
      }
      curve.push_back({100.0, JsonMillis(merged.Max())});
    }
    nlohmann::json throughput = nlohmann::json::array();
    int64_t bin = ThroughputBin(t);
    std::vector<std::vector<std::pair<double, double>>> per_rep;
    for (const Rep& rep : t.reps) per_rep.push_back(Throughput(rep.load, bin));
    for (size_t i = 0;; ++i) {
      double sum = 0, at = 0;
      size_t n = 0;
      for (const auto& s : per_rep) {
        if (i < s.size()) sum += s[i].second, at += s[i].first, ++n;
      }
      if (n == 0) break;
      throughput.push_back({at / static_cast<double>(n), sum / static_cast<double>(n)});
    }
    doc["targets"].push_back(
        {{"label", t.label},
         {"target", t.target},
         {"kind", t.worker ? "worker" : "url"},
         {"reps", reps},
         {"summary", summary},
         {"histogram", {{"unit", "us"}, {"count", merged.Count()}, {"buckets", buckets}}},
         {"percentile_curve", curve},
         {"throughput_series", throughput}});
  }
  if (targets.size() == 2) {
    nlohmann::json rows = nlohmann::json::array();
    for (const Figure& f : Figures()) {
      Summary a = SummaryOf(targets[0], f.key), b = SummaryOf(targets[1], f.key);
      if (a.n == 0 && b.n == 0) continue;
      Change c = ChangeOf(f, a, b);
      rows.push_back({{"key", f.key},
                      {"label", f.label},
                      {"a", a.n == 0 ? nlohmann::json() : SummaryJson(a)},
                      {"b", b.n == 0 ? nlohmann::json() : SummaryJson(b)},
                      {"change_pct", c.pct ? nlohmann::json(*c.pct) : nlohmann::json()},
                      {"better", f.lower_is_better ? "lower" : "higher"},
                      {"verdict", c.verdict}});
    }
    doc["comparison"] = {{"a", 0}, {"b", 1}, {"rows", rows}};
  }
  return doc;
}

}  // namespace edgelab::bench
