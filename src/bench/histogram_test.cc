// bench/histogram_test.cc: the histogram against exact nearest-rank
// percentiles of known distributions, and the bucket layout's bounds.
#include "bench/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace edgelab::bench {
namespace {

// Nearest-rank percentile of `sorted`, the definition Percentile() follows.
int64_t ExactPercentile(const std::vector<int64_t>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ExpectWithinPrecision(const Histogram& h, std::vector<int64_t> values) {
  std::sort(values.begin(), values.end());
  for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    double exact = static_cast<double>(ExactPercentile(values, p));
    double got = static_cast<double>(h.Percentile(p));
    EXPECT_LE(std::abs(got - exact), exact / 256 + 0.5) << "p" << p << " exact " << exact;
  }
}

TEST(HistogramTest, IsEmptyAndZeroBeforeAnyRecord) {
  Histogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 0);
  EXPECT_EQ(h.Mean(), 0);
  EXPECT_EQ(h.Percentile(50), 0);
}

TEST(HistogramTest, KeepsSmallValuesExactly) {
  Histogram h;
  for (int64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Count(), 100u);
  EXPECT_EQ(h.Min(), 1);
  EXPECT_EQ(h.Max(), 100);
  EXPECT_DOUBLE_EQ(h.Mean(), 50.5);
  EXPECT_EQ(h.Percentile(0), 1);
  EXPECT_EQ(h.Percentile(50), 50);
  EXPECT_EQ(h.Percentile(99), 99);
  EXPECT_EQ(h.Percentile(99.5), 100);
  EXPECT_EQ(h.Percentile(100), 100);
}

TEST(HistogramTest, BucketsTileTheRangeWithWidthAtMostOneOver128OfTheirStart) {
  for (size_t b = 0; b + 1 < Histogram::kBucketCount; ++b) {
    ASSERT_EQ(Histogram::BucketHigh(b) + 1, Histogram::BucketLow(b + 1)) << "bucket " << b;
    int64_t width = Histogram::BucketHigh(b) - Histogram::BucketLow(b) + 1;
    ASSERT_LE(width * 128, std::max<int64_t>(Histogram::BucketLow(b), 128)) << "bucket " << b;
  }
  for (int64_t v :
       std::vector<int64_t>{0, 1, 255, 256, 257, 1000, 123456789, Histogram::kMaxTrackableMicros}) {
    size_t b = Histogram::BucketOf(v);
    EXPECT_LE(Histogram::BucketLow(b), v);
    EXPECT_GE(Histogram::BucketHigh(b), v);
  }
  EXPECT_LT(Histogram::BucketOf(Histogram::kMaxTrackableMicros), Histogram::kBucketCount);
}

TEST(HistogramTest, MatchesExactPercentilesOfAUniformDistribution) {
  Histogram h;
  std::vector<int64_t> values;
  for (int64_t v = 1; v <= 1000000; v += 7) {
    h.Record(v);
    values.push_back(v);
  }
  ExpectWithinPrecision(h, values);
}

TEST(HistogramTest, MatchesExactPercentilesOfALongTailedDistribution) {
  // Exponential with a 2 ms mean plus a 1% tail at ~2 s: quantiles taken on
  // an even grid, so the sample is deterministic.
  Histogram h;
  std::vector<int64_t> values;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double u = (i + 0.5) / n;
    int64_t v = static_cast<int64_t>(-2000.0 * std::log(1 - u));
    if (i % 100 == 99) v = 2000000 + i;
    h.Record(v);
    values.push_back(v);
  }
  ExpectWithinPrecision(h, values);
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  EXPECT_DOUBLE_EQ(h.Mean(), sum / n);
}

// The property the issue asks for, over many generated samples: for any
// data from 1 us to one hour, every percentile is within 1% of the exact
// nearest-rank one (the layout promises 1/256, ~0.4%; merging per-thread
// histograms keeps it).
TEST(HistogramTest, EveryPercentileOfRandomDataFrom1usTo1hIsWithinOnePercent) {
  std::mt19937_64 rng(20261127);
  const double log_max = std::log(static_cast<double>(Histogram::kMaxTrackableMicros));
  for (int round = 0; round < 60; ++round) {
    // Log-uniform over the whole range, a narrow lognormal, or a bimodal mix.
    int shape = round % 3;
    std::lognormal_distribution<double> narrow(std::log(2000.0 * (1 + round)), 0.3);
    std::uniform_real_distribution<double> unit(0, 1);
    size_t n = 1000 + static_cast<size_t>(rng() % 20000);
    Histogram parts[3];
    Histogram whole;
    std::vector<int64_t> values;
    for (size_t i = 0; i < n; ++i) {
      double v = shape == 0         ? std::exp(unit(rng) * log_max)
                 : shape == 1       ? narrow(rng)
                 : unit(rng) < 0.99 ? 500 + unit(rng) * 1000
                                    : 2e6 + unit(rng) * 1e6;
      int64_t micros =
          std::clamp<int64_t>(static_cast<int64_t>(v), 1, Histogram::kMaxTrackableMicros);
      values.push_back(micros);
      parts[i % 3].Record(micros);
      whole.Record(micros);
    }
    Histogram merged;
    for (const Histogram& part : parts) merged.Merge(part);
    std::sort(values.begin(), values.end());
    for (const Histogram* h : {&whole, &merged}) {
      ASSERT_EQ(h->Count(), n);
      for (double p : {50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        double exact = static_cast<double>(ExactPercentile(values, p));
        double got = static_cast<double>(h->Percentile(p));
        EXPECT_LE(std::abs(got - exact), exact * 0.01)
            << "round " << round << " shape " << shape << " p" << p;
      }
    }
  }
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  for (int64_t v = 0; v < 50000; ++v) {
    int64_t x = (v * 7919) % 300000;
    (v % 3 == 0 ? a : b).Record(x);
    all.Record(x);
  }
  Histogram merged = a;
  merged.Merge(b);
  EXPECT_EQ(merged.Count(), all.Count());
  EXPECT_EQ(merged.Min(), all.Min());
  EXPECT_EQ(merged.Max(), all.Max());
  EXPECT_DOUBLE_EQ(merged.Mean(), all.Mean());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(merged.Percentile(p), all.Percentile(p));
  Histogram empty;
  merged.Merge(empty);
  EXPECT_EQ(merged.Count(), all.Count());
  empty.Merge(a);
  EXPECT_EQ(empty.Min(), a.Min());
}

TEST(HistogramTest, RecordsACountOfSamplesAtOnce) {
  Histogram h;
  h.Record(10, 99);
  h.Record(5000, 1);
  EXPECT_EQ(h.Count(), 100u);
  EXPECT_EQ(h.Percentile(99), 10);
  EXPECT_EQ(h.Percentile(100), 5000);
  h.Record(7, 0);
  EXPECT_EQ(h.Count(), 100u);
  EXPECT_EQ(h.Min(), 10);
}

TEST(HistogramTest, ClampsNegativesToZeroAndKeepsHugeValuesAsMax) {
  Histogram h;
  h.Record(-5);
  h.Record(10 * Histogram::kMaxTrackableMicros);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 10 * Histogram::kMaxTrackableMicros);
  EXPECT_EQ(h.Percentile(100), h.Max());
  EXPECT_EQ(h.Percentile(50), 0);
}

}  // namespace
}  // namespace edgelab::bench
