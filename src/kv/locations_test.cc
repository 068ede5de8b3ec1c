// kv/locations_test.cc: the edge's KV on a virtual clock: what each location
// sees of each write and when (its own at once, the others' after the
// propagation delay or once their cached entry ages out), last write wins,
// strong reads, if_match at the origin, expiry, the cache bound; then a
// randomized run against the two promises that matter (no read staler than
// the TTL, no location going back in time).
#include "kv/locations.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "kv/memory_store.h"
#include "testing/fake_scheduler.h"

namespace edgelab::kv {
namespace {

constexpr size_t kA = 0, kB = 1, kC = 2;
constexpr int64_t kMs = 1000;  // microseconds
constexpr int64_t kTtlMs = 60'000;

// A Store that counts the reads that reach it, then delegates.
class CountingStore final : public Store {
 public:
  explicit CountingStore(Store* inner) : inner_(inner) {}
  Result<Entry> Get(std::string_view ns, std::string_view key) override {
    ++gets_;
    return inner_->Get(ns, key);
  }
  Result<PutResult> Put(std::string_view ns, std::string_view key, std::string_view value,
                        const PutOptions& opts) override {
    return inner_->Put(ns, key, value, opts);
  }
  Status Delete(std::string_view ns, std::string_view key) override {
    return inner_->Delete(ns, key);
  }
  Result<ListResult> List(std::string_view ns, std::string_view prefix, std::string_view cursor,
                          uint32_t limit) override {
    return inner_->List(ns, prefix, cursor, limit);
  }
  Status Flush() override { return inner_->Flush(); }
  int gets() const { return gets_; }

 private:
  Store* const inner_;
  int gets_ = 0;
};

Latency Fixed(double ms) {
  Latency l;
  l.dist = Latency::Dist::kFixed;
  l.ms = ms;
  return l;
}

Latency Uniform(double min_ms, double max_ms) {
  Latency l;
  l.dist = Latency::Dist::kUniform;
  l.min_ms = min_ms;
  l.max_ms = max_ms;
  return l;
}

// The Random() value that makes a Uniform(0, max) draw `fraction` of max.
uint64_t RandomFor(double fraction) {
  return static_cast<uint64_t>(fraction * 18446744073709551616.0);  // 2^64
}

class LocationsTest : public ::testing::Test {
 protected:
  // Locations "a", "b", "c" (the first `n`) over origin_.
  Locations& Make(size_t n, int64_t ttl_ms, Latency propagation) {
    LocationOptions o;
    for (size_t i = 0; i < n; ++i) o.names.push_back(std::string(1, static_cast<char>('a' + i)));
    o.cache_ttl_ms = ttl_ms;
    o.propagation = propagation;
    locations_ = std::make_unique<Locations>(&origin_, std::move(o));
    return *locations_;
  }

  // What `location` reads of `key`: the value, "<absent>" or the error.
  std::string Read(size_t location, std::string_view key,
                   Consistency consistency = Consistency::kEventual) {
    Result<Entry> got = locations_->Get(sched_, location, "ns", key, consistency);
    if (got.ok()) return got->value;
    if (got.status().code() == Code::kNotFound) return "<absent>";
    return got.status().ToString();
  }
  std::string Etag(size_t location, std::string_view key) {
    Result<Entry> got = locations_->Get(sched_, location, "ns", key, Consistency::kEventual);
    return got.ok() ? got->etag : "";
  }
  std::string Write(size_t location, std::string_view key, std::string_view value,
                    const PutOptions& opts = {}) {
    Result<PutResult> put = locations_->Put(sched_, location, "ns", key, value, opts);
    EXPECT_TRUE(put.ok()) << put.status().ToString();
    if (!put.ok() || put->outcome != PutResult::Outcome::kStored) return "";
    return put->etag;
  }
  void Erase(size_t location, std::string_view key) {
    ASSERT_TRUE(locations_->Delete(sched_, location, "ns", key).ok());
  }
  void AdvanceMs(int64_t ms) { sched_.Advance(ms * kMs); }

