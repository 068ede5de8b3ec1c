// sched/scheduler.h: the one place anything waits, sleeps, reads the clock or
// draws randomness. Swap the real implementation for a seeded virtual one and
// the runtime above it becomes deterministic.
//
// Model: a Scheduler belongs to one OS thread (its "scheduler thread") and
// runs fibers on it cooperatively. A fiber runs until it finishes or waits
// (SleepFor/SleepUntil/WaitQueue::Wait); then other fibers and I/O callbacks
// run. Nothing preempts a fiber, so code between two waits on one scheduler
// is atomic with respect to every other fiber of that scheduler (not with
// respect to other schedulers' threads: shared services lock).
//
// Threading: every method must be called on the scheduler thread, except
// Post(), which any thread may call.
// Invariants: (1) NowMicros() never decreases; (2) a fiber woken by a timer
//             never runs before its deadline; (3) RealScheduler only: fibers
//             woken at the same time run in the order they were woken. A
//             simulated scheduler (sim_scheduler.h) runs ready fibers in the
//             order its seeded strategy picks: code must be correct in any
//             order, and the simulation is how that is tested.
// Failure: waiting outside a fiber is a bug (CHECK), not an error.
#ifndef EDGELAB_SCHED_SCHEDULER_H_
#define EDGELAB_SCHED_SCHEDULER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

#include "sched/clock.h"

namespace edgelab::sched {

class Fiber;  // opaque to users: a suspended or running fiber

class Scheduler : public Clock {
 public:
  virtual ~Scheduler() = default;

  // Monotonic time in microseconds since an arbitrary origin.
  virtual int64_t NowMicros() = 0;
  // Wall-clock time, milliseconds since the Unix epoch.
  int64_t WallMillis() override = 0;
  // 64 random bits. The real scheduler seeds from the OS; a virtual one from
  // its seed, so every random choice in the runtime replays.
  virtual uint64_t Random() = 0;
  // Uniform in [0, 1) from Random()'s top 53 bits: every double it returns
  // is exact.
  double Uniform01() { return static_cast<double>(Random() >> 11) * 0x1.0p-53; }
  // True for a simulated scheduler: then every random choice, even one that
  // would otherwise come from a cryptographic source (a Durable Object's
  // unique id), must come from Random(), or the run does not replay.
  virtual bool seeded() const { return false; }

  // Starts `fn` on a new fiber. It begins running after the caller waits or
  // returns to the loop, never inside this call.
  virtual void Spawn(std::function<void()> fn) = 0;
  // Runs `fn` on the scheduler thread soon (not on a fiber). Any thread.
  virtual void Post(std::function<void()> fn) = 0;

  // Suspends the current fiber until NowMicros() >= deadline (a deadline in
  // the past still yields once, letting other ready fibers run).
  // Requires: called on a fiber of this scheduler.
  virtual void SleepUntil(int64_t deadline_micros) = 0;
  void SleepFor(int64_t micros) { SleepUntil(NowMicros() + micros); }

  // The fiber now running, or nullptr when called from a callback.
  virtual Fiber* Current() = 0;
  // Suspends the current fiber until someone calls Wake() on it.
  // Requires: Current() != nullptr.
  virtual void Suspend() = 0;
  // Suspends the current fiber until someone calls Wake() on it or until
  // NowMicros() >= deadline, whichever comes first. Returns true when woken
  // by Wake(), false when the deadline passed. Either way the fiber resumes
  // exactly once: a Wake() after the deadline fired is a bug (the waker must
  // know the fiber still waits; WaitQueue::WaitUntil keeps that bookkeeping).
  // Requires: Current() != nullptr.
  virtual bool SuspendUntil(int64_t deadline_micros) = 0;
  // Makes a fiber suspended by Suspend() or SuspendUntil() ready to run
  // again (in wake order).
  virtual void Wake(Fiber* fiber) = 0;

  // A point where, on the edge, other work could run between two steps of
  // this fiber (kv/namespace.h calls it around every store operation). The
  // real scheduler does nothing: its threads interleave for real. A
  // simulated one yields here, so its strategy decides who runs next.
  // Outside a fiber: nothing.
  virtual void MayInterleave() {}
};

// The set of schedulers a runtime serves on: LoopGroup's threads, or one
// simulated scheduler (sim_scheduler.h).
class Loops {
 public:
  virtual ~Loops() = default;
  virtual size_t size() const = 0;
  virtual Scheduler& loop(size_t i) = 0;
  // Runs `fn` on a fiber of a scheduler and returns once it has finished:
  // start-up work (a module's _initialize) that may wait. Requires: the
  // loops are not running yet (called from the thread that will start them).
  virtual void RunToCompletion(std::function<void(Scheduler&)> fn) = 0;
};

// A FIFO of fibers waiting for something on one scheduler; the condition
// variable of this world. Not thread-safe: use from the scheduler thread.
class WaitQueue {
 public:
  explicit WaitQueue(Scheduler* sched) : sched_(sched) {}
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  // Suspends the current fiber until NotifyOne/NotifyAll picks it.
  void Wait() {
    waiters_.push_back(sched_->Current());
    sched_->Suspend();
  }
  // As Wait, but gives up at `deadline_micros` (NowMicros() time). Returns
  // true when notified, false on timeout (then it is no longer queued).
  bool WaitUntil(int64_t deadline_micros) {
    Fiber* self = sched_->Current();
    waiters_.push_back(self);
    if (sched_->SuspendUntil(deadline_micros)) return true;
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (*it == self) {
        waiters_.erase(it);
        break;
      }
    }
    return false;
  }
  // Wakes the longest waiter; returns false when none waits.
  bool NotifyOne() {
    if (waiters_.empty()) return false;
    Fiber* f = waiters_.front();
    waiters_.pop_front();
    sched_->Wake(f);
    return true;
  }
  void NotifyAll() {
    while (NotifyOne()) {
    }
  }
  bool empty() const { return waiters_.empty(); }
  size_t size() const { return waiters_.size(); }

 private:
  Scheduler* const sched_;
  std::deque<Fiber*> waiters_;
};

}  // namespace edgelab::sched

#endif  // EDGELAB_SCHED_SCHEDULER_H_
