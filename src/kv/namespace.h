// kv/namespace.h: one KV binding as a guest sees it: a namespace id inside a
// Store, plus the latency layer that makes every operation wait a delay drawn
// from a distribution (edge.toml [kv.latency]) before it reaches the store.
//
// Why the delay is split: half is waited before the store operation and half
// after, as a request's trip to a remote store and the reply's trip back, so
// a read's value is already a little stale when the guest sees it.
// Threading: a Namespace is shared by all threads; each call waits only on
// the scheduler passed in (the calling fiber's own).
#ifndef EDGELAB_KV_NAMESPACE_H_
#define EDGELAB_KV_NAMESPACE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "kv/store.h"
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
  // parameter draws 0) and at most kMaxDelayMicros. kLogNormal uses one
  // Box-Muller normal per draw (two Random() calls).
  int64_t DrawMicros(sched::Scheduler& sched) const;
};

class Namespace {
 public:
  // `store` must outlive the namespace.
  Namespace(Store* store, std::string id, Latency latency)
      : store_(store), id_(std::move(id)), latency_(latency) {}

  // As Store's methods, waiting a delay d = latency.DrawMicros(sched) on
  // `sched`: d/2 before the store operation, d - d/2 after; no wait at all
  // (not even a yield) when a part is 0.
  // Requires: called on a fiber of `sched` when the latency is not kNone.
  Result<Entry> Get(sched::Scheduler& sched, std::string_view key);
  Result<PutResult> Put(sched::Scheduler& sched, std::string_view key, std::string_view value,
                        const PutOptions& opts);
  Status Delete(sched::Scheduler& sched, std::string_view key);
  Result<ListResult> List(sched::Scheduler& sched, std::string_view prefix, std::string_view cursor,
                          uint32_t limit);

  const std::string& id() const { return id_; }
  Store* store() const { return store_; }

 private:
  Store* const store_;
  const std::string id_;
  const Latency latency_;
};

}  // namespace edgelab::kv

#endif  // EDGELAB_KV_NAMESPACE_H_
