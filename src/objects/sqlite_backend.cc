// objects/sqlite_backend.cc: SqliteBackend. Workload assumed: a group commit
// per home loop every few milliseconds, each one transaction of tens to
// hundreds of small writes across objects (values of bytes to kilobytes, at
// most 128 KiB); reads only on cache misses (objects/storage.h), so they are
// rare next to a KV store's. WAL with synchronous=NORMAL makes a commit an
// append to the WAL with no fsync, as kv/sqlite_store.cc explains.
#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "objects/backend.h"
#include "sqlite/connection.h"
#include "sqlite/statement.h"

namespace edgelab::objects {
namespace {

// Bumped when the tables change shape; a file with another version is
// refused rather than misread.
constexpr int64_t kFormatVersion = 1;

// The meta row's name is particular to this file kind, so a KV database
// (which has a `meta` table of its own) is told apart too.
constexpr char kCreateSchema[] =
    "CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE storage(ns BLOB NOT NULL, id BLOB NOT NULL, key BLOB NOT NULL,"
    "  value BLOB NOT NULL, PRIMARY KEY(ns, id, key)) WITHOUT ROWID;"
    "CREATE TABLE alarms(ns BLOB NOT NULL, id BLOB NOT NULL, time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(ns, id)) WITHOUT ROWID;"
    "INSERT INTO meta VALUES('objects_format', 1);";  // = kFormatVersion

constexpr char kCountOurTables[] =
    "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name IN ('meta','storage','alarms')";

// The smallest byte string greater than every string starting with `prefix`,
// or nullopt when there is none (prefix empty or all 0xff): then no key past
// the prefix's start lacks it, and the range has no upper bound.
std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

std::string ColumnBytes(sqlite3_stmt* stmt, int col) {
  const void* p = sqlite3_column_blob(stmt, col);
  const int n = sqlite3_column_bytes(stmt, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

using sqlite::Stmt;
using sqlite::Use;

// Binds ?1 and ?2, which every statement about one object starts with.
void BindObject(Use& q, const ObjectKey& object) {
  q.Bind(1, object.ns);
  q.Bind(2, object.id);
}

}  // namespace

// The connection and its cached statements. Every method requires the
// owner's mu_ held; the connection is opened without SQLite's own mutex.
class SqliteBackend::Impl {
 public:
  explicit Impl(const std::string& path) : path_(path) {}
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Open's steps, in order.
  Status OpenFile();
  Status Configure();
  Status CreateOrCheckSchema();
  Status Prepare();

  Result<std::optional<std::string>> Get(const ObjectKey& object, std::string_view key);
  Result<KeyValues> List(const ObjectKey& object, const ListOptions& opts);
  Result<std::optional<int64_t>> GetAlarm(const ObjectKey& object);
  Result<std::vector<StoredAlarm>> Alarms();
  Status Commit(const std::vector<ObjectBatch>& batches);
  Status Flush();

 private:
  // The part of CreateOrCheckSchema inside its transaction.
  Status CreateOrCheckInTransaction();
  // The file has tables: refuses it unless they are ours, at our version.
  Status CheckFormat();
  // The first column of the first row of `sql`, nullopt when it has no rows.
  Result<std::optional<int64_t>> QueryInt(const char* sql, const char* what);
  // The writes and alarm change of one batch. Requires: in a transaction.
  Status ApplyBatch(const ObjectBatch& batch);
  Status ApplyAlarm(const ObjectBatch& batch);
  // Runs a statement that returns no rows.
  Status Run(Use& use, const char* what);
  Status Exec(const char* sql, const char* what);
  // Ends a failed transaction unless SQLite already rolled it back.
  void RollbackQuietly();
  // kCorruption or kIOError naming path_, `what` and SQLite's message.
  Status Error(int rc, std::string_view what) const;
  Status NotOurs(const std::string& why) const;

  const std::string& path_;  // the owner's, which outlives this
  sqlite3* db_ = nullptr;
  Stmt get_, list_range_, list_from_, put_, delete_, get_alarm_, set_alarm_, delete_alarm_, alarms_;
  Stmt begin_, commit_, rollback_;
};

SqliteBackend::Impl::~Impl() {
  for (Stmt* s : {&get_, &list_range_, &list_from_, &put_, &delete_, &get_alarm_, &set_alarm_,
                  &delete_alarm_, &alarms_, &begin_, &commit_, &rollback_}) {
    s->reset();
  }
  // The result is dropped on purpose: a failed close leaves the WAL on disk
  // and the next Open recovers from it.
  sqlite3_close_v2(db_);
}

Status SqliteBackend::Impl::Error(int rc, std::string_view what) const {
  return sqlite::Error(db_, rc, "objects store", path_, what);
}

Status SqliteBackend::Impl::NotOurs(const std::string& why) const {
  return Status::Corruption("objects store '" + path_ +
                            "': not an edgelab Durable Object database (" + why +
                            "); give --data a new file or an existing objects database");
}

Status SqliteBackend::Impl::OpenFile() {
  return sqlite::OpenReadWrite(path_, "objects store", &db_);
}

Status SqliteBackend::Impl::Configure() {
  // With the exclusive lock below nobody else uses the file while we do, so
  // a busy file at open is another owner, not a moment to wait out.
  sqlite3_busy_timeout(db_, 0);
  // One process owns the file while it runs: a second one serving the same
  // objects would make two live instances of each (registry.h rule 1). The
  // exclusive lock says so at once, and spares each commit the shared-memory
  // and file-lock calls that WAL needs between processes.
  EDGELAB_RETURN_IF_ERROR(Exec("PRAGMA locking_mode=EXCLUSIVE", "cannot take the file for itself"));
  return sqlite::UseWal(db_, "objects store", path_);
}

// Checked and created in one write transaction, so two processes opening a
// new file at once cannot both create the tables.
Status SqliteBackend::Impl::CreateOrCheckSchema() {
  EDGELAB_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "cannot start checking the schema"));
  Status s = CreateOrCheckInTransaction();
  if (s.ok()) s = Exec("COMMIT", "cannot commit the schema");
  if (!s.ok()) RollbackQuietly();
  return s;
}

Status SqliteBackend::Impl::CreateOrCheckInTransaction() {
  EDGELAB_ASSIGN_OR_RETURN(
      const std::optional<int64_t> tables,
      QueryInt("SELECT count(*) FROM sqlite_schema", "cannot read the schema"));
  if (tables.value_or(0) == 0) return Exec(kCreateSchema, "cannot create the schema");
  return CheckFormat();
}

Status SqliteBackend::Impl::CheckFormat() {
  EDGELAB_ASSIGN_OR_RETURN(const std::optional<int64_t> ours,
                           QueryInt(kCountOurTables, "cannot read the schema"));
  if (ours.value_or(0) != 3) return NotOurs("it lacks the tables meta, storage and alarms");
  EDGELAB_ASSIGN_OR_RETURN(
      const std::optional<int64_t> format,
      QueryInt("SELECT value FROM meta WHERE name='objects_format'", "cannot read table meta"));
  if (!format.has_value()) return NotOurs("table meta has no objects_format row");
  if (*format != kFormatVersion) {
    return Status::Corruption("objects store '" + path_ + "': format version " +
                              std::to_string(*format) + ", but this build reads version " +
                              std::to_string(kFormatVersion) +
                              (*format > kFormatVersion ? "; use a newer edgelab" : ""));
  }
  return Status::OK();
}

Result<std::optional<int64_t>> SqliteBackend::Impl::QueryInt(const char* sql, const char* what) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE) return std::optional<int64_t>();
  if (rc != SQLITE_ROW) return Error(rc, what);
  return std::optional<int64_t>(sqlite3_column_int64(stmt.get(), 0));
}

