// kv/sqlite_store.h: a durable Store in one SQLite file, for `edgelab serve`
// with persistence and for anything that must survive a restart.
//
// Threading: as Store (kv/store.h): every method is safe from any thread at
//            once. One connection, opened without SQLite's own mutex, is
//            guarded by mu_; each call holds mu_ for one short transaction
//            (reads serialize too: a reader pool is deferred until profiling
//            shows KV reads contending, which a single-isolate-per-request
//            runtime at ~1e4 ops/s does not yet).
// Invariants: the Store invariants, and
//   (1) etags are FormatEtag(epoch, n): `epoch` is drawn once when the file
//       is created and kept in table meta, so a recreated file never matches
//       an old etag; `n` is the sequence kept in meta, incremented in the
//       same transaction as the row it names, so it is never reused after a
//       restart or a crash, nor by two processes sharing the file;
//   (2) a conditional put is check + write inside one BEGIN IMMEDIATE
//       transaction under mu_ (atomic against other processes on the file
//       too);
//   (3) keys and namespaces are BLOBs, so List's order is memcmp byte order.
// Durability: WAL with synchronous=NORMAL: a put reported stored survives a
//   process crash; after an OS crash or power loss, commits since the last
//   checkpoint may be lost (Flush() checkpoints). A put that returns an error
//   may or may not have been stored.
// Failure: SQLite errors are kCorruption (corrupt / not a database),
//   kUnavailable (another process held the file past the busy timeout) or
//   kIOError (everything else), naming the file, the operation and SQLite's
//   message. The connection stays usable after a failed transaction.
#ifndef EDGELAB_KV_SQLITE_STORE_H_
#define EDGELAB_KV_SQLITE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "kv/store.h"
#include "sched/clock.h"
#include "sqlite/statement.h"

namespace edgelab::kv {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` (its directory must exist and be
  // writable: SQLite adds `path`-wal and `path`-shm beside it). `clock`
  // decides expiry and must outlive the store. Errors name `path`:
  // kIOError when it cannot be opened or written, kCorruption when it is not
  // an edgelab KV database.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, sched::Clock* clock);
  // Closes the file. SQLite checkpoints the WAL on close; if that fails the
  // WAL stays on disk and the next Open recovers it, so nothing is lost.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<Entry> Get(std::string_view ns, std::string_view key) override;
  Result<PutResult> Put(std::string_view ns, std::string_view key, std::string_view value,
                        const PutOptions& opts) override;
  // Expired rows are not deleted by reads: a put overwrites them, Delete and
  // Flush remove them.
  Status Delete(std::string_view ns, std::string_view key) override;
  Result<ListResult> List(std::string_view ns, std::string_view prefix, std::string_view cursor,
                          uint32_t limit) override;
  // Deletes expired rows, then checkpoints the WAL into the database file
  // (PASSIVE: never waits on other processes' readers).
  Status Flush() override;

  const std::string& path() const { return path_; }

 private:
  using Stmt = sqlite::Stmt;

  SqliteStore(std::string path, sched::Clock* clock);

  // Open's steps, in order.
  Status OpenFile();
  Status Configure();
  Status CreateSchema();
  Status Prepare();
  Status LoadEpoch();

  // The part of Put inside the transaction. Requires: mu_ held, in a txn.
  Result<PutResult> PutInTransaction(std::string_view ns, std::string_view key,
                                     std::string_view value, const PutOptions& opts,
                                     int64_t now_ms);
  // The key's etag when it is live, "" when absent or expired.
  Result<std::string> LiveEtag(std::string_view ns, std::string_view key, int64_t now_ms);
  // Increments the persisted etag sequence and returns the new value.
  // Requires: mu_ held, in a write transaction.
  Result<uint64_t> NextSequence();
  // Runs a statement that returns no rows.
  Status Run(sqlite3_stmt* stmt, const char* what);
  Status Exec(const char* sql, const char* what);
  // Ends a failed transaction unless SQLite already rolled it back.
  void RollbackQuietly();
  // kCorruption or kIOError naming path_, `what` and SQLite's message.
  Status Error(int rc, std::string_view what) const;

  // Fixed after construction (epoch_ after Open).
  const std::string path_;
  sched::Clock* const clock_;
  uint32_t epoch_ = 0;

  std::mutex mu_;
  // Guarded by mu_ (after Open): the connection and its cached statements.
  sqlite3* db_ = nullptr;
  Stmt get_, live_etag_, upsert_, next_sequence_, delete_, list_, purge_;
  Stmt begin_, commit_, rollback_;
};

}  // namespace edgelab::kv

#endif  // EDGELAB_KV_SQLITE_STORE_H_
