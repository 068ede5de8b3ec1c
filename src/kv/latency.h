// kv/latency.h: a delay drawn from a distribution, as edge.toml configures
// one ([kv.latency]: each KV operation's round trip, kv/namespace.h;
// [kv.propagation]: how long a write takes to reach the other locations,
// kv/locations.h).
//
// Threading: a Latency is a plain value; DrawMicros draws from the scheduler
// passed in, so it runs on that scheduler's thread.
#ifndef EDGELAB_KV_LATENCY_H_
#define EDGELAB_KV_LATENCY_H_

#include <cstdint>

#include "sched/scheduler.h"

namespace edgelab::kv {

// An hour: a config typo (sigma = 50) must not park a fiber for a year.
inline constexpr int64_t kMaxDelayMicros = int64_t{3600} * 1000 * 1000;

struct Latency {
  enum class Dist { kNone, kFixed, kUniform, kLogNormal };
  Dist dist = Dist::kNone;
  double ms = 0;      // kFixed: the delay
  double min_ms = 0;  // kUniform: [min_ms, max_ms]
  double max_ms = 0;
  double median_ms = 0;  // kLogNormal: exp(mu) = median_ms, sigma = sigma
  double sigma = 0;
  // A delay in microseconds drawn with `sched.Random()` (so a seeded
  // scheduler replays it); 0 for kNone. Never negative (a negative or NaN
  // parameter draws 0) and at most kMaxDelayMicros. kFixed and kNone draw
  // no randomness; kUniform uses one Random() call, kLogNormal one
  // Box-Muller normal (two calls).
  int64_t DrawMicros(sched::Scheduler& sched) const;
};

}  // namespace edgelab::kv

#endif  // EDGELAB_KV_LATENCY_H_
