// kv/sqlite_store_test.cc: what is particular to SqliteStore: durability
// across reopen, etags across restarts, open errors, and the fault loop. The
// Store contract itself is in store_conformance_test.cc.
#include "kv/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/fake_clock.h"
#include "testing/fault_vfs.h"
#include "testing/temp_dir.h"

namespace edgelab::kv {
namespace {

using Outcome = PutResult::Outcome;

std::unique_ptr<SqliteStore> MustOpen(const std::string& path, sched::Clock* clock) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, clock);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

uint64_t SequenceOf(const std::string& etag) {
  return std::stoull(etag.substr(etag.find('-') + 1), nullptr, 16);
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  test::FakeClock clock_;
  const std::string path_ = dir_.File("kv.db");
};

TEST_F(SqliteStoreTest, DataSurvivesCloseAndReopen) {
  PutOptions opts;
  opts.metadata = "meta";
  opts.expiration_ms = clock_.WallMillis() + 60'000;
  std::string etag;
  {
    auto store = MustOpen(path_, &clock_);
    ASSERT_NE(store, nullptr);
    etag = store->Put("ns", "k", std::string("v\0v", 3), opts)->etag;
    ASSERT_TRUE(store->Put("ns", "gone", "v", {}).ok());
    ASSERT_TRUE(store->Delete("ns", "gone").ok());
  }
  auto store = MustOpen(path_, &clock_);
  ASSERT_NE(store, nullptr);
  Result<Entry> got = store->Get("ns", "k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->value, std::string("v\0v", 3));
  EXPECT_EQ(got->metadata, "meta");
  EXPECT_EQ(got->etag, etag);
  EXPECT_EQ(got->expiration_ms, opts.expiration_ms);
  EXPECT_EQ(store->Get("ns", "gone").status().code(), Code::kNotFound);
  EXPECT_EQ(store->List("ns", "", "", 10)->keys.size(), 1u);
}

TEST_F(SqliteStoreTest, EtagsAfterReopenNeverRepeatEarlierOnes) {
  std::set<std::string> seen;
  uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    auto store = MustOpen(path_, &clock_);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 10; ++i) {
      const std::string etag = store->Put("ns", "k" + std::to_string(i % 3), "v", {})->etag;
      EXPECT_TRUE(seen.insert(etag).second) << "etag reused after reopen: " << etag;
      // The file's epoch stays, so the persisted sequence alone keeps them apart.
      EXPECT_GT(SequenceOf(etag), last) << etag;
      last = SequenceOf(etag);
    }
  }
}

TEST_F(SqliteStoreTest, ARecreatedFileGetsANewEpochSoOldEtagsNeverMatch) {
  std::string old_etag;
  {
    auto store = MustOpen(path_, &clock_);
    old_etag = store->Put("ns", "k", "v", {})->etag;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  auto store = MustOpen(path_, &clock_);
  const std::string new_etag = store->Put("ns", "k", "v", {})->etag;
  EXPECT_EQ(SequenceOf(new_etag), SequenceOf(old_etag));
  EXPECT_NE(new_etag, old_etag);  // equal epochs: probability 2^-32
}

TEST_F(SqliteStoreTest, TwoStoresOnOneFileNeverMintTheSameEtag) {
  auto a = MustOpen(path_, &clock_);
  auto b = MustOpen(path_, &clock_);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    SqliteStore* s = i % 3 == 0 ? b.get() : a.get();
    const std::string etag = s->Put("ns", "k", std::to_string(i), {})->etag;
    EXPECT_TRUE(seen.insert(etag).second) << etag;
  }
  EXPECT_EQ(a->Get("ns", "k")->value, "19");
}

