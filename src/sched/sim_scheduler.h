// sched/sim_scheduler.h: the Scheduler of a deterministic simulation: one OS
// thread, virtual time, and a seeded strategy that picks which ready fiber
// runs at every wait point. The runtime above it is unchanged; the same seed
// and the same inputs give the same run, step for step (FoundationDB's
// simulation, Loom, Shuttle).
//
// Model: a discrete-event loop. Ready work is fibers (spawned, woken, or
// yielding in MayInterleave/SleepUntil(past)) and Post()ed callbacks. While
// any is ready, the strategy picks one and runs it until it waits; virtual
// time does not move (guest code and host calls take no virtual time). When
// nothing is ready, time jumps to the earliest timer (SleepUntil,
// SuspendUntil) and every timer due then becomes ready (in deadline, then
// arming, order). Nothing here reads the real clock, real randomness, thread
// ids or addresses: fibers are named by the order they were spawned.
//
// Strategies:
//   kRandom: each step picks uniformly among ready items.
//   kPct:    probabilistic concurrency testing (Burckhardt et al., ASPLOS
//            2010). Each fiber gets a random priority when spawned; the ready
//            fiber with the highest priority runs; at depth-1 change points,
//            steps drawn uniformly in [1, pct_steps] before the run, the
//            running fiber's priority drops below every initial one. Finds a
//            bug of depth d with probability >= 1/(n k^(d-1)). Posted
//            callbacks run before any fiber, in post order.
//
// Trace: every step folds (step number, virtual time, the chosen item's
// spawn number or callback number) into trace_hash(), a 64-bit FNV-1a; two
// runs with equal seeds, options and inputs have equal hashes, and a
// differing choice anywhere makes them differ.
//
// Threading: everything on the thread that calls Run*; Post() too (one
// thread: there is no other). Fibers run on pooled, guard-paged stacks as in
// RealScheduler.
// Failure: the scheduler never gives up on its own: a run whose fibers all
// wait on one another with no timer pending returns kIdle from RunUntil
// (the caller calls it a deadlock); max_steps bounds a livelock.
#ifndef EDGELAB_SCHED_SIM_SCHEDULER_H_
#define EDGELAB_SCHED_SIM_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "sched/scheduler.h"

namespace edgelab::sched {

struct SimOptions {
  enum class Strategy { kRandom, kPct };
  uint64_t seed = 1;
  Strategy strategy = Strategy::kRandom;
  int pct_depth = 3;          // d >= 1: d - 1 priority change points
  uint64_t pct_steps = 1000;  // k: the run's expected number of steps
  // WallMillis() at virtual time 0: 2026-01-01T00:00:00Z, so KV expirations
  // and alarms look like dates.
  int64_t wall_origin_ms = 1'767'225'600'000;
  // RunUntil returns kStepLimit after this many steps in one call (0: none).
  uint64_t max_steps = 0;
  size_t stack_bytes = 256 * 1024;  // usable stack per fiber
};

class SimScheduler final : public Scheduler {
 public:
  explicit SimScheduler(SimOptions options);
  // Fibers still suspended are unwound (their stacks' destructors run) and
  // their stacks freed. Requires: not called from a fiber.
  ~SimScheduler() override;
  SimScheduler(const SimScheduler&) = delete;
  SimScheduler& operator=(const SimScheduler&) = delete;

  // Virtual microseconds since the start of the run.
  int64_t NowMicros() override;
  int64_t WallMillis() override;  // wall_origin_ms + NowMicros() / 1000
  // From a generator seeded with options.seed (a stream apart from the
  // strategy's own draws).
  uint64_t Random() override;
  bool seeded() const override { return true; }
  void Spawn(std::function<void()> fn) override;
  void Post(std::function<void()> fn) override;
  void SleepUntil(int64_t deadline_micros) override;
  Fiber* Current() override;
  void Suspend() override;
  bool SuspendUntil(int64_t deadline_micros) override;
  void Wake(Fiber* fiber) override;
  // On a fiber: it becomes ready again at once and the strategy picks who
  // runs next (maybe the same fiber). Outside a fiber: nothing.
  void MayInterleave() override;

  enum class RunResult {
    kDone,       // done() returned true
    kIdle,       // nothing ready and no timer pending: every fiber waits
    kStepLimit,  // options.max_steps steps ran in this call
  };
  // Steps until `done()` (checked before each step) returns true, or the
  // run is idle, or the step limit is reached. Requires: not on a fiber.
  RunResult RunUntil(const std::function<bool()>& done);
  // RunUntil with a done() that is never true: until idle (or step limit).
  RunResult RunUntilIdle();

  uint64_t steps() const;       // items run so far
  uint64_t trace_hash() const;  // see the file comment
  size_t live_fibers() const;   // spawned and not finished
  size_t pending_timers() const;
  const SimOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Loops over one SimScheduler: size() is 1, loop(0) is the scheduler, and
// RunToCompletion spawns the function there and runs until it returns.
class SimLoops final : public Loops {
 public:
  explicit SimLoops(SimScheduler* sched) : sched_(sched) {}
  size_t size() const override { return 1; }
  Scheduler& loop(size_t) override { return *sched_; }
  void RunToCompletion(std::function<void(Scheduler&)> fn) override;

 private:
  SimScheduler* const sched_;
};

}  // namespace edgelab::sched

#endif  // EDGELAB_SCHED_SIM_SCHEDULER_H_
