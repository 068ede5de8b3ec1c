// kv/namespace.cc: the latency layer over a Store. The draw and both waits
// go through the caller's scheduler, so under a virtual scheduler a whole
// KV workload replays exactly from its seed.
#include "kv/namespace.h"

#include <cmath>
#include <numbers>
#include <utility>

namespace edgelab::kv {
namespace {

// Uniform in [0, 1) from the top 53 bits: every double it returns is exact.
double Uniform01(sched::Scheduler& sched) {
  return static_cast<double>(sched.Random() >> 11) * 0x1.0p-53;
}

int64_t ToMicros(double ms) {
  const double us = ms * 1000.0;
  if (!(us > 0)) return 0;  // also NaN
  if (us >= static_cast<double>(kMaxDelayMicros)) return kMaxDelayMicros;
  return std::llround(us);
}

// Runs `op` between the two halves of a `total_micros` delay.
template <typename Op>
auto Delayed(sched::Scheduler& sched, int64_t total_micros, Op&& op) {
  const int64_t before = total_micros / 2;
  const int64_t after = total_micros - before;
  if (before > 0) sched.SleepFor(before);
  auto result = std::forward<Op>(op)();
  if (after > 0) sched.SleepFor(after);
  return result;
}

}  // namespace

int64_t Latency::DrawMicros(sched::Scheduler& sched) const {
  switch (dist) {
    case Dist::kNone:
      return 0;
    case Dist::kFixed:
      return ToMicros(ms);
    case Dist::kUniform:
      return ToMicros(min_ms + Uniform01(sched) * (max_ms - min_ms));
    case Dist::kLogNormal: {
      // Box-Muller; u1 is in (0, 1] so its log is finite.
      const double u1 = 1.0 - Uniform01(sched);
      const double u2 = Uniform01(sched);
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
      return ToMicros(median_ms * std::exp(sigma * z));
    }
  }
  return 0;
}

Result<Entry> Namespace::Get(sched::Scheduler& sched, std::string_view key) {
  return Delayed(sched, latency_.DrawMicros(sched), [&] { return store_->Get(id_, key); });
}

Result<PutResult> Namespace::Put(sched::Scheduler& sched, std::string_view key,
                                 std::string_view value, const PutOptions& opts) {
  return Delayed(sched, latency_.DrawMicros(sched),
                 [&] { return store_->Put(id_, key, value, opts); });
}

Status Namespace::Delete(sched::Scheduler& sched, std::string_view key) {
  return Delayed(sched, latency_.DrawMicros(sched), [&] { return store_->Delete(id_, key); });
}

Result<ListResult> Namespace::List(sched::Scheduler& sched, std::string_view prefix,
                                   std::string_view cursor, uint32_t limit) {
  return Delayed(sched, latency_.DrawMicros(sched),
                 [&] { return store_->List(id_, prefix, cursor, limit); });
}

}  // namespace edgelab::kv
