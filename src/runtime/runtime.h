// runtime/runtime.h: serves one worker: routes each request to an isolate of
// the worker's module, runs it on a fiber, and turns the outcome into an
// HTTP-shaped response.
//
// Shape: the runtime runs on sched::Loops: a LoopGroup's threads in `serve`,
// one simulated scheduler in `test` (sched/sim_scheduler.h). Each loop (thread) with a pool has
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
// Locations (edge.toml [[locations]], kv/locations.h): each request is
// served at one: the one its routing header ([routing] header) names (400
// when it names none), else the next in round robin, or a weighted draw
// through the scheduler. Its KV calls see that location's cache. Durable
// Object turns use the first location.
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
// Usage: the runtime counts what its worker and objects use (abi/usage.h:
// requests, CPU fuel, KV calls, Durable Object requests, turn wall time and
// storage units)
// over all loops, from construction on (the host calls of Start's
// _initialize included); docs/cost.md says what counts as what.
//
// Threading: Handle() must be called on loop `loop_index`'s thread; `done`
// is called on that thread. Start() before the loops run. usage() from any
// thread.
#ifndef EDGELAB_RUNTIME_RUNTIME_H_
#define EDGELAB_RUNTIME_RUNTIME_H_

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "abi/context.h"
#include "base/status.h"
#include "engine/engine.h"
#include "kv/locations.h"
#include "kv/namespace.h"
#include "kv/store.h"
#include "objects/backend.h"
#include "objects/registry.h"
#include "runtime/config.h"
#include "runtime/log.h"
#include "sched/scheduler.h"

namespace edgelab::runtime {

class LoopState;
class ClassNamespace;
struct ClassServices;

class Runtime {
 public:
  // `store`, `objects`, `loops` and `log` must outlive the runtime.
  // `objects` holds Durable Object storage (unused without DO bindings).
  Runtime(Config config, kv::Store* store, objects::Backend* objects, sched::Loops* loops,
          Log* log);
  ~Runtime();

  // Loads and validates the module (and each Durable Object class's), builds
  // each loop's engine and pool, creates `[isolates] min` isolates and
  // re-arms stored alarms. Errors name the module file.
  Status Start();
  // Stops Durable Object alarms and idle sweeps so the loops can stop;
  // requests still running finish. Call once the HTTP front has drained.
  void Shutdown();

  // Reports every KV and Durable Object storage operation of the worker and
  // its objects to `observer` (race/observer.h), with request and isolate
  // ids; null (the default): none. Must outlive the runtime.
  // Requires: called before Start.
  void set_observer(race::Observer* observer) { observer_ = observer; }

  // Where modules come from: `engine::Module::Load` unless set (a
  // simulation loads each module once for all its schedules).
  // Requires: called before Start.
  using ModuleLoader = std::function<Result<std::shared_ptr<const engine::Module>>(
      const std::string& path, const std::vector<std::string>& required_exports,
      const engine::LoadOptions& options)>;
  void set_module_loader(ModuleLoader loader) { module_loader_ = std::move(loader); }

  // Serves `req` on loop `loop_index`; calls `done` exactly once.
  void Handle(size_t loop_index, abi::Request req, std::function<void(abi::Response)> done);

  // Requests accepted and not yet answered, over all loops.
  uint64_t in_flight() const { return in_flight_.load(); }
  // Durable Object calls and alarm turns still running (0 without objects):
  // after Shutdown, the loops must run until this is 0.
  int64_t objects_busy() const { return registry_ ? registry_->busy() : 0; }
  // Null before Start or without Durable Object bindings.
  const objects::Registry* registry() const { return registry_.get(); }
  // What the worker and its objects have used since construction (a sum
  // over all loops; exact once no request or turn is running).
  abi::UsageCounts usage() const { return usage_.Snapshot(); }
  const Config& config() const { return config_; }

 private:
  // Runs on a fiber of `loop`; `start` is when the request reached Handle
  // (NowMicros), so the access log counts time spent queued.
  void Serve(LoopState& loop, int64_t start, abi::Request req,
             std::function<void(abi::Response)>& done);

  const Config config_;
  // Loads the class modules and wires the registry (Start's second half).
  Status StartObjects(const std::shared_ptr<const engine::Module>& main);
  // How modules are loaded: with call sites when an observer is set.
  engine::LoadOptions ModuleLoadOptions() const;
  Result<std::shared_ptr<const engine::Module>> LoadModule(
      const std::string& path, const std::vector<std::string>& required) const;

  // The location serving `req` (see PickLocation in runtime.cc), or
  // InvalidArgument when its routing header names none.
  Result<size_t> PickLocation(sched::Scheduler& s, const abi::Request& req);

  kv::Store* const store_;
  objects::Backend* const objects_backend_;
  sched::Loops* const loops_;
  Log* const log_;
  std::unique_ptr<kv::Locations> locations_;  // every namespace's (kv/locations.h)
  double total_weight_ = 0;                   // of the locations, for weighted spread
  std::atomic<uint64_t> next_location_{0};    // round robin
  std::vector<std::unique_ptr<kv::Namespace>> namespaces_;
  std::vector<abi::KvBinding> bindings_;
  // Set on every context the runtime makes; declared before the pools and
  // objects so it outlives any request or turn that counts into it.
  abi::Usage usage_;
  std::vector<std::unique_ptr<LoopState>> states_;
  // Declared after states_ so they die first: objects hold isolates of the
  // loops' engines.
  std::unique_ptr<ClassServices> class_services_;
  std::unique_ptr<objects::Registry> registry_;
  std::vector<std::unique_ptr<ClassNamespace>> classes_;
  std::vector<abi::ObjectBinding> object_bindings_;
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<uint64_t> next_isolate_id_{1};
  // Worker requests and object turns share one sequence (RequestInfo::id).
  std::atomic<uint64_t> next_request_id_{1};
  race::Observer* observer_ = nullptr;
  ModuleLoader module_loader_;
};

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_RUNTIME_H_