Status SqliteBackend::Impl::Prepare() {
  const std::pair<Stmt*, const char*> all[] = {
      {&get_, "SELECT value FROM storage WHERE ns=?1 AND id=?2 AND key=?3"},
      {&list_range_,
       "SELECT key, value FROM storage WHERE ns=?1 AND id=?2 AND key>=?3 AND key<?4 "
       "ORDER BY key LIMIT ?5"},
      {&list_from_,
       "SELECT key, value FROM storage WHERE ns=?1 AND id=?2 AND key>=?3 ORDER BY key LIMIT ?5"},
      {&put_, "INSERT OR REPLACE INTO storage(ns, id, key, value) VALUES(?1, ?2, ?3, ?4)"},
      {&delete_, "DELETE FROM storage WHERE ns=?1 AND id=?2 AND key=?3"},
      {&get_alarm_, "SELECT time_ms FROM alarms WHERE ns=?1 AND id=?2"},
      {&set_alarm_, "INSERT OR REPLACE INTO alarms(ns, id, time_ms) VALUES(?1, ?2, ?3)"},
      {&delete_alarm_, "DELETE FROM alarms WHERE ns=?1 AND id=?2"},
      {&alarms_, "SELECT ns, id, time_ms FROM alarms ORDER BY ns, id"},
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
  };
  for (const auto& [slot, sql] : all) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    slot->reset(raw);
    if (rc != SQLITE_OK) return Error(rc, "cannot prepare '" + std::string(sql) + "'");
  }
  return Status::OK();
}

