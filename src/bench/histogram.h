// bench/histogram.h: a latency histogram in microseconds with bounded
// relative error, for load runs of millions of requests.
//
// Threading: a plain value; one writer at a time. Give each loop its own
// histogram and Merge() them at the end.
// Invariants:
//   (1) a value below 256 us is kept exactly; above that, in a bucket whose
//       width is at most 1/128 of its lower bound, so Percentile() is within
//       0.4% of the true nearest-rank percentile (and never outside
//       [Min(), Max()], which are exact);
//   (2) values above kMaxTrackableMicros (one hour) count in the top bucket;
//       Max() and Mean() still use the value as recorded;
//   (3) memory is fixed (kBucketCount counters, 26 KiB), whatever the count.
// This is HdrHistogram's log-linear layout with 2 significant digits: each
// power-of-two range is split into 128 equal sub-buckets.
#ifndef EDGELAB_BENCH_HISTOGRAM_H_
#define EDGELAB_BENCH_HISTOGRAM_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace edgelab::bench {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr int64_t kMaxTrackableMicros = 3600LL * 1000 * 1000;
  // Bucket of kMaxTrackableMicros (msb 31, shift 24) plus one.
  static constexpr size_t kBucketCount = 24 * 128 + 256;

  // Counts `count` samples of `micros` (negative counts as 0).
  void Record(int64_t micros, uint64_t count = 1);
  // Adds every sample of `other`.
  void Merge(const Histogram& other);

  uint64_t Count() const { return count_; }
  // 0 when empty.
  int64_t Min() const { return count_ == 0 ? 0 : min_; }
  int64_t Max() const { return max_; }
  double Mean() const;
  // The value at or below which `p` percent of the samples lie (nearest rank;
  // p in [0, 100], clamped). 0 when empty. Percentile(100) == Max().
  int64_t Percentile(double p) const;

  // Calls f(low, high, count) for each non-empty bucket, lowest first; a
  // bucket holds the values in [low, high].
  template <typename F>
  void ForEachBucket(F&& f) const {
    for (size_t i = 0; i < kBucketCount; ++i) {
      if (counts_[i] != 0) f(BucketLow(i), BucketHigh(i), counts_[i]);
    }
  }

  // Exposed for tests: the bucket of a value and the range a bucket covers.
  static size_t BucketOf(int64_t micros);
  static int64_t BucketLow(size_t bucket);
  static int64_t BucketHigh(size_t bucket);

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  // Sum of the recorded values, for Mean(): a run of 10^9 one-second
  // samples is 10^15, far inside the double's exact integer range.
  double sum_ = 0;
};

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_HISTOGRAM_H_
