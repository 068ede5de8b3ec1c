// runtime/pool_test.cc: IsolatePool against its contract (pool.h): at most
// `max` isolates alive, direct hand-off to waiters in arrival order, idle
// isolates reused most-recently-released first, a freed slot (Discard, a
// failed instantiation) passed to the longest waiter, Prewarm.
//
// Everything runs on a real sched::RealScheduler and a real engine::Engine.
// Interleavings come from the scheduler's own fibers (SleepFor(0) yields, and
// _initialize can yield through the host function test.init); nothing sleeps
// on real time and nothing asserts a duration. The randomized test replays
// a seeded workload against an obviously correct model of the pool (Model
// below) and checks the two agree after every step.
#include "runtime/pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "abi/context.h"
#include "abi/host.h"
#include "base/status.h"
#include "engine/engine.h"
#include "sched/real_scheduler.h"

namespace edgelab::runtime {
namespace {

// ---- Modules, written byte by byte (checked with wasm-validate/wasm2wat) ----

// (module (memory (export "memory") 1) (func (export "fetch")))
const std::vector<uint8_t> kWorker = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,        // \0asm, version 1
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,                    // type 0: () -> ()
    0x03, 0x02, 0x01, 0x00,                                // func 0: type 0
    0x05, 0x03, 0x01, 0x00, 0x01,                          // memory 0: min 1 page
    0x07, 0x12, 0x02,                                      // exports (2):
    0x06, 'm',  'e',  'm',  'o',  'r',  'y',  0x02, 0x00,  //   "memory" memory 0
    0x05, 'f',  'e',  't',  'c',  'h',  0x00, 0x00,        //   "fetch" func 0
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,                    // code: func 0 { }
};

// kWorker plus (func (export "_initialize") unreachable): every
// instantiation fails, the same way each time.
const std::vector<uint8_t> kTrappingInit = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,        // \0asm, version 1
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,                    // type 0: () -> ()
    0x03, 0x03, 0x02, 0x00, 0x00,                          // funcs 0, 1: type 0
    0x05, 0x03, 0x01, 0x00, 0x01,                          // memory 0: min 1 page
    0x07, 0x20, 0x03,                                      // exports (3):
    0x06, 'm',  'e',  'm',  'o',  'r',  'y',  0x02, 0x00,  //   "memory" memory 0
    0x05, 'f',  'e',  't',  'c',  'h',  0x00, 0x00,        //   "fetch" func 0
    0x0b, '_',  'i',  'n',  'i',  't',  'i',  'a',  'l',
    'i',  'z',  'e',  0x00, 0x01,  // "_initialize" func 1
    0x0a, 0x08, 0x02,              // code (2):
    0x02, 0x00, 0x0b,              //   func 0 { }
    0x03, 0x00, 0x00, 0x0b,        //   func 1 { unreachable }
};

// (module (import "test" "init" (func)) (memory (export "memory") 1)
//   (func (export "fetch")) (func (export "_initialize") call 0)):
// _initialize does whatever the test's g_init does: yield (so instantiation
// is no longer atomic and other fibers run meanwhile), fail, or both.
const std::vector<uint8_t> kHookedInit = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,                  // \0asm, version 1
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,                              // type 0: () -> ()
    0x02, 0x0d, 0x01,                                                // imports (1):
    0x04, 't', 'e', 's', 't', 0x04, 'i', 'n', 'i', 't', 0x00, 0x00,  // test.init: func 0,
                                                                     // type 0
    0x03, 0x03, 0x02, 0x00, 0x00,                                    // funcs 1, 2: type 0
    0x05, 0x03, 0x01, 0x00, 0x01,                                    // memory 0: min 1 page
    0x07, 0x20, 0x03,                                                // exports (3):
    0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,                  //   "memory" memory 0
    0x05, 'f', 'e', 't', 'c', 'h', 0x00, 0x01,                       //   "fetch" func 1
    0x0b, '_', 'i', 'n', 'i', 't', 'i', 'a', 'l', 'i', 'z', 'e', 0x00,
    0x02,                          // "_initialize" func 2
    0x0a, 0x09, 0x02,              // code (2):
    0x02, 0x00, 0x0b,              //   func 1 { }
    0x04, 0x00, 0x10, 0x00, 0x0b,  //   func 2 { call 0 }
};

// What test.init does; set by the test, cleared by the fixture.
std::function<abi::HostOutcome(abi::HostCall&)> g_init;

abi::HostOutcome Init(abi::HostCall& call) {
  return g_init ? g_init(call) : abi::HostOutcome::Return();
}

const abi::HostFunction* TestResolver(std::string_view module, std::string_view name) {
  static const abi::HostFunction init{"test", "init", {}, {}, Init};
  if (module == "test" && name == "init") return &init;
  return abi::FindHostFunction(module, name);
}

// ---- Fixture ----