Status SqliteBackend::Impl::Exec(const char* sql, const char* what) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  return rc == SQLITE_OK ? Status::OK() : Error(rc, what);
}

Status SqliteBackend::Impl::Run(Use& use, const char* what) {
  const int rc = use.Step();
  return rc == SQLITE_DONE ? Status::OK() : Error(rc, what);
}

void SqliteBackend::Impl::RollbackQuietly() {
  // After some errors (I/O, full disk) SQLite has already rolled back; a
  // second ROLLBACK would only fail with "no transaction is active".
  if (sqlite3_get_autocommit(db_) != 0) return;
  // Before Prepare() (schema creation) there is no cached statement yet.
  if (rollback_ == nullptr) return Exec("ROLLBACK", "rollback").IgnoreError();
  Use use(rollback_.get());
  Run(use, "rollback").IgnoreError();
}

Result<std::optional<std::string>> SqliteBackend::Impl::Get(const ObjectKey& object,
                                                            std::string_view key) {
  Use q(get_.get());
  BindObject(q, object);
  q.Bind(3, key);
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return Error(rc, "get a key of " + object.ToString());
  return std::optional<std::string>(ColumnBytes(q.get(), 0));
}

Result<KeyValues> SqliteBackend::Impl::List(const ObjectKey& object, const ListOptions& opts) {
  const std::string& from = std::max(opts.start, opts.prefix);
  std::optional<std::string> to = PrefixEnd(opts.prefix);
  if (!opts.end.empty() && (!to.has_value() || opts.end < *to)) to = opts.end;
  KeyValues out;
  if (to.has_value() && from >= *to) return out;
  Use q(to.has_value() ? list_range_.get() : list_from_.get());
  BindObject(q, object);
  q.Bind(3, from);
  if (to.has_value()) q.Bind(4, *to);
  // A negative LIMIT is no limit in SQLite.
  q.Bind(5, opts.limit == 0 ? int64_t{-1} : int64_t{opts.limit});
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.emplace_back(ColumnBytes(q.get(), 0), ColumnBytes(q.get(), 1));
  }
  if (rc != SQLITE_DONE) return Error(rc, "list the keys of " + object.ToString());
  return out;
}

Result<std::optional<int64_t>> SqliteBackend::Impl::GetAlarm(const ObjectKey& object) {
  Use q(get_alarm_.get());
  BindObject(q, object);
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return std::optional<int64_t>();
  if (rc != SQLITE_ROW) return Error(rc, "get the alarm of " + object.ToString());
  return std::optional<int64_t>(sqlite3_column_int64(q.get(), 0));
}

