// objects/storage_test.cc: Storage against the invariants of storage.h:
// named cases first, then a randomized check against an obviously correct
// model (std::maps) over many seeds, including group commits, failed commits
// (Reset) and cache trimming.
#include "objects/storage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "objects/backend.h"

namespace edgelab::objects {
namespace {

using namespace std::string_literals;  // "\0" inside keys

const ObjectKey kObject{"Counter", "id"};

// A MemoryBackend that counts the reads reaching it and can fail them: shows
// which reads the cache served, and how Storage passes errors up.
class CountingBackend final : public Backend {
 public:
  Result<std::optional<std::string>> Get(const ObjectKey& object, std::string_view key) override {
    ++gets;
    if (fail_reads) return Failure();
    return memory.Get(object, key);
  }
  Result<KeyValues> List(const ObjectKey& object, const ListOptions& opts) override {
    ++lists;
    if (fail_reads || lists == fail_list) return Failure();
    Result<KeyValues> page = memory.List(object, opts);
    if (page.ok()) {
      uint64_t bytes = 0;
      for (const auto& [key, value] : *page) bytes += 8 + key.size() + value.size();
      listed_rows += page->size();
      largest_page_bytes = std::max(largest_page_bytes, bytes);
    }
    return page;
  }
  Result<std::optional<int64_t>> GetAlarm(const ObjectKey& object) override {
    ++alarm_reads;
    if (fail_reads) return Failure();
    return memory.GetAlarm(object);
  }
  Result<std::vector<StoredAlarm>> Alarms() override { return memory.Alarms(); }
  Status Commit(const std::vector<ObjectBatch>& batches) override { return memory.Commit(batches); }
  Status Flush() override { return Status::OK(); }

  static Status Failure() { return Status::IOError("injected read failure"); }

  MemoryBackend memory;
  int gets = 0, lists = 0, alarm_reads = 0;
  bool fail_reads = false;
  int fail_list = 0;  // when lists reaches it, that List fails
  // What the Lists that succeeded returned: rows in all, and the largest
  // page as encoded for a guest (8 + key + value bytes a row).
  size_t listed_rows = 0;
  uint64_t largest_page_bytes = 0;
};

// The size of `pairs` as storage_list encodes them (ListOptions::max_bytes).
uint64_t EncodedBytes(const KeyValues& pairs) {
  uint64_t bytes = 4;
  for (const auto& [key, value] : pairs) bytes += 8 + key.size() + value.size();
  return bytes;
}

std::vector<std::string> Keys(const KeyValues& kvs) {
  std::vector<std::string> keys;
  for (const auto& kv : kvs) keys.push_back(kv.first);
  return keys;
}

// A value of `bytes` bytes that starts with `tag`, so values differ.
std::string Big(const std::string& tag, size_t bytes = kMaxValueBytes) {
  return tag + std::string(bytes - tag.size(), 'x');
}

class StorageTest : public ::testing::Test {
 protected:
  // Commits `writes` straight to the backend, as an earlier life of the
  // object did.
  void Stored(std::vector<ObjectBatch::Write> writes) {
    ASSERT_TRUE(backend_.Commit({ObjectBatch{kObject, std::move(writes)}}).ok());
  }
  std::optional<std::string> MustGet(std::string_view key) {
    Result<std::optional<std::string>> got = storage_.Get(key);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::nullopt;
  }
  bool MustDelete(std::string_view key) {
    Result<bool> existed = storage_.Delete(key);
    EXPECT_TRUE(existed.ok()) << existed.status().ToString();
    return existed.ok() && *existed;
  }
  std::vector<std::string> MustList(const ListOptions& opts) {
    Result<KeyValues> got = storage_.List(opts);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? Keys(*got) : std::vector<std::string>{};
  }
  // What the registry's group commit does for one object.
  void GroupCommit() {
    ObjectBatch batch = storage_.TakeUnflushed();
    ASSERT_TRUE(backend_.Commit({batch}).ok());
    storage_.BatchCommitted();
  }

