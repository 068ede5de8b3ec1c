// kv/sqlite_store.cc: the SQLite Store. Workload assumed: many small puts
// and gets (values of bytes to kilobytes, the odd value of megabytes), one
// process per file; each put is one short write transaction, so WAL with
// synchronous=NORMAL keeps a put to tens of microseconds (no fsync per put).
#include "kv/sqlite_store.h"

#include <sqlite3.h>

#include <utility>

#include "sqlite/connection.h"

namespace edgelab::kv {

using sqlite::Use;
namespace {

constexpr int kSchemaVersion = 1;
// Long enough to ride out another process's checkpoint; short enough that a
// stuck file shows up as an error rather than a hung request.
constexpr int kBusyTimeoutMs = 5000;

constexpr char kCreateSchema[] =
    "CREATE TABLE IF NOT EXISTS kv("
    "  ns BLOB NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, metadata BLOB NOT NULL,"
    "  etag TEXT NOT NULL, expiration_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(ns, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    // random() draws from the VFS's randomness, so the epoch needs no other source.
    "INSERT OR IGNORE INTO meta VALUES('etag_epoch', random() & 4294967295);"
    "INSERT OR IGNORE INTO meta VALUES('etag_sequence', 0);"
    "PRAGMA user_version = 1;";  // = kSchemaVersion

constexpr char kLive[] = "(expiration_ms = 0 OR expiration_ms > ?3)";

// The smallest byte string greater than every string starting with `prefix`.
// With no such string (prefix empty or all 0xff) it returns kMaxKeyBytes + 1
// bytes of 0xff, which is greater than every key: keys are at most
// kMaxKeyBytes long, so each either differs from it at a smaller byte or is a
// proper prefix of it.
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::string(kMaxKeyBytes + 1, '\xff');
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

std::string ColumnBytes(sqlite3_stmt* stmt, int col) {
  const void* p = sqlite3_column_blob(stmt, col);
  const int n = sqlite3_column_bytes(stmt, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

}  // namespace

SqliteStore::SqliteStore(std::string path, sched::Clock* clock)
    : path_(std::move(path)), clock_(clock) {}

SqliteStore::~SqliteStore() {
  for (Stmt* s : {&get_, &live_etag_, &upsert_, &next_sequence_, &delete_, &list_, &purge_, &begin_,
                  &commit_, &rollback_}) {
    s->reset();
  }
  // The result is dropped on purpose: a failed close leaves the WAL on disk
  // and the next Open recovers from it.
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       sched::Clock* clock) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, clock));
  EDGELAB_RETURN_IF_ERROR(store->OpenFile());
  EDGELAB_RETURN_IF_ERROR(store->Configure());
  EDGELAB_RETURN_IF_ERROR(store->CreateSchema());
  EDGELAB_RETURN_IF_ERROR(store->Prepare());
  EDGELAB_RETURN_IF_ERROR(store->LoadEpoch());
  return store;
}

Status SqliteStore::Error(int rc, std::string_view what) const {
  return sqlite::Error(db_, rc, "kv store", path_, what);
}

Status SqliteStore::OpenFile() { return sqlite::OpenReadWrite(path_, "kv store", &db_); }

Status SqliteStore::Configure() {
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  return sqlite::UseWal(db_, "kv store", path_);
}

Status SqliteStore::CreateSchema() {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &raw, nullptr);
  Stmt version(raw);
  if (rc != SQLITE_OK) return Error(rc, "cannot read the schema version");
  rc = sqlite3_step(version.get());
  if (rc != SQLITE_ROW) return Error(rc, "cannot read the schema version");
  const int found = sqlite3_column_int(version.get(), 0);
  if (found > kSchemaVersion) {
    return Status::Corruption("kv store '" + path_ + "': schema version " + std::to_string(found) +
                              " is newer than this build's " + std::to_string(kSchemaVersion) +
                              "; use a newer edgelab");
  }
  EDGELAB_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "cannot start creating the schema"));
  Status s = Exec(kCreateSchema, "cannot create the schema");
  if (s.ok()) s = Exec("COMMIT", "cannot commit the schema");
  if (!s.ok()) RollbackQuietly();
  return s;
}

