// objects/backend.h: where Durable Objects' storage lives: every object's
// key -> value pairs and its alarm, for all namespaces of a process. The
// per-object view a guest sees (a cache, transactions, the output gate) is
// objects/storage.h; this is the durable layer under it.
//
// Threading: every method is safe from any thread at once. Methods never wait
//            on the scheduler; they may block briefly on a mutex or on local
//            disk.
// Invariants:
//   (1) Commit applies all of its batches or none of them (one transaction);
//       after it returns OK the writes survive a crash of the process (for a
//       durable backend) and are visible to every later read;
//   (2) List returns keys in byte order (memcmp), start inclusive, end
//       exclusive, only keys with the prefix;
//   (3) objects are independent: (ns, id) scopes every key and the alarm.
// Failure: storage faults are kIOError / kCorruption naming the file and the
//          operation; a failed Commit wrote nothing. Limits (key and value
//          sizes) are checked above, by Storage, not here.
#ifndef EDGELAB_OBJECTS_BACKEND_H_
#define EDGELAB_OBJECTS_BACKEND_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

struct sqlite3;

namespace edgelab::objects {

// Cloudflare's Durable Object storage limits (key 2 KiB, value 128 KiB).
inline constexpr size_t kMaxKeyBytes = 2048;
inline constexpr size_t kMaxValueBytes = 128 * 1024;

// Which object: the namespace (the class name) and the object's id.
struct ObjectKey {
  std::string ns;
  std::string id;
  bool operator==(const ObjectKey&) const = default;
  bool operator<(const ObjectKey& o) const { return ns != o.ns ? ns < o.ns : id < o.id; }
  // "ns/id": for logs and messages.
  std::string ToString() const { return ns + "/" + id; }
};

struct ListOptions {
  std::string prefix;  // only keys starting with it ("" = all)
  std::string start;   // first key, inclusive ("" = from the first)
  std::string end;     // stop before this key ("" = to the last)
  uint32_t limit = 0;  // at most this many (0 = no limit)
  // The largest listing Storage::List may build, as encoded for the guest
  // (docs/abi.md storage_list: 4 bytes of count, then 8 + key + value bytes
  // per pair), so the ABI can pass its own limit straight through; 0 = none.
  // Past it Storage::List fails rather than return part of the listing
  // (objects/storage.h). Backends ignore it: Storage asks them for pages
  // small enough to stay within it.
  uint64_t max_bytes = 0;
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// The writes one object made since its last commit, coalesced per key.
struct ObjectBatch {
  ObjectKey object;
  struct Write {
    std::string key;
    std::optional<std::string> value;  // nullopt: delete the key
  };
  std::vector<Write> writes;  // at most one per key
  enum class Alarm { kUnchanged, kSet, kDeleted };
  Alarm alarm = Alarm::kUnchanged;
  int64_t alarm_ms = 0;  // Unix ms, for kSet
};

struct StoredAlarm {
  ObjectKey object;
  int64_t time_ms = 0;  // Unix ms
};

class Backend {
 public:
  virtual ~Backend() = default;

  // The stored value, or nullopt when the key is absent.
  virtual Result<std::optional<std::string>> Get(const ObjectKey& object, std::string_view key) = 0;
  // Stored pairs matching `opts`, in byte order (invariant 2).
  virtual Result<KeyValues> List(const ObjectKey& object, const ListOptions& opts) = 0;
  // The object's stored alarm time (Unix ms), or nullopt when none is set.
  virtual Result<std::optional<int64_t>> GetAlarm(const ObjectKey& object) = 0;
  // Every stored alarm, for re-arming them at start.
  virtual Result<std::vector<StoredAlarm>> Alarms() = 0;
  // Applies every batch atomically (invariant 1). An empty vector is OK.
  virtual Status Commit(const std::vector<ObjectBatch>& batches) = 0;
  // Makes everything committed so far durable against an OS crash too (a
  // checkpoint); called at shutdown. A no-op for memory.
  virtual Status Flush() = 0;
};

// Keeps everything in process memory (`--data :memory:`); nothing survives
// the process. Commit is atomic under one mutex.
class MemoryBackend final : public Backend {
 public:
  Result<std::optional<std::string>> Get(const ObjectKey& object, std::string_view key) override;
  Result<KeyValues> List(const ObjectKey& object, const ListOptions& opts) override;
  Result<std::optional<int64_t>> GetAlarm(const ObjectKey& object) override;
  Result<std::vector<StoredAlarm>> Alarms() override;
  Status Commit(const std::vector<ObjectBatch>& batches) override;
  Status Flush() override { return Status::OK(); }

 private:
  std::mutex mu_;
  // Guarded by mu_.
  std::map<ObjectKey, std::map<std::string, std::string>> data_;
  std::map<ObjectKey, int64_t> alarms_;
};

// One SQLite file (WAL, synchronous=NORMAL, as kv/sqlite_store.h explains):
// a Commit that returned OK survives a crash of the process; after an OS
// crash, commits since the last checkpoint may be lost (Flush checkpoints).
// Tables: storage(ns, id, key, value) and alarms(ns, id, time_ms), all BLOB
// keys so order is byte order; `meta` holds a format version. The file is
// opened in SQLite's exclusive locking mode: one process owns it while the
// backend lives (two would each run an instance of every object), and a
// second Open fails with kUnavailable naming the file.
class SqliteBackend final : public Backend {
 public:
  // Opens or creates the database at `path`. Errors name `path`: kIOError
  // when it cannot be opened or written, kCorruption when it is not an
  // edgelab Durable Object database.
  static Result<std::unique_ptr<SqliteBackend>> Open(const std::string& path);
  ~SqliteBackend() override;
  SqliteBackend(const SqliteBackend&) = delete;
  SqliteBackend& operator=(const SqliteBackend&) = delete;

  Result<std::optional<std::string>> Get(const ObjectKey& object, std::string_view key) override;
  Result<KeyValues> List(const ObjectKey& object, const ListOptions& opts) override;
  Result<std::optional<int64_t>> GetAlarm(const ObjectKey& object) override;
  Result<std::vector<StoredAlarm>> Alarms() override;
  Status Commit(const std::vector<ObjectBatch>& batches) override;
  Status Flush() override;

  const std::string& path() const { return path_; }

 private:
  class Impl;
  explicit SqliteBackend(std::string path);

  const std::string path_;
  std::mutex mu_;
  std::unique_ptr<Impl> impl_;  // the connection and its statements; guarded by mu_
};

}  // namespace edgelab::objects

#endif  // EDGELAB_OBJECTS_BACKEND_H_