  CountingBackend backend_;
  Storage storage_{&backend_, kObject};
};

TEST_F(StorageTest, AReadSeesTheObjectsOwnWritesAtOnceDurableOrNot) {
  ASSERT_TRUE(storage_.Put("k", "1").ok());
  EXPECT_EQ(MustGet("k"), "1");
  GroupCommit();
  ASSERT_TRUE(storage_.Put("k", "2").ok());
  EXPECT_EQ(MustGet("k"), "2");
  EXPECT_EQ(MustList({}), std::vector<std::string>{"k"});
  EXPECT_TRUE(MustDelete("k"));
  EXPECT_EQ(MustGet("k"), std::nullopt);
  EXPECT_TRUE(MustList({}).empty());
  // Every read was served by the cache: a write makes its key known.
  EXPECT_EQ(backend_.gets, 0);
}

TEST_F(StorageTest, AStoredKeyIsReadFromTheBackendOnceThenFromTheCache) {
  Stored({{"k", "v"}});
  EXPECT_EQ(MustGet("k"), "v");
  EXPECT_EQ(MustGet("k"), "v");
  EXPECT_EQ(backend_.gets, 1);
  // An absent key is remembered as absent too.
  EXPECT_EQ(MustGet("none"), std::nullopt);
  EXPECT_EQ(MustGet("none"), std::nullopt);
  EXPECT_EQ(backend_.gets, 2);
  EXPECT_EQ(storage_.cached_bytes(), std::string("kvnone").size());
}

TEST_F(StorageTest, DeleteReturnsWhetherTheKeyExisted) {
  Stored({{"a", ""}});  // an empty value exists
  EXPECT_TRUE(MustDelete("a"));
  EXPECT_FALSE(MustDelete("a"));
  EXPECT_FALSE(MustDelete("never"));
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  ASSERT_TRUE(storage_.Put("t", "v").ok());
  EXPECT_TRUE(MustDelete("t"));
  EXPECT_FALSE(MustDelete("t"));
}

TEST_F(StorageTest, ATransactionIsSeenInsideItAndCommitAppliesItAsOneWrittenStep) {
  Stored({{"a", "old"}, {"c", "gone"}});
  ASSERT_TRUE(storage_.Put("before", "v").ok());
  const uint64_t written = storage_.written();
  storage_.TakeUnflushed();
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  EXPECT_TRUE(storage_.in_transaction());
  ASSERT_TRUE(storage_.Put("a", "new").ok());
  ASSERT_TRUE(storage_.Put("b", "v").ok());
  EXPECT_TRUE(MustDelete("c"));
  EXPECT_EQ(MustGet("a"), "new");
  EXPECT_EQ(MustGet("c"), std::nullopt);
  EXPECT_EQ(MustList({}), (std::vector<std::string>{"a", "b", "before"}));
  // Not applied yet: no written() step, nothing to flush.
  EXPECT_EQ(storage_.written(), written);
  EXPECT_FALSE(storage_.has_unflushed());

  ASSERT_TRUE(storage_.CommitTransaction().ok());
  EXPECT_FALSE(storage_.in_transaction());
  EXPECT_EQ(storage_.written(), written + 1);
  const ObjectBatch batch = storage_.TakeUnflushed();
  ASSERT_EQ(batch.writes.size(), 3u);
  EXPECT_EQ(batch.writes[0].key, "a");
  EXPECT_EQ(batch.writes[0].value, "new");
  EXPECT_EQ(batch.writes[1].key, "b");
  EXPECT_EQ(batch.writes[2].key, "c");
  EXPECT_EQ(batch.writes[2].value, std::nullopt);
  EXPECT_EQ(MustGet("a"), "new");
}

TEST_F(StorageTest, RollbackDropsEveryWriteOfTheTransaction) {
  Stored({{"a", "old"}});
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  ASSERT_TRUE(storage_.Put("a", "new").ok());
  ASSERT_TRUE(storage_.Put("b", "v").ok());
  ASSERT_TRUE(storage_.RollbackTransaction().ok());
  EXPECT_FALSE(storage_.in_transaction());
  EXPECT_EQ(MustGet("a"), "old");
  EXPECT_EQ(MustGet("b"), std::nullopt);
  EXPECT_EQ(storage_.written(), 0u);
  EXPECT_FALSE(storage_.has_unflushed());
}

TEST_F(StorageTest, ACommittedTransactionWithNoWritesIsNotAWrite) {
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  EXPECT_EQ(MustGet("k"), std::nullopt);
  ASSERT_TRUE(storage_.CommitTransaction().ok());
  EXPECT_EQ(storage_.written(), 0u);
  EXPECT_FALSE(storage_.has_unflushed());
}

TEST_F(StorageTest, TransactionsDoNotNestAndCommitOrRollbackNeedOne) {
  EXPECT_EQ(storage_.CommitTransaction().code(), Code::kInvalidArgument);
  EXPECT_EQ(storage_.RollbackTransaction().code(), Code::kInvalidArgument);
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  ASSERT_TRUE(storage_.Put("k", "v").ok());
  Status nested = storage_.BeginTransaction();
  EXPECT_EQ(nested.code(), Code::kInvalidArgument);
  EXPECT_NE(nested.message().find("nest"), std::string::npos) << nested.message();
  // The refused begin left the open transaction as it was.
  EXPECT_EQ(MustGet("k"), "v");
  ASSERT_TRUE(storage_.CommitTransaction().ok());
  EXPECT_EQ(MustGet("k"), "v");
}

TEST_F(StorageTest, TakeUnflushedCoalescesPerKeyLastWriteWinsAndDeletesAreNullopt) {
  Stored({{"b", "stored"}});
  ASSERT_TRUE(storage_.Put("a", "1").ok());
  ASSERT_TRUE(storage_.Put("b", "1").ok());
  ASSERT_TRUE(storage_.Put("a", "2").ok());
  EXPECT_TRUE(MustDelete("b"));
  ASSERT_TRUE(storage_.Put("c", "1").ok());
  EXPECT_TRUE(MustDelete("c"));
  EXPECT_EQ(storage_.written(), 6u);
  ASSERT_TRUE(storage_.has_unflushed());
  const ObjectBatch batch = storage_.TakeUnflushed();
  EXPECT_EQ(batch.object, kObject);
  ASSERT_EQ(batch.writes.size(), 3u);
  EXPECT_EQ(batch.writes[0].key, "a");
  EXPECT_EQ(batch.writes[0].value, "2");
  EXPECT_EQ(batch.writes[1].key, "b");
  EXPECT_EQ(batch.writes[1].value, std::nullopt);
  EXPECT_EQ(batch.writes[2].key, "c");
  EXPECT_EQ(batch.writes[2].value, std::nullopt);
  EXPECT_EQ(batch.alarm, ObjectBatch::Alarm::kUnchanged);
  // Each write is returned once.
  EXPECT_FALSE(storage_.has_unflushed());
  EXPECT_TRUE(storage_.TakeUnflushed().writes.empty());
}

TEST_F(StorageTest, KeysStayReadableWhileABatchIsInFlightEvenPastTheCacheCap) {
  constexpr int kKeys = kMaxCacheBytes / kMaxValueBytes + 8;
  for (int i = 0; i < kKeys; ++i)
    ASSERT_TRUE(storage_.Put("k" + std::to_string(i), Big("k" + std::to_string(i))).ok());
  std::vector<ObjectBatch::Write> others;
  for (int i = 0; i < 8; ++i) others.push_back({"o" + std::to_string(i), Big("o")});
  Stored(others);
  const ObjectBatch batch = storage_.TakeUnflushed();
  ASSERT_GT(storage_.cached_bytes(), kMaxCacheBytes);
  // Reads that fill the cache further shed nothing while the batch is in flight.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(MustGet("o" + std::to_string(i)), Big("o"));
  backend_.fail_reads = true;  // from here every read must come from the cache
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(MustGet("k" + std::to_string(i)), Big("k" + std::to_string(i))) << i;
  }
  backend_.fail_reads = false;