Status SqliteStore::Prepare() {
  const std::string live = kLive;
  const std::pair<Stmt*, std::string> all[] = {
      {&get_,
       "SELECT value, metadata, etag, expiration_ms FROM kv WHERE ns=?1 AND key=?2 AND " + live},
      {&live_etag_, "SELECT etag FROM kv WHERE ns=?1 AND key=?2 AND " + live},
      {&upsert_,
       "INSERT OR REPLACE INTO kv(ns, key, value, metadata, etag, expiration_ms) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&next_sequence_,
       "UPDATE meta SET value = value + 1 WHERE name='etag_sequence' RETURNING value"},
      {&delete_, "DELETE FROM kv WHERE ns=?1 AND key=?2"},
      {&list_,
       "SELECT key, expiration_ms, metadata FROM kv WHERE ns=?1 AND key>=?2 AND key<?4 AND " +
           live + " ORDER BY key LIMIT ?5"},
      {&purge_, "DELETE FROM kv WHERE expiration_ms != 0 AND expiration_ms <= ?1"},
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
  };
  for (const auto& [slot, sql] : all) {
    sqlite3_stmt* raw = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    slot->reset(raw);
    if (rc != SQLITE_OK) return Error(rc, "cannot prepare '" + sql + "'");
  }
  return Status::OK();
}

Status SqliteStore::LoadEpoch() {
  sqlite3_stmt* raw = nullptr;
  int rc =
      sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE name='etag_epoch'", -1, &raw, nullptr);
  Stmt epoch(raw);
  if (rc != SQLITE_OK) return Error(rc, "cannot read table meta");
  rc = sqlite3_step(epoch.get());
  if (rc == SQLITE_DONE) {
    return Status::Corruption("kv store '" + path_ + "': table meta has no etag_epoch row");
  }
  if (rc != SQLITE_ROW) return Error(rc, "cannot read table meta");
  epoch_ = static_cast<uint32_t>(sqlite3_column_int64(epoch.get(), 0));
  return Status::OK();
}

Status SqliteStore::Exec(const char* sql, const char* what) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  return rc == SQLITE_OK ? Status::OK() : Error(rc, what);
}

Status SqliteStore::Run(sqlite3_stmt* stmt, const char* what) {
  Use use(stmt);
  const int rc = use.Step();
  return rc == SQLITE_DONE ? Status::OK() : Error(rc, what);
}

void SqliteStore::RollbackQuietly() {
  // After some errors (I/O, full disk) SQLite has already rolled back; a
  // second ROLLBACK would only fail with "no transaction is active".
  if (sqlite3_get_autocommit(db_) != 0) return;
  // Before Prepare() (schema creation) there is no cached statement yet.
  Status s = rollback_ != nullptr ? Run(rollback_.get(), "rollback") : Exec("ROLLBACK", "rollback");
  s.IgnoreError();
}

Result<Entry> SqliteStore::Get(std::string_view ns, std::string_view key) {
  EDGELAB_RETURN_IF_ERROR(CheckKey(key));
  const int64_t now_ms = clock_->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  Use q(get_.get());
  q.Bind(1, ns);
  q.Bind(2, key);
  q.Bind(3, now_ms);
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return Status::NotFound("key not found in namespace " + std::string(ns));
  if (rc != SQLITE_ROW) return Error(rc, "get");
  return Entry{ColumnBytes(q.get(), 0), ColumnBytes(q.get(), 1), ColumnBytes(q.get(), 2),
               sqlite3_column_int64(q.get(), 3)};
}

Result<std::string> SqliteStore::LiveEtag(std::string_view ns, std::string_view key,
                                          int64_t now_ms) {
  Use q(live_etag_.get());
  q.Bind(1, ns);
  q.Bind(2, key);
  q.Bind(3, now_ms);
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return Error(rc, "read the etag for a conditional put");
  return ColumnBytes(q.get(), 0);
}

Result<PutResult> SqliteStore::Put(std::string_view ns, std::string_view key,
                                   std::string_view value, const PutOptions& opts) {
  EDGELAB_RETURN_IF_ERROR(CheckPut(key, value, opts));
  const int64_t now_ms = clock_->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  EDGELAB_RETURN_IF_ERROR(Run(begin_.get(), "begin a put"));
  Result<PutResult> result = PutInTransaction(ns, key, value, opts, now_ms);
  if (!result.ok() || result->outcome != PutResult::Outcome::kStored) {
    RollbackQuietly();
    return result;
  }
  Status committed = Run(commit_.get(), "commit a put");
  if (!committed.ok()) {
    RollbackQuietly();
    return committed;
  }
  return result;
}

