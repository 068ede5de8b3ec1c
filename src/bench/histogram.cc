// bench/histogram.cc: the log-linear buckets (see histogram.h).
//
// Bucket layout: with S = 128 sub-buckets and shift = max(0, msb(v) - 7),
// bucket(v) = shift * S + (v >> shift). Values below 2S map to themselves;
// each later power-of-two range [2^k, 2^(k+1)) gets S buckets of width
// 2^(k-7). Record() is a count-leading-zeros and an increment.
#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace edgelab::bench {

namespace {

constexpr int64_t kSub = int64_t{1} << Histogram::kSubBucketBits;

int ShiftOf(uint64_t v) {
  int msb = 63 - std::countl_zero(v | 1);
  return std::max(0, msb - Histogram::kSubBucketBits);
}

}  // namespace

size_t Histogram::BucketOf(int64_t micros) {
  uint64_t v = static_cast<uint64_t>(std::clamp<int64_t>(micros, 0, kMaxTrackableMicros));
  int shift = ShiftOf(v);
  return static_cast<size_t>(shift) * kSub + static_cast<size_t>(v >> shift);
}

int64_t Histogram::BucketLow(size_t bucket) {
  int64_t b = static_cast<int64_t>(bucket);
  if (b < 2 * kSub) return b;
  int64_t shift = b / kSub - 1;
  return (b - shift * kSub) << shift;
}

int64_t Histogram::BucketHigh(size_t bucket) {
  int64_t b = static_cast<int64_t>(bucket);
  if (b < 2 * kSub) return b;
  int64_t shift = b / kSub - 1;
  return ((b - shift * kSub + 1) << shift) - 1;
}

void Histogram::Record(int64_t micros, uint64_t count) {
  if (count == 0) return;
  micros = std::max<int64_t>(micros, 0);
  counts_[BucketOf(micros)] += count;
  min_ = count_ == 0 ? micros : std::min(min_, micros);
  max_ = std::max(max_, micros);
  count_ += count;
  sum_ += static_cast<double>(micros) * static_cast<double>(count);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double Histogram::Mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }

int64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == 1) return min_;  // the extremes are known exactly
  if (rank == count_) return max_;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The middle of the bucket halves the worst-case error of either end.
      int64_t mid = BucketLow(i) + (BucketHigh(i) - BucketLow(i)) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace edgelab::bench