  test::FakeScheduler sched_{/*seed=*/3};
  MemoryStore memory_{&sched_, 1};
  CountingStore origin_{&memory_};
  std::unique_ptr<Locations> locations_;
};

TEST_F(LocationsTest, NamesAreFoundByName) {
  Locations& l = Make(3, kTtlMs, Fixed(1000));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.name(kB), "b");
  EXPECT_EQ(l.Find("c"), kC);
  EXPECT_EQ(l.Find("z"), std::nullopt);
  EXPECT_EQ(l.origin(), &origin_);
}

TEST_F(LocationsTest, AWriteIsVisibleAtItsOwnLocationAtOnce) {
  Make(3, kTtlMs, Fixed(1000));
  Write(kA, "k", "v0");
  ASSERT_EQ(Read(kA, "k"), "v0");  // now cached at a
  Write(kA, "k", "v1");
  EXPECT_EQ(Read(kA, "k"), "v1");
  Write(kA, "fresh", "x");  // never read at a: a reads the origin
  EXPECT_EQ(Read(kA, "fresh"), "x");
}

TEST_F(LocationsTest, AnotherLocationStaysStaleUntilThePropagationArrives) {
  Make(3, kTtlMs, Fixed(1000));
  Write(kA, "k", "v0");
  ASSERT_EQ(Read(kB, "k"), "v0");
  ASSERT_EQ(Read(kC, "gone"), "<absent>");  // a negative lookup is cached too
  AdvanceMs(5);
  Write(kA, "k", "v1");
  Write(kA, "gone", "here");
  AdvanceMs(999);
  EXPECT_EQ(Read(kB, "k"), "v0");
  EXPECT_EQ(Read(kC, "gone"), "<absent>");
  AdvanceMs(1);
  EXPECT_EQ(Read(kB, "k"), "v1");
  EXPECT_EQ(Read(kC, "gone"), "here");
}

TEST_F(LocationsTest, AFreshCachedReadDoesNotReachTheOrigin) {
  Make(2, kTtlMs, Fixed(1000));
  Write(kA, "k", "v");
  ASSERT_EQ(Read(kB, "k"), "v");
  ASSERT_EQ(origin_.gets(), 1);
  AdvanceMs(kTtlMs - 1);
  EXPECT_EQ(Read(kB, "k"), "v");
  EXPECT_EQ(origin_.gets(), 1);
  EXPECT_EQ(locations_->cached(kB), 1u);
  EXPECT_EQ(locations_->cached(kA), 0u);
}

TEST_F(LocationsTest, WithoutATtlNothingIsCachedOrStale) {
  Make(3, 0, Fixed(1000));
  ASSERT_EQ(Read(kB, "k"), "<absent>");
  Write(kA, "k", "v");
  EXPECT_EQ(Read(kB, "k"), "v");
  EXPECT_EQ(locations_->cached(kB), 0u);
  EXPECT_EQ(origin_.gets(), 2);
}

TEST_F(LocationsTest, OneLocationCachesNothingAndDrawsNoRandomness) {
  Make(1, kTtlMs, Uniform(0, 1000));
  ASSERT_EQ(Read(kA, "k"), "<absent>");
  Write(kA, "k", "v");
  EXPECT_EQ(Read(kA, "k"), "v");
  Erase(kA, "k");
  EXPECT_EQ(Read(kA, "k"), "<absent>");
  EXPECT_EQ(locations_->cached(kA), 0u);
  test::FakeScheduler untouched(/*seed=*/3);
  EXPECT_EQ(sched_.Random(), untouched.Random());
}

TEST_F(LocationsTest, StrongReadsSeeTheOriginAndLeaveTheCacheAlone) {
  Make(2, kTtlMs, Fixed(1000));
  ASSERT_EQ(Read(kB, "k"), "<absent>");
  Write(kA, "k", "v");
  EXPECT_EQ(Read(kB, "k", Consistency::kStrong), "v");
  EXPECT_EQ(Read(kB, "k"), "<absent>");  // the cached answer is untouched
  EXPECT_EQ(Read(kB, "new", Consistency::kStrong), "<absent>");
  EXPECT_EQ(locations_->cached(kB), 1u);  // "new" was not cached
}

TEST_F(LocationsTest, AnEntryOlderThanTheTtlIsFetchedAgain) {
  Make(2, kTtlMs, Fixed(3'600'000));  // propagation slower than the TTL
  ASSERT_EQ(Read(kB, "k"), "<absent>");
  AdvanceMs(10'000);
  Write(kA, "k", "v");
  AdvanceMs(kTtlMs - 10'000 - 1);
  EXPECT_EQ(Read(kB, "k"), "<absent>");
  AdvanceMs(1);
  EXPECT_EQ(Read(kB, "k"), "v");
  EXPECT_EQ(origin_.gets(), 2);
}

TEST_F(LocationsTest, AnArrivedWriteDoesNotMakeTheEntryLiveLonger) {
  // If an arrival restarted the TTL, b would read v1 at 60 s, written at
  // 10 s and overwritten at 45 s: staler than the TTL.
  Make(2, kTtlMs, Fixed(30'000));
  Write(kA, "k", "v0");
  ASSERT_EQ(Read(kB, "k"), "v0");  // fetched at 0
  AdvanceMs(10'000);
  Write(kA, "k", "v1");  // reaches b at 40 s
  AdvanceMs(30'000);
  ASSERT_EQ(Read(kB, "k"), "v1");
  AdvanceMs(5'000);
  Write(kA, "k", "v2");  // would reach b at 75 s
  AdvanceMs(15'000);
  EXPECT_EQ(Read(kB, "k"), "v2");
}

TEST_F(LocationsTest, LastWriteWinsWhenPropagationsArriveOutOfOrder) {
  Make(3, kTtlMs, Uniform(0, 1000));
  Write(kA, "k", "v0");
  ASSERT_EQ(Read(kC, "k"), "v0");
  // v1 from a: to b 100 ms (moot: b has nothing cached), to c 900 ms.
  sched_.QueueRandom(RandomFor(0.1));
  sched_.QueueRandom(RandomFor(0.9));
  Write(kA, "k", "v1");
  // v2 from b, newer: to a 100 ms, to c 100 ms.
  sched_.QueueRandom(RandomFor(0.1));
  sched_.QueueRandom(RandomFor(0.1));
  Write(kB, "k", "v2");
  AdvanceMs(50);
  EXPECT_EQ(Read(kC, "k"), "v0");
  AdvanceMs(100);
  EXPECT_EQ(Read(kC, "k"), "v2");
  AdvanceMs(850);  // v1 has arrived too, and is older
  EXPECT_EQ(Read(kC, "k"), "v2");
}

TEST_F(LocationsTest, LastWriteWinsWhenBothArriveBeforeTheNextRead) {
  Make(3, kTtlMs, Uniform(0, 1000));
  Write(kA, "k", "v0");
  ASSERT_EQ(Read(kC, "k"), "v0");
  sched_.QueueRandom(RandomFor(0.1));
  sched_.QueueRandom(RandomFor(0.9));
  Write(kA, "k", "v1");
  sched_.QueueRandom(RandomFor(0.1));
  sched_.QueueRandom(RandomFor(0.1));
  Write(kB, "k", "v2");
  AdvanceMs(2000);  // both delivered by the next call, oldest-done first
  EXPECT_EQ(Read(kC, "k"), "v2");
}

TEST_F(LocationsTest, IfMatchIsCheckedAtTheOriginEvenWhenTheCacheIsStale) {
  Make(2, kTtlMs, Fixed(1000));
  const std::string e0 = Write(kA, "k", "v0");
  ASSERT_EQ(Etag(kB, "k"), e0);
  const std::string e1 = Write(kA, "k", "v1");
  ASSERT_EQ(Etag(kB, "k"), e0);  // stale
  PutOptions stale;
  stale.condition = PutOptions::Condition::kIfMatch;
  stale.if_match = e0;
  Result<PutResult> failed = locations_->Put(sched_, kB, "ns", "k", "from b", stale);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->outcome, PutResult::Outcome::kPreconditionFailed);
  PutOptions current = stale;
  current.if_match = e1;
  const std::string e2 = Write(kB, "k", "from b", current);
  EXPECT_FALSE(e2.empty());
  EXPECT_EQ(Read(kB, "k"), "from b");  // b's own write, at once
  EXPECT_EQ(Etag(kB, "k"), e2);
  PutOptions create;
  create.condition = PutOptions::Condition::kIfNoneMatch;
  ASSERT_EQ(Read(kB, "other"), "<absent>");
  Write(kA, "other", "x");
  Result<PutResult> exists = locations_->Put(sched_, kB, "ns", "other", "y", create);
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->outcome, PutResult::Outcome::kPreconditionFailed);
}

TEST_F(LocationsTest, ARefusedConditionalWriteDropsTheStaleEntrySoARetryConverges) {
  Make(2, kTtlMs, Fixed(1000));
  const std::string e0 = Write(kA, "k", "v0");
  ASSERT_EQ(Etag(kB, "k"), e0);  // cached at b
  const std::string e1 = Write(kA, "k", "v1");
  ASSERT_EQ(Etag(kB, "k"), e0);  // stale at b
  PutOptions cas;
  cas.condition = PutOptions::Condition::kIfMatch;
  cas.if_match = e0;
  Result<PutResult> refused = locations_->Put(sched_, kB, "ns", "k", "v2", cas);
  ASSERT_TRUE(refused.ok());
  ASSERT_EQ(refused->outcome, PutResult::Outcome::kPreconditionFailed);
  const int gets = origin_.gets();
  EXPECT_EQ(Etag(kB, "k"), e1);  // the retry's read reaches the origin...
  EXPECT_EQ(origin_.gets(), gets + 1);
  cas.if_match = e1;
  EXPECT_FALSE(Write(kB, "k", "v2", cas).empty());  // ...and its write stores
  EXPECT_EQ(Read(kB, "k"), "v2");
}

TEST_F(LocationsTest, AFailedConditionalWriteDrawsAndSendsNothing) {
  Make(3, kTtlMs, Uniform(0, 1000));
  Write(kA, "k", "v0");  // two draws
  PutOptions create;
  create.condition = PutOptions::Condition::kIfNoneMatch;
  Result<PutResult> exists = locations_->Put(sched_, kB, "ns", "k", "y", create);
  ASSERT_TRUE(exists.ok());
  ASSERT_EQ(exists->outcome, PutResult::Outcome::kPreconditionFailed);
  test::FakeScheduler reference(/*seed=*/3);
  reference.Random();
  reference.Random();
  EXPECT_EQ(sched_.Random(), reference.Random());
}

TEST_F(LocationsTest, EachWriteDrawsOneDelayPerOtherLocationInOrder) {
  Make(3, kTtlMs, Uniform(0, 1000));
  Write(kA, "k", "v");
  Erase(kB, "k");
  test::FakeScheduler reference(/*seed=*/3);
  for (int i = 0; i < 4; ++i) reference.Random();
  EXPECT_EQ(sched_.Random(), reference.Random());
}

TEST_F(LocationsTest, ACachedEntryPastItsExpirationReadsAsAbsent) {
  Make(2, kTtlMs, Fixed(1000));
  PutOptions expiring;
  expiring.expiration_ms = sched_.WallMillis() + 5000;
  Write(kA, "k", "v", expiring);
  ASSERT_EQ(Read(kB, "k"), "v");
  ASSERT_EQ(Read(kA, "k"), "v");
  AdvanceMs(5000);
  EXPECT_EQ(Read(kB, "k"), "<absent>");
  EXPECT_EQ(Read(kA, "k"), "<absent>");
  EXPECT_EQ(origin_.gets(), 2);  // both answered from their caches
}

TEST_F(LocationsTest, DeletesPropagateAsTombstones) {
  Make(3, kTtlMs, Fixed(1000));
  Write(kA, "k", "v");
  ASSERT_EQ(Read(kA, "k"), "v");
  ASSERT_EQ(Read(kB, "k"), "v");
  ASSERT_EQ(Read(kC, "k"), "v");
  Erase(kA, "k");
  EXPECT_EQ(Read(kA, "k"), "<absent>");
  EXPECT_EQ(Read(kB, "k"), "v");
  AdvanceMs(1000);
  EXPECT_EQ(Read(kB, "k"), "<absent>");
  EXPECT_EQ(Read(kC, "k"), "<absent>");
  EXPECT_EQ(Read(kB, "k", Consistency::kStrong), "<absent>");
}

TEST_F(LocationsTest, OriginErrorsAreReturnedAndNotCached) {
  Make(2, kTtlMs, Fixed(1000));
  EXPECT_EQ(locations_->Get(sched_, kB, "ns", "", Consistency::kEventual).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(locations_->cached(kB), 0u);
  EXPECT_EQ(locations_->Put(sched_, kB, "ns", "", "v", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(locations_->Delete(sched_, kB, "ns", "").code(), Code::kInvalidArgument);
}

TEST_F(LocationsTest, NamespacesDoNotShareCachedKeys) {
  Make(2, kTtlMs, Fixed(1000));
  ASSERT_TRUE(locations_->Put(sched_, kA, "n1", "k", "one", {}).ok());
  Result<Entry> one = locations_->Get(sched_, kB, "n1", "k", Consistency::kEventual);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->value, "one");
  // Same bytes when namespace and key are run together: still another key.
  Result<Entry> other = locations_->Get(sched_, kB, "n", "1k", Consistency::kEventual);
  EXPECT_EQ(other.status().code(), Code::kNotFound);
  EXPECT_EQ(locations_->cached(kB), 2u);
}

TEST_F(LocationsTest, AHotKeyKeepsAtMostMaxPropagatingWritesAndStillConverges) {
  Make(2, kTtlMs, Fixed(1000));
  Write(kA, "k", "v0");
  ASSERT_EQ(Read(kB, "k"), "v0");  // cached at b: every write now propagates to it
  for (int i = 1; i <= 1000; ++i) Write(kA, "k", "v" + std::to_string(i));
  EXPECT_EQ(locations_->propagating(), kMaxPropagatingPerKey);
  EXPECT_EQ(Read(kB, "k"), "v0");  // none has arrived
  AdvanceMs(1000);
  EXPECT_EQ(Read(kB, "k"), "v1000");  // the newest, never an older one
  EXPECT_EQ(locations_->propagating(), 0u);
}

TEST_F(LocationsTest, TheCacheNeverHoldsMoreThanMaxCachedKeys) {
  Make(2, kTtlMs, Fixed(1000));
  for (size_t i = 0; i < kMaxCachedKeys; ++i) ASSERT_EQ(Read(kB, std::to_string(i)), "<absent>");
  EXPECT_EQ(locations_->cached(kB), kMaxCachedKeys);
  // Every entry is fresh: none can be dropped alone, so all go.
  EXPECT_EQ(Read(kB, "one more"), "<absent>");
  EXPECT_EQ(locations_->cached(kB), 1u);
}

TEST_F(LocationsTest, AtTheBoundExpiredEntriesGoFirst) {
  Make(2, kTtlMs, Fixed(1000));
  const size_t half = kMaxCachedKeys / 2;
  for (size_t i = 0; i < half; ++i) ASSERT_EQ(Read(kB, "old" + std::to_string(i)), "<absent>");
  AdvanceMs(kTtlMs / 2);
  for (size_t i = 0; i < half; ++i) ASSERT_EQ(Read(kB, "new" + std::to_string(i)), "<absent>");
  AdvanceMs(kTtlMs / 2);  // the old half is past the TTL, the new one is not
  ASSERT_EQ(locations_->cached(kB), kMaxCachedKeys);
  EXPECT_EQ(Read(kB, "one more"), "<absent>");
  EXPECT_EQ(locations_->cached(kB), half + 1);
  const int gets = origin_.gets();
  EXPECT_EQ(Read(kB, "new0"), "<absent>");
  EXPECT_EQ(origin_.gets(), gets);  // still cached
}

// A randomized run over three locations and a few keys, checked against the
// origin's history: every eventual read returns what the origin held at some
// moment within the last cache_ttl_ms, and no location ever reads an older
// write of a key than one it read before. Strong reads equal the origin.
TEST(LocationsRandomTest, NoReadIsStalerThanTheTtlAndNoLocationGoesBack) {
  constexpr int64_t kTtl = 2000;  // ms
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    test::FakeScheduler sched(seed);
    MemoryStore origin(&sched, 1);
    Locations locations(&origin, {{"a", "b", "c"}, kTtl, Uniform(0, 3000)});
    std::mt19937_64 rng(seed * 7919);
    // Per key: (from micros, value) in time order; "" is absent.
    std::map<std::string, std::vector<std::pair<int64_t, std::string>>> history;
    std::map<std::pair<size_t, std::string>, int> last_seen;  // (location, key) -> write number
    int writes = 0;
    for (int step = 0; step < 3000; ++step) {
      sched.Advance(static_cast<int64_t>(rng() % 200) * kMs);
      const int64_t now = sched.NowMicros();
      const size_t at = rng() % 3;
      const std::string key = "k" + std::to_string(rng() % 3);
      auto& h = history[key];
      const uint64_t op = rng() % 10;
      if (op < 3) {
        const std::string value = std::to_string(++writes);
        ASSERT_TRUE(locations.Put(sched, at, "ns", key, value, {}).ok());
        h.emplace_back(now, value);
      } else if (op == 3) {
        ASSERT_TRUE(locations.Delete(sched, at, "ns", key).ok());
        h.emplace_back(now, "");
      } else {
        const Consistency c = op == 4 ? Consistency::kStrong : Consistency::kEventual;
        Result<Entry> got = locations.Get(sched, at, "ns", key, c);
        ASSERT_TRUE(got.ok() || got.status().code() == Code::kNotFound);
        const std::string value = got.ok() ? got->value : "";
        const std::string current = h.empty() ? "" : h.back().second;
        if (c == Consistency::kStrong) {
          ASSERT_EQ(value, current) << "seed " << seed << " step " << step;
          continue;
        }
        // Held at some moment in [now - ttl, now]: the value current at the
        // window's start, or one written inside it.
        bool held = false;
        std::string at_start;
        for (const auto& [from, v] : h) {
          if (from <= now - kTtl * kMs) at_start = v;
          if (from > now - kTtl * kMs && v == value) held = true;
        }
        held = held || at_start == value;
        ASSERT_TRUE(held) << "seed " << seed << " step " << step << ": " << key << " read \""
                          << value << "\" at " << now;
        if (!value.empty()) {
          int& seen = last_seen[{at, key}];
          ASSERT_GE(std::stoi(value), seen) << "seed " << seed << " step " << step;
          seen = std::stoi(value);
        }
      }
    }
  }
}

}  // namespace
}  // namespace edgelab::kv
