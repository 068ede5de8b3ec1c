// runtime/runtime_test.cc: the Runtime serving a real guest
// (runtime_test.wat) on a real LoopGroup, checked through what it counts in
// Runtime::usage(): requests, the fuel of requests, object turns and alarms,
// KV calls, Durable Object requests (fetches and alarms), the wall time of
// object turns and storage units. Wall time is checked only for being there
// (> 0) or not (0): its value is the machine's.
//
// Requests are handed to the loop as the HTTP front does (Handle on the
// loop's thread) and waited for one at a time. The only wait without an event
// to wait on is the alarm's: it is polled with a generous deadline.
#include "runtime/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

#include "kv/memory_store.h"
#include "objects/backend.h"
#include "sched/real_scheduler.h"
#include "sched/sim_scheduler.h"

namespace edgelab::runtime {
namespace {

class RuntimeUsageTest : public ::testing::Test {
 protected:
  RuntimeUsageTest() : store_(sched::SystemClock()), loops_(1), log_(stderr, /*quiet=*/true) {
    Config c;
    c.name = "usage";
    c.main = EDGELAB_RUNTIME_TEST_WASM;
    c.kv_namespaces = {{"KV", "kv"}};
    c.durable_objects = {{"OBJ", "Obj", c.main}};
    c.isolates_min = 1;
    c.isolates_max = 1;
    runtime_ = std::make_unique<Runtime>(c, &store_, &backend_, &loops_, &log_);
  }
  ~RuntimeUsageTest() override {
    if (started_) {
      runtime_->Shutdown();
      WaitFor([&] { return runtime_->objects_busy() == 0; });
      loops_.Stop();
    }
  }

  void Start() {
    ASSERT_TRUE(runtime_->Start().ok());
    loops_.Start();
    started_ = true;
  }

  // Serves GET `url` on loop 0 and returns the response's status.
  int Get(const std::string& url) {
    std::promise<int> status;
    loops_.loop(0).Post([&] {
      abi::Request req;
      req.url = url;
      runtime_->Handle(0, std::move(req), [&](abi::Response r) { status.set_value(r.status); });
    });
    return status.get_future().get();
  }