  ASSERT_TRUE(backend_.Commit({batch}).ok());
  storage_.BatchCommitted();
  EXPECT_EQ(storage_.cached_bytes(), 0u);  // every entry was clean: all shed
  const int gets = backend_.gets;
  EXPECT_EQ(MustGet("k0"), Big("k0"));
  EXPECT_EQ(backend_.gets, gets + 1);
}

TEST_F(StorageTest, TrimmingKeepsWritesNotYetTaken) {
  constexpr int kKeys = kMaxCacheBytes / kMaxValueBytes + 8;
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(storage_.Put("k" + std::to_string(i), Big("k")).ok());
  const ObjectBatch batch = storage_.TakeUnflushed();
  ASSERT_TRUE(storage_.Put("later", Big("later")).ok());
  ASSERT_TRUE(storage_.Put("k0", "rewritten").ok());
  ASSERT_TRUE(backend_.Commit({batch}).ok());
  storage_.BatchCommitted();
  EXPECT_EQ(storage_.cached_bytes(), "later"s.size() + kMaxValueBytes + "k0rewritten"s.size());
  backend_.fail_reads = true;
  EXPECT_EQ(MustGet("later"), Big("later"));
  EXPECT_EQ(MustGet("k0"), "rewritten");
}

TEST_F(StorageTest, AReadThatFillsTheCachePastTheCapShedsCleanEntriesWhenNothingIsInFlight) {
  constexpr int kKeys = kMaxCacheBytes / kMaxValueBytes + 8;
  std::vector<ObjectBatch::Write> stored;
  for (int i = 0; i < kKeys; ++i) stored.push_back({"k" + std::to_string(i), Big("k")});
  Stored(stored);
  ASSERT_TRUE(storage_.Put("dirty", "v").ok());
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(MustGet("k" + std::to_string(i)), Big("k"));
  EXPECT_LE(storage_.cached_bytes(), kMaxCacheBytes);
  backend_.fail_reads = true;
  EXPECT_EQ(MustGet("dirty"), "v");
}

TEST_F(StorageTest, ResetForgetsMemoryAndRereadsTheBackend) {
  Stored({{"k", "durable"}});
  ASSERT_TRUE(backend_.Commit({ObjectBatch{kObject, {}, ObjectBatch::Alarm::kSet, 7}}).ok());
  EXPECT_EQ(MustGet("k"), "durable");
  ASSERT_TRUE(storage_.Put("k", "lost").ok());
  ASSERT_TRUE(storage_.Put("other", "lost").ok());
  storage_.TakeUnflushed();  // in flight, and then its commit fails
  ASSERT_TRUE(storage_.Put("k", "lost too").ok());
  ASSERT_TRUE(storage_.SetAlarm(99).ok());
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  const uint64_t written = storage_.written();

  storage_.Reset();
  EXPECT_FALSE(storage_.in_transaction());
  EXPECT_FALSE(storage_.has_unflushed());
  EXPECT_EQ(storage_.cached_bytes(), 0u);
  EXPECT_EQ(storage_.known_alarm(), std::nullopt);
  EXPECT_EQ(storage_.written(), written);
  const int gets = backend_.gets;
  EXPECT_EQ(MustGet("k"), "durable");
  EXPECT_EQ(MustGet("other"), std::nullopt);
  EXPECT_EQ(backend_.gets, gets + 2);
  EXPECT_EQ(*storage_.GetAlarm(), 7);
  // Nothing is in flight any more: the next batch is the only one.
  ASSERT_TRUE(storage_.Put("k", "new").ok());
  GroupCommit();
  EXPECT_EQ(*backend_.memory.Get(kObject, "k"), "new");
}

TEST_F(StorageTest, AfterBreakEveryOperationFailsWithItsStatusUntilReset) {
  Stored({{"k", "durable"}});
  ASSERT_TRUE(storage_.Put("k", "lost").ok());
  storage_.Break(Status::IOError("commit failed"));
  EXPECT_FALSE(storage_.has_unflushed());
  EXPECT_EQ(storage_.Get("k").status().code(), Code::kIOError);
  EXPECT_EQ(storage_.Put("k", "v").code(), Code::kIOError);
  EXPECT_EQ(storage_.Delete("k").status().code(), Code::kIOError);
  EXPECT_EQ(storage_.List({}).status().code(), Code::kIOError);
  EXPECT_EQ(storage_.BeginTransaction().code(), Code::kIOError);
  EXPECT_EQ(storage_.GetAlarm().status().code(), Code::kIOError);
  EXPECT_EQ(storage_.SetAlarm(5).code(), Code::kIOError);
  EXPECT_EQ(storage_.DeleteAlarm().code(), Code::kIOError);
  EXPECT_FALSE(storage_.has_unflushed());  // nothing failed was recorded
  storage_.Reset();
  EXPECT_EQ(MustGet("k"), "durable");
}

TEST_F(StorageTest, OverLimitKeysAndValuesAreInvalidArgumentsNamingTheLimit) {
  const std::string longest(kMaxKeyBytes, 'k');
  const std::string too_long(kMaxKeyBytes + 1, 'k');
  EXPECT_TRUE(storage_.Put(longest, std::string(kMaxValueBytes, 'v')).ok());
  const uint64_t written = storage_.written();
  for (const Status& s : {storage_.Put(too_long, "v"), storage_.Get(too_long).status(),
                          storage_.Delete(too_long).status()}) {
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("2049"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("2048"), std::string::npos) << s.message();
  }
  for (const Status& s :
       {storage_.Put("", "v"), storage_.Get("").status(), storage_.Delete("").status()}) {
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("empty"), std::string::npos) << s.message();
  }
  Status big = storage_.Put("k", std::string(kMaxValueBytes + 1, 'v'));
  EXPECT_EQ(big.code(), Code::kInvalidArgument);
  EXPECT_NE(big.message().find("131073"), std::string::npos) << big.message();
  EXPECT_NE(big.message().find("131072"), std::string::npos) << big.message();
  EXPECT_EQ(storage_.written(), written);
  EXPECT_EQ(MustGet("k"), std::nullopt);
}

