// objects/sqlite_backend_test.cc: what is particular to SqliteBackend:
// durability across reopen, refusing files that are not ours, and the fault
// loop. The Backend contract itself is in backend_conformance_test.cc.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "objects/backend.h"
#include "testing/fault_vfs.h"
#include "testing/temp_dir.h"

namespace edgelab::objects {
namespace {

std::unique_ptr<SqliteBackend> MustOpen(const std::string& path) {
  Result<std::unique_ptr<SqliteBackend>> backend = SqliteBackend::Open(path);
  EXPECT_TRUE(backend.ok()) << backend.status().ToString();
  return backend.ok() ? std::move(backend).value() : nullptr;
}

// Runs `sql` on `path` with a plain connection, as another program would.
void ExecOn(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  const std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

class SqliteBackendTest : public ::testing::Test {
 protected:
  // Open must fail with `code` and a message naming the file.
  void ExpectOpenFails(const std::string& path, Code code, const std::string& also = "") {
    Result<std::unique_ptr<SqliteBackend>> backend = SqliteBackend::Open(path);
    ASSERT_FALSE(backend.ok());
    EXPECT_EQ(backend.status().code(), code) << backend.status().ToString();
    EXPECT_NE(backend.status().message().find(path), std::string::npos)
        << backend.status().message();
    EXPECT_NE(backend.status().message().find(also), std::string::npos)
        << backend.status().message();
  }

  test::TempDir dir_;
  const std::string path_ = dir_.File("objects.db");
  const ObjectKey object_{"Counter", "id"};
};

TEST_F(SqliteBackendTest, DataAndAlarmsSurviveCloseAndReopen) {
  {
    auto backend = MustOpen(path_);
    ASSERT_NE(backend, nullptr);
    ObjectBatch batch{object_, {{"k", std::string("v\0v", 3)}, {"gone", "v"}}};
    batch.alarm = ObjectBatch::Alarm::kSet;
    batch.alarm_ms = 1234;
    ASSERT_TRUE(backend->Commit({batch}).ok());
    ASSERT_TRUE(backend->Commit({ObjectBatch{object_, {{"gone", std::nullopt}}}}).ok());
  }
  auto backend = MustOpen(path_);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(*backend->Get(object_, "k"), std::string("v\0v", 3));
  EXPECT_EQ(*backend->Get(object_, "gone"), std::nullopt);
  EXPECT_EQ(backend->List(object_, {})->size(), 1u);
  EXPECT_EQ(*backend->GetAlarm(object_), 1234);
  ASSERT_EQ(backend->Alarms()->size(), 1u);
  EXPECT_EQ(backend->path(), path_);
}

TEST_F(SqliteBackendTest, OpenInAMissingDirectoryIsAnIOErrorNamingThePath) {
  ExpectOpenFails(dir_.File("no/such/dir/objects.db"), Code::kIOError);
}

TEST_F(SqliteBackendTest, OpenOnAFileThatIsNotADatabaseIsCorruptionNamingThePath) {
  std::ofstream(path_) << std::string(8192, 'x');
  ExpectOpenFails(path_, Code::kCorruption);
}

TEST_F(SqliteBackendTest, OpenOnAnotherProgramsDatabaseIsCorruptionNamingThePath) {
  ExecOn(path_, "CREATE TABLE users(name TEXT)");
  ExpectOpenFails(path_, Code::kCorruption, "not an edgelab Durable Object database");
}

TEST_F(SqliteBackendTest, OpenOnADatabaseWithOurTablesButNoFormatRowIsCorruption) {
  // A KV database has a `meta` table too; the row name tells the kinds apart.
  MustOpen(path_).reset();
  ExecOn(path_, "DELETE FROM meta");
  ExpectOpenFails(path_, Code::kCorruption, "objects_format");
}

TEST_F(SqliteBackendTest, OpenRefusesAFormatFromANewerBuild) {
  MustOpen(path_).reset();
  ExecOn(path_, "UPDATE meta SET value = 99 WHERE name = 'objects_format'");
  ExpectOpenFails(path_, Code::kCorruption, "99");
}

TEST_F(SqliteBackendTest, AnEmptyDatabaseFileIsMadeOurs) {
  ExecOn(path_, "PRAGMA user_version = 0");  // creates a valid, empty database
  auto backend = MustOpen(path_);
  ASSERT_NE(backend, nullptr);
  EXPECT_TRUE(backend->Commit({ObjectBatch{object_, {{"k", "v"}}}}).ok());
}

TEST_F(SqliteBackendTest, ASecondOwnerOfTheFileIsRefusedAtOnceNamingIt) {
  // Two processes serving one objects file would run two instances of each
  // object: the file belongs to the first, and the second learns why.
  auto a = MustOpen(path_);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->Commit({ObjectBatch{object_, {{"k", "from a"}}}}).ok());
  auto b = SqliteBackend::Open(path_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kUnavailable);
  EXPECT_NE(b.status().message().find(path_), std::string::npos) << b.status().message();
  EXPECT_NE(b.status().message().find("in use by another process"), std::string::npos);
  a.reset();  // the lock goes with the owner
  auto c = MustOpen(path_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(*c->Get(object_, "k"), "from a");
}

// ---- the fault loop ----
//
// Each run opens a file, commits a first state, then fails the Nth write or
// sync (N = 1, 2, 3, ...) from the start of a second, larger commit through a
// checkpoint (Flush), commits a third with no fault, closes, and reopens
// without faults. The file must hold the first state with the second commit
// applied whole, or (only if that commit reported an error) not at all, and
// the third. It stops at the first run in which the Nth call never came.
class SqliteBackendFaultLoopTest : public ::testing::TestWithParam<bool> {};

const std::vector<ObjectKey> kObjects = {{"A", "1"}, {"A", "2"}, {"B", "1"}};

// Every key and the alarm of every object in kObjects: what a run checks.
struct Snapshot {
  std::map<ObjectKey, KeyValues> keys;
  std::map<ObjectKey, int64_t> alarms;
  bool operator==(const Snapshot&) const = default;
};

Snapshot Take(Backend& backend) {
  Snapshot snap;
  for (const ObjectKey& o : kObjects) {
    Result<KeyValues> kvs = backend.List(o, {});
    EXPECT_TRUE(kvs.ok()) << kvs.status().ToString();
    if (kvs.ok() && !kvs->empty()) snap.keys[o] = *kvs;
  }
  Result<std::vector<StoredAlarm>> alarms = backend.Alarms();
  EXPECT_TRUE(alarms.ok()) << alarms.status().ToString();
  if (alarms.ok()) {
    for (const StoredAlarm& a : *alarms) snap.alarms[a.object] = a.time_ms;
  }
  return snap;
}

// Values of ~1 to ~5 KB, so one commit spans many pages and a torn write
// lands mid-value.
std::string Value(int round, int i) {
  return std::to_string(round) + ":" + std::string(1000 + (i * 1237) % 4000, 'a' + i % 26);
}

// Round 1 fills every object; round 2 rewrites some keys, deletes others,
// adds new ones and changes the alarms; round 3 is small.
std::vector<ObjectBatch> Round(int round) {
  std::vector<ObjectBatch> batches;
  for (size_t o = 0; o < kObjects.size(); ++o) {
    ObjectBatch batch{kObjects[o], {}};
    for (int i = 0; i < (round == 3 ? 1 : 8); ++i) {
      const int k = round == 2 ? i + 4 : i;
      const bool drop = round == 2 && i % 3 == 0;
      batch.writes.push_back({"key" + std::to_string(k),
                              drop ? std::nullopt : std::optional<std::string>(Value(round, i))});
    }
    if (round != 3) {
      const bool set = round == 1 || o != 0;
      batch.alarm = set ? ObjectBatch::Alarm::kSet : ObjectBatch::Alarm::kDeleted;
      batch.alarm_ms = 1000 * round + static_cast<int64_t>(o);
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

// The snapshots a reopened file may hold, by applying rounds to memory.
Snapshot Expect(const std::vector<int>& rounds) {
  MemoryBackend memory;
  for (int r : rounds) EXPECT_TRUE(memory.Commit(Round(r)).ok());
  return Take(memory);
}

struct RunResult {
  bool fired = false;
  bool second_ok = false;
  bool open_ok = false;
};

RunResult RunOnce(const std::string& path, int64_t n, bool torn) {
  RunResult result;
  test::FaultVfs vfs;  // registered before Open, so the file goes through it
  Result<std::unique_ptr<SqliteBackend>> backend = SqliteBackend::Open(path);
  EXPECT_TRUE(backend.ok()) << backend.status().ToString();
  if (!backend.ok()) return result;
  result.open_ok = true;
  EXPECT_TRUE((*backend)->Commit(Round(1)).ok());
  vfs.FailAt(n, torn);
  Status second = (*backend)->Commit(Round(2));
  result.second_ok = second.ok();
  if (!second.ok()) {
    EXPECT_NE(second.message().find(path), std::string::npos) << second.message();
  }
  (*backend)->Flush().IgnoreError();  // a failed checkpoint loses nothing committed
  result.fired = vfs.fired();
  vfs.FailAt(0);
  // The connection stays usable after a failed commit.
  Status third = (*backend)->Commit(Round(3));
  EXPECT_TRUE(third.ok()) << third.ToString();
  return result;  // the backend closes before the VFS goes
}

TEST_P(SqliteBackendFaultLoopTest, ACommitIsAllOrNothingAndEarlierOnesSurviveTheNthIOFailure) {
  const bool torn = GetParam();
  const Snapshot with_second = Expect({1, 2, 3});
  const Snapshot without_second = Expect({1, 3});
  ASSERT_NE(with_second, without_second);
  int faults = 0, failed_commits = 0;
  for (int64_t n = 1;; ++n) {
    SCOPED_TRACE("failing I/O call " + std::to_string(n));
    test::TempDir dir;
    const std::string path = dir.File("objects.db");
    const RunResult run = RunOnce(path, n, torn);
    ASSERT_TRUE(run.open_ok);
    auto reopened = MustOpen(path);
    ASSERT_NE(reopened, nullptr);
    const Snapshot got = Take(*reopened);
    if (run.second_ok) {
      EXPECT_TRUE(got == with_second) << "a commit reported OK was lost, wholly or in part";
    } else {
      EXPECT_TRUE(got == without_second) << "a failed commit wrote something";
      ++failed_commits;
    }
    if (HasFailure() || !run.fired) break;
    ++faults;
    ASSERT_LT(n, 1000) << "the workload never finishes without a fault";
  }
  // The loop must really have exercised something.
  EXPECT_GT(faults, 5);
  EXPECT_GT(failed_commits, 0);
  std::cout << "[ info     ] " << faults << " runs with a fault: " << failed_commits
            << " failed commits\n";
}

INSTANTIATE_TEST_SUITE_P(CleanAndTornWrites, SqliteBackendFaultLoopTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Torn" : "Clean"; });

}  // namespace
}  // namespace edgelab::objects
