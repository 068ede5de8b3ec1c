// kv/namespace.cc: the latency layer over a Store or the edge's Locations.
// The draw and both waits go through the caller's scheduler, so under a
// virtual scheduler a whole KV workload replays exactly from its seed.
#include "kv/namespace.h"

#include <utility>

namespace edgelab::kv {
namespace {

// Runs `op` between the two halves of a `total_micros` delay. A zero first
// half still marks an interleaving point (another request may reach the
// store first); a zero second half does not: the guest sees the result at
// once, so the operation and its completion are one step, and a simulated
// trace lists operations in the order the store applied them.
template <typename Op>
auto Delayed(sched::Scheduler& sched, int64_t total_micros, Op&& op) {
  const int64_t before = total_micros / 2;
  if (before > 0) {
    sched.SleepFor(before);
  } else {
    sched.MayInterleave();
  }
  auto result = std::forward<Op>(op)();
  if (total_micros - before > 0) sched.SleepFor(total_micros - before);
  return result;
}

}  // namespace

Namespace::Namespace(Store* store, std::string id, Latency latency, Locations* locations,
                     Consistency consistency)
    : store_(store),
      id_(std::move(id)),
      latency_(latency),
      locations_(locations),
      consistency_(consistency) {
  EDGELAB_CHECK(locations_ == nullptr || locations_->origin() == store_);
}

Result<Entry> Namespace::Get(sched::Scheduler& sched, std::string_view key, Consistency consistency,
                             size_t location) {
  const Consistency c = consistency_ == Consistency::kStrong ? Consistency::kStrong : consistency;
  return Delayed(sched, latency_.DrawMicros(sched), [&] {
    if (locations_ == nullptr) return store_->Get(id_, key);
    return locations_->Get(sched, location, id_, key, c);
  });
}

Result<PutResult> Namespace::Put(sched::Scheduler& sched, std::string_view key,
                                 std::string_view value, const PutOptions& opts, size_t location) {
  return Delayed(sched, latency_.DrawMicros(sched), [&] {
    if (locations_ == nullptr) return store_->Put(id_, key, value, opts);
    return locations_->Put(sched, location, id_, key, value, opts);
  });
}

Status Namespace::Delete(sched::Scheduler& sched, std::string_view key, size_t location) {
  return Delayed(sched, latency_.DrawMicros(sched), [&] {
    if (locations_ == nullptr) return store_->Delete(id_, key);
    return locations_->Delete(sched, location, id_, key);
  });
}

Result<ListResult> Namespace::List(sched::Scheduler& sched, std::string_view prefix,
                                   std::string_view cursor, uint32_t limit,
                                   size_t /*location: lists go to the origin*/) {
  return Delayed(sched, latency_.DrawMicros(sched),
                 [&] { return store_->List(id_, prefix, cursor, limit); });
}

}  // namespace edgelab::kv
