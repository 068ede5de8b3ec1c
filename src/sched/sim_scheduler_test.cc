// Tests for the simulated scheduler: virtual time, timers and wake-ups, the
// strategies and their determinism by seed, and the tear-down of fibers left
// waiting. Nothing here reads the real clock: every time is virtual.
#include "sched/sim_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace edgelab::sched {
namespace {

using Result = SimScheduler::RunResult;
using Strategy = SimOptions::Strategy;

constexpr int64_t kHour = int64_t{3600} * 1000 * 1000;

SimOptions Seeded(uint64_t seed, Strategy strategy = Strategy::kRandom) {
  SimOptions o;
  o.seed = seed;
  o.strategy = strategy;
  return o;
}

// Counts its destructions: whether a fiber's frames were unwound.
struct Tracked {
  explicit Tracked(int* count) : destroyed(count) {}
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  ~Tracked() { ++*destroyed; }
  int* destroyed;
};

// What the determinism tests compare: who ran when, and the trace.
struct Outcome {
  std::vector<int> order;
  uint64_t trace_hash;
  uint64_t steps;
};

// Eight fibers, each appending its id three times with an interleaving
// point after each append: 8 * 4 = 32 steps, and 24!/(3!^8) orders.
Outcome RunEightFibers(const SimOptions& options) {
  SimScheduler s(options);
  std::vector<int> order;
  for (int id = 1; id <= 8; ++id) {
    s.Spawn([&s, &order, id] {
      for (int i = 0; i < 3; ++i) {
        order.push_back(id);
        s.MayInterleave();
      }
    });
  }
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(s.live_fibers(), 0u);
  return {order, s.trace_hash(), s.steps()};
}

// True when every fiber's appends are contiguous: no fiber ran between two
// steps of another.
bool RanOneAfterAnother(const std::vector<int>& order) {
  std::set<int> finished;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i > 0 && order[i] != order[i - 1]) finished.insert(order[i - 1]);
    if (finished.count(order[i]) != 0) return false;
  }
  return true;
}

TEST(SimSchedulerTest, AnHourOfSleepTakesTwoStepsAndEndsExactlyAtItsDeadline) {
  SimScheduler s(SimOptions{});
  bool done = false;
  s.Spawn([&] {
    s.SleepFor(kHour);
    EXPECT_EQ(s.NowMicros(), kHour);
    done = true;
  });
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  EXPECT_TRUE(done);
  EXPECT_EQ(s.steps(), 2u);
  EXPECT_EQ(s.NowMicros(), kHour);
  EXPECT_EQ(s.WallMillis(), s.options().wall_origin_ms + 3600 * 1000);
  EXPECT_EQ(s.live_fibers(), 0u);
  EXPECT_EQ(s.pending_timers(), 0u);
}

TEST(SimSchedulerTest, TimersFireInDeadlineOrderAndNeverEarly) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimScheduler s(Seeded(seed));
    std::vector<std::pair<int64_t, int64_t>> woke;  // (deadline, now)
    for (int64_t deadline : {50, 10, 40, 20, 30, 60}) {
      s.Spawn([&s, &woke, deadline] {
        s.SleepUntil(deadline);
        woke.emplace_back(deadline, s.NowMicros());
      });
    }
    EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
    std::vector<std::pair<int64_t, int64_t>> want;
    for (int64_t d : {10, 20, 30, 40, 50, 60}) want.emplace_back(d, d);
    EXPECT_EQ(woke, want) << "seed " << seed;
  }
}

TEST(SimSchedulerTest, SleepUntilThePastYieldsWithoutMovingTime) {
  SimScheduler s(SimOptions{});
  int after = 0;
  s.Spawn([&] {
    s.SleepUntil(-5);
    s.SleepFor(0);
    ++after;
  });
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(after, 1);
  EXPECT_EQ(s.steps(), 3u);  // start, after the first yield, after the second
  EXPECT_EQ(s.NowMicros(), 0);
}

TEST(SimSchedulerTest, SpawnedFiberRunsOnlyAfterTheSpawnerWaits) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimScheduler s(Seeded(seed));
    std::vector<std::string> order;
    s.Spawn([&] {
      order.push_back("parent");
      s.Spawn([&] { order.push_back("child"); });
      order.push_back("parent after spawn");
      s.MayInterleave();
    });
    EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
    ASSERT_EQ(order.size(), 3u);
    EXPECT_EQ(order[1], "parent after spawn");
  }
}