Result<PutResult> SqliteStore::PutInTransaction(std::string_view ns, std::string_view key,
                                                std::string_view value, const PutOptions& opts,
                                                int64_t now_ms) {
  std::optional<std::string> previous;
  if (opts.condition != PutOptions::Condition::kNone || opts.report_previous) {
    EDGELAB_ASSIGN_OR_RETURN(std::string live, LiveEtag(ns, key, now_ms));
    if (!PreconditionHolds(opts, live.empty() ? nullptr : &live)) {
      return PutResult{PutResult::Outcome::kPreconditionFailed, "", std::nullopt};
    }
    if (opts.report_previous) previous = std::move(live);
  }
  // The sequence lives only in the file (not cached in memory), so two
  // processes on one file, or a commit that failed, can never hand out the
  // same number twice: the increment commits or rolls back with the row.
  EDGELAB_ASSIGN_OR_RETURN(const uint64_t sequence, NextSequence());
  std::string etag = FormatEtag(epoch_, sequence);
  Use q(upsert_.get());
  q.Bind(1, ns);
  q.Bind(2, key);
  q.Bind(3, value);
  q.Bind(4, opts.metadata);
  q.BindText(5, etag);
  q.Bind(6, opts.expiration_ms);
  const int rc = q.Step();
  if (rc != SQLITE_DONE) return Error(rc, "put");
  return PutResult{PutResult::Outcome::kStored, std::move(etag), std::move(previous)};
}

Result<uint64_t> SqliteStore::NextSequence() {
  Use q(next_sequence_.get());
  const int rc = q.Step();
  if (rc == SQLITE_DONE) {
    return Status::Corruption("kv store '" + path_ + "': table meta has no etag_sequence row");
  }
  if (rc != SQLITE_ROW) return Error(rc, "advance the etag sequence");
  return static_cast<uint64_t>(sqlite3_column_int64(q.get(), 0));
}

Status SqliteStore::Delete(std::string_view ns, std::string_view key) {
  EDGELAB_RETURN_IF_ERROR(CheckKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  Use q(delete_.get());
  q.Bind(1, ns);
  q.Bind(2, key);
  const int rc = q.Step();
  return rc == SQLITE_DONE ? Status::OK() : Error(rc, "delete");
}

Result<ListResult> SqliteStore::List(std::string_view ns, std::string_view prefix,
                                     std::string_view cursor, uint32_t limit) {
  EDGELAB_RETURN_IF_ERROR(CheckList(prefix, limit));
  const int64_t now_ms = clock_->WallMillis();
  // Resume strictly after the cursor (cursor + "\0" is its successor in byte
  // order), but never before the prefix.
  const std::string start =
      (!cursor.empty() && cursor >= prefix) ? std::string(cursor) + '\0' : std::string(prefix);
  const std::string end = PrefixEnd(prefix);
  std::lock_guard<std::mutex> lock(mu_);
  Use q(list_.get());
  q.Bind(1, ns);
  q.Bind(2, start);
  q.Bind(3, now_ms);
  q.Bind(4, end);
  // One row past the page tells whether a cursor is needed.
  q.Bind(5, static_cast<int64_t>(limit) + 1);
  ListResult out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.keys.push_back(
        {ColumnBytes(q.get(), 0), sqlite3_column_int64(q.get(), 1), ColumnBytes(q.get(), 2)});
  }
  if (rc != SQLITE_DONE) return Error(rc, "list");
  if (out.keys.size() > limit) {
    out.keys.pop_back();
    out.cursor = out.keys.back().name;
  }
  return out;
}

Status SqliteStore::Flush() {
  const int64_t now_ms = clock_->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  {
    Use q(purge_.get());
    q.Bind(1, now_ms);
    const int rc = q.Step();
    if (rc != SQLITE_DONE) return Error(rc, "delete expired keys");
  }
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::OK() : Error(rc, "checkpoint the WAL");
}

}  // namespace edgelab::kv
