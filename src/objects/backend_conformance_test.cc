// objects/backend_conformance_test.cc: the one suite every Durable Object
// Backend passes (backend.h, invariants 1-3). A new backend is a Make struct
// below plus one entry in `Backends`.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "objects/backend.h"
#include "testing/temp_dir.h"

namespace edgelab::objects {
namespace {

using namespace std::string_literals;  // "\0" inside keys

struct MakeMemory {
  static std::unique_ptr<Backend> Make(const test::TempDir&) {
    return std::make_unique<MemoryBackend>();
  }
};

struct MakeSqlite {
  static std::unique_ptr<Backend> Make(const test::TempDir& dir) {
    auto backend = SqliteBackend::Open(dir.File("objects.db"));
    EXPECT_TRUE(backend.ok()) << backend.status().ToString();
    return backend.ok() ? std::move(backend).value() : nullptr;
  }
};

using Backends = ::testing::Types<MakeMemory, MakeSqlite>;

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MakeMemory>) return "Memory";
    if (std::is_same_v<T, MakeSqlite>) return "Sqlite";
    return "Unnamed";
  }
};

const ObjectKey kObject{"Counter", "id-1"};

ObjectBatch Puts(const ObjectKey& object, const std::vector<std::string>& keys,
                 const std::string& value = "v") {
  ObjectBatch batch{object, {}};
  for (const std::string& k : keys) batch.writes.push_back({k, value});
  return batch;
}

std::vector<std::string> Keys(const KeyValues& kvs) {
  std::vector<std::string> keys;
  for (const auto& kv : kvs) keys.push_back(kv.first);
  return keys;
}

// What invariant 2 says List returns, from the sorted set of all keys.
std::vector<std::string> Expected(const std::set<std::string>& all, const ListOptions& opts) {
  std::vector<std::string> out;
  for (const std::string& k : all) {
    if (opts.limit != 0 && out.size() == opts.limit) break;
    if (!k.starts_with(opts.prefix) || k < opts.start) continue;
    if (!opts.end.empty() && k >= opts.end) continue;
    out.push_back(k);
  }
  return out;
}

template <typename Make>
class BackendConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = Make::Make(dir_);
    ASSERT_NE(backend_, nullptr);
  }

  void MustCommit(std::vector<ObjectBatch> batches) {
    Status s = backend_->Commit(batches);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::optional<std::string> MustGet(const ObjectKey& object, std::string_view key) {
    Result<std::optional<std::string>> got = backend_->Get(object, key);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::nullopt;
  }
  std::vector<std::string> MustList(const ObjectKey& object, const ListOptions& opts) {
    Result<KeyValues> got = backend_->List(object, opts);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? Keys(*got) : std::vector<std::string>{};
  }
  std::optional<int64_t> MustGetAlarm(const ObjectKey& object) {
    Result<std::optional<int64_t>> got = backend_->GetAlarm(object);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::nullopt;
  }

  test::TempDir dir_;
  std::unique_ptr<Backend> backend_;
};

TYPED_TEST_SUITE(BackendConformanceTest, Backends, BackendNames);

TYPED_TEST(BackendConformanceTest, AMissingKeyOrObjectReadsAsAbsent) {
  EXPECT_EQ(this->MustGet(kObject, "nope"), std::nullopt);
  EXPECT_TRUE(this->MustList(kObject, {}).empty());
  EXPECT_EQ(this->MustGetAlarm(kObject), std::nullopt);
  Result<std::vector<StoredAlarm>> alarms = this->backend_->Alarms();
  ASSERT_TRUE(alarms.ok());
  EXPECT_TRUE(alarms->empty());
}