TEST_F(StorageTest, TheAlarmIsLoadedLazilyOnce) {
  ASSERT_TRUE(backend_.Commit({ObjectBatch{kObject, {}, ObjectBatch::Alarm::kSet, 500}}).ok());
  EXPECT_EQ(storage_.known_alarm(), std::nullopt);  // never loaded
  EXPECT_EQ(backend_.alarm_reads, 0);
  EXPECT_EQ(*storage_.GetAlarm(), 500);
  EXPECT_EQ(*storage_.GetAlarm(), 500);
  EXPECT_EQ(backend_.alarm_reads, 1);
  EXPECT_EQ(storage_.known_alarm(), 500);
}

TEST_F(StorageTest, SettingAnAlarmNeedsNoBackendRead) {
  ASSERT_TRUE(storage_.SetAlarm(10).ok());
  EXPECT_EQ(*storage_.GetAlarm(), 10);
  ASSERT_TRUE(storage_.DeleteAlarm().ok());
  EXPECT_EQ(*storage_.GetAlarm(), std::nullopt);
  EXPECT_EQ(storage_.known_alarm(), std::nullopt);
  EXPECT_EQ(backend_.alarm_reads, 0);
}

TEST_F(StorageTest, AnAlarmAtOrBeforeTimeZeroOrPastYear9999IsInvalid) {
  for (int64_t t : {int64_t{0}, int64_t{-1}, INT64_MIN, kMaxAlarmMs + 1, INT64_MAX}) {
    Status s = storage_.SetAlarm(t);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find(std::to_string(t)), std::string::npos) << s.message();
  }
  EXPECT_FALSE(storage_.has_unflushed());
  EXPECT_EQ(storage_.written(), 0u);
}

TEST_F(StorageTest, AnAlarmChangeAppearsInTakeUnflushedExactlyOnce) {
  ASSERT_TRUE(storage_.SetAlarm(100).ok());
  ASSERT_TRUE(storage_.SetAlarm(200).ok());
  EXPECT_EQ(storage_.written(), 2u);
  ASSERT_TRUE(storage_.has_unflushed());
  ObjectBatch batch = storage_.TakeUnflushed();
  EXPECT_EQ(batch.alarm, ObjectBatch::Alarm::kSet);
  EXPECT_EQ(batch.alarm_ms, 200);
  EXPECT_TRUE(batch.writes.empty());
  EXPECT_FALSE(storage_.has_unflushed());
  EXPECT_EQ(storage_.TakeUnflushed().alarm, ObjectBatch::Alarm::kUnchanged);

  ASSERT_TRUE(storage_.SetAlarm(300).ok());
  ASSERT_TRUE(storage_.DeleteAlarm().ok());
  batch = storage_.TakeUnflushed();
  EXPECT_EQ(batch.alarm, ObjectBatch::Alarm::kDeleted);
  EXPECT_EQ(storage_.TakeUnflushed().alarm, ObjectBatch::Alarm::kUnchanged);
}

