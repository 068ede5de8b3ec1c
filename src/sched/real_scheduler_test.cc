// Tests for the real scheduler: fibers, timers, wait queues, ordering.
#include "sched/real_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <vector>

namespace edgelab::sched {
namespace {

// Runs `body` on a fiber of a fresh scheduler and drives the loop until every
// fiber has finished.
void RunOnFiber(RealScheduler& s, std::function<void()> body) {
  s.Spawn([&s, body] {
    body();
    s.Stop();
  });
  s.Run();
}

TEST(RealSchedulerTest, SpawnedFiberRunsAfterTheCallerYields) {
  RealScheduler s;
  std::vector<std::string> order;
  RunOnFiber(s, [&] {
    s.Spawn([&] { order.push_back("child"); });
    order.push_back("parent before yield");
    s.SleepFor(0);
    order.push_back("parent after yield");
  });
  EXPECT_EQ(order,
            (std::vector<std::string>{"parent before yield", "child", "parent after yield"}));
}

TEST(RealSchedulerTest, SleepNeverWakesBeforeItsDeadline) {
  RealScheduler s;
  RunOnFiber(s, [&] {
    for (int64_t us : {0, 1, 500, 3000}) {
      int64_t start = s.NowMicros();
      s.SleepFor(us);
      EXPECT_GE(s.NowMicros() - start, us);
    }
  });
}

TEST(RealSchedulerTest, ThousandSleepingFibersAllWakeAtOrAfterTheirDeadlines) {
  RealScheduler s;
  int woke = 0, early = 0;
  RunOnFiber(s, [&] {
    int remaining = 1000;
    WaitQueue done(&s);
    const int64_t base = s.NowMicros();
    for (int i = 0; i < 1000; ++i) {
      int64_t deadline = base + (9 - i % 10) * 1000;
      s.Spawn([&, deadline] {
        s.SleepUntil(deadline);
        ++woke;
        if (s.NowMicros() < deadline) ++early;
        if (--remaining == 0) done.NotifyOne();
      });
    }
    done.Wait();
  });
  EXPECT_EQ(woke, 1000);
  EXPECT_EQ(early, 0);
  EXPECT_EQ(s.live_fibers(), 0u);
}

TEST(RealSchedulerTest, WaitQueueWakesWaitersInArrivalOrder) {
  RealScheduler s;
  std::vector<int> woke;
  RunOnFiber(s, [&] {
    WaitQueue q(&s);
    for (int i = 0; i < 5; ++i) {
      s.Spawn([&, i] {
        q.Wait();
        woke.push_back(i);
      });
    }
    s.SleepFor(0);  // let all five start waiting
    EXPECT_EQ(q.size(), 5u);
    q.NotifyAll();
    s.SleepFor(0);
  });
  EXPECT_EQ(woke, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(RealSchedulerTest, FibersAreReusedWithoutLeakingLiveCount) {
  RealScheduler s;
  int ran = 0;
  RunOnFiber(s, [&] {
    for (int round = 0; round < 100; ++round) {
      for (int i = 0; i < 100; ++i) s.Spawn([&] { ++ran; });
      s.SleepFor(0);
    }
  });
  EXPECT_EQ(ran, 10000);
  EXPECT_EQ(s.live_fibers(), 0u);
}

TEST(RealSchedulerTest, DeepStackUseOnAFiberWorks) {
  RealScheduler s(256 * 1024);
  RunOnFiber(s, [&] {
    // 128 KiB of locals: half the stack, touched so the pages are real.
    volatile char buf[128 * 1024];
    for (size_t i = 0; i < sizeof(buf); i += 4096) buf[i] = 1;
    EXPECT_EQ(buf[4096], 1);
  });
}

TEST(LoopGroupTest, PostFromAnotherThreadRunsOnTheLoop) {
  LoopGroup group(2);
  group.Start();
  std::atomic<int> ran{0};
  std::promise<void> both;
  for (size_t i = 0; i < group.size(); ++i) {
    group.loop(i).Post([&] {
      if (++ran == 2) both.set_value();
    });
  }
  both.get_future().wait();
  group.Stop();
  EXPECT_EQ(ran.load(), 2);
}

TEST(RealSchedulerTest, RandomDiffersBetweenSchedulers) {
  RealScheduler a, b;
  EXPECT_NE(a.Random(), b.Random());
}

TEST(RealSchedulerTest, SuspendUntilTimesOutWhenNobodyWakes) {
  RealScheduler s;
  RunOnFiber(s, [&] {
    int64_t start = s.NowMicros();
    EXPECT_FALSE(s.SuspendUntil(start + 2000));
    EXPECT_GE(s.NowMicros(), start + 2000);
  });
}

TEST(RealSchedulerTest, SuspendUntilEndsEarlyWhenWoken) {
  RealScheduler s;
  RunOnFiber(s, [&] {
    Fiber* self = s.Current();
    s.Spawn([&] { s.Wake(self); });
    int64_t start = s.NowMicros();
    EXPECT_TRUE(s.SuspendUntil(start + 60'000'000));  // a minute: the wake must end it
    // A second timed wait is not disturbed by the first one's cancelled timer.
    EXPECT_FALSE(s.SuspendUntil(s.NowMicros() + 1000));
  });
}

TEST(RealSchedulerTest, WaitQueueWaitUntilLeavesTheQueueOnTimeout) {
  RealScheduler s;
  RunOnFiber(s, [&] {
    WaitQueue q(&s);
    EXPECT_FALSE(q.WaitUntil(s.NowMicros() + 500));
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.NotifyOne());
    bool notified = false;
    s.Spawn([&] { notified = q.WaitUntil(s.NowMicros() + 60'000'000); });
    s.SleepFor(0);
    EXPECT_EQ(q.size(), 1u);
    EXPECT_TRUE(q.NotifyOne());
    s.SleepFor(0);
    EXPECT_TRUE(notified);
  });
}

}  // namespace
}  // namespace edgelab::sched