// What a holder fiber (IsolatePoolTest::SpawnHolder) got and is told.
struct Holder {
  bool got = false;     // Acquire returned
  Status status;        // its error, if any
  uint64_t id = 0;      // the isolate's id, if any
  bool let_go = false;  // set by the test: release the isolate now
  bool done = false;
};

class IsolatePoolTest : public ::testing::Test {
 protected:
  ~IsolatePoolTest() override { g_init = nullptr; }

  std::shared_ptr<const engine::Module> Load(const std::vector<uint8_t>& bytes) {
    auto m = engine::Module::FromBytes("pool_test.wasm", bytes, {"fetch"}, TestResolver);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : nullptr;
  }

  // A fresh pool of `bytes` (any previous pool is destroyed first); ids are
  // 1, 2, 3, ... in the order isolates are made, and ids_ counts them.
  IsolatePool& NewPool(const std::vector<uint8_t>& bytes, size_t max) {
    pool_.reset();
    ids_ = 0;
    auto module = Load(bytes);
    EDGELAB_CHECK(module != nullptr);
    pool_ = std::make_unique<IsolatePool>(&engine_, module, engine::Limits(), max, &sched_,
                                          [this] { return ++ids_; });
    return *pool_;
  }

  abi::Context NewContext() { return abi::Context(&sched_, &no_kv_, nullptr); }

  // Runs `body` on a fiber and drives the loop until every fiber has
  // finished or waits forever (a stranded waiter).
  void RunOnFiber(std::function<void()> body) {
    sched_.Spawn([this, body] {
      body();
      sched_.Stop();
    });
    sched_.Run();
  }

  // Yields the calling fiber until `done()` holds; false if it never does
  // although every other fiber had ample chances to run (they are then
  // waiting on something nobody will do).
  bool YieldUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      sched_.SleepFor(0);
    }
    return done();
  }
  // Spawns a fiber that acquires from `pool` and records the outcome in `h`;
  // with `hold` it keeps the isolate until h.let_go. Then it releases it.
  // `order`, when given, gets `index` as soon as Acquire returns.
  void SpawnHolder(IsolatePool& pool, Holder& h, int index, bool hold,
                   std::vector<int>* order = nullptr) {
    sched_.Spawn([this, &pool, &h, index, hold, order] {
      abi::Context ctx = NewContext();
      auto iso = pool.Acquire(&ctx);
      h.got = true;
      if (order != nullptr) order->push_back(index);
      h.status = iso.status();
      if (iso.ok()) {
        h.id = (*iso)->id;
        if (hold && !YieldUntil([&] { return h.let_go; }))
          ADD_FAILURE() << index << " never let go";
        pool.Release(std::move(*iso));
      }
      h.done = true;
    });
  }

  // After a failure: hands a fresh isolate (id 0) to every fiber still
  // waiting in the pool so that it finishes and the test ends cleanly
  // (a suspended fiber would leak). The pool's counters mean nothing after.
  void Unstrand() {
    g_init = nullptr;
    abi::Context ctx = NewContext();
    for (int i = 0; i < 1000 && pool_->waiting() > 0; ++i) {
      auto iso = engine_.Instantiate(RescueModule(), engine::Limits(), &ctx);
      EDGELAB_CHECK(iso.ok());
      auto p = std::make_unique<PooledIsolate>();
      p->isolate = std::move(*iso);
      pool_->Release(std::move(p));
      sched_.SleepFor(0);
    }
  }
  std::shared_ptr<const engine::Module> RescueModule() {
    if (rescue_module_ == nullptr) rescue_module_ = Load(kWorker);
    return rescue_module_;
  }

  uint64_t EngineLive() const { return engine_.stats().live_isolates; }

  // Destroyed in reverse: pool (and its isolates) before the engine.
  sched::RealScheduler sched_;
  std::vector<abi::KvBinding> no_kv_;
  engine::Engine engine_;
  std::shared_ptr<const engine::Module> rescue_module_;
  uint64_t ids_ = 0;
  std::unique_ptr<IsolatePool> pool_;
};

// ---- Reuse ----

TEST_F(IsolatePoolTest, SequentialRequestsShareOneIsolate) {
  IsolatePool& pool = NewPool(kWorker, 4);
  RunOnFiber([&] {
    abi::Context ctx = NewContext();
    for (int i = 0; i < 20; ++i) {
      auto iso = pool.Acquire(&ctx);
      ASSERT_TRUE(iso.ok()) << iso.status().ToString();
      EXPECT_EQ((*iso)->id, 1u);
      EXPECT_TRUE((*iso)->isolate->Call("fetch", &ctx).ok());
      pool.Release(std::move(*iso));
    }
  });
  EXPECT_EQ(ids_, 1u);  // made once, reused 19 times
  EXPECT_EQ(pool.live(), 1u);
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(EngineLive(), 1u);
}