TEST_F(StorageTest, AlarmChangesApplyAtOnceEvenInsideATransaction) {
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  ASSERT_TRUE(storage_.SetAlarm(100).ok());
  EXPECT_EQ(storage_.written(), 1u);
  ASSERT_TRUE(storage_.RollbackTransaction().ok());
  EXPECT_EQ(*storage_.GetAlarm(), 100);
  EXPECT_EQ(storage_.TakeUnflushed().alarm, ObjectBatch::Alarm::kSet);
}

TEST_F(StorageTest, ListMergesTheTransactionAndTheCacheOverTheBackendInByteOrder) {
  Stored({{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}, {"d\0"s, "1"}, {"e\xff"s, "1"}});
  ASSERT_TRUE(storage_.Put("b", "2").ok());  // replaces a stored row
  EXPECT_TRUE(MustDelete("c"));              // hides a stored row
  ASSERT_TRUE(storage_.Put("e", "2").ok());  // not stored yet
  ASSERT_TRUE(storage_.BeginTransaction().ok());
  EXPECT_TRUE(MustDelete("a"));
  ASSERT_TRUE(storage_.Put("f", "3").ok());
  ASSERT_TRUE(storage_.Put("b", "3").ok());
  Result<KeyValues> all = storage_.List({});
  ASSERT_TRUE(all.ok());
  const KeyValues want = {{"b", "3"}, {"d", "1"},      {"d\0"s, "1"},
                          {"e", "2"}, {"e\xff"s, "1"}, {"f", "3"}};
  EXPECT_EQ(*all, want);
  EXPECT_EQ(MustList({"d", "", "", 0}), (std::vector<std::string>{"d", "d\0"s}));
  EXPECT_EQ(MustList({"", "c", "e\xff", 0}), (std::vector<std::string>{"d", "d\0"s, "e"}));
  EXPECT_EQ(MustList({"", "", "", 2}), (std::vector<std::string>{"b", "d"}));
  EXPECT_EQ(MustList({"e", "e\x01", "", 1}), std::vector<std::string>{"e\xff"s});
}

TEST_F(StorageTest, ListFetchesMoreWhenCachedDeletionsHideRowsToFillTheLimit) {
  std::vector<ObjectBatch::Write> stored;
  for (int i = 10; i < 40; ++i) stored.push_back({"k" + std::to_string(i), "v"});
  Stored(stored);
  for (int i = 10; i < 30; ++i) EXPECT_TRUE(MustDelete("k" + std::to_string(i)));
  backend_.lists = 0;
  EXPECT_EQ(MustList({"k", "", "", 5}),
            (std::vector<std::string>{"k30", "k31", "k32", "k33", "k34"}));
  EXPECT_GT(backend_.lists, 1);
  EXPECT_EQ(MustList({"k", "", "", 0}).size(), 10u);
  EXPECT_EQ(MustList({"k", "k35", "", 100}).size(), 5u);
}

TEST_F(StorageTest, ABackendErrorPassesUpAndLeavesTheCacheAsItWas) {
  Stored({{"k", "v"}});
  ASSERT_TRUE(storage_.Put("dirty", "v").ok());
  const size_t bytes = storage_.cached_bytes();
  const uint64_t written = storage_.written();
  backend_.fail_reads = true;
  EXPECT_EQ(storage_.Get("k").status().code(), Code::kIOError);
  EXPECT_EQ(storage_.Delete("k").status().code(), Code::kIOError);
  EXPECT_EQ(storage_.List({}).status().code(), Code::kIOError);
  EXPECT_EQ(storage_.GetAlarm().status().code(), Code::kIOError);
  EXPECT_EQ(storage_.cached_bytes(), bytes);
  EXPECT_EQ(storage_.written(), written);  // the failed delete wrote nothing
  EXPECT_EQ(storage_.known_alarm(), std::nullopt);
  backend_.fail_reads = false;
  EXPECT_EQ(MustGet("k"), "v");
  EXPECT_EQ(*storage_.GetAlarm(), std::nullopt);
}

// ---- listings with a byte cap ----

TEST_F(StorageTest, AListingPastMaxBytesIsResourceExhaustedNamingTheCapAndOneWithinItIsWhole) {
  Stored({{"a", "12345"}, {"c", "123"}});
  ASSERT_TRUE(storage_.Put("b", "1").ok());  // cached, not stored yet: counted too
  const KeyValues all = {{"a", "12345"}, {"b", "1"}, {"c", "123"}};
  const uint64_t bytes = EncodedBytes(all);  // 4 + 14 + 10 + 12 = 40
  ASSERT_EQ(bytes, 40u);
  ListOptions opts;
  opts.max_bytes = bytes;
  Result<KeyValues> got = storage_.List(opts);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, all);
  opts.max_bytes = bytes - 1;
  got = storage_.List(opts);
  EXPECT_EQ(got.status().code(), Code::kResourceExhausted);
  EXPECT_NE(got.status().message().find("39 bytes"), std::string::npos) << got.status().ToString();
  opts.limit = 2;  // a page that fits is fine
  EXPECT_EQ(MustList(opts), (std::vector<std::string>{"a", "b"}));
  opts = {};
  opts.max_bytes = 3;  // not even the count fits
  EXPECT_EQ(storage_.List(opts).status().code(), Code::kResourceExhausted);
}

