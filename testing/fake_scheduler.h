// testing/fake_scheduler.h: a sched::Scheduler with virtual time and no
// fibers, for code that only sleeps, reads the clock and draws randomness
// (the KV latency layer and locations). SleepUntil advances the virtual time
// at once and records the wait, so a test can assert exactly how long code
// waited; MayInterleave is counted; Random can be told what to return next.
//
// Threading: one thread only (unlike the real contract, WallMillis too).
// Unsupported: Spawn, Post, Suspend, SuspendUntil and Wake CHECK-fail: a test that needs
// them needs the real or the simulated scheduler. Current() is nullptr.
#ifndef EDGELAB_TESTING_FAKE_SCHEDULER_H_
#define EDGELAB_TESTING_FAKE_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <vector>

#include "base/status.h"
#include "sched/scheduler.h"

namespace edgelab::test {

class FakeScheduler final : public sched::Scheduler {
 public:
  static constexpr int64_t kDefaultWallOriginMs = 1'700'000'000'000;

  explicit FakeScheduler(uint64_t seed = 1, int64_t wall_origin_ms = kDefaultWallOriginMs)
      : rng_(seed), wall_origin_ms_(wall_origin_ms) {}

  int64_t NowMicros() override { return now_micros_; }
  int64_t WallMillis() override { return wall_origin_ms_ + now_micros_ / 1000; }
  // The queued values first (QueueRandom), then the seeded generator's.
  uint64_t Random() override {
    if (queued_.empty()) return rng_();
    const uint64_t r = queued_.front();
    queued_.pop_front();
    return r;
  }

  void SleepUntil(int64_t deadline_micros) override {
    sleeps_.push_back(deadline_micros - now_micros_);
    if (deadline_micros > now_micros_) now_micros_ = deadline_micros;
  }

  void Spawn(std::function<void()>) override { Unsupported("Spawn"); }
  void Post(std::function<void()>) override { Unsupported("Post"); }
  sched::Fiber* Current() override { return nullptr; }
  void Suspend() override { Unsupported("Suspend"); }
  bool SuspendUntil(int64_t) override { Unsupported("SuspendUntil"); }
  void Wake(sched::Fiber*) override { Unsupported("Wake"); }
  void MayInterleave() override { ++interleaves_; }

  // Moves virtual time forward without recording a sleep.
  void Advance(int64_t micros) { now_micros_ += micros; }
  // Each SleepUntil's requested wait (deadline - now), in call order.
  const std::vector<int64_t>& sleeps() const { return sleeps_; }
  void ClearSleeps() { sleeps_.clear(); }
  // How many times MayInterleave was called.
  int interleaves() const { return interleaves_; }
  // The next Random() calls return `r`, in order.
  void QueueRandom(uint64_t r) { queued_.push_back(r); }

 private:
  [[noreturn]] static void Unsupported(const char* what) {
    ::edgelab::CheckFailed(__FILE__, __LINE__, what);
  }

  std::mt19937_64 rng_;
  const int64_t wall_origin_ms_;
  int64_t now_micros_ = 0;
  std::vector<int64_t> sleeps_;
  int interleaves_ = 0;
  std::deque<uint64_t> queued_;
};

}  // namespace edgelab::test

#endif  // EDGELAB_TESTING_FAKE_SCHEDULER_H_
