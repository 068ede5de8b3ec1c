// kv/namespace_test.cc: the latency layer on a virtual clock: how long each
// operation waits, how the wait is split around the store call, the
// interleaving points around it, the shape of each distribution, and how a
// namespace reaches the store through Locations.
#include "kv/namespace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kv/locations.h"
#include "kv/memory_store.h"
#include "testing/fake_scheduler.h"

namespace edgelab::kv {
namespace {

// A Store that records the virtual time of each call, and how many
// interleaving points came before it, then delegates.
class TimedStore final : public Store {
 public:
  TimedStore(Store* inner, test::FakeScheduler* sched) : inner_(inner), sched_(sched) {}
  Result<Entry> Get(std::string_view ns, std::string_view key) override {
    Mark();
    return inner_->Get(ns, key);
  }
  Result<PutResult> Put(std::string_view ns, std::string_view key, std::string_view value,
                        const PutOptions& opts) override {
    Mark();
    return inner_->Put(ns, key, value, opts);
  }
  Status Delete(std::string_view ns, std::string_view key) override {
    Mark();
    return inner_->Delete(ns, key);
  }
  Result<ListResult> List(std::string_view ns, std::string_view prefix, std::string_view cursor,
                          uint32_t limit) override {
    Mark();
    return inner_->List(ns, prefix, cursor, limit);
  }
  Status Flush() override { return inner_->Flush(); }
  const std::vector<int64_t>& calls() const { return calls_; }
  const std::vector<int>& interleaves() const { return interleaves_; }

 private:
  void Mark() {
    calls_.push_back(sched_->NowMicros());
    interleaves_.push_back(sched_->interleaves());
  }
  Store* const inner_;
  test::FakeScheduler* const sched_;
  std::vector<int64_t> calls_;
  std::vector<int> interleaves_;
};

class NamespaceTest : public ::testing::Test {
 protected:
  // Runs one of each operation through a namespace with `latency`.
  void RunEachOperation(const Latency& latency) {
    Namespace ns(&timed_, "ns", latency);
    ASSERT_TRUE(ns.Put(sched_, "k", "v", {}).ok());
    ASSERT_EQ(ns.Get(sched_, "k")->value, "v");
    ASSERT_EQ(ns.List(sched_, "", "", 10)->keys.size(), 1u);
    ASSERT_TRUE(ns.Delete(sched_, "k").ok());
  }