TYPED_TEST(BackendConformanceTest, CommittedBinaryKeysAndValuesRoundTrip) {
  const std::string key = "k\0\xff\x01"s;
  const std::string value = "\0\x01\x02\xfe\xff value"s;
  ObjectBatch batch{kObject,
                    {{key, value}, {"empty", ""}, {"big", std::string(kMaxValueBytes, 'b')}}};
  this->MustCommit({batch});
  EXPECT_EQ(this->MustGet(kObject, key), value);
  EXPECT_EQ(this->MustGet(kObject, "empty"), "");  // present, not absent
  EXPECT_EQ(this->MustGet(kObject, "big"), std::string(kMaxValueBytes, 'b'));
  Result<KeyValues> all = this->backend_->List(kObject, {});
  ASSERT_TRUE(all.ok());
  const KeyValues want = {{"big", std::string(kMaxValueBytes, 'b')}, {"empty", ""}, {key, value}};
  EXPECT_EQ(*all, want);
}

TYPED_TEST(BackendConformanceTest, AnEmptyCommitAndABatchWithNothingInItAreOk) {
  this->MustCommit({});
  this->MustCommit({ObjectBatch{kObject, {}}});
  EXPECT_TRUE(this->MustList(kObject, {}).empty());
}

TYPED_TEST(BackendConformanceTest, ADeleteRemovesTheKeyAndDeletingAMissingKeyIsOk) {
  this->MustCommit({Puts(kObject, {"a", "b"})});
  this->MustCommit({ObjectBatch{kObject, {{"a", std::nullopt}, {"never", std::nullopt}}}});
  EXPECT_EQ(this->MustGet(kObject, "a"), std::nullopt);
  EXPECT_EQ(this->MustGet(kObject, "b"), "v");
  EXPECT_EQ(this->MustList(kObject, {}), std::vector<std::string>{"b"});
}

TYPED_TEST(BackendConformanceTest, AWriteReplacesTheValue) {
  this->MustCommit({Puts(kObject, {"k"}, "1")});
  this->MustCommit({Puts(kObject, {"k"}, "2")});
  EXPECT_EQ(this->MustGet(kObject, "k"), "2");
}

TYPED_TEST(BackendConformanceTest, ListIsInByteOrderWithNulAndFFBytes) {
  const std::vector<std::string> sorted = {"\0"s,    "\0\0"s,  "\0\xff"s, "a"s,
                                           "a\0"s,   "a\x01"s, "a\x7f"s,  "a\x80"s,
                                           "a\xff"s, "\xff"s,  "\xff\0"s, "\xff\xff"s};
  std::vector<std::string> shuffled = sorted;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  this->MustCommit({Puts(kObject, shuffled)});
  EXPECT_EQ(this->MustList(kObject, {}), sorted);
}