TEST_F(StorageTest, ACappedListingReadsTheBackendInPagesThatFitTheCapAndStopsPastIt) {
  constexpr int kRows = 40;  // ~5 MiB stored
  std::vector<ObjectBatch::Write> stored;
  for (int i = 10; i < 10 + kRows; ++i) stored.push_back({"k" + std::to_string(i), Big("v")});
  Stored(stored);
  constexpr uint64_t kMaxRowBytes = 8 + kMaxKeyBytes + kMaxValueBytes;
  ListOptions opts;
  opts.max_bytes = 3 * kMaxRowBytes;  // 3 of these rows fit, not 4
  for (uint32_t limit : {0u, 1000u}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    opts.limit = limit;
    backend_.listed_rows = 0;
    backend_.largest_page_bytes = 0;
    EXPECT_EQ(storage_.List(opts).status().code(), Code::kResourceExhausted);
    // The host held at most the cap in rows plus one page, whatever the object stored.
    EXPECT_LE(backend_.largest_page_bytes, opts.max_bytes);
    EXPECT_LE(backend_.listed_rows, 6u);
  }
  opts.limit = 3;
  EXPECT_EQ(MustList(opts), (std::vector<std::string>{"k10", "k11", "k12"}));
}

// The fault loop: a capped listing of several pages fails at page 1, 2, 3 ...
// Each failure passes up and leaves the object as it was; past the last page
// the listing is whole.
TEST_F(StorageTest, ACappedListingFailingAtAnyPageLeavesTheObjectAsItWas) {
  std::vector<ObjectBatch::Write> stored;
  for (int i = 10; i < 20; ++i) stored.push_back({"k" + std::to_string(i), Big("v")});
  Stored(stored);
  ASSERT_TRUE(storage_.Put("k15", "small").ok());
  ASSERT_TRUE(MustDelete("k17"));
  const size_t bytes = storage_.cached_bytes();
  const uint64_t written = storage_.written();
  const Result<KeyValues> want = storage_.List({});
  ASSERT_TRUE(want.ok());
  ListOptions opts;
  opts.max_bytes = EncodedBytes(*want);  // it just fits, in pages of 7 of these rows
  for (int fail = 1;; ++fail) {
    SCOPED_TRACE("failing page " + std::to_string(fail));
    ASSERT_LT(fail, 100) << "the listing never finished";
    backend_.lists = 0;
    backend_.fail_list = fail;
    Result<KeyValues> got = storage_.List(opts);
    EXPECT_EQ(storage_.cached_bytes(), bytes);
    EXPECT_EQ(storage_.written(), written);
    if (got.ok()) {
      EXPECT_EQ(*got, *want);
      EXPECT_GE(backend_.lists, 2);         // it took several pages ...
      EXPECT_EQ(fail, backend_.lists + 1);  // ... and each failed once
      break;
    }
    EXPECT_EQ(got.status().code(), Code::kIOError);
  }
  backend_.fail_list = 0;
}

// ---- the model check ----

// The object as an obviously correct model sees it: what was applied, the
// open transaction, the alarm; the backend (a MemoryBackend) is the disk.
// Each Step runs one random operation on Storage and on the model and checks
// they agree.
class Simulation {
 public:
  struct Stats {
    int trims = 0, resets = 0, multi_page_lists = 0, commits = 0, in_flight_reads = 0;
    int refused_lists = 0;  // past their max_bytes
  };

  Simulation(uint64_t seed, bool heavy) : rng_(seed), heavy_(heavy) {}
  void Step();
  const Stats& stats() const { return stats_; }

 private:
  using View = std::map<std::string, const std::string*>;

  size_t Below(size_t n) { return rng_() % n; }
  std::string RandomKey(size_t max_len);
  // Heavy runs use more keys, so more of them hold big values at once.
  std::string RandomValue();
  ListOptions RandomList();
  // The model's answer to every read: applied writes under the transaction's.
  View Visible() const;
  // A put or delete in the model.
  void Write(const std::string& key, std::optional<std::string> value);

  void DoPut();
  void DoDelete();
  void DoGet();
  void DoList();
  void DoTransaction();
  void DoTakeUnflushed();
  void DoCommitBatch();
  void DoReset();
  void DoAlarm();
  // With nothing in flight or unflushed, the backend must hold the model.
  void CheckQuiescent();

  std::mt19937_64 rng_;
  const bool heavy_;
  const size_t max_key_ = heavy_ ? 4 : 3;
  CountingBackend backend_;
  Storage storage_{&backend_, kObject};
  int values_ = 0;

  std::map<std::string, std::string> applied_;
  std::optional<std::map<std::string, std::optional<std::string>>> txn_;
  std::optional<int64_t> alarm_;
  uint64_t written_ = 0;
  std::deque<ObjectBatch> in_flight_;
  Stats stats_;
};

// Keys of 1 to `max_len` bytes over a, b, c, \0 and \xff: few enough that
// keys repeat and share prefixes, with the bytes that break naive ordering.
std::string Simulation::RandomKey(size_t max_len) {
  static constexpr char kAlphabet[] = {'a', 'b', 'c', '\0', '\xff'};
  std::string key;
  const size_t n = 1 + Below(max_len);
  for (size_t i = 0; i < n; ++i) key.push_back(kAlphabet[Below(sizeof(kAlphabet))]);
  return key;
}

// Heavy runs write mostly ~128 KiB values, so the cache passes
// kMaxCacheBytes after ~64 of them and trimming runs.
std::string Simulation::RandomValue() {
  const std::string tag = std::to_string(++values_) + "/";
  if (heavy_ && Below(8) != 0) return Big(tag, kMaxValueBytes - Below(64));
  return Below(8) == 0 ? "" : tag + std::string(Below(20), 'v');
}

