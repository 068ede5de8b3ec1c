// bench/html.cc: RenderHtml (bench/html.h). The page is built as one string:
// a header, the figure table, then three inline SVG charts drawn here, with
// no chart library and no JavaScript, so the file needs nothing else to show.
//
// Every read of the document goes through Field / Number / Text, which return
// null, nullopt or "" for a missing field or one of the wrong type: the
// document is input, and a hand-edited or truncated one must still render.
// Documents are small (a few thousand buckets and points at most), so the
// page is built by plain appends; nothing here is on a hot path.
#include "bench/html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgelab::bench {
namespace {

using nlohmann::json;

// ---- Reading the document: never throws, whatever the JSON.

const json& Null() {
  static const json kNull;
  return kNull;
}

// j[key], or null when j is not an object or has no such key.
const json& Field(const json& j, const char* key) {
  if (!j.is_object()) return Null();
  auto it = j.find(key);
  return it == j.end() ? Null() : *it;
}

// j[i], or null when j is not an array that long.
const json& At(const json& j, size_t i) { return j.is_array() && i < j.size() ? j[i] : Null(); }

std::optional<double> Number(const json& j) {
  if (!j.is_number()) return std::nullopt;
  double v = j.get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::string Text(const json& j) { return j.is_string() ? j.get<std::string>() : std::string(); }

// ---- Formatting.

// For HTML text and attribute values alike. C0 controls other than tab and
// newline are dropped: they are invalid in HTML and never meant.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

// At most `max_chars` characters (UTF-8 aware), with "…" when cut: labels of
// the legend must fit beside each other.
std::string Shorten(const std::string& s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (++chars > max_chars) return s.substr(0, i) + "…";
  }
  return s;
}

// Characters of a UTF-8 string, for laying out SVG text.
size_t Width(const std::string& s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// "1,234,567.8". Beyond 10^15 (no bench gets there) "1.23e+15", to stay short.
std::string Grouped(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  if (std::fabs(v) >= 1e15) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.0"
  long start = s[0] == '-' ? 1 : 0;
  long dot = static_cast<long>(std::min(s.find('.'), s.size()));
  for (long i = dot - 3; i > start; i -= 3) s.insert(static_cast<size_t>(i), 1, ',');
  return s;
}

// Up to four decimals, without trailing zeros: 99.9, 68.3772, 0.
std::string Trimmed(double v) {
  std::string s = Grouped(v, 4);
  if (s.find('.') == std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// How a figure's numbers read. Times follow bench/report.h: two decimals
// below 10, one above, seconds from 10 s up.
enum class Kind { kRate, kMillis, kPercent, kCount, kUsd, kCpuMillis, kPlain };

struct Unit {
  double scale = 1;    // the number shown is value * scale
  std::string prefix;  // "$"
  std::string suffix;  // " ms"
};

Unit UnitFor(Kind kind, double mean) {
  switch (kind) {
    case Kind::kRate:
      return {1, "", " req/s"};
    case Kind::kMillis:
      return std::fabs(mean) >= 10'000 ? Unit{1e-3, "", " s"} : Unit{1, "", " ms"};
    case Kind::kPercent:
      return {1, "", "%"};
    case Kind::kUsd:
      return {1, "$", ""};
    case Kind::kCpuMillis:
      return {1, "", " ms"};
    case Kind::kCount:
    case Kind::kPlain:
      return {};
  }
  return {};
}

// The number v alone, already scaled, with as many decimals as `ref` (the
// mean of its cell) wants: "2,000 ± 40", "48.2 ± 0.5".
std::string Digits(Kind kind, double v, double ref) {
  double a = std::fabs(ref);
  switch (kind) {
    case Kind::kRate:
      return Grouped(v, a < 100 ? 1 : 0);
    case Kind::kMillis:
      return Grouped(v, a < 10 ? 2 : 1);
    case Kind::kPercent:
      return Grouped(v, ref != 0 && a < 1 ? 2 : 1);
    case Kind::kCount:
      return Grouped(v, a < 100 && v != std::round(v) ? 1 : 0);  // counts: 56 – 70
    case Kind::kUsd:
      return Grouped(v, a >= 100 ? 0 : 2);
    case Kind::kCpuMillis:
      return Grouped(v, a < 1 ? 3 : a < 10 ? 2 : 1);
    case Kind::kPlain:
      return Grouped(v, a < 10 ? 2 : a < 100 ? 1 : 0);
  }
  return Grouped(v, 2);
}

std::string Show(Kind kind, const Unit& unit, double v, double ref) {
  return unit.prefix + Digits(kind, v * unit.scale, ref * unit.scale);
}

// A latency for a log axis or a tooltip, with its own unit: "500 µs", "20 ms", "3 s".
std::string Duration(double ms) {
  if (ms < 1) return Trimmed(std::round(ms * 1000 * 100) / 100) + " µs";
  if (ms < 1000) return Trimmed(std::round(ms * 100) / 100) + " ms";
  return Trimmed(std::round(ms / 10) / 100) + " s";
}

// ---- The figures of the table, in table order (bench/report.h's Figure).

struct FigureInfo {
  const char* key;
  const char* label;
  Kind kind;
};

constexpr FigureInfo kFigures[] = {
    // The post's table first, in its order.
    {"p99_ms", "p99 latency", Kind::kMillis},
    {"throughput", "throughput", Kind::kRate},
    {"accuracy_pct", "counter accuracy", Kind::kPercent},
    {"monthly_usd", "monthly cost", Kind::kUsd},
    {"failed_pct", "failed requests", Kind::kPercent},
    {"kept", "updates kept", Kind::kCount},
    {"p50_ms", "p50 latency", Kind::kMillis},
    {"p90_ms", "p90 latency", Kind::kMillis},
    {"p99_9_ms", "p99.9 latency", Kind::kMillis},
    {"p99_99_ms", "p99.99 latency", Kind::kMillis},
    {"max_ms", "max latency", Kind::kMillis},
    {"cpu_ms_per_request", "CPU per request", Kind::kCpuMillis},
    {"late_pct", "late requests", Kind::kPercent},
    {"unsent_pct", "requests never sent", Kind::kPercent},
    {"requests_per_second", "requests sent or failed per second", Kind::kRate},
};

const FigureInfo* FindFigure(const std::string& key) {
  for (const FigureInfo& f : kFigures) {
    if (key == f.key) return &f;
  }
  return nullptr;
}

// ---- Targets.

// A (orange) and B (blue) differ in hue and lightness, so they stay apart
// in grey print and for red-green colour blindness; neither is the verdict
// red or green of the table. More targets than two are not made by bench,
// but get colours too.
constexpr const char* kColors[] = {"#e8590c", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"};

struct Target {
  std::string label;
  std::string color;
  const json* doc;
  std::optional<double> wanted;  // mean over reps of verify.expected - verify.before
};

std::optional<double> MeanWanted(const json& target) {
  double sum = 0;
  int n = 0;
  const json& reps = Field(target, "reps");
  for (size_t i = 0; i < (reps.is_array() ? reps.size() : 0); ++i) {
    const json& verify = Field(reps[i], "verify");
    auto expected = Number(Field(verify, "expected"));
    auto before = Number(Field(verify, "before"));
    if (!expected || !before) continue;
    sum += *expected - *before;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

std::vector<Target> ReadTargets(const json& doc) {
  std::vector<Target> out;
  const json& targets = Field(doc, "targets");
  for (size_t i = 0; i < (targets.is_array() ? targets.size() : 0); ++i) {
    Target t;
    t.doc = &targets[i];
    t.label = Text(Field(targets[i], "label"));
    if (t.label.empty()) t.label = "target " + std::to_string(i + 1);
    t.color = kColors[i % std::size(kColors)];
    t.wanted = MeanWanted(targets[i]);
    out.push_back(std::move(t));
  }
  return out;
}

std::string Swatch(const std::string& color) {
  return "<span class=\"swatch\" style=\"background:" + color + "\"></span>";
}

// ---- Header.

std::string LoadLine(const json& load) {
  std::vector<std::string> parts;
  std::string model = Text(Field(load, "model"));
  auto rate = Number(Field(load, "rate"));
  if (!model.empty()) {
    parts.push_back(Escape(model) + " loop" +
                    (rate ? " at " + Grouped(*rate, *rate < 100 ? 1 : 0) + " req/s" : ""));
  } else if (rate) {
    parts.push_back(Grouped(*rate, *rate < 100 ? 1 : 0) + " req/s");
  }
  if (auto c = Number(Field(load, "connections"))) parts.push_back(Grouped(*c, 0) + " connections");
  if (auto n = Number(Field(load, "requests"))) parts.push_back(Grouped(*n, 0) + " requests");
  if (auto d = Number(Field(load, "duration_s"))) parts.push_back(Trimmed(*d) + " s");
  if (auto w = Number(Field(load, "warmup_s")); w && *w > 0) {
    parts.push_back(Trimmed(*w) + " s warm-up");
  }
  if (auto r = Number(Field(load, "reps"))) {
    parts.push_back(Grouped(*r, 0) + (*r == 1 ? " rep" : " reps"));
  }
  const json& paths = Field(load, "paths");
  std::string method = Text(Field(load, "method"));
  if (paths.is_array() && paths.size() == 1) {
    parts.push_back(Escape(method) + " " + Escape(Text(Field(paths[0], "path"))));
  } else if (paths.is_array() && paths.size() > 1) {
    parts.push_back(Escape(method) + " " + std::to_string(paths.size()) + " paths");
  }
  std::string verify = Text(Field(load, "verify"));
  if (!verify.empty()) parts.push_back("verify " + Escape(verify));
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : " · ") + p;
  return out.empty() ? "load: n/a" : out;
}

// "edgelab bench: counter-broken vs counter-lock", escaped.
std::string PageTitle(const std::vector<Target>& targets) {
  std::string title = "edgelab bench";
  for (size_t i = 0; i < targets.size(); ++i) {
    title += (i == 0 ? ": " : " vs ") + Escape(targets[i].label);
  }
  return title;
}

std::string Header(const json& doc, const std::vector<Target>& targets) {
  std::string out = "<header>\n<h1>" + PageTitle(targets) + "</h1>\n";
  std::string command = Text(Field(doc, "command"));
  if (!command.empty()) out += "<pre class=\"command\">$ " + Escape(command) + "</pre>\n";
  out += "<p class=\"load\">" + LoadLine(Field(doc, "load")) + "</p>\n";
  out += "<ul class=\"targets\">\n";
  for (size_t i = 0; i < targets.size(); ++i) {
    const json& t = *targets[i].doc;
    std::string where = Text(Field(t, "target"));
    std::string kind = Text(Field(t, "kind"));
    out += "<li>" + Swatch(targets[i].color) + "<b>" + Escape(targets[i].label) + "</b>";
    if (targets.size() == 2) out += i == 0 ? " (A)" : " (B)";
    if (!where.empty()) out += " <code>" + Escape(where) + "</code>";
    if (!kind.empty()) out += " <span class=\"dim\">" + Escape(kind) + "</span>";
    out += "</li>\n";
  }
  if (targets.empty()) out += "<li class=\"dim\">no targets in this document</li>\n";
  out += "</ul>\n";
  std::string created = Text(Field(doc, "created"));
  if (created.size() == 20 && created[10] == 'T' && created[19] == 'Z') {
    created = created.substr(0, 10) + " " + created.substr(11, 8) + " UTC";  // ISO 8601, read
  }
  if (!created.empty()) out += "<p class=\"dim\">ended " + Escape(created) + "</p>\n";
  return out + "</header>\n";
}

// ---- The figure table.

// One target's cell: "mean ± stddev unit" and, for more than one rep, its
// min – max beneath. `of` follows the mean: " of 1,000".
std::string StatCell(const json& stat, Kind kind, const std::string& of) {
  auto mean = Number(Field(stat, "mean"));
  if (!mean) return "<td class=\"na\">n/a</td>";
  Unit unit = UnitFor(kind, *mean);
  auto n = Number(Field(stat, "n"));
  auto sd = Number(Field(stat, "stddev"));
  auto lo = Number(Field(stat, "min"));
  auto hi = Number(Field(stat, "max"));
  // One rep, or reps that all agree: the value alone says it all.
  bool many = (!n || *n > 1) && !(lo && hi && *lo == *hi);
  std::string out = "<td><div class=\"v\">" + Show(kind, unit, *mean, *mean);
  if (many && sd) out += " ± " + Show(kind, unit, *sd, *mean);
  out += Escape(unit.suffix) + of + "</div>";
  if (many && lo && hi) {
    out += "<div class=\"r\" title=\"min – max over the reps\">" + Show(kind, unit, *lo, *mean) +
           " – " + Show(kind, unit, *hi, *mean) + Escape(unit.suffix) + "</div>";
  }
  return out + "</td>";
}

// "65% higher" + the verdict, coloured by it.
std::string ChangeCell(const json& row) {
  std::string verdict = Text(Field(row, "verdict"));
  if (verdict != "better" && verdict != "worse" && verdict != "same") verdict.clear();
  // change_pct is null when A is 0: "no change" if B is 0 too.
  auto a_mean = Number(Field(Field(row, "a"), "mean"));
  auto b_mean = Number(Field(Field(row, "b"), "mean"));
  std::string text = a_mean == 0.0 && b_mean == 0.0 ? "no change" : "n/a";
  if (auto pct = Number(Field(row, "change_pct"))) {
    double a = std::fabs(*pct);
    std::string digits = Grouped(a, a < 10 ? 1 : 0);
    text = digits == "0.0" ? "no change" : digits + "% " + (*pct > 0 ? "higher" : "lower");
  }
  std::string out = "<td class=\"change " + verdict + "\"><span class=\"pct\">" + text + "</span>";
  if (!verdict.empty()) out += " <span class=\"verdict\">" + verdict + "</span>";
  return out + "</td>";
}

struct Row {
  std::string key;
  std::string label;
  std::vector<const json*> stats;  // one per column
  const json* comparison = nullptr;
};

std::string RowHtml(const Row& row, const std::vector<const Target*>& columns) {
  const FigureInfo* info = FindFigure(row.key);
  Kind kind = info ? info->kind : Kind::kPlain;
  std::string out = "<tr><th scope=\"row\">" + Escape(row.label) + "</th>";
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string of;
    if (row.key == "kept" && columns[i]->wanted) of = " of " + Grouped(*columns[i]->wanted, 0);
    out += StatCell(*row.stats[i], kind, of);
  }
  if (row.comparison) out += ChangeCell(*row.comparison);
  return out + "</tr>\n";
}

// The rows of `comparison`, when it names two of the targets.
bool ComparisonRows(const json& doc, const std::vector<Target>& targets, std::vector<Row>* rows,
                    std::vector<const Target*>* columns) {
  const json& cmp = Field(doc, "comparison");
  auto a = Number(Field(cmp, "a"));
  auto b = Number(Field(cmp, "b"));
  const json& list = Field(cmp, "rows");
  if (!a || !b || !list.is_array() || list.empty()) return false;
  if (*a < 0 || *b < 0 || *a >= static_cast<double>(targets.size()) ||
      *b >= static_cast<double>(targets.size())) {
    return false;
  }
  *columns = {&targets[static_cast<size_t>(*a)], &targets[static_cast<size_t>(*b)]};
  for (const json& r : list) {
    Row row{Text(Field(r, "key")), Text(Field(r, "label")), {&Field(r, "a"), &Field(r, "b")}, &r};
    const FigureInfo* info = FindFigure(row.key);
    if (row.label.empty()) row.label = info ? info->label : row.key;
    rows->push_back(std::move(row));
  }
  return true;
}

// Every figure of the targets' summaries: the known ones in table order, then
// any other key (JSON objects iterate sorted).
void SummaryRows(const std::vector<Target>& targets, std::vector<Row>* rows,
                 std::vector<const Target*>* columns) {
  std::vector<std::string> keys;
  for (const FigureInfo& f : kFigures) keys.push_back(f.key);
  for (const Target& t : targets) {
    const json& summary = Field(*t.doc, "summary");
    if (!summary.is_object()) continue;
    for (const auto& [key, value] : summary.items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  for (const Target& t : targets) columns->push_back(&t);
  for (const std::string& key : keys) {
    const FigureInfo* info = FindFigure(key);
    Row row{key, info ? info->label : key, {}, nullptr};
    bool any = false;
    for (const Target& t : targets) {
      row.stats.push_back(&Field(Field(*t.doc, "summary"), key.c_str()));
      any |= row.stats.back()->is_object();
    }
    // A figure no target has is no row, but for the post's five: n/a says it.
    bool post = info != nullptr && info - kFigures < 5;
    if (any || post) rows->push_back(std::move(row));
  }
}

std::string FigureTable(const json& doc, const std::vector<Target>& targets) {
  std::vector<Row> rows;
  std::vector<const Target*> columns;
  if (!ComparisonRows(doc, targets, &rows, &columns)) SummaryRows(targets, &rows, &columns);
  if (columns.empty()) return "<p class=\"nodata\">no figures: the document has no targets</p>\n";
  bool compare = !rows.empty() && rows[0].comparison;
  std::string out = "<table class=\"figures\">\n<thead><tr><th>figure</th>";
  for (const Target* t : columns) out += "<th>" + Swatch(t->color) + Escape(t->label) + "</th>";
  if (compare) out += "<th>change</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const Row& row : rows) out += RowHtml(row, columns);
  return out + "</tbody>\n</table>\n";
}

// ---- Charts: one frame (axes, grid, ticks, legend) and three kinds of body.

constexpr double kWidth = 960, kHeight = 380;
constexpr double kLeft = 84, kRight = 916, kTop = 52, kBottom = 318;

struct Scale {
  double d0 = 0, d1 = 1;  // domain
  double r0 = 0, r1 = 1;  // range, in viewBox units
  double operator()(double v) const {
    double t = d1 == d0 ? 0.5 : (v - d0) / (d1 - d0);
    return r0 + std::clamp(t, -0.01, 1.01) * (r1 - r0);
  }
};

struct Tick {
  double at;  // in the scale's domain
  std::string label;
};

struct Series {
  std::string label;
  std::string color;
  bool has_data = false;
};

struct Chart {
  std::string kind;   // data-chart
  std::string title;  // <title>
  std::string x_title, y_title;
  Scale x, y;
  std::vector<Tick> x_ticks, y_ticks;
  std::vector<Series> series;
  std::string body;  // the series' drawing, empty for "no data"
};

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Without data, the y ticks would only label a made-up scale: the grid stays,
// their labels go.
std::string Grid(const Chart& c) {
  std::string out;
  bool labels = !c.body.empty();
  for (const Tick& t : c.y_ticks) {
    std::string y = Num(c.y(t.at));
    out += "<line class=\"grid\" x1=\"" + Num(kLeft) + "\" x2=\"" + Num(kRight) + "\" y1=\"" + y +
           "\" y2=\"" + y + "\"/>";
    out += "<text class=\"tick\" x=\"" + Num(kLeft - 8) + "\" y=\"" + y +
           "\" text-anchor=\"end\" dominant-baseline=\"middle\">" +
           (labels ? Escape(t.label) : "") + "</text>\n";
  }
  for (const Tick& t : c.x_ticks) {
    std::string x = Num(c.x(t.at));
    out += "<line class=\"grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + Num(kTop) + "\" y2=\"" +
           Num(kBottom) + "\"/>";
    out += "<text class=\"tick\" x=\"" + x + "\" y=\"" + Num(kBottom + 20) +
           "\" text-anchor=\"middle\">" + Escape(t.label) + "</text>\n";
  }
  return out;
}

std::string Axes(const Chart& c) {
  std::string out = "<path class=\"axis\" d=\"M" + Num(kLeft) + " " + Num(kTop) + "V" +
                    Num(kBottom) + "H" + Num(kRight) + "\"/>\n";
  out += "<text class=\"axis-title\" x=\"" + Num((kLeft + kRight) / 2) + "\" y=\"" +
         Num(kBottom + 50) + "\" text-anchor=\"middle\">" + Escape(c.x_title) + "</text>\n";
  out += "<text class=\"axis-title\" transform=\"translate(22 " + Num((kTop + kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + Escape(c.y_title) + "</text>\n";
  return out;
}

std::string Legend(const Chart& c) {
  std::string out = "<g class=\"legend\">";
  double x = kLeft;
  for (const Series& s : c.series) {
    std::string label = Shorten(s.label, 48) + (s.has_data ? "" : " (no data)");
    out += "<line x1=\"" + Num(x) + "\" x2=\"" + Num(x + 22) + "\" y1=\"24\" y2=\"24\" stroke=\"" +
           s.color + "\" stroke-width=\"4\"/>";
    out += "<text x=\"" + Num(x + 30) + "\" y=\"24\" dominant-baseline=\"middle\">" +
           Escape(label) + "</text>";
    x += 30 + 7.5 * static_cast<double>(Width(label)) + 28;
  }
  return out + "</g>\n";
}

std::string RenderChart(const Chart& c) {
  std::string out = "<svg class=\"chart\" data-chart=\"" + c.kind + "\" viewBox=\"0 0 " +
                    Num(kWidth) + " " + Num(kHeight) + "\" role=\"img\" aria-label=\"" +
                    Escape(c.title) + "\">\n<title>" + Escape(c.title) + "</title>\n";
  out += "<rect class=\"bg\" width=\"" + Num(kWidth) + "\" height=\"" + Num(kHeight) + "\"/>\n";
  out += Grid(c) + Axes(c);
  if (c.body.empty()) {
    out += "<text class=\"nodata\" x=\"" + Num((kLeft + kRight) / 2) + "\" y=\"" +
           Num((kTop + kBottom) / 2) + "\" text-anchor=\"middle\">no data</text>\n";
  } else {
    out += c.body;
  }
  return out + Legend(c) + "</svg>\n";
}

// 1, 2 or 5 times a power of ten, near raw.
double NiceStep(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / p;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

// Ticks from 0 to a round number at or above max, about five of them; the
// domain becomes [0, that number].
std::vector<Tick> LinearTicks(double max, double min_step, Scale* scale) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  double step = std::max(NiceStep(max / 5), min_step);
  double top = std::ceil(max / step - 1e-9) * step;
  scale->d0 = 0;
  scale->d1 = top;
  // Labels stay within six characters, beside the axis title: 20M, not 20,000,000.
  double div = top >= 1e10 ? 1e9 : top >= 1e7 ? 1e6 : top >= 1e4 ? 1e3 : 1;
  const char* suffix = div == 1e9 ? "G" : div == 1e6 ? "M" : div == 1e3 ? "k" : "";
  int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step / div) + 1e-9)));
  std::vector<Tick> ticks;
  for (int i = 0; i * step <= top * (1 + 1e-9) && i <= 100; ++i) {
    double v = i * step;
    ticks.push_back({v, v == 0 ? "0" : Grouped(v / div, decimals) + suffix});
  }
  return ticks;
}

using Points = std::vector<std::pair<double, double>>;

std::string Path(const Points& points) {
  std::string d;
  for (size_t i = 0; i < points.size(); ++i) {
    // Appended piece by piece: g++ 12 at -O3 takes `"M" + std::string` for
    // an overlapping copy (a false -Wrestrict, an error under -Werror).
    d += i == 0 ? 'M' : 'L';
    d += Num(points[i].first);
    d += ' ';
    d += Num(points[i].second);
  }
  return d;
}

// A chart with one series per target, none with data yet, and no axes.
Chart NewChart(std::string kind, std::string title, std::string x_title, std::string y_title,
               const std::vector<Target>& targets) {
  Chart c;
  c.kind = std::move(kind);
  c.title = std::move(title);
  c.x_title = std::move(x_title);
  c.y_title = std::move(y_title);
  for (const Target& t : targets) c.series.push_back({t.label, t.color, false});
  return c;
}

// Latency values of a time axis: ms, or s from 10 s up.
struct TimeAxis {
  double scale = 1;
  std::string title;
};

TimeAxis TimeAxisFor(double max_ms) {
  if (max_ms >= 10'000) return {1e-3, "latency (s)"};
  return {1, "latency (ms)"};
}

// -- Chart 1: latency by percentile. x is log10(1 / (1 - p)): 90% is 1,
// 99% is 2, 99.9% is 3; the tail gets as much room as the body.

std::optional<double> PercentileX(double p) {
  if (!(p >= 0) || !(p < 100)) return std::nullopt;
  return std::log10(100 / (100 - p));
}

std::vector<Tick> PercentileTicks(int nines) {
  std::vector<Tick> ticks = {{0, "0%"}, {std::log10(2.0), "50%"}, {1, "90%"}, {2, "99%"}};
  for (int k = 3; k <= nines; ++k) {
    ticks.push_back({double(k), "99." + std::string(k - 2, '9') + "%"});
  }
  while (!ticks.empty() && ticks.back().at > nines) ticks.pop_back();
  return ticks;
}

// (x, ms) of a target's percentile_curve, in order, without unusable points.
Points CurveOf(const json& target) {
  Points out;
  const json& curve = Field(target, "percentile_curve");
  for (size_t i = 0; i < (curve.is_array() ? curve.size() : 0); ++i) {
    auto p = Number(At(curve[i], 0));
    auto ms = Number(At(curve[i], 1));
    if (!p || !ms) continue;
    auto x = PercentileX(*p);
    if (x && *x <= 7) out.push_back({*x, std::max(0.0, *ms)});
  }
  return out;
}

std::string CurveHits(const Points& px, const Points& data, const Target& t) {
  std::string out;
  if (data.size() > 400) return out;
  for (size_t i = 0; i < px.size(); ++i) {
    double p = 100 - 100 / std::pow(10.0, data[i].first);
    out += "<circle class=\"hit\" cx=\"" + Num(px[i].first) + "\" cy=\"" + Num(px[i].second) +
           "\" r=\"5\"><title>" + Escape(t.label) + ": p" + Trimmed(std::round(p * 1e4) / 1e4) +
           " = " + Duration(data[i].second) + "</title></circle>";
  }
  return out + "\n";
}

std::string PercentileChart(const std::vector<Target>& targets) {
  Chart c = NewChart("percentiles", "Latency by percentile", "percentile (log scale of 1/(1-p))",
                     "", targets);
  std::vector<Points> curves;
  double max_x = 0, max_ms = 0;
  for (const Target& t : targets) {
    curves.push_back(CurveOf(*t.doc));
    for (const auto& [x, ms] : curves.back()) {
      max_x = std::max(max_x, x);
      max_ms = std::max(max_ms, ms);
    }
  }
  int nines = std::clamp(static_cast<int>(std::ceil(max_x - 1e-6)), 3, 7);
  TimeAxis axis = TimeAxisFor(max_ms);
  c.y_title = axis.title;
  c.x = {0, double(nines), kLeft, kRight};
  c.x_ticks = PercentileTicks(nines);
  c.y = {0, 1, kBottom, kTop};
  c.y_ticks = LinearTicks(max_ms * axis.scale, 0, &c.y);
  for (size_t i = 0; i < targets.size(); ++i) {
    if (curves[i].empty()) continue;
    c.series[i].has_data = true;
    Points px;
    for (const auto& [x, ms] : curves[i]) px.push_back({c.x(x), c.y(ms * axis.scale)});
    c.body += "<path class=\"series\" d=\"" + Path(px) + "\" fill=\"none\" stroke=\"" +
              targets[i].color + "\"/>\n" + CurveHits(px, curves[i], targets[i]);
  }
  return RenderChart(c);
}

// -- Chart 2: the histogram, rebinned onto bins of equal width on a log axis
// so that every target shares the same bins whatever the buckets were.

struct Bucket {
  double lo_ms, hi_ms, count;
};

// A bucket [low_us, high_us] holds whole microseconds: it spans
// [low_us, high_us + 1) us; a bucket at 0 spans [0.5, 1) us on a log axis.
std::vector<Bucket> BucketsOf(const json& target) {
  std::vector<Bucket> out;
  const json& buckets = Field(Field(target, "histogram"), "buckets");
  for (size_t i = 0; i < (buckets.is_array() ? buckets.size() : 0); ++i) {
    auto lo = Number(At(buckets[i], 0));
    auto hi = Number(At(buckets[i], 1));
    auto count = Number(At(buckets[i], 2));
    if (!lo || !hi || !count || *count <= 0 || *hi < *lo || *lo < 0) continue;
    double end = *hi + 1;
    out.push_back({(*lo > 0 ? *lo : end / 2) / 1000, end / 1000, *count});
  }
  return out;
}

// Mantissas of the ticks of a log axis spanning `decades`: denser when narrow.
std::vector<double> Mantissas(double decades) {
  if (decades <= 0.7) return {1, 1.5, 2, 3, 4, 5, 6, 7, 8};
  if (decades <= 1.6) return {1, 2, 3, 5, 7};
  if (decades <= 4) return {1, 2, 5};
  return {1};
}

// Widens [*lo, *hi] (ms) to tick values and returns the ticks, in log10(ms).
std::vector<Tick> LogTicks(double* lo, double* hi) {
  std::vector<double> ms = Mantissas(std::log10(*hi / *lo));
  std::vector<double> values;
  for (int e = static_cast<int>(std::floor(std::log10(*lo))) - 1;
       e <= static_cast<int>(std::ceil(std::log10(*hi))); ++e) {
    for (double m : ms) values.push_back(m * std::pow(10.0, e));
  }
  double new_lo = *lo, new_hi = *hi;
  for (double v : values) {
    if (v <= *lo * (1 + 1e-9)) new_lo = v;
  }
  for (auto it = values.rbegin(); it != values.rend(); ++it) {
    if (*it >= *hi * (1 - 1e-9)) new_hi = *it;
  }
  *lo = new_lo;
  *hi = new_hi;
  std::vector<Tick> ticks;
  for (double v : values) {
    if (v >= new_lo * (1 - 1e-9) && v <= new_hi * (1 + 1e-9)) {
      ticks.push_back({std::log10(v), Duration(v)});
    }
  }
  return ticks;
}

// Percent of the requests in each of `bins` bins of [d0, d1] (log10 ms); a
// bucket spread over several bins is split in proportion to its overlap.
std::vector<double> Rebin(const std::vector<Bucket>& buckets, double d0, double d1, int bins) {
  std::vector<double> share(static_cast<size_t>(bins), 0);
  double total = 0, w = (d1 - d0) / bins;
  for (const Bucket& b : buckets) {
    total += b.count;
    double a = std::log10(b.lo_ms), z = std::log10(b.hi_ms);
    int i0 = std::clamp(static_cast<int>(std::floor((a - d0) / w)), 0, bins - 1);
    int i1 = std::clamp(static_cast<int>(std::floor((z - d0) / w)), 0, bins - 1);
    if (z - a < 1e-12 || i0 == i1) {
      share[static_cast<size_t>(i0)] += b.count;
      continue;
    }
    for (int i = i0; i <= i1; ++i) {
      double overlap = std::min(z, d0 + (i + 1) * w) - std::max(a, d0 + i * w);
      if (overlap > 0) share[static_cast<size_t>(i)] += b.count * overlap / (z - a);
    }
  }
  for (double& s : share) s = total > 0 ? s / total * 100 : 0;
  return share;
}

// The step outline of one series, closed along the x axis, and a tooltip
// rectangle for each non-empty bin.
std::string HistogramSeries(const Chart& c, const std::vector<double>& share, const Target& t) {
  double w = (c.x.d1 - c.x.d0) / static_cast<double>(share.size());
  Points px = {{c.x(c.x.d0), c.y(0)}};
  std::string hits;
  for (size_t i = 0; i < share.size(); ++i) {
    double a = c.x.d0 + static_cast<double>(i) * w;
    px.push_back({c.x(a), c.y(share[i])});
    px.push_back({c.x(a + w), c.y(share[i])});
    if (share[i] <= 0) continue;
    hits += "<rect class=\"hit\" x=\"" + Num(c.x(a)) + "\" y=\"" + Num(c.y(share[i])) +
            "\" width=\"" + Num(c.x(a + w) - c.x(a)) + "\" height=\"" +
            Num(c.y(0) - c.y(share[i])) + "\"><title>" + Escape(t.label) + ": " +
            Duration(std::pow(10.0, a)) + " – " + Duration(std::pow(10.0, a + w)) + ": " +
            Grouped(share[i], 2) + "%</title></rect>";
  }
  px.push_back({c.x(c.x.d1), c.y(0)});
  return "<path class=\"series area\" d=\"" + Path(px) + "Z\" stroke=\"" + t.color + "\" fill=\"" +
         t.color + "\"/>\n" + hits + "\n";
}

std::string HistogramChart(const std::vector<Target>& targets) {
  Chart c = NewChart("histogram", "Latency histogram", "latency (log scale)",
                     "share of requests (%)", targets);
  std::vector<std::vector<Bucket>> all;
  double lo = HUGE_VAL, hi = 0;
  for (const Target& t : targets) {
    all.push_back(BucketsOf(*t.doc));
    for (const Bucket& b : all.back()) {
      lo = std::min(lo, b.lo_ms);
      hi = std::max(hi, b.hi_ms);
    }
  }
  if (!(hi > 0)) {
    lo = 1;
    hi = 100;
  }
  c.x_ticks = LogTicks(&lo, &hi);
  c.x = {std::log10(lo), std::log10(hi), kLeft, kRight};
  // About 30 bins a decade (each 8% wide, near the resolution of a few
  // thousand samples), never fewer than 24 nor more than 120 in all.
  int bins = std::clamp(static_cast<int>(std::lround((c.x.d1 - c.x.d0) * 30)), 24, 120);
  double bin_pct = (std::pow(10.0, (c.x.d1 - c.x.d0) / bins) - 1) * 100;
  c.x_title = "latency (log scale; each bin " + Grouped(bin_pct, bin_pct < 10 ? 1 : 0) + "% wide)";
  std::vector<std::vector<double>> shares;
  double max_share = 0;
  for (const auto& buckets : all) {
    shares.push_back(Rebin(buckets, c.x.d0, c.x.d1, bins));
    for (double s : shares.back()) max_share = std::max(max_share, s);
  }
  c.y = {0, 1, kBottom, kTop};
  c.y_ticks = LinearTicks(max_share, 0, &c.y);
  for (size_t i = 0; i < targets.size(); ++i) {
    if (all[i].empty()) continue;
    c.series[i].has_data = true;
    c.body += HistogramSeries(c, shares[i], targets[i]);
  }
  return RenderChart(c);
}

// -- Chart 3: throughput by second. Second s is the interval (s-1, s], drawn
// as a step.

Points SeriesPoints(const json& target) {
  Points out;
  const json& series = Field(target, "throughput_series");
  for (size_t i = 0; i < (series.is_array() ? series.size() : 0); ++i) {
    auto s = Number(At(series[i], 0));
    auto rate = Number(At(series[i], 1));
    if (s && rate && *s > 0) out.push_back({*s, std::max(0.0, *rate)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Each point [t, rate] is the rate over the interval that ends at t (1 s, or
// finer for short runs): a step from the previous point's t.
std::string ThroughputSeries(const Chart& c, const Points& points, const Target& t) {
  Points px;
  std::string hits;
  double from = 0;
  for (const auto& [s, rate] : points) {
    px.push_back({c.x(from), c.y(rate)});
    px.push_back({c.x(s), c.y(rate)});
    if (points.size() <= 600) {
      hits += "<rect class=\"hit\" x=\"" + Num(c.x(from)) + "\" y=\"" + Num(c.y(rate) - 6) +
              "\" width=\"" + Num(c.x(s) - c.x(from)) + "\" height=\"12\"><title>" +
              Escape(t.label) + ": " + Grouped(from, from < 10 ? 2 : 0) + "–" +
              Grouped(s, s < 10 ? 2 : 0) + " s: " + Grouped(rate, 0) + " req/s</title></rect>";
    }
    from = s;
  }
  return "<path class=\"series\" d=\"" + Path(px) + "\" fill=\"none\" stroke=\"" + t.color +
         "\"/>\n" + hits + "\n";
}

std::string ThroughputChart(const std::vector<Target>& targets) {
  Chart c =
      NewChart("throughput", "Throughput over time", "time (s)", "requests per second", targets);
  std::vector<Points> all;
  double last = 0, max_rate = 0;
  for (const Target& t : targets) {
    all.push_back(SeriesPoints(*t.doc));
    for (const auto& [s, rate] : all.back()) {
      last = std::max(last, s);
      max_rate = std::max(max_rate, rate);
    }
  }
  c.x = {0, 1, kLeft, kRight};
  c.x_ticks = LinearTicks(last, last >= 5 ? 1 : 0, &c.x);
  c.y = {0, 1, kBottom, kTop};
  c.y_ticks = LinearTicks(max_rate * 1.05, 0, &c.y);
  for (size_t i = 0; i < targets.size(); ++i) {
    if (all[i].empty()) continue;
    c.series[i].has_data = true;
    c.body += ThroughputSeries(c, all[i], targets[i]);
  }
  return RenderChart(c);
}

// ---- The page.

constexpr const char* kStyle = R"(
:root { color-scheme: light; }
body { margin: 0; background: #f6f8fa; color: #1f2328;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 24px; margin: 0 0 10px; }
h2 { font-size: 18px; margin: 32px 0 4px; }
p { margin: 6px 0; }
.dim, .note { color: #59636e; }
.note { margin: 0 0 10px; font-size: 14px; }
code, pre { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
pre.command { background: #fff; border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 12px;
  margin: 8px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
ul.targets { list-style: none; padding: 0; margin: 8px 0; }
ul.targets li { margin: 3px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  margin-right: 7px; vertical-align: -1px; }
table.figures { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #d1d9e0;
  font-variant-numeric: tabular-nums; margin-top: 8px; }
table.figures th, table.figures td { padding: 7px 16px; border-bottom: 1px solid #e6eaef;
  text-align: right; vertical-align: top; }
table.figures thead th { background: #eff2f5; overflow-wrap: anywhere; }
table.figures th[scope=row], table.figures thead th:first-child { text-align: left;
  font-weight: 600; white-space: nowrap; }
table.figures .v { white-space: nowrap; }
table.figures .r { font-size: 12px; color: #59636e; white-space: nowrap; }
td.na { color: #8c959f; }
td.change { white-space: nowrap; font-weight: 600; }
td.change .verdict { display: inline-block; min-width: 46px; margin-left: 6px; padding: 0 7px;
  border-radius: 10px; font-size: 12px; font-weight: 600; text-align: center; }
td.better { color: #1a7f37; } td.better .verdict { background: #dafbe1; }
td.worse { color: #cf222e; } td.worse .verdict { background: #ffebe9; }
td.same { color: #59636e; } td.same .verdict { background: #eff2f5; }
svg.chart { display: block; width: 100%; height: auto; background: #fff;
  border: 1px solid #d1d9e0; border-radius: 6px; }
svg.chart .bg { fill: #fff; }
svg.chart text { font-size: 13px; fill: #1f2328;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
svg.chart .tick { fill: #59636e; font-size: 12px; font-variant-numeric: tabular-nums; }
svg.chart .axis-title { fill: #1f2328; font-size: 13px; }
svg.chart .grid { stroke: #e6eaef; stroke-width: 1; }
svg.chart .axis { stroke: #8c959f; stroke-width: 1; fill: none; }
svg.chart .series { stroke-width: 2.5; stroke-linejoin: round; }
svg.chart .series.area { fill-opacity: 0.15; stroke-width: 2; }
svg.chart .hit { fill: transparent; stroke: none; }
svg.chart .nodata { fill: #8c959f; font-size: 22px; }
footer { margin-top: 28px; font-size: 13px; color: #59636e; }
)";

std::string Section(const char* heading, const char* note, const std::string& chart) {
  return std::string("<section>\n<h2>") + heading + "</h2>\n<p class=\"note\">" + note + "</p>\n" +
         chart + "</section>\n";
}

}  // namespace

std::string RenderHtml(const json& doc) {
  std::vector<Target> targets = ReadTargets(doc);
  std::string out = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + PageTitle(targets) + "</title>\n<style>" + kStyle +
         "</style>\n</head>\n<body>\n<main>\n";
  out += Header(doc, targets);
  out +=
      "<section>\n<h2>Figures</h2>\n<p class=\"note\">Mean ± standard deviation over the "
      "reps; min – max beneath.</p>\n" +
      FigureTable(doc, targets) + "</section>\n";
  out += Section("Latency by percentile",
                 "Every rep's latencies merged. The x axis gives each further nine as much room "
                 "as the one before, so the tail is as visible as the median.",
                 PercentileChart(targets));
  out += Section("Latency histogram",
                 "Every rep's latencies merged: the share of requests in each latency bin. Bins "
                 "are equally wide on the log axis, so both targets share them.",
                 HistogramChart(targets));
  out += Section("Throughput over time",
                 "Responses per second over each interval of a run (a second; 100 or 10 ms for "
                 "short runs), mean over the reps.",
                 ThroughputChart(targets));
  std::string schema = Text(Field(doc, "schema"));
  out += "<footer>edgelab bench" + (schema.empty() ? "" : " · " + Escape(schema)) +
         "</footer>\n</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace edgelab::bench