TYPED_TEST(BackendConformanceTest, ListHonoursEveryCombinationOfPrefixStartEndAndLimit) {
  const std::set<std::string> all = {
      "a"s, "a\0"s, "a\0\0"s, "a\x01"s, "a\xff"s,    "a\xff\xff"s,    "ab"s, "abc"s,
      "b"s, "b\0"s, "ba"s,    "\xff"s,  "\xff\xff"s, "\xff\xff\x01"s, "\0"s};
  this->MustCommit({Puts(kObject, std::vector<std::string>(all.begin(), all.end()))});
  const std::vector<std::string> bounds = {""s,   "\0"s,  "a"s, "a\0"s, "a\x01"s, "a\xff"s,
                                           "ab"s, "abd"s, "b"s, "c"s,   "\xff"s,  "\xff\xff"s};
  int checked = 0;
  for (const std::string& prefix :
       {""s, "a"s, "a\0"s, "a\xff"s, "b"s, "\xff"s, "\xff\xff"s, "z"s}) {
    for (const std::string& start : bounds) {
      for (const std::string& end : bounds) {
        for (uint32_t limit : {0u, 1u, 2u, 5u, 100u}) {
          const ListOptions opts{prefix, start, end, limit};
          ASSERT_EQ(this->MustList(kObject, opts), Expected(all, opts))
              << "prefix '" << prefix << "' start '" << start << "' end '" << end << "' limit "
              << limit;
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 8 * 12 * 12 * 5);
}

TYPED_TEST(BackendConformanceTest, AnAllFFPrefixReachesTheLongestKeys) {
  const std::string longest(kMaxKeyBytes, '\xff');
  this->MustCommit({Puts(kObject, {"\xfe"s, "\xff"s, longest})});
  EXPECT_EQ(this->MustList(kObject, {"\xff\xff", "", "", 0}), std::vector<std::string>{longest});
  EXPECT_EQ(this->MustList(kObject, {"\xff", "", "", 0}),
            (std::vector<std::string>{"\xff"s, longest}));
}

TYPED_TEST(BackendConformanceTest, EveryBatchOfACommitApplies) {
  const ObjectKey other{"Counter", "id-2"};
  ObjectBatch first = Puts(kObject, {"a", "b"});
  first.alarm = ObjectBatch::Alarm::kSet;
  first.alarm_ms = 1000;
  this->MustCommit({first, Puts(other, {"c"}), Puts({"Room", "id-1"}, {"d"})});
  EXPECT_EQ(this->MustList(kObject, {}), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(this->MustList(other, {}), std::vector<std::string>{"c"});
  EXPECT_EQ(this->MustList({"Room", "id-1"}, {}), std::vector<std::string>{"d"});
  EXPECT_EQ(this->MustGetAlarm(kObject), 1000);
}

TYPED_TEST(BackendConformanceTest, BatchesApplyInOrderSoALaterBatchOfTheSameObjectWins) {
  ObjectBatch deletes{kObject, {{"a", std::nullopt}}};
  deletes.alarm = ObjectBatch::Alarm::kDeleted;
  ObjectBatch sets = Puts(kObject, {"a"}, "2");
  sets.alarm = ObjectBatch::Alarm::kSet;
  sets.alarm_ms = 5;
  this->MustCommit({Puts(kObject, {"a"}, "1"), deletes, sets});
  EXPECT_EQ(this->MustGet(kObject, "a"), "2");
  EXPECT_EQ(this->MustGetAlarm(kObject), 5);
}

// Invariant 1, seen from a reader: a commit that rewrites every key of an
// object is never seen half-applied by one List, however the threads
// interleave.
TYPED_TEST(BackendConformanceTest, AConcurrentListSeesACommitWholeOrNotAtAll) {
  constexpr int kKeys = 20, kCommits = 200;
  auto round = [&](int n) {
    std::vector<std::string> keys;
    for (int k = 0; k < kKeys; ++k) keys.push_back("k" + std::to_string(k));
    return Puts(kObject, keys, std::to_string(n));
  };
  this->MustCommit({round(0)});
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, lists{0}, errors{0};
  std::latch start(2);
  std::thread reader([&] {
    start.arrive_and_wait();
    while (!done.load()) {
      Result<KeyValues> all = this->backend_->List(kObject, {});
      if (!all.ok() || all->size() != kKeys) return void(++errors);
      for (const auto& kv : *all) torn += kv.second != all->front().second ? 1 : 0;
      ++lists;
    }
  });
  start.arrive_and_wait();
  for (int n = 1; n <= kCommits; ++n) {
    if (!this->backend_->Commit({round(n)}).ok()) ++errors;
  }
  done = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(torn.load(), 0) << "a List saw part of a commit";
  // Not asserted (a 1-core machine may run the writer to the end first), but
  // shown: a run with no list during the commits checked nothing.
  std::cout << "[ info     ] " << lists.load() << " lists raced " << kCommits << " commits\n";
  EXPECT_EQ(this->MustGet(kObject, "k7"), std::to_string(kCommits));
}

TYPED_TEST(BackendConformanceTest, AnAlarmIsSetReplacedDeletedAndListed) {
  ObjectBatch set{kObject, {}, ObjectBatch::Alarm::kSet, 1'700'000'000'000};
  this->MustCommit({set});
  EXPECT_EQ(this->MustGetAlarm(kObject), 1'700'000'000'000);
  set.alarm_ms = 42;
  this->MustCommit({set});
  EXPECT_EQ(this->MustGetAlarm(kObject), 42);
  // kUnchanged leaves it alone.
  this->MustCommit({Puts(kObject, {"k"})});
  EXPECT_EQ(this->MustGetAlarm(kObject), 42);
  Result<std::vector<StoredAlarm>> alarms = this->backend_->Alarms();
  ASSERT_TRUE(alarms.ok());
  ASSERT_EQ(alarms->size(), 1u);
  EXPECT_EQ((*alarms)[0].object, kObject);
  EXPECT_EQ((*alarms)[0].time_ms, 42);
  this->MustCommit({ObjectBatch{kObject, {}, ObjectBatch::Alarm::kDeleted}});
  EXPECT_EQ(this->MustGetAlarm(kObject), std::nullopt);
  EXPECT_TRUE(this->backend_->Alarms()->empty());
  // Deleting an alarm that is not set is OK too.
  this->MustCommit({ObjectBatch{kObject, {}, ObjectBatch::Alarm::kDeleted}});
}

TYPED_TEST(BackendConformanceTest, AlarmsListsEveryObjectsAlarmInObjectOrder) {
  const std::vector<ObjectKey> objects = {{"B", "1"}, {"A", "2"}, {"A", "1"}, {"A\xff", "0"}};
  std::vector<ObjectBatch> batches;
  for (size_t i = 0; i < objects.size(); ++i) {
    batches.push_back({objects[i], {}, ObjectBatch::Alarm::kSet, static_cast<int64_t>(i + 1)});
  }
  this->MustCommit(batches);
  Result<std::vector<StoredAlarm>> alarms = this->backend_->Alarms();
  ASSERT_TRUE(alarms.ok());
  std::vector<std::pair<ObjectKey, int64_t>> got;
  for (const StoredAlarm& a : *alarms) got.emplace_back(a.object, a.time_ms);
  const std::vector<std::pair<ObjectKey, int64_t>> want = {
      {{"A", "1"}, 3}, {{"A", "2"}, 2}, {{"A\xff", "0"}, 4}, {{"B", "1"}, 1}};
  EXPECT_EQ(got, want);
}

TYPED_TEST(BackendConformanceTest, ObjectsAreIndependent) {
  // "a/bc" and "ab/c" print alike but are different objects.
  const ObjectKey one{"a", "bc"}, two{"ab", "c"}, three{"a", "bc\0"s};
  this->MustCommit({Puts(one, {"k", "only-one"}, "1"), Puts(two, {"k"}, "2")});
  this->MustCommit({ObjectBatch{three, {{"k", "3"}}, ObjectBatch::Alarm::kSet, 9}});
  EXPECT_EQ(this->MustGet(one, "k"), "1");
  EXPECT_EQ(this->MustGet(two, "k"), "2");
  EXPECT_EQ(this->MustGet(three, "k"), "3");
  EXPECT_EQ(this->MustGet(two, "only-one"), std::nullopt);
  EXPECT_EQ(this->MustList(two, {}), std::vector<std::string>{"k"});
  EXPECT_EQ(this->MustGetAlarm(one), std::nullopt);
  EXPECT_EQ(this->MustGetAlarm(three), 9);
  this->MustCommit({ObjectBatch{one, {{"k", std::nullopt}}}});
  EXPECT_EQ(this->MustGet(two, "k"), "2");
  EXPECT_EQ(this->MustGet(three, "k"), "3");
}

TYPED_TEST(BackendConformanceTest, FlushSucceedsAndKeepsData) {
  this->MustCommit({Puts(kObject, {"k"})});
  EXPECT_TRUE(this->backend_->Flush().ok());
  EXPECT_EQ(this->MustGet(kObject, "k"), "v");
}

}  // namespace
}  // namespace edgelab::objects