TEST_F(SqliteStoreTest, CasLoopsThroughTwoStoresOnOneFileLoseNothing) {
  auto a = MustOpen(path_, &clock_);
  auto b = MustOpen(path_, &clock_);
  ASSERT_TRUE(a->Put("ns", "n", "0", {}).ok());
  constexpr int kTarget = 200;
  std::atomic<int> wins{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, s = t % 2 == 0 ? a.get() : b.get()] {
      for (;;) {
        Result<Entry> cur = s->Get("ns", "n");
        if (!cur.ok()) return void(++errors);
        const int n = std::stoi(cur->value);
        if (n >= kTarget) return;
        PutOptions opts;
        opts.condition = PutOptions::Condition::kIfMatch;
        opts.if_match = cur->etag;
        Result<PutResult> put = s->Put("ns", "n", std::to_string(n + 1), opts);
        if (!put.ok()) return void(++errors);
        if (put->outcome == Outcome::kStored) ++wins;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wins.load(), kTarget);
  EXPECT_EQ(a->Get("ns", "n")->value, std::to_string(kTarget));
}

TEST_F(SqliteStoreTest, OpenInAMissingDirectoryIsAnIOErrorNamingThePath) {
  const std::string path = dir_.File("no/such/dir/kv.db");
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kIOError);
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, OpenUnderARegularFileIsAnIOErrorNamingThePath) {
  std::ofstream(dir_.File("plain")) << "x";
  const std::string path = dir_.File("plain/kv.db");
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kIOError);
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, OpenInAReadOnlyDirectoryIsAnIOErrorNamingThePath) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes through directory permissions";
  const std::string ro = dir_.File("ro");
  ASSERT_EQ(mkdir(ro.c_str(), 0500), 0);
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(ro + "/kv.db", &clock_);
  chmod(ro.c_str(), 0700);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kIOError);
  EXPECT_NE(store.status().message().find(ro), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, OpenOnAFileThatIsNotADatabaseIsCorruptionNamingThePath) {
  std::ofstream(path_) << std::string(8192, 'x');
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kCorruption);
  EXPECT_NE(store.status().message().find(path_), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, OpenRefusesASchemaFromANewerBuild) {
  MustOpen(path_, &clock_).reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("99"), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, FlushRemovesExpiredRowsFromTheFile) {
  auto store = MustOpen(path_, &clock_);
  PutOptions opts;
  opts.expiration_ms = clock_.WallMillis() + 10;
  ASSERT_TRUE(store->Put("ns", "ttl", "v", opts).ok());
  clock_.Advance(10);
  ASSERT_TRUE(store->Flush().ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM kv", -1, &count, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  const int rows = sqlite3_column_int(count, 0);
  sqlite3_finalize(count);
  sqlite3_close(db);
  EXPECT_EQ(rows, 0);
}

// The fault loop. Each run fails the Nth write or sync (N = 1, 2, 3, ...)
// during open, a sequence of puts and deletes, a flush and the close, then
// reopens without faults and checks that every key holds a state some
// history allows: the last operation reported OK, or any later one that
// reported an error (it may or may not have reached the disk). It stops at
// the first run in which the Nth call never came.
class SqliteFaultLoopTest : public ::testing::TestWithParam<bool> {};

struct Op {
  std::optional<std::string> value;  // nullopt: a delete
  bool ok;
};
using History = std::map<std::string, std::vector<Op>>;

// The workload: puts over 5 keys with values of 10 B to ~9 KB (several
// pages, so torn writes land mid-value), a delete and a flush mid-way.
// Returns how many operations reported an error.
int RunWorkload(SqliteStore& store, History& history, std::set<std::string>& etags) {
  int errors = 0;
  for (int i = 0; i < 14; ++i) {
    const std::string key = "k" + std::to_string(i % 5);
    if (i == 9) {
      const bool ok = store.Delete("ns", key).ok();
      errors += ok ? 0 : 1;
      history[key].push_back({std::nullopt, ok});
      continue;
    }
    if (i == 7) store.Flush().IgnoreError();
    const std::string value = std::to_string(i) + std::string(10 + (i * 1237) % 9000, 'a' + i);
    Result<PutResult> put = store.Put("ns", key, value, {});
    history[key].push_back({value, put.ok()});
    if (put.ok()) {
      EXPECT_TRUE(etags.insert(put->etag).second) << put->etag;
    } else {
      ++errors;
      EXPECT_NE(put.status().message().find("kv.db"), std::string::npos) << put.status().message();
    }
  }
  return errors;
}

// Every state of `ops` that may be on disk.
std::vector<std::optional<std::string>> Allowed(const std::vector<Op>& ops) {
  std::vector<std::optional<std::string>> allowed = {std::nullopt};
  for (const Op& op : ops) {
    if (op.ok) allowed.clear();
    allowed.push_back(op.value);
  }
  return allowed;
}

void CheckAfterReopen(const std::string& path, const History& history,
                      const std::set<std::string>& etags, sched::Clock* clock) {
  auto store = MustOpen(path, clock);
  ASSERT_NE(store, nullptr);
  for (const auto& [key, ops] : history) {
    Result<Entry> got = store->Get("ns", key);
    ASSERT_TRUE(got.ok() || got.status().code() == Code::kNotFound) << got.status().ToString();
    const std::optional<std::string> state =
        got.ok() ? std::optional<std::string>(got->value) : std::nullopt;
    const auto allowed = Allowed(ops);
    EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), state) != allowed.end())
        << "key " << key << " holds " << (state ? state->substr(0, 12) + "..." : "nothing")
        << ": a write reported stored was lost";
  }
  for (int i = 0; i < 3; ++i) {
    Result<PutResult> put = store->Put("ns", "after", "v", {});
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(etags.count(put->etag), 0u) << "etag reused after faults: " << put->etag;
  }
}

TEST_P(SqliteFaultLoopTest, NothingReportedStoredIsLostWhenTheNthWriteOrSyncFails) {
  const bool torn = GetParam();
  test::FakeClock clock;
  int faults = 0, open_errors = 0, op_errors = 0;
  for (int64_t n = 1;; ++n) {
    SCOPED_TRACE("failing I/O call " + std::to_string(n));
    test::TempDir dir;
    const std::string path = dir.File("kv.db");
    History history;
    std::set<std::string> etags;
    bool fired = false;
    {
      test::FaultVfs vfs;
      vfs.FailAt(n, torn);
      {
        Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, &clock);
        if (store.ok()) {
          op_errors += RunWorkload(**store, history, etags);
        } else {
          ++open_errors;
        }
      }  // closing checkpoints, so the fault may land here too
      fired = vfs.fired();
    }
    CheckAfterReopen(path, history, etags, &clock);
    if (HasFatalFailure() || !fired) break;
    ++faults;
    ASSERT_LT(n, 5000) << "the workload never finishes without a fault";
  }
  // The loop must really have exercised something.
  EXPECT_GT(faults, 10);
  EXPECT_GT(op_errors, 0);
  std::cout << "[ info     ] " << faults << " runs with a fault: " << open_errors
            << " failed opens, " << op_errors << " failed operations\n";
}

INSTANTIATE_TEST_SUITE_P(CleanAndTornWrites, SqliteFaultLoopTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Torn" : "Clean"; });

}  // namespace
}  // namespace edgelab::kv
