// objects/registry.h: the Durable Object rules, in one place: where each
// object lives, who may run in it and when, when its answers may leave, when
// its alarm fires and when it is forgotten. The guest code that runs inside
// an object is the runtime's (a turn is a closure); this folder never sees an
// engine.
//
// The rules:
//   1. One live object per (namespace, id) in the process. Each object has a
//      home loop, hash(key) % homes: it is created there on first use, all of
//      its turns run there, its state is touched only there (no lock). An
//      object idle for `idle_timeout_ms` (no turn running or queued, nothing
//      waiting on its output gate, no alarm running) is evicted: its runtime
//      instance and cache are dropped; its storage stays and the next call
//      recreates it.
//   2. Input gate: an object runs one turn at a time (a request or an
//      alarm), in arrival order at its home loop (its mailbox is FIFO, handed
//      over directly from one turn to the next, never taken by a later
//      arrival). Turns of different objects run concurrently.
//   3. Output gate: a turn's result (its response) is released to the
//      caller only once every storage write the object applied up to the end
//      of that turn is durable (Backend::Commit returned OK). The next turn
//      does not wait for that: it starts as soon as the previous one ends, so
//      while one commit is on disk the object keeps working, and the writes
//      of every turn that ended meanwhile go into the next commit together
//      (group commit, one transaction per home loop per round, covering all
//      of that loop's objects). If a commit fails, every turn waiting on it
//      fails with kIOError, the object's in-memory state is reset (cache,
//      runtime instance: memory no longer matches the disk) and the writes
//      that came after it are dropped, never committed: a later write must
//      not land without the earlier one it may depend on. Failure is sticky
//      until the reset: the next call starts from what is on disk.
//   4. Alarms: one per object (Storage::SetAlarm). It fires at least once at
//      or after its time: the registry runs the alarm handler in a turn of
//      the object, after clearing the alarm (so the handler may set a new
//      one). If the handler fails, the alarm is set again for now +
//      alarm_retry_ms * 2^retry and retried, up to alarm_max_retries times;
//      then it is dropped with an error in the log. Stored alarms are re-armed
//      by Start (they survive restart); one that came due while the process
//      was down fires at once.
//   5. Calls between objects: a turn of object A may Call object B. If B is,
//      through the chain of calls in flight, waiting on A (B == A, or B's turn
//      called C whose turn called A, ...), waiting would deadlock: the call
//      fails at once with kPreconditionFailed "call cycle: A -> B -> ... -> A"
//      and nothing is queued. A waits on B from the call until B's turn for
//      it ends (after that A waits only for B's commit, which needs no turn).
//      Each object has at most one outgoing call in flight (its turns are
//      serial), so the check walks one chain, under a mutex shared by all
//      loops.
//   6. Every wait is a wait on a sched::Scheduler.
//
// Threading: Call may be called from a fiber on any loop (the scheduler of
// the caller is passed in, and the result comes back to it through Post).
// Start, Shutdown and stats from the controlling thread. Turn closures and
// the alarm handler run on the object's home loop, on a fiber.
#ifndef EDGELAB_OBJECTS_REGISTRY_H_
#define EDGELAB_OBJECTS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "objects/backend.h"
#include "objects/storage.h"
#include "sched/scheduler.h"

namespace edgelab::objects {

// What the runtime keeps in a live object (its isolate); opaque here.
class Instance {
 public:
  virtual ~Instance() = default;
};

class HomeLoop;

// A live object. Touched only on its home loop, inside its turn (or by the
// registry between turns).
class Object {
 public:
  const ObjectKey& key() const { return key_; }
  Storage& storage() { return storage_; }
  // The runtime's instance, created on the first turn that needs it.
  std::unique_ptr<Instance>& instance() { return instance_; }
  // Discards the instance (a trap): the next turn starts a fresh one. The
  // storage is kept.
  void ResetInstance() { instance_.reset(); }
  size_t home() const { return home_; }

 private:
  friend class Registry;
  friend class HomeLoop;
  Object(Backend* backend, ObjectKey key, size_t home)
      : key_(key), storage_(backend, std::move(key)), home_(home) {}