ListOptions Simulation::RandomList() {
  ListOptions opts;
  if (Below(3) != 0) opts.prefix = RandomKey(2);
  if (Below(2) == 0) opts.start = RandomKey(3);
  if (Below(3) == 0) opts.end = RandomKey(3);
  // Whole listings of heavy values are costly; most lists are pages.
  opts.limit = Below(heavy_ ? 8 : 4) == 0 ? 0 : 1 + static_cast<uint32_t>(Below(6));
  // A cap around the size of a few pairs, so listings fall on both sides of it.
  if (Below(3) == 0) opts.max_bytes = 1 + Below(heavy_ ? 4 * (kMaxValueBytes + 16) : 80);
  return opts;
}

Simulation::View Simulation::Visible() const {
  View view;
  for (const auto& [key, value] : applied_) view[key] = &value;
  if (!txn_.has_value()) return view;
  for (const auto& [key, slot] : *txn_) {
    if (slot.has_value()) {
      view[key] = &*slot;
    } else {
      view.erase(key);
    }
  }
  return view;
}

void Simulation::Write(const std::string& key, std::optional<std::string> value) {
  if (txn_.has_value()) {
    (*txn_)[key] = std::move(value);
    return;
  }
  if (value.has_value()) {
    applied_[key] = std::move(*value);
  } else {
    applied_.erase(key);
  }
  ++written_;
}

void Simulation::Step() {
  const size_t r = Below(100);
  if (r < 25) {
    DoPut();
  } else if (r < 35) {
    DoDelete();
  } else if (r < 50) {
    DoGet();
  } else if (r < 60) {
    DoList();
  } else if (r < 68) {
    DoTransaction();
  } else if (r < 78) {
    DoTakeUnflushed();
  } else if (r < 90) {
    DoCommitBatch();
  } else if (r < 92) {
    // Rarer in heavy runs, so the cache has time to fill past its cap.
    if (!heavy_ || Below(10) == 0) DoReset();
  } else {
    DoAlarm();
  }
  EXPECT_EQ(storage_.written(), written_);
  EXPECT_EQ(storage_.in_transaction(), txn_.has_value());
}

void Simulation::DoPut() {
  const std::string key = RandomKey(max_key_);
  std::string value = RandomValue();
  Status s = storage_.Put(key, value);
  EXPECT_TRUE(s.ok()) << s.ToString();
  Write(key, std::move(value));
}

void Simulation::DoDelete() {
  const std::string key = RandomKey(max_key_);
  const bool existed = Visible().contains(key);
  Result<bool> got = storage_.Delete(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, existed) << "delete of '" << key << "'";
  Write(key, std::nullopt);
}

void Simulation::DoGet() {
  const std::string key = RandomKey(max_key_);
  const View view = Visible();
  auto it = view.find(key);
  if (!in_flight_.empty() && storage_.cached_bytes() > kMaxCacheBytes) ++stats_.in_flight_reads;
  const size_t bytes = storage_.cached_bytes();
  Result<std::optional<std::string>> got = storage_.Get(key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->has_value(), it != view.end()) << "get of '" << key << "'";
  if (it != view.end()) {
    EXPECT_TRUE(**got == *it->second) << "get of '" << key << "'";
  }
  if (storage_.cached_bytes() < bytes) ++stats_.trims;
}

void Simulation::DoList() {
  const ListOptions opts = RandomList();
  std::vector<std::pair<std::string, const std::string*>> want;
  for (const auto& [key, value] : Visible()) {
    if (opts.limit != 0 && want.size() == opts.limit) break;
    if (!key.starts_with(opts.prefix) || key < opts.start) continue;
    if (!opts.end.empty() && key >= opts.end) continue;
    want.emplace_back(key, value);
  }
  uint64_t bytes = 4;
  for (const auto& [key, value] : want) bytes += 8 + key.size() + value->size();
  const int lists = backend_.lists;
  Result<KeyValues> got = storage_.List(opts);
  if (backend_.lists - lists > 1) ++stats_.multi_page_lists;
  if (opts.max_bytes != 0 && bytes > opts.max_bytes) {
    EXPECT_EQ(got.status().code(), Code::kResourceExhausted) << bytes << " > " << opts.max_bytes;
    ++stats_.refused_lists;
    return;
  }
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), want.size()) << "list of prefix '" << opts.prefix << "'";
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ((*got)[i].first, want[i].first) << "entry " << i;
    ASSERT_TRUE((*got)[i].second == *want[i].second) << "value of '" << want[i].first << "'";
  }
}

void Simulation::DoTransaction() {
  const bool misuse = Below(6) == 0;
  if (!txn_.has_value()) {
    if (misuse) {
      EXPECT_EQ(storage_.CommitTransaction().code(), Code::kInvalidArgument);
      EXPECT_EQ(storage_.RollbackTransaction().code(), Code::kInvalidArgument);
      return;
    }
    ASSERT_TRUE(storage_.BeginTransaction().ok());
    txn_.emplace();
    return;
  }
  if (misuse) {
    EXPECT_EQ(storage_.BeginTransaction().code(), Code::kInvalidArgument);
    return;
  }
  auto writes = std::move(*txn_);
  txn_.reset();
  if (Below(3) == 0) {
    ASSERT_TRUE(storage_.RollbackTransaction().ok());
    return;
  }
  ASSERT_TRUE(storage_.CommitTransaction().ok());
  for (auto& [key, slot] : writes) {
    if (slot.has_value()) {
      applied_[key] = std::move(*slot);
    } else {
      applied_.erase(key);
    }
  }
  if (!writes.empty()) ++written_;
  ++stats_.commits;
}