TEST(SimSchedulerTest, SuspendUntilReturnsTrueWhenWokenBeforeTheDeadline) {
  SimScheduler s(SimOptions{});
  Fiber* waiter = nullptr;
  std::optional<bool> woken;
  int64_t at = -1;
  s.Spawn([&] {
    waiter = s.Current();
    woken = s.SuspendUntil(100);
    at = s.NowMicros();
  });
  s.Spawn([&] {
    s.SleepFor(40);
    s.Wake(waiter);
    EXPECT_EQ(s.pending_timers(), 0u);  // the wake cancelled the timed wait
  });
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(woken, true);
  EXPECT_EQ(at, 40);
  EXPECT_EQ(s.NowMicros(), 40);  // the dead timer at 100 does not move time
}

TEST(SimSchedulerTest, SuspendUntilReturnsFalseAtTheDeadlineWhenNobodyWakes) {
  SimScheduler s(SimOptions{});
  std::optional<bool> woken;
  s.Spawn([&] { woken = s.SuspendUntil(100); });
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(woken, false);
  EXPECT_EQ(s.NowMicros(), 100);
}

TEST(SimSchedulerTest, AStaleTimerNeverResumesAFiberAgain) {
  SimScheduler s(SimOptions{});
  Fiber* waiter = nullptr;
  std::vector<std::pair<bool, int64_t>> waits;  // (returned, at)
  int64_t suspended_until = -1;
  s.Spawn([&] {
    waiter = s.Current();
    bool woken = s.SuspendUntil(100);  // woken at 10
    waits.emplace_back(woken, s.NowMicros());
    woken = s.SuspendUntil(300);  // the entry at 100 is stale by then
    waits.emplace_back(woken, s.NowMicros());
    s.Suspend();  // woken at 400 only
    suspended_until = s.NowMicros();
  });
  s.Spawn([&] {
    s.SleepFor(10);
    s.Wake(waiter);
    s.SleepUntil(400);
    s.Wake(waiter);
  });
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(waits, (std::vector<std::pair<bool, int64_t>>{{true, 10}, {false, 300}}));
  EXPECT_EQ(suspended_until, 400);
  EXPECT_EQ(s.live_fibers(), 0u);
}

TEST(SimSchedulerTest, AWakeAfterTheTimeoutCameButBeforeTheFiberRanWins) {
  // Both timers fall due at 100; whichever runs first, a notification is
  // never lost: the waiter reports "notified" exactly when NotifyOne found it.
  std::set<bool> seen;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    SimScheduler s(Seeded(seed));
    WaitQueue q(&s);
    std::optional<bool> notified, found;
    s.Spawn([&] { notified = q.WaitUntil(100); });
    s.Spawn([&] {
      s.SleepUntil(100);
      found = q.NotifyOne();
    });
    EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
    ASSERT_TRUE(notified.has_value() && found.has_value());
    EXPECT_EQ(*notified, *found) << "seed " << seed;
    EXPECT_TRUE(q.empty());
    seen.insert(*notified);
  }
  EXPECT_EQ(seen.size(), 2u) << "both orders should occur in 64 seeds";
}

TEST(SimSchedulerTest, WaitQueueWakesItsWaitersAndWaitUntilLeavesOnTimeout) {
  SimScheduler s(SimOptions{});
  WaitQueue q(&s);
  int64_t waited = -1, waited_until = -1, timed_out = -1;
  std::optional<bool> long_wait, short_wait;
  s.Spawn([&] {
    q.Wait();
    waited = s.NowMicros();
  });
  s.Spawn([&] {
    long_wait = q.WaitUntil(1000);
    waited_until = s.NowMicros();
  });
  s.Spawn([&] {
    short_wait = q.WaitUntil(200);
    timed_out = s.NowMicros();
    EXPECT_EQ(q.size(), 2u);  // it left; the other two still wait
  });
  s.Spawn([&] {
    s.SleepFor(500);
    q.NotifyAll();
  });
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(short_wait, false);
  EXPECT_EQ(timed_out, 200);
  EXPECT_EQ(long_wait, true);
  EXPECT_EQ(waited_until, 500);
  EXPECT_EQ(waited, 500);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(s.NowMicros(), 500);
}

TEST(SimSchedulerTest, TheSameSeedReplaysTheSameInterleavingAndTrace) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Outcome a = RunEightFibers(Seeded(seed));
    Outcome b = RunEightFibers(Seeded(seed));
    EXPECT_EQ(a.order, b.order) << "seed " << seed;
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.steps, 32u);
  }
}

