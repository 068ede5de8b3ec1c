// bench/html.h: the page of `edgelab bench --html FILE`: one bench document
// (schema "edgelab-bench/1", bench/report.h) as one HTML file for people.
//
// Threading: none; a pure function of its argument.
//
// What the page shows, from the document:
//   - a header: the command, when the bench ended (`created`), the load in one
//     line (`load`: model, connections, requests / duration / rate, reps) and
//     each target's label and target, in its series colour;
//   - the post's table: one row per figure, each target's mean ± stddev with
//     min – max beneath, and with two targets the change column coloured by
//     its verdict (better green, worse red, same grey). The rows are
//     `comparison.rows` when the document compares two targets, else each
//     target's `summary`; "kept" reads "of N", N the mean over the reps of
//     verify.expected - verify.before;
//   - three SVG charts (<svg class="chart" data-chart="...">, each with a
//     viewBox, axes, ticks, a legend and a <title>), one series per target:
//     "percentiles": `percentile_curve`, latency (ms, linear) against
//         1/(1-p) on a log axis, as HdrHistogram plots it;
//     "histogram": `histogram.buckets` rebinned onto a log latency axis,
//         share of requests (%) per bin, step lines with a light fill;
//     "throughput": `throughput_series`, req/s against seconds.
//
// Self-contained: no scripts (no JavaScript at all), fonts, images,
// stylesheets or links outside the file; it renders the same offline, from
// file://, or attached to an email. Every string from the document is escaped
// for HTML; none ends up in a URL, a style or an attribute unescaped.
//
// Failure: none. A missing or null field, a field of the wrong type, or an
// empty document renders as "n/a" or "no data" where that field would have
// been; the rest of the page renders as usual. RenderHtml never throws on any
// JSON value.
#ifndef EDGELAB_BENCH_HTML_H_
#define EDGELAB_BENCH_HTML_H_

#include <nlohmann/json.hpp>
#include <string>

namespace edgelab::bench {

// The whole page, "<!doctype html>" to "</html>", UTF-8.
std::string RenderHtml(const nlohmann::json& doc);

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_HTML_H_
