// abi/usage.h: what a worker used, counted as it runs, in the units a
// Cloudflare bill counts (bench/cost.h prices them; docs/cost.md says what
// each counter counts and where).
//
// Threading: every counter may be incremented from any loop at once. Adds
// are relaxed atomics: a counter is a sum, nothing is ordered by it, and a
// relaxed add is one uncontended instruction on the hot path. Snapshot reads
// each counter on its own, so a snapshot taken while requests run may see
// one request's KV read but not yet its request count; take it when the
// load has stopped for exact figures.
// Invariant: counters only grow (they wrap after 2^64, which no run reaches).
// Who counts: the host calls (kv_calls.cc, object_calls.cc,
// storage_calls.cc) count what reached a store or an object, whatever its
// result, and not what was refused for bad arguments; the runtime counts
// requests, fuel, alarms and the wall time of object turns. A Context whose
// usage is null counts nothing.
// Timed, not counted: do_wall_micros alone is a duration, read from the
// object's home scheduler (sched/ owns the clock) around each turn. It
// depends on the machine and on what else the loop runs; every other counter
// is the same for the same requests.
// This header must compile as C++17 (the engine includes abi headers).
#ifndef EDGELAB_ABI_USAGE_H_
#define EDGELAB_ABI_USAGE_H_

#include <atomic>
#include <cstdint>

namespace edgelab::abi {

// A plain copy of Usage's counters at one moment.
struct UsageCounts {
  uint64_t requests = 0;        // requests the worker served, any outcome
  uint64_t cpu_fuel = 0;        // fuel burnt by worker requests (Workers CPU)
  uint64_t kv_reads = 0;        // kv_get, kv_get_strong and kv_get_metadata
  uint64_t kv_writes = 0;       // kv_put, conditional ones included
  uint64_t kv_deletes = 0;      // kv_delete
  uint64_t kv_lists = 0;        // kv_list
  uint64_t do_requests = 0;     // do_fetch calls that reached an object; alarms
  uint64_t do_wall_micros = 0;  // wall time of object turns (do_fetch, do_alarm)
  uint64_t do_cpu_fuel = 0;     // fuel burnt by object turns (billed as duration, not CPU)
  uint64_t do_read_units = 0;   // storage reads: 4 KB each, at least 1 a call
  uint64_t do_write_units = 0;  // storage writes by 4 KB; deletes and alarm_set 1
};

// Storage request units for `bytes` of data: one per 4 KB begun, at least
// one (Cloudflare's key-value Durable Object storage: a 9 KB write is 3).
inline constexpr uint64_t kStorageUnitBytes = 4096;
inline constexpr uint64_t StorageUnits(uint64_t bytes) {
  return bytes == 0 ? 1 : (bytes - 1) / kStorageUnitBytes + 1;
}

struct Usage {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> cpu_fuel{0};
  std::atomic<uint64_t> kv_reads{0};
  std::atomic<uint64_t> kv_writes{0};
  std::atomic<uint64_t> kv_deletes{0};
  std::atomic<uint64_t> kv_lists{0};
  std::atomic<uint64_t> do_requests{0};
  std::atomic<uint64_t> do_wall_micros{0};
  std::atomic<uint64_t> do_cpu_fuel{0};
  std::atomic<uint64_t> do_read_units{0};
  std::atomic<uint64_t> do_write_units{0};

  // Adds `n` to `counter` (one of the above).
  static void Add(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  UsageCounts Snapshot() const {
    auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
    UsageCounts s;
    s.requests = get(requests);
    s.cpu_fuel = get(cpu_fuel);
    s.kv_reads = get(kv_reads);
    s.kv_writes = get(kv_writes);
    s.kv_deletes = get(kv_deletes);
    s.kv_lists = get(kv_lists);
    s.do_requests = get(do_requests);
    s.do_wall_micros = get(do_wall_micros);
    s.do_cpu_fuel = get(do_cpu_fuel);
    s.do_read_units = get(do_read_units);
    s.do_write_units = get(do_write_units);
    return s;
  }
};

}  // namespace edgelab::abi

#endif  // EDGELAB_ABI_USAGE_H_
