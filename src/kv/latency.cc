// kv/latency.cc: drawing a delay. Every draw goes through the caller's
// scheduler, so under a virtual scheduler a whole KV workload replays exactly
// from its seed.
#include "kv/latency.h"

#include <cmath>
#include <numbers>

namespace edgelab::kv {
namespace {

int64_t ToMicros(double ms) {
  const double us = ms * 1000.0;
  if (!(us > 0)) return 0;  // also NaN
  if (us >= static_cast<double>(kMaxDelayMicros)) return kMaxDelayMicros;
  return std::llround(us);
}

}  // namespace

int64_t Latency::DrawMicros(sched::Scheduler& sched) const {
  switch (dist) {
    case Dist::kNone:
      return 0;
    case Dist::kFixed:
      return ToMicros(ms);
    case Dist::kUniform:
      return ToMicros(min_ms + sched.Uniform01() * (max_ms - min_ms));
    case Dist::kLogNormal: {
      // Box-Muller; u1 is in (0, 1] so its log is finite.
      const double u1 = 1.0 - sched.Uniform01();
      const double u2 = sched.Uniform01();
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
      return ToMicros(median_ms * std::exp(sigma * z));
    }
  }
  return 0;
}

}  // namespace edgelab::kv
