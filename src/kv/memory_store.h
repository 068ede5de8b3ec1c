// kv/memory_store.h: a Store held in process memory, for tests, simulation
// and `edgelab serve` without persistence. Nothing survives the process.
//
// Threading: as Store (kv/store.h): every method is safe from any thread at
//            once. One mutex guards all state; each call holds it for one
//            map lookup or one list page, never across a wait.
// Invariants: the Store invariants, and
//   (1) etags are FormatEtag(epoch_, n) for n = 1, 2, 3, ... in write order;
//   (2) an entry whose expiration_ms <= the clock's WallMillis() is treated as
//       absent and erased when a call next touches it (lazy expiry: no sweeper
//       thread, so an expired key that is never touched again keeps its
//       memory until the store dies).
// Workload: up to ~1e5 keys per namespace; a std::map per namespace keeps
//           List in byte order at O(log n + page).
// Failure: only kInvalidArgument (limits); memory exhaustion aborts.
#ifndef EDGELAB_KV_MEMORY_STORE_H_
#define EDGELAB_KV_MEMORY_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "kv/store.h"
#include "sched/clock.h"

namespace edgelab::kv {

class MemoryStore final : public Store {
 public:
  // `clock` decides expiry and must outlive the store. The epoch is drawn
  // from std::random_device.
  explicit MemoryStore(sched::Clock* clock);
  // As above with a given epoch, so a seeded simulation mints the same etags
  // on every replay.
  MemoryStore(sched::Clock* clock, uint32_t epoch);
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  Result<Entry> Get(std::string_view ns, std::string_view key) override;
  Result<PutResult> Put(std::string_view ns, std::string_view key, std::string_view value,
                        const PutOptions& opts) override;
  Status Delete(std::string_view ns, std::string_view key) override;
  Result<ListResult> List(std::string_view ns, std::string_view prefix, std::string_view cursor,
                          uint32_t limit) override;
  Status Flush() override { return Status::OK(); }

 private:
  // std::less<> lets string_view arguments look up without a copy.
  using Keys = std::map<std::string, Entry, std::less<>>;

  // The live entry for (ns, key), or nullptr; erases it when expired.
  // Requires: mu_ held.
  Entry* FindLive(std::string_view ns, std::string_view key, int64_t now_ms);

  // Fixed after construction.
  sched::Clock* const clock_;
  const uint32_t epoch_;

  std::mutex mu_;
  // Guarded by mu_.
  std::map<std::string, Keys, std::less<>> namespaces_;
  // Guarded by mu_. The last sequence number used in an etag.
  uint64_t sequence_ = 0;
};

}  // namespace edgelab::kv

#endif  // EDGELAB_KV_MEMORY_STORE_H_
