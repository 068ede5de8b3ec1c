// sim/trace.h: the readable interleaving of one simulated schedule: a line
// when a worker request begins and ends, and one per KV or Durable Object
// storage operation when it returns to the guest, in the order they
// happened, each with its virtual time:
//
//       0.000 ms  #3  begin GET / @local
//       0.000 ms  #3  kv get EDGE_COUNTER_KV "global_counter" -> "41" (e12)
//       0.000 ms  #5  kv put EDGE_COUNTER_KV "global_counter" = "42" -> stored (e13)
//       0.000 ms  #3  kv put EDGE_COUNTER_KV "global_counter" = "42" -> stored (e14)
//       0.000 ms  #3  end 200
//
// A read at the origin (kv_get_strong, or a strong binding) is "kv get
// (strong)". #N is the request id the race reports use (object turns are requests too:
// "#9 [CounterLock/daae36fd...]  storage get \"holder\" -> ...", the object's
// id cut to 8 characters). Etags of this store's form are shown by their
// sequence number ("e13"), others quoted. Values are quoted, escaped (\xNN
// outside printable ASCII) and cut at 40 bytes.
// Threading: one thread (the simulation's).
#ifndef EDGELAB_SIM_TRACE_H_
#define EDGELAB_SIM_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "race/observer.h"
#include "sched/scheduler.h"

namespace edgelab::sim {

struct TraceLine {
  uint64_t request = 0;
  std::string text;  // the whole line, as above
};

class Trace final : public race::Observer {
 public:
  // `clock` stamps begin and end lines (operations carry their own times);
  // it must outlive the trace.
  explicit Trace(sched::Scheduler* clock) : clock_(clock) {}

  void Begin(const race::RequestInfo& request) override;
  void Invoke(const race::Op& op) override;
  void Complete(const race::Op& op) override;
  void End(const race::RequestInfo& request, bool finished) override;

  const std::vector<TraceLine>& lines() const { return lines_; }
  // FNV-1a 64 over every line and its newline.
  uint64_t Hash() const;

 private:
  sched::Scheduler* const clock_;
  std::vector<TraceLine> lines_;
};

}  // namespace edgelab::sim

#endif  // EDGELAB_SIM_TRACE_H_
