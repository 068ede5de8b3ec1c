// runtime/pool.h: one loop's pool of isolates of one module.
//
// Invariants: (1) at most `max` isolates are alive (idle + leased + being
// created); (2) waiters are served in arrival order: a released isolate (or
// a freed slot) is handed directly to the longest waiter, never taken by a
// request that arrived later; (3) idle isolates are reused most-recently-
// released first, whose memory is most likely still in cache.
// Threading: one loop's thread only; Acquire runs on a fiber and may wait.
#ifndef EDGELAB_RUNTIME_POOL_H_
#define EDGELAB_RUNTIME_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "abi/context.h"
#include "base/status.h"
#include "engine/engine.h"
#include "sched/scheduler.h"

namespace edgelab::runtime {

struct PooledIsolate {
  std::unique_ptr<engine::Isolate> isolate;
  uint64_t id = 0;
  uint64_t requests = 0;
};

class IsolatePool {
 public:
  IsolatePool(engine::Engine* engine, std::shared_ptr<const engine::Module> module,
              engine::Limits limits, size_t max, sched::Scheduler* sched,
              std::function<uint64_t()> next_id);

  // Tops the pool up to `n` live isolates (n <= max); never above. Each new
  // one goes to a waiting request if one queued meanwhile, else to idle.
  // `ctx` serves _initialize. Requires: on a fiber of `sched`.
  Status Prewarm(size_t n, abi::Context* ctx);
  // An isolate for one request: an idle one, a new one while below max, or
  // the next one released (waiting in arrival order). Errors come from
  // instantiation (the module's _initialize trapped, say).
  // Requires: on a fiber of `sched`.
  Result<std::unique_ptr<PooledIsolate>> Acquire(abi::Context* ctx);
  // Returns a healthy isolate for reuse.
  void Release(std::unique_ptr<PooledIsolate> iso);
  // Destroys an isolate that faulted; its slot goes to the next waiter.
  void Discard(std::unique_ptr<PooledIsolate> iso);

  size_t live() const { return live_; }
  size_t idle() const { return idle_.size(); }
  size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    sched::Fiber* fiber;
    std::unique_ptr<PooledIsolate> iso;  // handed over by Release
  };
  // Makes a new isolate in a slot already counted in live_.
  Result<std::unique_ptr<PooledIsolate>> Create(abi::Context* ctx);
  void FreeSlot();

  engine::Engine* const engine_;
  const std::shared_ptr<const engine::Module> module_;
  const engine::Limits limits_;
  const size_t max_;
  sched::Scheduler* const sched_;
  const std::function<uint64_t()> next_id_;
  std::vector<std::unique_ptr<PooledIsolate>> idle_;
  std::deque<Waiter*> waiters_;
  size_t live_ = 0;
};

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_POOL_H_
