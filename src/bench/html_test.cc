// Tests of bench/html.h: the page is self-contained, escapes what it is given,
// shows the figures and the three charts, and renders any JSON without
// throwing. How it looks in a browser is tests/browser's check.
#include "bench/html.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace edgelab::bench {
namespace {

using nlohmann::json;

// Short failure messages: a page is too long to print whole.
::testing::AssertionResult Has(const std::string& page, const std::string& text) {
  if (page.find(text) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the page lacks: " << text;
}

::testing::AssertionResult Lacks(const std::string& page, const std::string& text) {
  size_t at = page.find(text);
  if (at == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "the page has: " << text << " in: " << page.substr(at < 80 ? 0 : at - 80, 160);
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

json Stat(double mean, double stddev, double min, double max, int n = 3) {
  return {{"mean", mean}, {"stddev", stddev}, {"min", min}, {"max", max}, {"n", n}};
}

json Summary(double rps, double p99, double kept, double usd) {
  json s = json::object();
  s["requests_per_second"] = Stat(rps, rps / 50, rps * 0.97, rps * 1.03);
  for (const char* key : {"p50_ms", "p90_ms", "p99_9_ms", "p99_99_ms", "max_ms"}) {
    s[key] = Stat(p99 / 2, 1, p99 / 3, p99);
  }
  s["p99_ms"] = Stat(p99, p99 / 20, p99 * 0.9, p99 * 1.1);
  s["failed_pct"] = Stat(0, 0, 0, 0);
  s["kept"] = Stat(kept, 3, kept - 4, kept + 4);
  s["monthly_usd"] = Stat(usd, 0, usd, usd);
  s["cpu_ms_per_request"] = Stat(0.041, 0.001, 0.04, 0.042);
  return s;
}

json TargetDoc(const std::string& label, double rps, double p99, double kept, double usd) {
  json rep = {
      {"rep", 1},
      {"verify", {{"path", "/value"}, {"before", 10}, {"after", 10 + kept}, {"expected", 1010}}}};
  return {{"label", label},
          {"target", "examples/" + label + "/edge.toml"},
          {"kind", "worker"},
          {"reps", {rep, rep, rep}},
          {"summary", Summary(rps, p99, kept, usd)},
          {"histogram",
           {{"unit", "us"},
            {"count", 100},
            {"buckets", {{0, 0, 1}, {900, 999, 9}, {40000, 41000, 80}, {60000, 62000, 10}}}}},
          {"percentile_curve", {{0, 0.9}, {50, 40.2}, {90, 41}, {99, p99}, {99.999, p99 + 2}}},
          {"throughput_series", {{1, rps}, {2, rps * 0.9}}}};
}

json Row(const std::string& key, const json& a, const json& b, double change,
         const std::string& verdict) {
  return {{"key", key},         {"label", key},      {"a", a}, {"b", b}, {"change_pct", change},
          {"better", "higher"}, {"verdict", verdict}};
}

json TwoTargets() {
  json a = TargetDoc("counter-broken", 2000, 60, 64, 150348.8);
  json b = TargetDoc("counter-lock", 3300, 260, 1000, 21.4);
  json rows = json::array();
  rows.push_back(Row("requests_per_second", a["summary"]["requests_per_second"],
                     b["summary"]["requests_per_second"], 65, "better"));
  rows.push_back(Row("p99_ms", a["summary"]["p99_ms"], b["summary"]["p99_ms"], 333.3, "worse"));
  rows.push_back(
      Row("failed_pct", a["summary"]["failed_pct"], b["summary"]["failed_pct"], 0, "same"));
  rows.back()["change_pct"] = nullptr;
  rows.push_back(Row("kept", a["summary"]["kept"], b["summary"]["kept"], 1462.5, "better"));
  rows.push_back(Row("monthly_usd", a["summary"]["monthly_usd"], b["summary"]["monthly_usd"], -4.26,
                     "better"));
  return {{"schema", "edgelab-bench/1"},
          {"created", "2026-11-27T05:30:00Z"},
          {"command", "edgelab bench a --compare b -n 1000 -c 100"},
          {"load",
           {{"model", "closed"},
            {"requests", 1000},
            {"duration_s", nullptr},
            {"rate", nullptr},
            {"connections", 100},
            {"reps", 3},
            {"method", "POST"},
            {"paths", {{{"path", "/increment"}, {"weight", 1}}}},
            {"verify", "/value"}}},
          {"targets", {a, b}},
          {"comparison", {{"a", 0}, {"b", 1}, {"rows", rows}}}};
}

json OneTarget() {
  json doc = TwoTargets();
  doc["targets"].erase(1);
  doc["comparison"] = nullptr;
  return doc;
}

TEST(HtmlTest, PageIsSelfContainedWithThreeCharts) {
  std::string page = RenderHtml(TwoTargets());
  EXPECT_EQ(page.rfind("<!doctype html>", 0), 0u);
  EXPECT_TRUE(Has(page, "</html>\n"));
  EXPECT_EQ(Count(page, "<svg class=\"chart\""), 3u);
  for (const char* kind : {"percentiles", "histogram", "throughput"}) {
    EXPECT_TRUE(Has(page, std::string("data-chart=\"") + kind + "\"")) << kind;
  }
  EXPECT_EQ(Count(page, "viewBox="), 3u);
  EXPECT_EQ(Count(page, "<title>"), 4u + Count(page, "class=\"hit\""));  // page + 3 charts
  EXPECT_TRUE(Lacks(page, "<script"));
  EXPECT_TRUE(Lacks(page, "<link"));
  EXPECT_TRUE(Lacks(page, "<img"));
  EXPECT_TRUE(Lacks(page, "@import"));
  EXPECT_TRUE(Lacks(page, "url("));
  EXPECT_TRUE(Lacks(page, "://"));  // no http, https, file or data reference
}

// The browser check's document (tests/browser/fixture.json), as bench writes
// it: two targets, five reps, comparison rows.
TEST(HtmlTest, TheBrowserFixtureRendersSelfContained) {
  std::ifstream in(EDGELAB_SOURCE_DIR "/tests/browser/fixture.json");
  ASSERT_TRUE(in) << "cannot open tests/browser/fixture.json";
  json doc = json::parse(in);
  std::string page = RenderHtml(doc);
  EXPECT_EQ(Count(page, "<svg class=\"chart\""), 3u);
  EXPECT_EQ(Count(page, "class=\"series"), 6u);  // two targets in each chart
  EXPECT_EQ(Count(page, ">no data</text>"), 0u);
  EXPECT_TRUE(Lacks(page, "://"));
  EXPECT_TRUE(Lacks(page, "<script"));
  EXPECT_TRUE(Has(page, "<th scope=\"row\">p99 latency</th>"));
  EXPECT_TRUE(Has(page, "of 1,000"));
  EXPECT_TRUE(Has(page, "% higher</span>"));
}

TEST(HtmlTest, EveryTargetLabelAndTheCommandAppear) {
  std::string page = RenderHtml(TwoTargets());
  EXPECT_TRUE(Has(page, "counter-broken"));
  EXPECT_TRUE(Has(page, "counter-lock"));
  EXPECT_TRUE(Has(page, "examples/counter-lock/edge.toml"));
  EXPECT_TRUE(Has(page, "edgelab bench a --compare b -n 1000 -c 100"));
  EXPECT_TRUE(Has(page, "closed loop · 100 connections · 1,000 requests · 3 reps"));
  // Each label is in the title, the header, the table and the three legends.
  EXPECT_GE(Count(page, "counter-lock"), 6u);
}

TEST(HtmlTest, StringsFromTheDocumentAreEscaped) {
  json doc = TwoTargets();
  doc["targets"][0]["label"] = "<b>&\"'";
  doc["targets"][1]["target"] = "<script>alert(1)</script>";
  doc["command"] = "edgelab bench </pre><i>";
  doc["comparison"]["rows"][0]["label"] = "<em>rate</em>";
  std::string page = RenderHtml(doc);
  EXPECT_TRUE(Has(page, "&lt;b&gt;&amp;&quot;&#39;"));
  EXPECT_TRUE(Lacks(page, "<b>&\"'"));
  EXPECT_TRUE(Has(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(Lacks(page, "<script"));
  EXPECT_TRUE(Has(page, "edgelab bench &lt;/pre&gt;&lt;i&gt;"));
  EXPECT_TRUE(Lacks(page, "<i>"));
  EXPECT_TRUE(Has(page, "&lt;em&gt;rate&lt;/em&gt;"));
}

TEST(HtmlTest, ComparisonShowsChangeAndVerdict) {
  std::string page = RenderHtml(TwoTargets());
  EXPECT_TRUE(Has(page, "<th>change</th>"));
  EXPECT_TRUE(Has(page, "class=\"change better\"><span class=\"pct\">65% higher</span>"));
  EXPECT_TRUE(Has(page, "class=\"change worse\"><span class=\"pct\">333% higher</span>"));
  EXPECT_TRUE(Has(page, "class=\"change better\"><span class=\"pct\">4.3% lower</span>"));
  // failed_pct: 0 in both, so no percentage, but still the verdict.
  EXPECT_TRUE(Has(page, "class=\"change same\"><span class=\"pct\">no change</span>"));
  // A null change with A not 0 (a document written by hand): n/a.
  json doc = TwoTargets();
  doc["comparison"]["rows"][0]["change_pct"] = nullptr;
  EXPECT_TRUE(Has(RenderHtml(doc), "class=\"change better\"><span class=\"pct\">n/a</span>"));
}

TEST(HtmlTest, FiguresReadWithUnitsAndSeparators) {
  std::string page = RenderHtml(TwoTargets());
  EXPECT_TRUE(Has(page, "2,000 ± 40 req/s"));
  EXPECT_TRUE(Has(page, "1,940 – 2,060 req/s"));  // min – max beneath
  EXPECT_TRUE(Has(page, "260.0 ± 13.0 ms"));
  EXPECT_TRUE(Has(page, "$150,349"));         // no cents from $100 up
  EXPECT_TRUE(Has(page, "$21.40"));           // cents below
  EXPECT_TRUE(Has(page, "64 ± 3 of 1,000"));  // expected - before, mean over reps
}

TEST(HtmlTest, OneTargetReadsItsSummaryWithoutChangeColumn) {
  std::string page = RenderHtml(OneTarget());
  EXPECT_TRUE(Lacks(page, "<th>change</th>"));
  EXPECT_TRUE(Has(page, "<th scope=\"row\">p99.9 latency</th>"));
  EXPECT_TRUE(Has(page, "<th scope=\"row\">CPU per request</th>"));
  EXPECT_TRUE(Has(page, "0.041 ± 0.001 ms"));
  EXPECT_EQ(Count(page, "<svg class=\"chart\""), 3u);
  EXPECT_TRUE(Lacks(page, "counter-lock"));
}

TEST(HtmlTest, OneRepShowsTheValueAloneAndMissingFiguresReadNotApplicable) {
  json doc = OneTarget();
  json& summary = doc["targets"][0]["summary"];
  summary["p99_ms"] = Stat(48.25, 0, 48.25, 48.25, 1);
  summary["kept"] = nullptr;
  doc["targets"][0]["reps"] = json::array();
  std::string page = RenderHtml(doc);
  EXPECT_TRUE(Has(page, "<td><div class=\"v\">48.2 ms</div></td>"));
  EXPECT_TRUE(Has(page, "counter accuracy</th><td class=\"na\">n/a</td>"));
}

TEST(HtmlTest, HugeValuesStayReadable) {
  json doc = OneTarget();
  json& summary = doc["targets"][0]["summary"];
  summary["requests_per_second"] = Stat(12345678.9, 0, 12345678.9, 12345678.9, 1);
  summary["max_ms"] = Stat(3'600'000, 0, 3'600'000, 3'600'000, 1);
  summary["monthly_usd"] = Stat(1e9, 0, 1e9, 1e9, 1);
  doc["targets"][0]["percentile_curve"] = {{0, 1}, {99.999, 3'600'000}};
  doc["targets"][0]["histogram"]["buckets"] = {{1, 1, 5}, {3'500'000'000LL, 3'600'000'000LL, 5}};
  std::string page = RenderHtml(doc);
  EXPECT_TRUE(Has(page, "12,345,679 req/s"));
  EXPECT_TRUE(Has(page, "3,600.0 s"));
  EXPECT_TRUE(Has(page, "$1,000,000,000"));
  EXPECT_TRUE(Has(page, "latency (s)"));  // the percentile chart's y axis
  for (const char* bad : {">nan", "\"nan", "-nan", ">inf", "\"inf", "-inf", "e+"}) {
    EXPECT_TRUE(Lacks(page, bad));
  }
}

TEST(HtmlTest, NoSuccessfulRequestSaysNoDataInEachChart) {
  json doc = TwoTargets();
  for (json& t : doc["targets"]) {
    t["histogram"] = {{"unit", "us"}, {"count", 0}, {"buckets", json::array()}};
    t["percentile_curve"] = json::array();
    t["throughput_series"] = json::array();
  }
  std::string page = RenderHtml(doc);
  EXPECT_EQ(Count(page, ">no data</text>"), 3u);
  EXPECT_EQ(Count(page, "class=\"series"), 0u);
  EXPECT_TRUE(Has(page, "counter-lock (no data)"));
}

TEST(HtmlTest, OneTargetWithoutDataIsMarkedInTheLegend) {
  json doc = TwoTargets();
  doc["targets"][1]["percentile_curve"] = nullptr;
  std::string page = RenderHtml(doc);
  EXPECT_EQ(Count(page, ">no data</text>"), 0u);
  EXPECT_EQ(Count(page, "counter-lock (no data)"), 1u);
}

TEST(HtmlTest, AnyJsonValueRendersAPage) {
  for (const json& doc : {json(), json::object(), json::array(), json(42), json("text"),
                          json{{"targets", 7}}, json{{"targets", {1, "x", nullptr}}},
                          json{{"targets", {{{"label", 5}, {"summary", {1, 2}}}}},
                               {"comparison", {{"a", -1}, {"b", 99}, {"rows", {1}}}}},
                          json{{"targets",
                                {{{"histogram", {{"buckets", {{"a", 1}, {5}}}}},
                                  {"percentile_curve", {{100, 1}, {-1, 2}, {"x"}}},
                                  {"throughput_series", {{0, 1}, {1}}}}}}}}) {
    std::string page;
    ASSERT_NO_THROW(page = RenderHtml(doc)) << doc.dump();
    EXPECT_EQ(Count(page, "<svg class=\"chart\""), 3u) << doc.dump();
    EXPECT_TRUE(Has(page, "</html>")) << doc.dump();
  }
}

// Every field of the document, one at a time, removed or made null: the page
// still renders, with its three charts.
TEST(HtmlTest, EveryFieldMissingOrNullStillRenders) {
  json flat = TwoTargets().flatten();
  for (const auto& [path, value] : flat.items()) {
    for (bool remove : {true, false}) {
      json changed = flat;
      if (remove) {
        changed.erase(path);
      } else {
        changed[path] = nullptr;
      }
      json doc = changed.unflatten();
      std::string page;
      ASSERT_NO_THROW(page = RenderHtml(doc)) << path;
      EXPECT_EQ(Count(page, "<svg class=\"chart\""), 3u) << path;
    }
  }
}

}  // namespace
}  // namespace edgelab::bench