  test::FakeScheduler sched_{/*seed=*/7};
  MemoryStore memory_{&sched_, 1};
  TimedStore timed_{&memory_, &sched_};
};

Latency Fixed(double ms) {
  Latency l;
  l.dist = Latency::Dist::kFixed;
  l.ms = ms;
  return l;
}

TEST_F(NamespaceTest, NoLatencyNeverSleepsButMayInterleaveBeforeEachStoreCall) {
  RunEachOperation(Latency{});
  EXPECT_TRUE(sched_.sleeps().empty());
  EXPECT_EQ(sched_.NowMicros(), 0);
  EXPECT_EQ(timed_.calls().size(), 4u);
  // Each store call comes right after an interleaving point of its own and
  // returns at once (no point after: the store's order is the return order).
  EXPECT_EQ(timed_.interleaves(), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(sched_.interleaves(), 4);
}

TEST_F(NamespaceTest, AWholeDelayOnBothSidesNeedsNoInterleavingPoint) {
  RunEachOperation(Fixed(10));
  EXPECT_EQ(sched_.interleaves(), 0);  // the sleeps are the interleaving points
}

TEST_F(NamespaceTest, FixedLatencyWaitsHalfBeforeAndHalfAfterEachOperation) {
  RunEachOperation(Fixed(10));
  EXPECT_EQ(sched_.sleeps(), std::vector<int64_t>(8, 5000));
  EXPECT_EQ(sched_.NowMicros(), 4 * 10'000);
  // Each store call happens at the midpoint of its operation's delay.
  EXPECT_EQ(timed_.calls(), (std::vector<int64_t>{5000, 15'000, 25'000, 35'000}));
}

TEST_F(NamespaceTest, AnOddDelayPutsTheExtraMicrosecondAfterTheOperation) {
  Namespace ns(&timed_, "ns", Fixed(0.003));
  ASSERT_TRUE(ns.Get(sched_, "k").status().code() == Code::kNotFound);
  EXPECT_EQ(sched_.sleeps(), (std::vector<int64_t>{1, 2}));
}

TEST_F(NamespaceTest, AOneMicrosecondDelayMayInterleaveInsteadOfTheEmptyFirstHalf) {
  Namespace ns(&timed_, "ns", Fixed(0.001));
  ASSERT_TRUE(ns.Delete(sched_, "k").ok());
  EXPECT_EQ(sched_.sleeps(), (std::vector<int64_t>{1}));
  EXPECT_EQ(timed_.interleaves(), (std::vector<int>{1}));
  EXPECT_EQ(sched_.interleaves(), 1);
}

TEST_F(NamespaceTest, ErrorsFromTheStoreStillWaitTheWholeDelay) {
  Namespace ns(&timed_, "ns", Fixed(4));
  EXPECT_EQ(ns.Get(sched_, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(sched_.NowMicros(), 4000);
}

// A namespace over Locations "a" and "b" (propagation: an hour).
class NamespaceAtLocationsTest : public NamespaceTest {
 protected:
  static constexpr size_t kA = 0, kB = 1;
  static LocationOptions Options() {
    LocationOptions o;
    o.names = {"a", "b"};
    o.cache_ttl_ms = 60'000;
    o.propagation = Fixed(3'600'000);
    return o;
  }
  std::string Read(Namespace& ns, size_t location,
                   Consistency consistency = Consistency::kEventual) {
    Result<Entry> got = ns.Get(sched_, "k", consistency, location);
    return got.ok() ? got->value : got.status().code() == Code::kNotFound ? "<absent>" : "error";
  }

  Locations locations_{&timed_, Options()};
};

TEST_F(NamespaceAtLocationsTest, CallsGoThroughTheLocationsAtTheLocationGiven) {
  Namespace ns(&timed_, "ns", Latency{}, &locations_);
  ASSERT_EQ(Read(ns, kB), "<absent>");
  ASSERT_TRUE(ns.Put(sched_, "k", "v", {}, kA).ok());
  EXPECT_EQ(Read(ns, kA), "v");
  EXPECT_EQ(Read(ns, kB), "<absent>");  // b's cache is stale
  EXPECT_EQ(ns.Get(sched_, "k", kB).status().code(), Code::kNotFound);
  EXPECT_EQ(Read(ns, kB, Consistency::kStrong), "v");
  ASSERT_TRUE(ns.Delete(sched_, "k", kA).ok());
  EXPECT_EQ(Read(ns, kA), "<absent>");
  EXPECT_EQ(locations_.cached(kB), 1u);
}

TEST_F(NamespaceAtLocationsTest, ListsGoToTheOrigin) {
  Namespace ns(&timed_, "ns", Latency{}, &locations_);
  ASSERT_EQ(Read(ns, kB), "<absent>");
  ASSERT_TRUE(ns.Put(sched_, "k", "v", {}, kA).ok());
  Result<ListResult> list = ns.List(sched_, "", "", 10, kB);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->keys.size(), 1u);
}

TEST_F(NamespaceAtLocationsTest, AStrongBindingReadsTheOriginWhateverTheCallAsks) {
  Namespace ns(&timed_, "ns", Latency{}, &locations_, Consistency::kStrong);
  EXPECT_EQ(ns.consistency(), Consistency::kStrong);
  ASSERT_EQ(Read(ns, kB), "<absent>");
  ASSERT_TRUE(ns.Put(sched_, "k", "v", {}, kA).ok());
  EXPECT_EQ(Read(ns, kB), "v");
  EXPECT_EQ(Read(ns, kB, Consistency::kEventual), "v");
  EXPECT_EQ(locations_.cached(kB), 0u);
}

TEST_F(NamespaceAtLocationsTest, TheLatencyAndInterleavingPointsStillPrecedeEachStoreCall) {
  Namespace ns(&timed_, "ns", Latency{}, &locations_);
  ASSERT_TRUE(ns.Put(sched_, "k", "v", {}, kA).ok());
  ASSERT_EQ(Read(ns, kB), "v");
  ASSERT_EQ(Read(ns, kB), "v");  // from b's cache: no store call
  EXPECT_EQ(timed_.interleaves(), (std::vector<int>{1, 2}));
  EXPECT_EQ(sched_.interleaves(), 3);
  Namespace slow(&timed_, "ns", Fixed(10), &locations_);
  ASSERT_EQ(Read(slow, kA), "v");
  EXPECT_EQ(timed_.calls().back(), 5000);
  EXPECT_EQ(sched_.NowMicros(), 10'000);
}

TEST(LatencyTest, NoneDrawsZeroAndConsumesNoRandomness) {
  test::FakeScheduler a(1), b(1);
  EXPECT_EQ(Latency{}.DrawMicros(a), 0);
  EXPECT_EQ(a.Random(), b.Random());
}

TEST(LatencyTest, NegativeOrNonsenseParametersDrawZero) {
  test::FakeScheduler sched;
  EXPECT_EQ(Fixed(-5).DrawMicros(sched), 0);
  Latency uniform{Latency::Dist::kUniform, 0, -3, -1, 0, 0};
  EXPECT_EQ(uniform.DrawMicros(sched), 0);
  Latency lognormal{Latency::Dist::kLogNormal, 0, 0, 0, -10, 1};
  EXPECT_EQ(lognormal.DrawMicros(sched), 0);
}

TEST(LatencyTest, UniformDrawsStayInRangeAndSpreadAcrossIt) {
  test::FakeScheduler sched(3);
  Latency l{Latency::Dist::kUniform, 0, 2, 8, 0, 0};
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 10'000; ++i) {
    const int64_t d = l.DrawMicros(sched);
    ASSERT_GE(d, 2000);
    ASSERT_LE(d, 8000);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, 2100);
  EXPECT_GT(hi, 7900);
}

TEST(LatencyTest, LogNormalMedianIsTheConfiguredMedian) {
  test::FakeScheduler sched(11);
  Latency l{Latency::Dist::kLogNormal, 0, 0, 0, 20, 0.8};
  std::vector<int64_t> draws;
  for (int i = 0; i < 10'001; ++i) {
    draws.push_back(l.DrawMicros(sched));
    ASSERT_GE(draws.back(), 0);
  }
  std::nth_element(draws.begin(), draws.begin() + 5000, draws.end());
  // The sample median's standard error here is ~1 %; allow 5 %.
  EXPECT_NEAR(static_cast<double>(draws[5000]), 20'000.0, 1000.0);
  // Right-skewed: the mean sits above the median (exp(sigma^2 / 2) ~ 1.38x).
  double sum = 0;
  for (int64_t d : draws) sum += static_cast<double>(d);
  EXPECT_GT(sum / draws.size(), 1.2 * 20'000);
}

TEST(LatencyTest, AHugeSigmaIsCappedAtTheMaximumDelay) {
  test::FakeScheduler sched(5);
  Latency l{Latency::Dist::kLogNormal, 0, 0, 0, 10, 500};
  for (int i = 0; i < 1000; ++i) {
    const int64_t d = l.DrawMicros(sched);
    ASSERT_GE(d, 0);
    ASSERT_LE(d, kMaxDelayMicros);
  }
}

TEST(LatencyTest, TheSameSeedReplaysTheSameDraws) {
  test::FakeScheduler a(99), b(99);
  Latency l{Latency::Dist::kLogNormal, 0, 0, 0, 5, 1};
  for (int i = 0; i < 100; ++i) ASSERT_EQ(l.DrawMicros(a), l.DrawMicros(b));
}

}  // namespace
}  // namespace edgelab::kv