Result<std::vector<StoredAlarm>> SqliteBackend::Impl::Alarms() {
  Use q(alarms_.get());
  std::vector<StoredAlarm> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back(
        {{ColumnBytes(q.get(), 0), ColumnBytes(q.get(), 1)}, sqlite3_column_int64(q.get(), 2)});
  }
  if (rc != SQLITE_DONE) return Error(rc, "list the alarms");
  return out;
}

// One BEGIN IMMEDIATE .. COMMIT around every batch: a commit holds the write
// lock for one WAL append, and either all of it is in the WAL or none.
Status SqliteBackend::Impl::Commit(const std::vector<ObjectBatch>& batches) {
  if (batches.empty()) return Status::OK();
  {
    Use begin(begin_.get());
    EDGELAB_RETURN_IF_ERROR(Run(begin, "begin a commit"));
  }
  Status s;
  for (const ObjectBatch& batch : batches) {
    s = ApplyBatch(batch);
    if (!s.ok()) break;
  }
  if (s.ok()) {
    Use commit(commit_.get());
    s = Run(commit, "commit");
  }
  if (!s.ok()) RollbackQuietly();
  return s;
}

Status SqliteBackend::Impl::ApplyBatch(const ObjectBatch& batch) {
  for (const ObjectBatch::Write& w : batch.writes) {
    Use q(w.value.has_value() ? put_.get() : delete_.get());
    BindObject(q, batch.object);
    q.Bind(3, w.key);
    if (w.value.has_value()) q.Bind(4, *w.value);
    const int rc = q.Step();
    if (rc != SQLITE_DONE) return Error(rc, "write a key of " + batch.object.ToString());
  }
  return ApplyAlarm(batch);
}

Status SqliteBackend::Impl::ApplyAlarm(const ObjectBatch& batch) {
  if (batch.alarm == ObjectBatch::Alarm::kUnchanged) return Status::OK();
  const bool set = batch.alarm == ObjectBatch::Alarm::kSet;
  Use q(set ? set_alarm_.get() : delete_alarm_.get());
  BindObject(q, batch.object);
  if (set) q.Bind(3, batch.alarm_ms);
  const int rc = q.Step();
  return rc == SQLITE_DONE ? Status::OK()
                           : Error(rc, "write the alarm of " + batch.object.ToString());
}

Status SqliteBackend::Impl::Flush() {
  // PASSIVE never waits on other processes' readers; it syncs the WAL before
  // copying it, so every commit so far is durable even if it copies only part.
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::OK() : Error(rc, "checkpoint the WAL");
}

SqliteBackend::SqliteBackend(std::string path)
    : path_(std::move(path)), impl_(std::make_unique<Impl>(path_)) {}

SqliteBackend::~SqliteBackend() = default;

Result<std::unique_ptr<SqliteBackend>> SqliteBackend::Open(const std::string& path) {
  std::unique_ptr<SqliteBackend> backend(new SqliteBackend(path));
  Impl& impl = *backend->impl_;
  EDGELAB_RETURN_IF_ERROR(impl.OpenFile());
  EDGELAB_RETURN_IF_ERROR(impl.Configure());
  EDGELAB_RETURN_IF_ERROR(impl.CreateOrCheckSchema());
  EDGELAB_RETURN_IF_ERROR(impl.Prepare());
  return backend;
}

Result<std::optional<std::string>> SqliteBackend::Get(const ObjectKey& object,
                                                      std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->Get(object, key);
}

Result<KeyValues> SqliteBackend::List(const ObjectKey& object, const ListOptions& opts) {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->List(object, opts);
}

Result<std::optional<int64_t>> SqliteBackend::GetAlarm(const ObjectKey& object) {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->GetAlarm(object);
}

Result<std::vector<StoredAlarm>> SqliteBackend::Alarms() {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->Alarms();
}

Status SqliteBackend::Commit(const std::vector<ObjectBatch>& batches) {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->Commit(batches);
}

Status SqliteBackend::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_->Flush();
}

}  // namespace edgelab::objects