TEST(SimSchedulerTest, DifferentSeedsGiveDifferentInterleavings) {
  std::set<std::vector<int>> orders;
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Outcome o = RunEightFibers(Seeded(seed));
    orders.insert(o.order);
    hashes.insert(o.trace_hash);
  }
  EXPECT_GE(orders.size(), 90u);
  EXPECT_GE(hashes.size(), 90u);
}

TEST(SimSchedulerTest, PctOfDepthOneRunsEachFiberToItsEnd) {
  std::set<int> first;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SimOptions o = Seeded(seed, Strategy::kPct);
    o.pct_depth = 1;
    Outcome out = RunEightFibers(o);
    EXPECT_TRUE(RanOneAfterAnother(out.order)) << "seed " << seed;
    first.insert(out.order.front());
  }
  EXPECT_GT(first.size(), 1u) << "the priorities, and so the order, depend on the seed";
}

TEST(SimSchedulerTest, PctOfDepthTwoOrMorePreemptsSomeRuns) {
  for (int depth : {2, 3}) {
    std::set<std::vector<int>> orders;
    int preempted = 0;
    for (uint64_t seed = 1; seed <= 100; ++seed) {
      SimOptions o = Seeded(seed, Strategy::kPct);
      o.pct_depth = depth;
      o.pct_steps = 32;  // the workload's length, so change points fall inside it
      Outcome out = RunEightFibers(o);
      orders.insert(out.order);
      if (!RanOneAfterAnother(out.order)) ++preempted;
    }
    EXPECT_GT(preempted, 10) << "depth " << depth;
    EXPECT_GT(orders.size(), 10u) << "depth " << depth;
  }
}

TEST(SimSchedulerTest, PctReplaysBySeed) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SimOptions o = Seeded(seed, Strategy::kPct);
    o.pct_steps = 32;
    Outcome a = RunEightFibers(o);
    Outcome b = RunEightFibers(o);
    EXPECT_EQ(a.order, b.order) << "seed " << seed;
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
  }
}

TEST(SimSchedulerTest, PctRunsPostedCallbacksFirstInPostOrder) {
  SimScheduler s(Seeded(3, Strategy::kPct));
  std::vector<std::string> order;
  for (std::string name : {"p1", "p2", "p3"}) {
    s.Post([&order, name] { order.push_back(name); });
  }
  for (std::string name : {"a", "b"}) {
    s.Spawn([&s, &order, name] {
      order.push_back(name);
      s.Post([&order, name] { order.push_back("posted by " + name); });
      s.MayInterleave();
    });
  }
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  ASSERT_EQ(order.size(), 7u);
  EXPECT_EQ(std::vector<std::string>(order.begin(), order.begin() + 3),
            (std::vector<std::string>{"p1", "p2", "p3"}));
  for (size_t i = 3; i + 1 < order.size(); ++i) {
    if (order[i] == "a" || order[i] == "b") {
      EXPECT_EQ(order[i + 1], "posted by " + order[i]);
    }
  }
}

TEST(SimSchedulerTest, PostedCallbacksRunOffAnyFiber) {
  SimScheduler s(SimOptions{});
  std::vector<std::string> ran;
  s.Post([&] {
    EXPECT_EQ(s.Current(), nullptr);
    s.MayInterleave();  // outside a fiber: nothing
    ran.push_back("from outside");
  });
  s.Spawn([&] {
    s.Post([&] {
      EXPECT_EQ(s.Current(), nullptr);
      ran.push_back("from a fiber");
    });
  });
  EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
  std::sort(ran.begin(), ran.end());
  EXPECT_EQ(ran, (std::vector<std::string>{"from a fiber", "from outside"}));
}