  struct Waiter;
  const ObjectKey key_;
  Storage storage_;
  std::unique_ptr<Instance> instance_;
  const size_t home_;
  // Home loop only.
  bool busy_ = false;            // a turn is running
  bool in_turn_ = false;         // its closure is executing (may use the instance)
  std::deque<Waiter*> mailbox_;  // turns waiting, in arrival order
  uint64_t durable_ = 0;         // storage_.written() known durable
  bool dirty_ = false;           // listed for the flusher's next round
  std::deque<Waiter*> gate_;     // turns done, waiting for durable_ >= their mark
  uint64_t failed_commits_ = 0;  // bumped when a commit fails (rule 3)
  int64_t last_used_micros_ = 0;
  bool alarm_running_ = false;
  int alarm_retries_ = 0;       // failures of the alarm now pending a retry
  int64_t retry_alarm_ms_ = 0;  // the alarm time the registry set for that retry (0: none)
};

struct RegistryOptions {
  int64_t idle_timeout_ms = 10'000;  // rule 1
  int64_t alarm_retry_ms = 1'000;    // rule 4: first retry delay
  int alarm_max_retries = 6;         // rule 4
  // Rule 1's bound: at most this many live objects in the process (split
  // evenly over the home loops, at least one each). A new object past it
  // evicts the least recently used idle one; with none idle the call fails
  // with kUnavailable. Each live object holds an isolate: this is what keeps
  // a guest minting ids in a loop from filling memory. 0: no bound.
  size_t max_live_objects = 10'000;
};

// Runs `object`'s alarm handler inside its turn (on its home loop);
// `retry` is 0 for the first attempt. Returns OK when the handler
// succeeded, an error (logged by the registry) when it failed.
using AlarmHandler = std::function<Status(Object& object, int retry)>;
// Where the registry writes what went wrong outside any request.
using LogFn = std::function<void(const std::string&)>;

struct RegistryStats {
  uint64_t live_objects = 0;
  uint64_t turns = 0;
  uint64_t commits = 0;          // Backend::Commit calls that succeeded
  uint64_t committed_turns = 0;  // turns released by those commits
  uint64_t evictions = 0;
  uint64_t alarms_fired = 0;
  uint64_t cycles = 0;  // calls refused by rule 5
};

class Registry {
 public:
  // `backend` and the schedulers must outlive the registry; `homes` are the
  // loops objects live on (each object on one of them, rule 1).
  Registry(Backend* backend, std::vector<sched::Scheduler*> homes, RegistryOptions options,
           LogFn log);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Loads the stored alarms and arms them on their home loops (rule 4);
  // `on_alarm` runs them. Requires: before the home loops run (the handler
  // is read on them without a lock); the timers start when they run.
  // Errors come from the backend.
  Status Start(AlarmHandler on_alarm);

  // Runs `turn` inside a turn of object `key` (rules 1-3) and returns once
  // its writes are durable. `caller` is the scheduler of the calling fiber;
  // `from` is the object whose turn makes this call, or null for a worker
  // (rule 5). The turn closure runs on the home loop, on a fiber; it may wait.
  // Errors: kPreconditionFailed for a call cycle (rule 5, nothing ran);
  // kIOError when a commit covering the turn failed: the turn ran and the
  // object was reset; its writes since the last successful commit are lost,
  // but a turn that waited between writes may have had earlier ones
  // committed by a group commit meanwhile (each write outside a transaction
  // stands alone, storage.h invariant 2); kUnavailable after Shutdown.
  // Requires: at most one call in flight per calling object (a turn's guest
  // code is one thread of control, so this holds for every guest).
  // Requires: on a fiber of `caller`.
  Status Call(sched::Scheduler& caller, const ObjectKey& key, const ObjectKey* from,
              std::function<void(Object&)> turn);

  // Refuses new calls, stops the alarm timers and the eviction sweeps so the
  // loops can stop; turns already queued still run and commit. Idempotent.
  // The loops must keep running until busy() is 0: a turn waiting on a call
  // to another loop is not work its own loop knows about.
  void Shutdown();
  // Calls and alarm turns in progress (any thread).
  int64_t busy() const { return busy_.load(); }

  RegistryStats stats() const;
  const RegistryOptions& options() const { return options_; }

 private:
  friend class HomeLoop;
  size_t HomeOf(const ObjectKey& key) const;
  // Rule 5: records `from` waiting on `to` unless that closes a cycle; then
  // returns the cycle's description.
  Status EnterCall(const ObjectKey& from, const ObjectKey& to);
  void LeaveCall(const ObjectKey& from);

  Backend* const backend_;
  const RegistryOptions options_;
  const LogFn log_;
  std::vector<std::unique_ptr<HomeLoop>> homes_;
  std::atomic<bool> stopping_{false};
  size_t max_live_per_home_ = SIZE_MAX;  // fixed after construction

  AlarmHandler on_alarm_;  // set by Start

  std::mutex calls_mu_;
  std::map<ObjectKey, ObjectKey> waiting_on_;  // guarded by calls_mu_ (rule 5)

  // Counters for stats(), bumped on the home loops.
  std::atomic<int64_t> busy_{0};
  std::atomic<uint64_t> live_{0}, turns_{0}, commits_{0}, committed_turns_{0}, evictions_{0},
      alarms_fired_{0}, cycles_{0};
};

}  // namespace edgelab::objects

#endif  // EDGELAB_OBJECTS_REGISTRY_H_