void Simulation::DoTakeUnflushed() {
  if (in_flight_.size() >= 3) return;
  ObjectBatch batch = storage_.TakeUnflushed();
  EXPECT_EQ(batch.object, kObject);
  EXPECT_FALSE(storage_.has_unflushed());
  for (size_t i = 1; i < batch.writes.size(); ++i) {
    EXPECT_LT(batch.writes[i - 1].key, batch.writes[i].key) << "not coalesced per key";
  }
  in_flight_.push_back(std::move(batch));
}

void Simulation::DoCommitBatch() {
  if (in_flight_.empty()) return;
  ASSERT_TRUE(backend_.Commit({in_flight_.front()}).ok());
  in_flight_.pop_front();
  const size_t bytes = storage_.cached_bytes();
  storage_.BatchCommitted();
  if (storage_.cached_bytes() < bytes) ++stats_.trims;
  if (!in_flight_.empty()) return;
  // Only entries pinned by a write not yet durable may keep the cache past its cap.
  EXPECT_TRUE(storage_.cached_bytes() <= kMaxCacheBytes || storage_.has_unflushed() ||
              storage_.in_transaction());
  // Comparing the whole backend copies every value: heavy runs sample it.
  if (!storage_.has_unflushed() && (!heavy_ || Below(8) == 0)) CheckQuiescent();
}

void Simulation::CheckQuiescent() {
  Result<KeyValues> stored = backend_.memory.List(kObject, {});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), applied_.size()) << "the backend does not hold what was applied";
  size_t i = 0;
  for (const auto& [key, value] : applied_) {
    ASSERT_EQ((*stored)[i].first, key);
    ASSERT_TRUE((*stored)[i].second == value) << "stored value of '" << key << "'";
    ++i;
  }
  EXPECT_EQ(*backend_.memory.GetAlarm(kObject), alarm_);
}

// A failed commit: the batches in flight are never committed, the object is
// reset, and the model becomes what the backend holds.
void Simulation::DoReset() {
  in_flight_.clear();
  storage_.Reset();
  EXPECT_EQ(storage_.cached_bytes(), 0u);
  EXPECT_FALSE(storage_.has_unflushed());
  txn_.reset();
  applied_.clear();
  Result<KeyValues> stored = backend_.memory.List(kObject, {});
  ASSERT_TRUE(stored.ok());
  for (auto& [key, value] : *stored) applied_.emplace(std::move(key), std::move(value));
  alarm_ = *backend_.memory.GetAlarm(kObject);
  ++stats_.resets;
}

void Simulation::DoAlarm() {
  const size_t r = Below(8);
  if (r == 0) {
    EXPECT_EQ(storage_.SetAlarm(-static_cast<int64_t>(Below(2))).code(), Code::kInvalidArgument);
  } else if (r < 4) {
    const int64_t t = 1 + static_cast<int64_t>(Below(1'000'000));
    ASSERT_TRUE(storage_.SetAlarm(t).ok());
    alarm_ = t;
    ++written_;
  } else if (r < 6) {
    ASSERT_TRUE(storage_.DeleteAlarm().ok());
    alarm_.reset();
    ++written_;
  } else {
    Result<std::optional<int64_t>> got = storage_.GetAlarm();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, alarm_);
  }
}

// Even seeds write small values; odd seeds mostly 128 KiB ones, which push
// the cache past its cap while batches are in flight and make it trim.
TEST(StorageModelTest, AgreesWithAMapModelUnderRandomOperationsOverManySeeds) {
  constexpr int kSeeds = 60;
  constexpr int kSteps = 1500;
  Simulation::Stats total;
  for (int seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Simulation sim(seed, /*heavy=*/seed % 2 == 1);
    for (int step = 0; step < kSteps; ++step) {
      sim.Step();
      if (::testing::Test::HasFailure()) {
        FAIL() << "at step " << step;
      }
    }
    total.trims += sim.stats().trims;
    total.resets += sim.stats().resets;
    total.multi_page_lists += sim.stats().multi_page_lists;
    total.commits += sim.stats().commits;
    total.in_flight_reads += sim.stats().in_flight_reads;
    total.refused_lists += sim.stats().refused_lists;
  }
  // The run must really have exercised every path it is here for.
  EXPECT_GT(total.trims, 0);
  EXPECT_GT(total.resets, 0);
  EXPECT_GT(total.multi_page_lists, 0);
  EXPECT_GT(total.commits, 0);
  EXPECT_GT(total.in_flight_reads, 0);
  EXPECT_GT(total.refused_lists, 0);
  std::cout << "[ info     ] " << total.trims << " trims, " << total.resets << " resets, "
            << total.multi_page_lists << " lists of several pages, " << total.commits
            << " committed transactions, " << total.in_flight_reads
            << " reads past the cap with a batch in flight, " << total.refused_lists
            << " listings refused past their byte cap\n";
}

}  // namespace
}  // namespace edgelab::objects