TEST_F(IsolatePoolTest, IdleIsolatesAreReusedMostRecentlyReleasedFirstAndNoneCreatedBeyondNeed) {
  IsolatePool& pool = NewPool(kWorker, 4);
  RunOnFiber([&] {
    abi::Context ctx = NewContext();
    std::vector<std::unique_ptr<PooledIsolate>> held;
    for (int i = 0; i < 3; ++i) {
      auto iso = pool.Acquire(&ctx);
      ASSERT_TRUE(iso.ok()) << iso.status().ToString();
      held.push_back(std::move(*iso));
    }
    EXPECT_EQ(held[0]->id, 1u);
    EXPECT_EQ(held[1]->id, 2u);
    EXPECT_EQ(held[2]->id, 3u);
    EXPECT_EQ(pool.live(), 3u);
    EXPECT_EQ(pool.idle(), 0u);

    // Released 2, 1, 3: reused 3, 1, 2 (a stack), none made meanwhile.
    pool.Release(std::move(held[1]));
    pool.Release(std::move(held[0]));
    pool.Release(std::move(held[2]));
    EXPECT_EQ(pool.idle(), 3u);
    held.clear();
    for (uint64_t want : {3u, 1u, 2u}) {
      auto iso = pool.Acquire(&ctx);
      ASSERT_TRUE(iso.ok()) << iso.status().ToString();
      EXPECT_EQ((*iso)->id, want);
      held.push_back(std::move(*iso));
    }
    EXPECT_EQ(ids_, 3u);
    EXPECT_EQ(pool.idle(), 0u);

    // Only a fourth concurrent lease makes a fourth isolate.
    auto fourth = pool.Acquire(&ctx);
    ASSERT_TRUE(fourth.ok()) << fourth.status().ToString();
    EXPECT_EQ((*fourth)->id, 4u);
    EXPECT_EQ(pool.live(), 4u);
    pool.Release(std::move(*fourth));
    for (auto& iso : held) pool.Release(std::move(iso));
  });
  EXPECT_EQ(ids_, 4u);
  EXPECT_EQ(pool.live(), 4u);
  EXPECT_EQ(pool.idle(), 4u);
  EXPECT_EQ(pool.waiting(), 0u);
  EXPECT_EQ(EngineLive(), 4u);
}

// ---- Hand-off ----