TEST(SimSchedulerTest, RandomReplaysBySeedApartFromTheSchedule) {
  auto draws = [](SimScheduler& s) {
    std::vector<uint64_t> v;
    for (int i = 0; i < 8; ++i) v.push_back(s.Random());
    return v;
  };
  SimScheduler a(Seeded(7)), b(Seeded(7)), c(Seeded(8));
  std::vector<uint64_t> first = draws(a);
  EXPECT_EQ(first, draws(b));
  EXPECT_NE(first, draws(c));
  // A schedule drawn first does not shift the values.
  SimScheduler d(Seeded(7));
  for (int i = 0; i < 4; ++i) {
    d.Spawn([&d] { d.MayInterleave(); });
  }
  EXPECT_EQ(d.RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(draws(d), first);
}

TEST(SimSchedulerTest, ADeadlockIsIdleAndTheDestructorUnwindsItsFibers) {
  int destroyed = 0;
  bool resumed = false;
  {
    SimScheduler s(SimOptions{});
    for (int i = 0; i < 2; ++i) {
      s.Spawn([&] {
        std::string on_stack(1000, 'x');  // on the heap: LSan would see it leak
        auto owned = std::make_unique<Tracked>(&destroyed);
        Tracked local(&destroyed);
        s.Suspend();
        resumed = true;
      });
    }
    EXPECT_EQ(s.RunUntilIdle(), Result::kIdle);
    EXPECT_EQ(s.live_fibers(), 2u);
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 4);
  EXPECT_FALSE(resumed);
}

TEST(SimSchedulerTest, TheDestructorUnwindsFibersOnTimersReadyOrNeverStarted) {
  int destroyed = 0;
  auto token = std::make_shared<int>(0);
  bool never_ran = true;
  {
    SimScheduler s(SimOptions{});
    bool started = false;
    s.Spawn([&] {
      Tracked t(&destroyed);
      started = true;
      s.SleepFor(kHour);
      ADD_FAILURE() << "slept through the destructor";
    });
    s.Spawn([&] {
      Tracked t(&destroyed);
      (void)s.SuspendUntil(kHour);
      ADD_FAILURE() << "timed out through the destructor";
    });
    EXPECT_EQ(s.RunUntil([&] { return started && s.pending_timers() == 2; }), Result::kDone);
    s.Spawn([&s, &destroyed] {
      Tracked t(&destroyed);
      for (;;) s.MayInterleave();  // ready, never waiting, when torn down
    });
    EXPECT_EQ(s.RunUntil([&] { return destroyed == 0 && s.steps() >= 5; }), Result::kDone);
    s.Spawn([token, &never_ran] { never_ran = false; });
    EXPECT_EQ(token.use_count(), 2);
    EXPECT_EQ(s.live_fibers(), 4u);
  }
  EXPECT_EQ(destroyed, 3);
  EXPECT_TRUE(never_ran);
  EXPECT_EQ(token.use_count(), 1);  // the unstarted fiber's function was destroyed
}

TEST(SimSchedulerTest, ADestructorThatWakesAnUnwoundFiberDuringTearDownIsHarmless) {
  auto s = std::make_unique<SimScheduler>(SimOptions{});
  WaitQueue q(s.get());  // outlives the scheduler's tear-down
  struct NotifyOnExit {
    WaitQueue* q;
    ~NotifyOnExit() { q->NotifyAll(); }
  };
  s->Spawn([&] { q.Wait(); });  // unwound first, still queued
  s->Spawn([&] {
    NotifyOnExit n{&q};
    s->Suspend();
  });
  EXPECT_EQ(s->RunUntilIdle(), Result::kIdle);
  EXPECT_EQ(q.size(), 1u);
  s.reset();
  EXPECT_TRUE(q.empty());
}

TEST(SimSchedulerTest, MaxStepsStopsAnEndlessLoopInEachCall) {
  SimOptions o;
  o.max_steps = 100;
  SimScheduler s(o);
  s.Spawn([&] {
    for (;;) s.MayInterleave();
  });
  EXPECT_EQ(s.RunUntilIdle(), Result::kStepLimit);
  EXPECT_EQ(s.steps(), 100u);
  EXPECT_EQ(s.RunUntilIdle(), Result::kStepLimit);
  EXPECT_EQ(s.steps(), 200u);
  EXPECT_EQ(s.NowMicros(), 0);
}

TEST(SimLoopsTest, RunToCompletionRunsAFunctionThatSleepsInVirtualTime) {
  SimScheduler s(SimOptions{});
  SimLoops loops(&s);
  EXPECT_EQ(loops.size(), 1u);
  EXPECT_EQ(&loops.loop(0), &s);
  bool done = false;
  loops.RunToCompletion([&](Scheduler& sched) {
    EXPECT_EQ(&sched, &s);
    sched.SleepFor(kHour);
    done = true;
  });
  EXPECT_TRUE(done);
  EXPECT_EQ(s.NowMicros(), kHour);
}

TEST(SimLoopsDeathTest, RunToCompletionChecksThatTheFunctionReturned) {
  EXPECT_DEATH(
      {
        SimScheduler s(SimOptions{});
        SimLoops loops(&s);
        loops.RunToCompletion([](Scheduler& sched) { sched.Suspend(); });
      },
      "a deadlock");
  EXPECT_DEATH(
      {
        SimOptions o;
        o.max_steps = 10;
        SimScheduler s(o);
        SimLoops loops(&s);
        loops.RunToCompletion([](Scheduler& sched) {
          for (;;) sched.MayInterleave();
        });
      },
      "max_steps");
}

}  // namespace
}  // namespace edgelab::sched
