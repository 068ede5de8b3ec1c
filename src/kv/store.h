// kv/store.h: the one interface every KV backend implements, and the value
// types it speaks. A Store holds many namespaces (by id) of key -> entry.
//
// Threading: every method is safe to call from any thread and fiber at once.
//            Methods never wait on the scheduler; they may block briefly on a
//            mutex or on local disk (SQLite, WAL, synchronous=NORMAL).
// Invariants:
//   (1) every successful write (put or delete of an existing key) gives the
//       key a new etag, never used before by this store (across restarts for
//       durable backends);
//   (2) a conditional put checks its precondition and writes atomically: of
//       many concurrent puts if_match(E), at most one succeeds;
//   (3) an expired entry is invisible to every read and list, and an
//       if_none_match("*") put over it succeeds;
//   (4) List returns keys in byte order; a cursor resumes after the last key.
// Failure: a failed precondition is a result (PutOutcome::kPreconditionFailed),
//          not an error. Over-limit input is kInvalidArgument naming the
//          limit. Storage faults are kIOError / kCorruption.
#ifndef EDGELAB_KV_STORE_H_
#define EDGELAB_KV_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace edgelab::kv {

// Cloudflare Workers KV limits (developers.cloudflare.com/kv/platform/limits).
inline constexpr size_t kMaxKeyBytes = 512;
inline constexpr size_t kMaxValueBytes = 25 * 1024 * 1024;
inline constexpr size_t kMaxMetadataBytes = 1024;
inline constexpr uint32_t kMaxListLimit = 1000;
// Etags are opaque ASCII strings of at most this many bytes.
inline constexpr size_t kMaxEtagBytes = 64;

struct Entry {
  std::string value;
  std::string metadata;  // empty when none was written
  std::string etag;
  int64_t expiration_ms = 0;  // Unix ms; 0 = never expires
};

struct PutOptions {
  enum class Condition { kNone, kIfMatch, kIfNoneMatch };
  Condition condition = Condition::kNone;
  std::string if_match;  // etag, used when condition == kIfMatch
  std::string metadata;
  int64_t expiration_ms = 0;  // absolute Unix ms; 0 = never
  // Ask for PutResult::previous_etag. Off by default: for SQLite it costs a
  // read of the row an unconditional put would not otherwise make. The race
  // detector (race/detector.h) asks, to know whether a write erased another.
  bool report_previous = false;
};

struct PutResult {
  enum class Outcome { kStored, kPreconditionFailed };
  Outcome outcome = Outcome::kStored;
  std::string etag;  // the key's new etag when kStored
  // With report_previous and kStored: the live etag the put replaced ("" when
  // the key was absent or expired), read atomically with the write.
  std::optional<std::string> previous_etag;
};

struct ListResult {
  struct Key {
    std::string name;
    int64_t expiration_ms = 0;
    std::string metadata;
  };
  std::vector<Key> keys;
  std::string cursor;  // empty when the listing is complete
};

// Checks the Workers limits; kInvalidArgument naming the limit and the
// actual size when over. CheckKey: 1..kMaxKeyBytes bytes (empty is invalid).
// CheckPut: the key, value <= kMaxValueBytes, metadata <= kMaxMetadataBytes,
// expiration_ms >= 0.
Status CheckKey(std::string_view key);
Status CheckPut(std::string_view key, std::string_view value, const PutOptions& opts);
// CheckList: limit in 1..kMaxListLimit, prefix <= kMaxKeyBytes.
Status CheckList(std::string_view prefix, uint32_t limit);

// For backends: the etag "<epoch as 8 hex>-<sequence as 16 hex>" (25 bytes,
// lower case). `epoch` is random per store instance (per file for durable
// ones), so an etag minted by another instance never matches; `sequence`
// only grows, so no etag repeats within one.
std::string FormatEtag(uint32_t epoch, uint64_t sequence);
// For backends: whether `opts`' condition lets a put proceed, given the
// key's live etag (nullptr when the key is absent or expired).
bool PreconditionHolds(const PutOptions& opts, const std::string* live_etag);

class Store {
 public:
  virtual ~Store() = default;

  // The live entry, or kNotFound (also for an expired one). kInvalidArgument
  // when CheckKey fails.
  virtual Result<Entry> Get(std::string_view ns, std::string_view key) = 0;
  // Writes value unless the precondition fails. Checks limits (CheckPut).
  virtual Result<PutResult> Put(std::string_view ns, std::string_view key, std::string_view value,
                                const PutOptions& opts) = 0;
  // Removes the key; deleting a missing key succeeds (returns OK).
  // kInvalidArgument when CheckKey fails.
  virtual Status Delete(std::string_view ns, std::string_view key) = 0;
  // Up to `limit` (1..kMaxListLimit) live keys with `prefix`, in byte order,
  // after the key named by `cursor` (empty: from the start). The cursor is
  // opaque to callers (today: the last key returned, raw bytes). Without a
  // cursor in the result no live key is left. kInvalidArgument for a limit
  // outside 1..kMaxListLimit or a prefix over kMaxKeyBytes.
  virtual Result<ListResult> List(std::string_view ns, std::string_view prefix,
                                  std::string_view cursor, uint32_t limit) = 0;
  // Makes every write so far durable (a no-op for memory). Called at shutdown.
  virtual Status Flush() = 0;
};

}  // namespace edgelab::kv

#endif  // EDGELAB_KV_STORE_H_
