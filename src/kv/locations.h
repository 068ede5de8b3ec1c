// kv/locations.h: KV as the edge serves it: one origin (a Store) and, per
// edge location, a read cache that may be stale (issue 6 item 2; Workers KV
// "is eventually consistent": a write is visible at once where it was made
// and up to 60 s later elsewhere).
//
// Model:
//   - A read at location L with Consistency::kEventual is served from L's
//     cache when L fetched the key (or its absence: negative lookups are
//     cached too) less than cache_ttl_ms ago; else from the origin, and the
//     answer is cached at L (an origin error is returned, not cached). A
//     cached entry whose expiration_ms has passed (sched.WallMillis()) reads
//     as absent.
//   - kStrong reads go to the origin and leave the caches alone.
//   - Every write (put, delete; conditional puts are checked at the origin,
//     so if_match stays strongly consistent) is applied at the origin. Each
//     write the origin applied (not a failed precondition, not an error) is
//     stamped with a version: one more than the last version stamped on any
//     key, i.e. origin order, which is timestamp order on one clock. A
//     cached entry carries the version the origin was at when it was
//     fetched. The write replaces L's cached entry at once (if L has one;
//     fetched now), and reaches each other location M after a delay drawn
//     from `propagation` (with sched.Random(), one draw per other location,
//     in location order): from then on M's cached entry for the key, if M
//     has one, is replaced unless M already holds a newer version (last
//     write wins by version, so a slow propagation never brings back an
//     older value). A replaced entry keeps its fetch time, so no read is
//     ever staler than cache_ttl_ms: a write is visible at M once it arrived
//     or once M's entry from before it aged out, whichever comes first. A
//     delete travels the same way, as a tombstone (the key cached absent).
//     All writes to the origin's namespaces must go through this object.
//   - A conditional write the origin refuses drops the writer's location's
//     cached entry for the key (it was likely stale): its next read fetches
//     the origin's, so a compare-and-swap retry loop converges.
//   - Lists go to the origin.
//   With one location, or cache_ttl_ms == 0, nothing is cached: every call
//   goes straight to the origin (a lone location sees its own writes at
//   once, so its cache could only agree with the origin).
//
// Time: NowMicros() of the scheduler passed to each call (virtual time in a
// simulation); a propagation is applied lazily, by the first call after it
// arrived, so nothing waits and no fiber is spawned.
// Memory: per location at most kMaxCachedKeys entries (past it, expired
// entries are dropped, and the whole cache too when that frees less than a
// quarter of it: a miss is always correct, and the sweep stays amortized
// O(1)); per key, the writes still propagating to a location that had it
// cached when they were made, at most kMaxPropagatingPerKey (past it the
// oldest is dropped: a location it had not reached gets a newer write
// instead, so a hot key's intermediate values may be skipped, never
// reordered, and no cached copy outlives its TTL).
// Threading: safe from any thread (one mutex; the origin call is made under
// it, so versions follow the origin's order).
#ifndef EDGELAB_KV_LOCATIONS_H_
#define EDGELAB_KV_LOCATIONS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/latency.h"
#include "kv/store.h"
#include "sched/scheduler.h"

namespace edgelab::kv {

inline constexpr size_t kMaxCachedKeys = 65536;
// Writes of one key still propagating, at most (see Memory).
inline constexpr size_t kMaxPropagatingPerKey = 64;

enum class Consistency { kEventual, kStrong };

struct LocationOptions {
  std::vector<std::string> names;  // at least one
  int64_t cache_ttl_ms = 60'000;   // how stale a cached read may be; 0: no cache (>= 0)
  Latency propagation;             // delay before a write reaches other locations
};

class Locations {
 public:
  // `origin` must outlive this. Requires: !options.names.empty().
  Locations(Store* origin, LocationOptions options);
  ~Locations();

  size_t size() const;
  const std::string& name(size_t location) const;
  // The index of the location called `name`, if any.
  std::optional<size_t> Find(std::string_view name) const;
  Store* origin() const;

  // As Store's methods, at location `location`, at time sched.NowMicros().
  // Never waits (the mutex is held for one origin call at most).
  // Requires: location < size() (CHECK).
  Result<Entry> Get(sched::Scheduler& sched, size_t location, std::string_view ns,
                    std::string_view key, Consistency consistency);
  Result<PutResult> Put(sched::Scheduler& sched, size_t location, std::string_view ns,
                        std::string_view key, std::string_view value, const PutOptions& opts);
  Status Delete(sched::Scheduler& sched, size_t location, std::string_view ns,
                std::string_view key);

  // For tests: writes still propagating, over all keys.
  size_t propagating() const;
  // For tests: entries cached at `location` now.
  size_t cached(size_t location) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgelab::kv

#endif  // EDGELAB_KV_LOCATIONS_H_
