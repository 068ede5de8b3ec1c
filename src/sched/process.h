// sched/process.h: waiting at the process level, for the main thread of a
// command: for a signal, or for another thread to say "done". Part of sched/
// because it is a wait; fibers use WaitQueue instead.
//
// Threading: BlockSignals() must run on the main thread before any other
// thread starts, so that every thread inherits the mask and the signals
// reach only WaitForSignal().
#ifndef EDGELAB_SCHED_PROCESS_H_
#define EDGELAB_SCHED_PROCESS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <mutex>

namespace edgelab::sched {

// Blocks delivery of `signals` in this thread (and threads it starts later).
void BlockSignals(std::initializer_list<int> signals);
// Waits until one of `signals` (blocked by BlockSignals) arrives; returns it.
int WaitForSignal(std::initializer_list<int> signals);
// As WaitForSignal, giving up after `timeout_ms`: returns 0 then.
int WaitForSignalFor(std::initializer_list<int> signals, int64_t timeout_ms);
// Monotonic milliseconds, for deadlines of the main thread.
int64_t MonotonicMillis();
// Blocks the calling (plain) thread for `ms` milliseconds.
void SleepMillis(int64_t ms);
// Raises this process's soft limit on open files to its hard limit (every
// connection is a descriptor: a thousand in flight passes Debian's default
// soft limit of 1024). Returns the soft limit now in force.
uint64_t RaiseFileLimit();

// A one-shot event between OS threads.
class Latch {
 public:
  void Set() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return set_; });
  }
  // As Wait, giving up after `timeout_ms`: false then.
  bool WaitFor(int64_t timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return set_; });
  }
  bool IsSet() {
    std::lock_guard<std::mutex> lock(mu_);
    return set_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

}  // namespace edgelab::sched

#endif  // EDGELAB_SCHED_PROCESS_H_
