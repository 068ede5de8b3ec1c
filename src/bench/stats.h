// bench/stats.h: mean, standard deviation and range of a figure over the
// repetitions of a bench ("872 ± 45 of 1000").
//
// Threading: none; a plain value.
// The standard deviation is the sample one (n - 1 in the divisor), 0 for a
// single value; an empty Summary is all zeros with n == 0.
#ifndef EDGELAB_BENCH_STATS_H_
#define EDGELAB_BENCH_STATS_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace edgelab::bench {

struct Summary {
  size_t n = 0;
  double mean = 0;
  double stddev = 0;
  double min = 0;
  double max = 0;
};

inline Summary Summarize(const std::vector<double>& values) {
  Summary s;
  s.n = values.size();
  if (s.n == 0) return s;
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(sq / static_cast<double>(s.n - 1));
  }
  return s;
}

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_STATS_H_
