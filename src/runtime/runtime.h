// runtime/runtime.h: serves one worker: routes each request to an isolate of
// the worker's module, runs it on a fiber, and turns the outcome into an
// HTTP-shaped response.
//
// Shape: the runtime runs on a LoopGroup. Each loop (thread) with a pool has
// its own Engine and isolates, because a wabt store belongs to one thread;
// isolates never move between loops. `[isolates] max` is split over the
// first min(loops, max) loops so the shares add up to max exactly (`min`
// likewise, at least one per pool, created at Start). A request arriving on
// a loop without a pool is served on pool (loop % pools) and answered back
// on its own loop. A request that finds every isolate of its pool busy waits,
// in arrival order, for one to be released; pools do not lend to each other,
// so one loop may queue while another idles (loops get connections from the
// kernel's SO_REUSEPORT spread). Every request runs on its own fiber, so a
// guest waiting in a host call (KV latency, sleep_ms) holds no OS thread.
//
// Outcomes (docs/abi.md "Limits"):
//   guest returns     -> its response (default 200)
//   out of fuel       -> 503, log "exceeded CPU limit"
//   out of memory     -> 503, log "exceeded memory limit"
//   trap              -> 500, log the trap message and guest function
//   proc_exit(code)   -> the response so far (500 if code != 0 and no status)
// Any outcome but the first discards the isolate; the pool makes a new one.
//
// Scheduling is cooperative: a guest runs until it returns or waits in a
// host call, so a guest spinning in a loop holds its loop thread (other
// connections of that thread wait) until its fuel, `cpu_ms`, runs out. Time
// slicing inside the interpreter is deferred; keep `cpu_ms` small.
//
// Threading: Handle() must be called on loop `loop_index`'s thread; `done`
// is called on that thread. Start() before the loops run.
#ifndef EDGELAB_RUNTIME_RUNTIME_H_
#define EDGELAB_RUNTIME_RUNTIME_H_

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "abi/context.h"
#include "base/status.h"
#include "engine/engine.h"
#include "kv/namespace.h"
#include "kv/store.h"
#include "runtime/config.h"
#include "runtime/log.h"
#include "sched/real_scheduler.h"

namespace edgelab::runtime {

class LoopState;

class Runtime {
 public:
  // `store`, `loops` and `log` must outlive the runtime.
  Runtime(Config config, kv::Store* store, sched::LoopGroup* loops, Log* log);
  ~Runtime();

  // Loads and validates the module, builds each loop's engine and pool and
  // creates `[isolates] min` isolates. Errors name the module file.
  Status Start();

  // Serves `req` on loop `loop_index`; calls `done` exactly once.
  void Handle(size_t loop_index, abi::Request req, std::function<void(abi::Response)> done);

  // Requests accepted and not yet answered, over all loops.
  uint64_t in_flight() const { return in_flight_.load(); }
  const Config& config() const { return config_; }

 private:
  // Runs on a fiber of `loop`; `start` is when the request reached Handle
  // (NowMicros), so the access log counts time spent queued.
  void Serve(LoopState& loop, int64_t start, abi::Request req,
             std::function<void(abi::Response)>& done);
  // The response for a finished call; logs faults.
  abi::Response Outcome(const engine::CallOutcome& out, abi::Context& ctx, uint64_t isolate_id);

  const Config config_;
  kv::Store* const store_;
  sched::LoopGroup* const loops_;
  Log* const log_;
  std::vector<std::unique_ptr<kv::Namespace>> namespaces_;
  std::vector<abi::KvBinding> bindings_;
  std::vector<std::unique_ptr<LoopState>> states_;
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<uint64_t> next_isolate_id_{1};
};

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_RUNTIME_H_
