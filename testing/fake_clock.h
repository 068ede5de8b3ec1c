// testing/fake_clock.h: a sched::Clock whose wall time moves only when a test
// says so, for KV expiry tests.
//
// Threading: every method is safe from any thread (one atomic).
#ifndef EDGELAB_TESTING_FAKE_CLOCK_H_
#define EDGELAB_TESTING_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "sched/clock.h"

namespace edgelab::test {

class FakeClock final : public sched::Clock {
 public:
  // 2023-11-14T22:13:20Z: a plausible "now", far from 0 (which means "never
  // expires" to KV).
  static constexpr int64_t kDefaultStartMs = 1'700'000'000'000;

  explicit FakeClock(int64_t start_ms = kDefaultStartMs) : now_ms_(start_ms) {}

  int64_t WallMillis() override { return now_ms_.load(); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace edgelab::test

#endif  // EDGELAB_TESTING_FAKE_CLOCK_H_