  // Polls `done` until it holds; a test failure after 60 s.
  template <typename Pred>
  void WaitFor(Pred done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "timed out";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  kv::MemoryStore store_;
  objects::MemoryBackend backend_;
  sched::LoopGroup loops_;
  Log log_;
  std::unique_ptr<Runtime> runtime_;
  bool started_ = false;
};

TEST_F(RuntimeUsageTest, NothingIsCountedBeforeTheFirstRequest) {
  Start();
  abi::UsageCounts u = runtime_->usage();
  EXPECT_EQ(u.requests, 0u);
  EXPECT_EQ(u.cpu_fuel, 0u);
  EXPECT_EQ(u.do_requests, 0u);
  EXPECT_EQ(u.do_wall_micros, 0u);
}

TEST_F(RuntimeUsageTest, EachRequestCountsOnceWithTheFuelItBurnt) {
  Start();
  ASSERT_EQ(Get("/w"), 200);
  abi::UsageCounts one = runtime_->usage();
  EXPECT_EQ(one.requests, 1u);
  EXPECT_GT(one.cpu_fuel, 100'000u);  // 100,000 turns of a loop, each several instructions
  ASSERT_EQ(Get("/w"), 200);
  ASSERT_EQ(Get("/w"), 200);
  abi::UsageCounts three = runtime_->usage();
  EXPECT_EQ(three.requests, 3u);
  EXPECT_EQ(three.cpu_fuel, 3 * one.cpu_fuel);  // fuel is counted, not timed
  EXPECT_EQ(three.kv_reads + three.kv_writes + three.do_requests + three.do_write_units, 0u);
  EXPECT_EQ(three.do_wall_micros, 0u) << "a worker's own time is not an object's";
}

TEST_F(RuntimeUsageTest, ARequestThatTrapsStillCountsWithItsFuel) {
  Start();
  ASSERT_EQ(Get("/w"), 200);
  const uint64_t burn = runtime_->usage().cpu_fuel;
  ASSERT_EQ(Get("/t"), 500);
  abi::UsageCounts u = runtime_->usage();
  EXPECT_EQ(u.requests, 2u);
  EXPECT_GT(u.cpu_fuel - burn, burn / 2);  // the loop before the trap
}

TEST_F(RuntimeUsageTest, ObjectTurnsAndAlarmsCountTheirFuelRequestsWallTimeAndStorageUnits) {
  Start();
  ASSERT_EQ(Get("/w"), 200);
  const uint64_t burn = runtime_->usage().cpu_fuel;  // the fuel of one loop, and a little
  EXPECT_EQ(runtime_->usage().do_wall_micros, 0u);
  ASSERT_EQ(Get("/d"), 200);
  // The fetch turn ended before its response came back, and it burnt a loop:
  // some microseconds. The alarm may have run by now as well (it is due once
  // the turn commits, as the response is), or not yet.
  const abi::UsageCounts after_fetch = runtime_->usage();
  EXPECT_GT(after_fetch.do_wall_micros, 0u);
  // The object set its alarm in the past: it fires as soon as the turn commits.
  WaitFor([&] {
    return runtime_->registry()->stats().alarms_fired >= 1 && runtime_->objects_busy() == 0;
  });
  abi::UsageCounts u = runtime_->usage();
  EXPECT_EQ(u.requests, 2u);  // the object's turns are not Workers requests
  EXPECT_EQ(u.kv_writes, 1u);
  EXPECT_EQ(u.kv_reads, 1u);
  EXPECT_EQ(u.do_requests, 2u);     // the fetch and the alarm
  EXPECT_EQ(u.do_write_units, 3u);  // 5,000 bytes put (2) and the alarm set (1)
  EXPECT_EQ(u.do_read_units, 2u);   // the alarm read the 5,000 bytes back
  // /d's worker burns almost nothing; its object turn and its alarm burn one
  // loop each, so both were counted, as object CPU: Cloudflare bills an
  // object's compute as requests and duration, not as Workers CPU.
  EXPECT_LT(u.cpu_fuel - burn, burn / 2);
  EXPECT_GT(u.do_cpu_fuel, burn + burn / 2);
  EXPECT_LT(u.do_cpu_fuel, 3 * burn);
  EXPECT_GE(u.do_wall_micros, after_fetch.do_wall_micros);
  if (after_fetch.do_requests == 1) {  // the alarm ran after: its loop adds time
    EXPECT_GT(u.do_wall_micros, after_fetch.do_wall_micros) << "the alarm's run is counted too";
  }
}


// Which location serves each request: on a simulated scheduler, one thread.
class RuntimeRoutingTest : public ::testing::Test, public race::Observer {
 protected:
  RuntimeRoutingTest() : sim_(sched::SimOptions{}), loops_(&sim_), store_(&sim_, 1) {}
  ~RuntimeRoutingTest() override {
    if (runtime_) runtime_->Shutdown();
    sim_.RunUntil([&] { return sim_.live_fibers() == 0; });
  }

  void Start(std::vector<LocationConfig> locations, Config::Spread spread) {
    Config c;
    c.name = "routing";
    c.main = EDGELAB_RUNTIME_TEST_WASM;
    c.kv_namespaces = {{"KV", "kv"}};
    c.locations = std::move(locations);
    c.spread = spread;
    runtime_ = std::make_unique<Runtime>(c, &store_, &backend_, &loops_, &log_);
    runtime_->set_observer(this);
    ASSERT_TRUE(runtime_->Start().ok());
  }

  // Serves GET /w with `headers`; the response's status.
  int Get(abi::Headers headers = {}) {
    int status = 0;
    abi::Request req;
    req.url = "/w";
    req.headers = std::move(headers);
    runtime_->Handle(0, std::move(req), [&](abi::Response r) { status = r.status; });
    sim_.RunUntil([&] { return status != 0; });
    return status;
  }

  void Begin(const race::RequestInfo& r) override { served_.push_back(r.location); }
  void Invoke(const race::Op&) override {}
  void Complete(const race::Op&) override {}
  void End(const race::RequestInfo&, bool) override {}

  sched::SimScheduler sim_;
  sched::SimLoops loops_;
  kv::MemoryStore store_;
  objects::MemoryBackend backend_;
  Log log_{stderr, /*quiet=*/true};
  std::unique_ptr<Runtime> runtime_;
  std::vector<std::string> served_;  // each request's location, in order
};

TEST_F(RuntimeRoutingTest, OneLocationNamesNone) {
  Start({{"local", 1}}, Config::Spread::kRoundRobin);
  ASSERT_EQ(Get(), 200);
  EXPECT_EQ(served_, std::vector<std::string>{""});
}

TEST_F(RuntimeRoutingTest, RoundRobinUnlessTheHeaderNamesOne) {
  Start({{"a", 1}, {"b", 1}, {"c", 1}}, Config::Spread::kRoundRobin);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Get(), 200);
  ASSERT_EQ(Get({{"X-Edgelab-Location", "c"}}), 200);  // the header's name in any case
  EXPECT_EQ(served_, (std::vector<std::string>{"a", "b", "c", "a", "c"}));
}

TEST_F(RuntimeRoutingTest, AHeaderNamingNoLocationIsA400ThatRunsNoGuest) {
  Start({{"a", 1}, {"b", 1}}, Config::Spread::kRoundRobin);
  EXPECT_EQ(Get({{"x-edgelab-location", "mars"}}), 400);
  EXPECT_TRUE(served_.empty());
  EXPECT_EQ(runtime_->usage().requests, 1u);  // still a request
}

TEST_F(RuntimeRoutingTest, WeightedSpreadFollowsTheWeights) {
  Start({{"a", 3}, {"b", 1}}, Config::Spread::kWeighted);
  for (int i = 0; i < 120; ++i) ASSERT_EQ(Get(), 200);  // /w burns fuel: a few is enough
  const auto a = std::count(served_.begin(), served_.end(), "a");
  EXPECT_GT(a, 70);  // 90 expected; the draws are the seeded scheduler's
  EXPECT_LT(a, 110);
}

}  // namespace
}  // namespace edgelab::runtime