TEST_F(IsolatePoolTest, AReleasedIsolateGoesStraightToTheLongestWaiterNotToALaterArrival) {
  IsolatePool& pool = NewPool(kWorker, 1);
  std::vector<int> order;  // holders in the order their Acquire returned
  Holder h[3];
  RunOnFiber([&] {
    auto spawn = [&](int i) { SpawnHolder(pool, h[i], i, /*hold=*/true, &order); };
    for (int i = 0; i < 3; ++i) spawn(i);
    ASSERT_TRUE(YieldUntil([&] { return h[0].got && pool.waiting() == 2; }));
    // Released while both wait: it is handed to 1 at once, so the pool stays
    // empty and the late arrival below must queue behind 2.
    h[0].let_go = true;
    ASSERT_TRUE(YieldUntil([&] { return h[0].done; }));
    EXPECT_EQ(pool.idle(), 0u);
    Holder late;
    sched_.Spawn([&] {
      abi::Context ctx = NewContext();
      auto iso = pool.Acquire(&ctx);
      late.got = true;
      order.push_back(3);
      if (iso.ok()) {
        late.id = (*iso)->id;
        pool.Release(std::move(*iso));
      }
      late.done = true;
    });
    ASSERT_TRUE(YieldUntil([&] { return h[1].got && pool.waiting() == 2; }));
    h[1].let_go = true;
    ASSERT_TRUE(YieldUntil([&] { return h[2].got; }));
    EXPECT_FALSE(late.got);
    h[2].let_go = true;
    ASSERT_TRUE(YieldUntil([&] { return late.done && h[2].done; }));
    EXPECT_EQ(late.id, 1u);
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  for (auto& x : h) EXPECT_EQ(x.id, 1u);  // one isolate, handed on three times
  EXPECT_EQ(ids_, 1u);
  EXPECT_EQ(pool.live(), 1u);
  EXPECT_EQ(pool.idle(), 1u);
}

TEST_F(IsolatePoolTest, DiscardHandsTheFreedSlotToTheLongestWaiterWhoCreatesANewIsolate) {
  IsolatePool& pool = NewPool(kWorker, 1);
  Holder h[2];
  std::vector<int> order;
  RunOnFiber([&] {
    abi::Context ctx = NewContext();
    auto first = pool.Acquire(&ctx);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ((*first)->id, 1u);
    for (int i = 0; i < 2; ++i) SpawnHolder(pool, h[i], i, /*hold=*/true, &order);
    ASSERT_TRUE(YieldUntil([&] { return pool.waiting() == 2; }));
    EXPECT_EQ(pool.live(), 1u);

    pool.Discard(std::move(*first));
    // The slot is passed on, not returned: still one alive-or-owed, one waiting.
    EXPECT_EQ(pool.live(), 1u);
    EXPECT_EQ(pool.waiting(), 1u);
    EXPECT_EQ(EngineLive(), 0u);  // the discarded isolate is gone already
    ASSERT_TRUE(YieldUntil([&] { return h[0].got; }));
    EXPECT_TRUE(h[0].status.ok()) << h[0].status.ToString();
    EXPECT_EQ(h[0].id, 2u);  // a new isolate, not the discarded one
    EXPECT_FALSE(h[1].got);
    EXPECT_EQ(pool.live(), 1u);
    EXPECT_EQ(EngineLive(), 1u);

    h[0].let_go = true;  // released: handed to the other waiter as it is
    ASSERT_TRUE(YieldUntil([&] { return h[1].got; }));
    EXPECT_EQ(h[1].id, 2u);
    h[1].let_go = true;
    ASSERT_TRUE(YieldUntil([&] { return h[1].done; }));
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  EXPECT_EQ(ids_, 2u);
  EXPECT_EQ(pool.live(), 1u);
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(pool.waiting(), 0u);
  EXPECT_EQ(EngineLive(), 1u);
}

TEST_F(IsolatePoolTest, DiscardWithNobodyWaitingFreesTheSlot) {
  IsolatePool& pool = NewPool(kWorker, 2);
  RunOnFiber([&] {
    abi::Context ctx = NewContext();
    auto a = pool.Acquire(&ctx);
    ASSERT_TRUE(a.ok());
    pool.Discard(std::move(*a));
    EXPECT_EQ(pool.live(), 0u);
    EXPECT_EQ(pool.idle(), 0u);
    EXPECT_EQ(EngineLive(), 0u);
    auto b = pool.Acquire(&ctx);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ((*b)->id, 2u);
    pool.Release(std::move(*b));
  });
  EXPECT_EQ(pool.live(), 1u);
}

// ---- Instantiation failures ----

TEST_F(IsolatePoolTest, WhenInitializeTrapsAcquireReturnsTheErrorAndTheSlotIsNotLeaked) {
  IsolatePool& pool = NewPool(kTrappingInit, 2);
  int attempts = 0;
  bool done = false;
  RunOnFiber([&] {
    sched_.Spawn([&] {
      abi::Context ctx = NewContext();
      // More attempts than slots: a leaked slot would make the third wait.
      for (; attempts < 5; ++attempts) {
        auto iso = pool.Acquire(&ctx);
        ASSERT_FALSE(iso.ok());
        EXPECT_EQ(iso.status().code(), Code::kTrap) << iso.status().ToString();
        EXPECT_NE(iso.status().message().find("_initialize"), std::string::npos)
            << iso.status().ToString();
        EXPECT_EQ(pool.live(), 0u);
        EXPECT_EQ(pool.idle(), 0u);
        EXPECT_EQ(pool.waiting(), 0u);
        EXPECT_EQ(EngineLive(), 0u);
      }
      done = true;
    });
    if (!YieldUntil([&] { return done; })) {
      ADD_FAILURE() << "attempt " << attempts + 1
                    << " waits for a slot nobody holds: live=" << pool.live()
                    << " waiting=" << pool.waiting();
      Unstrand();
    }
  });
  EXPECT_EQ(attempts, 5);
  EXPECT_EQ(ids_, 0u);  // no id for an isolate that never came to be
}

TEST_F(IsolatePoolTest, AWaiterBehindAFailingInstantiationTriesInTurnAndFailsToo) {
  IsolatePool& pool = NewPool(kHookedInit, 1);
  int inits = 0;
  size_t waiting_during_first_init = 0;
  g_init = [&](abi::HostCall& call) {
    ++inits;
    call.ctx->sched().SleepFor(0);  // let the second request arrive
    call.ctx->sched().SleepFor(0);
    if (inits == 1) waiting_during_first_init = pool.waiting();
    return abi::HostOutcome::Trap("test.init: fails on purpose");
  };
  Holder h[2];
  RunOnFiber([&] {
    for (int i = 0; i < 2; ++i) SpawnHolder(pool, h[i], i, /*hold=*/false);
    if (!YieldUntil([&] { return h[0].done && h[1].done; })) {
      ADD_FAILURE() << "a waiter was stranded behind a failed instantiation; live=" << pool.live()
                    << " waiting=" << pool.waiting();
      Unstrand();
    }
  });
  EXPECT_EQ(waiting_during_first_init, 1u);  // the second one did wait
  EXPECT_EQ(inits, 2);                       // ... and then tried itself
  for (auto& x : h) {
    EXPECT_EQ(x.status.code(), Code::kTrap) << x.status.ToString();
    EXPECT_NE(x.status.message().find("test.init: fails on purpose"), std::string::npos);
  }
  EXPECT_EQ(pool.live(), 0u);
  EXPECT_EQ(pool.idle(), 0u);
  EXPECT_EQ(pool.waiting(), 0u);
  EXPECT_EQ(EngineLive(), 0u);
  EXPECT_EQ(ids_, 0u);
}

TEST_F(IsolatePoolTest, AWaiterBehindATransientInstantiationFailureGetsANewIsolate) {
  IsolatePool& pool = NewPool(kHookedInit, 1);
  int inits = 0;
  g_init = [&](abi::HostCall& call) {
    call.ctx->sched().SleepFor(0);
    call.ctx->sched().SleepFor(0);
    return ++inits == 1 ? abi::HostOutcome::Trap("test.init: first one fails")
                        : abi::HostOutcome::Return();
  };
  Holder h[2];
  RunOnFiber([&] {
    for (int i = 0; i < 2; ++i) SpawnHolder(pool, h[i], i, /*hold=*/false);
    if (!YieldUntil([&] { return h[0].done && h[1].done; })) {
      ADD_FAILURE() << "a waiter was stranded behind a failed instantiation";
      Unstrand();
    }
  });
  EXPECT_EQ(h[0].status.code(), Code::kTrap) << h[0].status.ToString();
  EXPECT_TRUE(h[1].status.ok()) << h[1].status.ToString();
  EXPECT_EQ(h[1].id, 1u);
  EXPECT_EQ(inits, 2);
  EXPECT_EQ(pool.live(), 1u);
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(EngineLive(), 1u);
}

// ---- Prewarm ----

TEST_F(IsolatePoolTest, PrewarmCreatesExactlyNIdleIsolates) {
  IsolatePool& pool = NewPool(kWorker, 5);
  RunOnFiber([&] {
    abi::Context ctx = NewContext();
    ASSERT_TRUE(pool.Prewarm(0, &ctx).ok());
    EXPECT_EQ(pool.live(), 0u);
    EXPECT_EQ(ids_, 0u);

    ASSERT_TRUE(pool.Prewarm(3, &ctx).ok());
    EXPECT_EQ(pool.live(), 3u);
    EXPECT_EQ(pool.idle(), 3u);
    EXPECT_EQ(ids_, 3u);
    EXPECT_EQ(EngineLive(), 3u);

    // Requests use the warm isolates (last made first) before making any.
    std::vector<std::unique_ptr<PooledIsolate>> held;
    for (uint64_t want : {3u, 2u, 1u}) {
      auto iso = pool.Acquire(&ctx);
      ASSERT_TRUE(iso.ok()) << iso.status().ToString();
      EXPECT_EQ((*iso)->id, want);
      held.push_back(std::move(*iso));
    }
    EXPECT_EQ(ids_, 3u);
    for (auto& iso : held) pool.Release(std::move(iso));
  });
  EXPECT_EQ(pool.live(), 3u);
  EXPECT_EQ(pool.idle(), 3u);
}

TEST_F(IsolatePoolTest, PrewarmCountsIsolatesAlreadyAliveAndNeverExceedsMax) {
  IsolatePool& pool = NewPool(kWorker, 3);
  RunOnFiber([&] {
    abi::Context ctx = NewContext();
    ASSERT_TRUE(pool.Prewarm(2, &ctx).ok());
    ASSERT_TRUE(pool.Prewarm(2, &ctx).ok());  // already 2 alive: nothing to do
    EXPECT_EQ(pool.live(), 2u);
    ASSERT_TRUE(pool.Prewarm(3, &ctx).ok());
    EXPECT_EQ(pool.live(), 3u);
    EXPECT_EQ(pool.idle(), 3u);
  });
  EXPECT_EQ(ids_, 3u);
  EXPECT_EQ(EngineLive(), 3u);
}

TEST_F(IsolatePoolTest, AFailedPrewarmReturnsTheErrorAndKeepsNoSlot) {
  IsolatePool& pool = NewPool(kTrappingInit, 2);
  RunOnFiber([&] {
    abi::Context ctx = NewContext();
    Status s = pool.Prewarm(2, &ctx);
    EXPECT_EQ(s.code(), Code::kTrap) << s.ToString();
  });
  EXPECT_EQ(pool.live(), 0u);
  EXPECT_EQ(pool.idle(), 0u);
  EXPECT_EQ(EngineLive(), 0u);
}

// Prewarm's _initialize may wait (pool.h: "ctx serves _initialize"; the
// runtime runs Prewarm on a fiber for that reason), and nothing in pool.h
// forbids a request arriving meanwhile. Such a request finds every slot taken
// and queues; whatever Prewarm's slot yields must then go to it: the isolate
// made, or (if _initialize failed) the slot itself.
class IsolatePoolPrewarmTest : public IsolatePoolTest {
 protected:
  // On a pool of max 1 with kHookedInit: Prewarm(1) on one fiber while a
  // request arrives on another. False if the request was stranded.
  bool PrewarmWhileARequestArrives(Status* prewarm, Holder* w) {
    bool stranded = false;
    RunOnFiber([&] {
      sched_.Spawn([&] {
        abi::Context c = NewContext();
        *prewarm = pool_->Prewarm(1, &c);
      });
      sched_.Spawn([&] {
        abi::Context c = NewContext();
        auto iso = pool_->Acquire(&c);
        w->got = true;
        w->status = iso.status();
        if (iso.ok()) {
          w->id = (*iso)->id;
          pool_->Release(std::move(*iso));
        }
        w->done = true;
      });
      if (!YieldUntil([&] { return w->done; })) {
        stranded = true;
        ADD_FAILURE() << "the request is stranded: live=" << pool_->live()
                      << " idle=" << pool_->idle() << " waiting=" << pool_->waiting();
        Unstrand();
      }
    });
    return !stranded;
  }
};

TEST_F(IsolatePoolPrewarmTest, AnIsolatePrewarmedWhileARequestWaitsIsHandedToThatRequest) {
  NewPool(kHookedInit, 1);
  g_init = [&](abi::HostCall& call) {
    call.ctx->sched().SleepFor(0);  // the request arrives now, and queues
    call.ctx->sched().SleepFor(0);
    return abi::HostOutcome::Return();
  };
  Status prewarm;
  Holder w;
  if (!PrewarmWhileARequestArrives(&prewarm, &w)) return;
  EXPECT_TRUE(prewarm.ok()) << prewarm.ToString();
  EXPECT_TRUE(w.status.ok()) << w.status.ToString();
  EXPECT_EQ(w.id, 1u);
}

TEST_F(IsolatePoolPrewarmTest, AFailedPrewarmPassesItsSlotToARequestWaitingForIt) {
  NewPool(kHookedInit, 1);
  int inits = 0;
  g_init = [&](abi::HostCall& call) {
    call.ctx->sched().SleepFor(0);  // the request arrives now, and queues
    call.ctx->sched().SleepFor(0);
    return ++inits == 1 ? abi::HostOutcome::Trap("test.init: prewarm fails")
                        : abi::HostOutcome::Return();
  };
  Status prewarm;
  Holder w;
  if (!PrewarmWhileARequestArrives(&prewarm, &w)) return;
  EXPECT_EQ(prewarm.code(), Code::kTrap) << prewarm.ToString();
  EXPECT_TRUE(w.status.ok()) << w.status.ToString();  // it made its own
  EXPECT_EQ(w.id, 1u);
  EXPECT_EQ(pool_->live(), 1u);
}

// ---- Randomized workload against a model ----

// The pool as pool.h describes it, one atomic step at a time. Each method is
// called right next to the pool call it mirrors, with no wait in between, so
// both see the same sequence of events.
class Model {
 public:
  enum class Owed { kNothing, kWaiting, kIdleIsolate, kNewSlot, kHolding };

  Model(size_t max, int workers) : max_(max), owed_(workers, Owed::kNothing), idle_id_(workers) {}

  // Worker `w` calls Acquire.
  void Arrive(int w) {
    if (waiting_.empty() && !idle_.empty()) {
      owed_[w] = Owed::kIdleIsolate;
      idle_id_[w] = idle_.back();
      idle_.pop_back();
    } else if (waiting_.empty() && live_ < max_) {
      ++live_;
      owed_[w] = Owed::kNewSlot;
    } else {
      owed_[w] = Owed::kWaiting;
      waiting_.push_back(w);
      arrivals_.push_back(w);
    }
  }
  // Acquire returned to `w` with an isolate.
  void Got(int w) { owed_[w] = Owed::kHolding; }
  // Worker `w` releases isolate `id`.
  void Release(int w, uint64_t id) {
    owed_[w] = Owed::kNothing;
    if (waiting_.empty()) {
      idle_.push_back(id);
      return;
    }
    int next = Serve();
    owed_[next] = Owed::kIdleIsolate;
    idle_id_[next] = id;
  }
  // Worker `w` discards its isolate, or its instantiation failed.
  void FreeSlot(int w) {
    owed_[w] = Owed::kNothing;
    if (waiting_.empty()) {
      --live_;
      return;
    }
    owed_[Serve()] = Owed::kNewSlot;
  }

  Owed owed(int w) const { return owed_[w]; }
  uint64_t idle_id(int w) const { return idle_id_[w]; }
  size_t live() const { return live_; }
  size_t idle() const { return idle_.size(); }
  size_t waiting() const { return waiting_.size(); }
  // Workers holding an isolate or owed one (handed over, or a slot to make
  // it in) that Acquire has not yet returned.
  size_t leased() const {
    size_t n = 0;
    for (Owed o : owed_)
      n += (o == Owed::kIdleIsolate || o == Owed::kNewSlot || o == Owed::kHolding);
    return n;
  }
  // Waiters in the order they queued, and in the order they were served.
  const std::vector<int>& arrivals() const { return arrivals_; }
  const std::vector<int>& served() const { return served_; }

 private:
  int Serve() {
    int next = waiting_.front();
    waiting_.pop_front();
    served_.push_back(next);
    return next;
  }

  const size_t max_;
  size_t live_ = 0;
  std::vector<uint64_t> idle_;  // most recently released last
  std::deque<int> waiting_;
  std::vector<Owed> owed_;
  std::vector<uint64_t> idle_id_;  // the isolate owed, for kIdleIsolate
  std::vector<int> arrivals_, served_;
};

struct WorkloadStats {
  int waits = 0;  // Acquires that had to queue
  int discards = 0;
  int failed_inits = 0;
  int failed_with_waiters = 0;  // failed instantiations whose slot went to a waiter
};

// `workers` fibers on a pool of `max`, each doing 1-3 rounds of: a few
// yields, Acquire, a call and a few yields while holding it, then Release
// (or Discard, one time in five). With `hooked`, instantiation yields 0-2
// times inside _initialize and fails one time in eight. Everything random
// comes from `seed`; fibers run in a deterministic order, so a seed replays.
class Workload {
 public:
  Workload(sched::RealScheduler* s, engine::Engine* e, IsolatePool* pool, size_t max, int workers,
           uint64_t seed, bool hooked, WorkloadStats* stats)
      : sched_(s),
        engine_(e),
        pool_(pool),
        max_(max),
        n_(workers),
        hooked_(hooked),
        rng_(seed),
        model_(max, workers),
        init_failed_(workers, false),
        stats_(stats) {}

  // Runs on a fiber; returns when every worker has finished or none can move.
  void Run(const std::function<abi::Context()>& new_context) {
    if (hooked_) {
      g_init = [this](abi::HostCall& call) {
        int w = worker_of_.at(sched_->Current());
        for (int i = Draw(3); i > 0; --i) {
          call.ctx->sched().SleepFor(0);
          Check("inside _initialize");
        }
        if (Draw(8) == 0) {
          init_failed_[w] = true;
          return abi::HostOutcome::Trap("test.init: fails on purpose");
        }
        return abi::HostOutcome::Return();
      };
    }
    for (int w = 0; w < n_; ++w) {
      sched_->Spawn([this, w, new_context] { Worker(w, new_context()); });
    }
    // Every ready fiber runs between two of our yields, and each of their
    // steps moves `steps_`: two rounds without a step mean every unfinished
    // worker waits for something that will never happen.
    int64_t last = -1;
    int still = 0;
    while (finished_ < n_ && still < 2) {
      still = steps_ == last ? still + 1 : 0;
      last = steps_;
      sched_->SleepFor(0);
    }
  }

  bool all_finished() const { return finished_ == n_; }
  const Model& model() const { return model_; }
  const std::vector<int>& returned() const { return returned_; }
  bool failed() const { return failed_; }

  // The pool and the model agree, and the pool's invariants hold.
  void Check(const char* where) {
    ++steps_;
    if (failed_) return;  // report the first disagreement only
    const size_t engine_live = engine_->stats().live_isolates;
    std::string why;
    if (pool_->live() > max_) why += " live > max;";
    if (engine_live > pool_->live()) why += " engine has more isolates than live();";
    if (pool_->live() != model_.live()) why += " live() != model;";
    if (pool_->idle() != model_.idle()) why += " idle() != model;";
    if (pool_->waiting() != model_.waiting()) why += " waiting() != model;";
    if (pool_->live() != pool_->idle() + model_.leased()) why += " live() != idle() + leased;";
    if (!why.empty()) {
      failed_ = true;
      ADD_FAILURE() << "step " << steps_ << " (" << where << "):" << why
                    << " live=" << pool_->live() << " idle=" << pool_->idle()
                    << " waiting=" << pool_->waiting() << " engine_live=" << engine_live
                    << "; model live=" << model_.live() << " idle=" << model_.idle()
                    << " waiting=" << model_.waiting() << " leased=" << model_.leased()
                    << " max=" << max_;
    }
  }

 private:
  int Draw(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }

  void Yield(const char* where) {
    sched_->SleepFor(0);
    Check(where);
  }

  void Worker(int w, abi::Context ctx) {
    worker_of_[sched_->Current()] = w;
    for (int rounds = 1 + Draw(3); rounds > 0; --rounds) {
      for (int i = Draw(4); i > 0; --i) Yield("before Acquire");

      model_.Arrive(w);
      if (model_.owed(w) == Model::Owed::kWaiting) ++stats_->waits;
      const bool queued = model_.owed(w) == Model::Owed::kWaiting;
      // No Check here: the model is a step ahead until Acquire has run up to
      // its first wait (every other fiber checks after that).
      init_failed_[w] = false;
      auto got = pool_->Acquire(&ctx);
      if (queued) returned_.push_back(w);

      const Model::Owed owed = model_.owed(w);
      if (owed != Model::Owed::kIdleIsolate && owed != Model::Owed::kNewSlot) {
        Fail(w, "Acquire returned to a worker the model says is still waiting");
        return Finish();
      }
      if (!got.ok()) {
        if (owed != Model::Owed::kNewSlot || !init_failed_[w]) {
          Fail(w, "Acquire failed without a failed instantiation: " + got.status().ToString());
          return Finish();
        }
        ++stats_->failed_inits;
        if (model_.waiting() > 0) ++stats_->failed_with_waiters;
        model_.FreeSlot(w);  // the pool has passed the slot on already
        Check("Acquire failed");
        continue;
      }
      std::unique_ptr<PooledIsolate> iso = std::move(*got);
      if (owed == Model::Owed::kIdleIsolate && iso->id != model_.idle_id(w)) {
        Fail(w, "got isolate " + std::to_string(iso->id) + ", the model says " +
                    std::to_string(model_.idle_id(w)));
      }
      if (owed == Model::Owed::kNewSlot && !seen_ids_.insert(iso->id).second) {
        Fail(w, "owed a new isolate, got old isolate " + std::to_string(iso->id));
      }
      if (init_failed_[w]) Fail(w, "Acquire succeeded although _initialize trapped");
      model_.Got(w);
      Check("Acquire returned");

      if (!iso->isolate->Call("fetch", &ctx).ok()) Fail(w, "fetch failed");
      for (int i = Draw(4); i > 0; --i) Yield("holding");

      if (Draw(5) == 0) {
        ++stats_->discards;
        model_.FreeSlot(w);
        pool_->Discard(std::move(iso));
        Check("Discard");
      } else {
        const uint64_t id = iso->id;
        model_.Release(w, id);
        pool_->Release(std::move(iso));
        Check("Release");
      }
    }
    Finish();
  }

  void Finish() {
    ++finished_;
    ++steps_;
  }

  void Fail(int w, const std::string& what) {
    if (failed_) return;
    failed_ = true;
    ADD_FAILURE() << "worker " << w << ": " << what;
  }

  sched::RealScheduler* const sched_;
  engine::Engine* const engine_;
  IsolatePool* const pool_;
  const size_t max_;
  const int n_;
  const bool hooked_;
  std::mt19937_64 rng_;
  Model model_;
  std::vector<bool> init_failed_;           // worker's last instantiation trapped
  std::map<sched::Fiber*, int> worker_of_;  // fibers are all spawned up front: no reuse
  std::set<uint64_t> seen_ids_;
  std::vector<int> returned_;  // queued workers, in the order Acquire returned
  WorkloadStats* const stats_;
  int finished_ = 0;
  int64_t steps_ = 0;
  bool failed_ = false;
};

class IsolatePoolModelTest : public IsolatePoolTest {
 protected:
  // Runs the workload for seeds 1..50 (max = 1..4) and checks the end state.
  void RunSeeds(const std::vector<uint8_t>& bytes, bool hooked, WorkloadStats* stats) {
    constexpr int kWorkers = 200;
    for (uint64_t seed = 1; seed <= 50; ++seed) {
      SCOPED_TRACE("seed " + std::to_string(seed));
      const size_t max = 1 + seed % 4;
      IsolatePool& pool = NewPool(bytes, max);
      Workload load(&sched_, &engine_, &pool, max, kWorkers, seed, hooked, stats);
      RunOnFiber([&] {
        load.Run([this] { return NewContext(); });
        if (!load.all_finished()) {
          ADD_FAILURE() << "lost wake-up: workers never got an answer from Acquire; pool live="
                        << pool.live() << " idle=" << pool.idle() << " waiting=" << pool.waiting();
          Unstrand();
        }
      });
      g_init = nullptr;
      if (load.failed() || !load.all_finished()) return;
      // Every worker got an answer; nothing is left leased or owed.
      EXPECT_EQ(pool.waiting(), 0u);
      EXPECT_EQ(load.model().waiting(), 0u);
      EXPECT_EQ(load.model().leased(), 0u);
      EXPECT_EQ(pool.live(), pool.idle());
      EXPECT_LE(pool.live(), max);
      EXPECT_EQ(EngineLive(), pool.live());
      // Waiters were served in arrival order.
      EXPECT_EQ(load.model().served(), load.model().arrivals());
      if (!hooked) {
        // Instantiation never waits here, so a waiter's Acquire returns
        // exactly when it is served: the order is observable directly.
        EXPECT_EQ(load.returned(), load.model().arrivals());
      }
      if (HasFailure()) return;
    }
  }
};

TEST_F(IsolatePoolModelTest, RandomWorkloadMatchesTheModelAtEveryStep) {
  WorkloadStats stats;
  RunSeeds(kWorker, /*hooked=*/false, &stats);
  // The workload did exercise what it is meant to.
  EXPECT_GT(stats.waits, 10000);
  EXPECT_GT(stats.discards, 1000);
}

TEST_F(IsolatePoolModelTest, RandomWorkloadWithSlowAndFailingInstantiationMatchesTheModel) {
  WorkloadStats stats;
  RunSeeds(kHookedInit, /*hooked=*/true, &stats);
  EXPECT_GT(stats.waits, 10000);
  EXPECT_GT(stats.discards, 1000);
  EXPECT_GT(stats.failed_inits, 200);
  EXPECT_GT(stats.failed_with_waiters, 100);
}

}  // namespace
}  // namespace edgelab::runtime
