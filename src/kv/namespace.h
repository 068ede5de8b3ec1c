// kv/namespace.h: one KV binding as a guest sees it: a namespace id inside a
// Store, reached through the edge's locations when there are several
// (kv/locations.h: per-location caches, eventual consistency), plus the
// latency layer that makes every operation wait a delay drawn from a
// distribution (edge.toml [kv.latency]) around its store call.
//
// Why the delay is split: half is waited before the store operation and half
// after, as a request's trip to a remote store and the reply's trip back, so
// a read's value is already a little stale when the guest sees it.
// Why a part of 0 still calls sched.MayInterleave(): on the edge other work
// can always run between a request's step and its KV call, and between the
// call and the next step. The real scheduler does nothing there (its threads
// interleave for real); a simulated one yields, so every KV operation has an
// interleaving point before and after its store call whatever the latency.
// Threading: a Namespace is shared by all threads; each call waits only on
// the scheduler passed in (the calling fiber's own).
#ifndef EDGELAB_KV_NAMESPACE_H_
#define EDGELAB_KV_NAMESPACE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kv/latency.h"
#include "kv/locations.h"
#include "kv/store.h"
#include "sched/scheduler.h"

namespace edgelab::kv {

class Namespace {
 public:
  // `store` must outlive the namespace; so must `locations` when given, and
  // then its origin must be `store`. `consistency` is the binding's own
  // (edge.toml [[kv_namespaces]] consistency): kStrong sends every read to
  // the origin.
  Namespace(Store* store, std::string id, Latency latency, Locations* locations = nullptr,
            Consistency consistency = Consistency::kEventual);

  // As Store's methods, at edge location `location` (an index into the
  // Locations; ignored without them), waiting a delay d =
  // latency.DrawMicros(sched) on `sched`: d/2 before the store operation,
  // d - d/2 after. A first part of 0 calls sched.MayInterleave() instead (a
  // point where another request may reach the store first); a second part
  // of 0 returns at once, so the store's order is the order calls return.
  // With Locations, Get, Put and Delete go through them (a read is strong
  // when the binding or the call asks for it: kv/locations.h says what each
  // sees) and List goes to the origin. Without, every call is the store's.
  // Requires: called on a fiber of `sched` when the latency is not kNone;
  // with Locations, location < locations->size() (CHECK).
  Result<Entry> Get(sched::Scheduler& sched, std::string_view key, size_t location = 0) {
    return Get(sched, key, Consistency::kEventual, location);
  }
  Result<Entry> Get(sched::Scheduler& sched, std::string_view key, Consistency consistency,
                    size_t location = 0);
  Result<PutResult> Put(sched::Scheduler& sched, std::string_view key, std::string_view value,
                        const PutOptions& opts, size_t location = 0);
  Status Delete(sched::Scheduler& sched, std::string_view key, size_t location = 0);
  Result<ListResult> List(sched::Scheduler& sched, std::string_view prefix, std::string_view cursor,
                          uint32_t limit, size_t location = 0);

  const std::string& id() const { return id_; }
  Store* store() const { return store_; }
  Locations* locations() const { return locations_; }
  Consistency consistency() const { return consistency_; }

 private:
  Store* const store_;
  const std::string id_;
  const Latency latency_;
  Locations* const locations_;
  const Consistency consistency_;
};

}  // namespace edgelab::kv

#endif  // EDGELAB_KV_NAMESPACE_H_
