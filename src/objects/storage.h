// objects/storage.h: one live Durable Object's storage as its guest sees it:
// get / put / delete / list, transactions, the alarm; a cache in front of
// the Backend, and the record of writes not yet durable that the output gate
// (objects/registry.h) waits on.
//
// Why a cache is safe: an object has exactly one live instance in the
// process, and only this Storage writes its keys, so a value it read or
// wrote stays right for as long as it lives. Reads of cached keys never
// reach the backend; writes apply to the cache at once (the object's next
// request sees them) and are handed to the registry's group commit later.
//
// Threading: belongs to the object's home loop; not thread-safe.
// Invariants:
//   (1) a read sees every write made before it by this object (and by the
//       open transaction), durable or not, and nothing else;
//   (2) writes outside a transaction take effect one by one, each at once;
//       a transaction's writes are invisible outside it until Commit, which
//       applies all of them at once (one `written()` step), and Rollback (or
//       Reset) drops all of them;
//   (3) `written()` counts applied writes (each put/delete outside a
//       transaction, each committed transaction, each alarm change) and
//       never decreases; TakeUnflushed() returns every write applied up to
//       `written()` that an earlier call did not return, coalesced per key
//       (the last value wins), alarms included;
//   (4) alarm operations are not part of transactions: they apply at once.
// Failure: over-limit keys or values are kInvalidArgument naming the limit;
//          a listing past its byte cap is kResourceExhausted; backend errors
//          pass up unchanged (the cache is left as it was).
#ifndef EDGELAB_OBJECTS_STORAGE_H_
#define EDGELAB_OBJECTS_STORAGE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "objects/backend.h"

namespace edgelab::objects {

// Past this many cached bytes (keys + values) clean entries are dropped.
inline constexpr size_t kMaxCacheBytes = 8 * 1024 * 1024;

// The latest alarm time: the end of year 9999, in Unix ms. Later is a bug,
// and the registry's timer arithmetic stays far from overflow below it.
inline constexpr int64_t kMaxAlarmMs = 253'402'300'799'999;

class Storage {
 public:
  // `backend` must outlive the storage.
  Storage(Backend* backend, ObjectKey object);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // The value of `key`, or nullopt. kInvalidArgument for an empty key or one
  // over kMaxKeyBytes.
  Result<std::optional<std::string>> Get(std::string_view key);
  // Stores `value` under `key`. kInvalidArgument over kMaxKeyBytes /
  // kMaxValueBytes or for an empty key.
  Status Put(std::string_view key, std::string_view value);
  // Removes `key`; returns whether it existed.
  Result<bool> Delete(std::string_view key);
  // Pairs matching `opts` (backend.h), in byte order, as of invariant 1.
  // kResourceExhausted naming the cap when they would pass opts.max_bytes:
  // the caller asked for more than it may hold, and gets none of it (a
  // prefix would look like a whole listing; paging is what limit and start
  // are for). The backend is read in pages no larger than the cap, so the
  // refusal costs at most about twice the cap in memory.
  Result<KeyValues> List(const ListOptions& opts);

  // kInvalidArgument when a transaction is already open (no nesting).
  Status BeginTransaction();
  // Applies the open transaction (invariant 2). kInvalidArgument when none.
  Status CommitTransaction();
  // Drops the open transaction's writes. kInvalidArgument when none.
  Status RollbackTransaction();
  bool in_transaction() const { return txn_.has_value(); }

  // The alarm's time (Unix ms), or nullopt. Reads the backend the first time.
  Result<std::optional<int64_t>> GetAlarm();
  // Sets (replaces) the alarm. kInvalidArgument for a time <= 0 or past
  // kMaxAlarmMs.
  Status SetAlarm(int64_t unix_ms);
  Status DeleteAlarm();
  // The alarm as last set or loaded here, without touching the backend:
  // nullopt when none is set or it was never loaded.
  std::optional<int64_t> known_alarm() const { return alarm_loaded_ ? alarm_ : std::nullopt; }
  // Whether known_alarm() knows: false until the alarm was read, set or
  // deleted here (then nullopt means "not known", not "none").
  bool alarm_known() const { return alarm_loaded_; }

  // ---- for the registry's output gate (registry.h) ----
  uint64_t written() const { return written_; }
  // True when writes were applied since the last TakeUnflushed.
  bool has_unflushed() const { return !unflushed_.empty() || alarm_change_; }
  // The writes applied since the last call (invariant 3), as one batch for
  // Backend::Commit; afterwards has_unflushed() is false. Until
  // BatchCommitted() is called for it, its keys stay cached (the backend
  // does not have them yet, so the cache is the only place they can be read).
  ObjectBatch TakeUnflushed();
  // The oldest batch TakeUnflushed returned is durable now. The cache sheds
  // entries only while no batch is in flight (here, and after a read that
  // filled it): when it holds more than kMaxCacheBytes, every entry not
  // waiting in an unflushed or uncommitted write is dropped (it is re-read
  // from the backend when needed).
  void BatchCommitted();
  // Forgets everything in memory: cache, open transaction, unflushed writes,
  // the alarm, and a Break. Used when a commit failed (memory no longer
  // matches the disk) and on eviction. `written()` keeps counting.
  void Reset();
  // As Reset, then every operation fails with `why` until the next Reset: a
  // turn still running when its object's commit failed must not go on from
  // state that no longer exists (it would act on reads the disk never had).
  void Break(Status why);

  const ObjectKey& object() const { return object_; }
  // Bytes held by the cache (keys + values), for eviction and tests.
  size_t cached_bytes() const { return cached_bytes_; }

 private:
  // The cached state of a key: its value, or known to be absent.
  using Slot = std::optional<std::string>;

  // The key's state in the open transaction, else in the cache; nullptr when
  // neither holds it (then the backend is right, storage.cc explains why).
  const Slot* Find(std::string_view key) const;
  // A put (a value) or delete (nullopt): into the open transaction, or
  // applied at once as one written() step.
  void Write(std::string_view key, Slot slot);
  // Into the cache and unflushed_.
  void Apply(std::string_view key, Slot slot);
  // Into the cache only, keeping cached_bytes_.
  void Cache(std::string_view key, Slot slot);
  // Sheds cache entries past kMaxCacheBytes when no batch is in flight.
  void Trim();
  void ChangeAlarm(std::optional<int64_t> alarm);

  Backend* const backend_;
  const ObjectKey object_;
  std::map<std::string, Slot, std::less<>> cache_;
  size_t cached_bytes_ = 0;
  std::map<std::string, Slot, std::less<>> unflushed_;  // key -> last write since TakeUnflushed
  std::optional<std::map<std::string, Slot, std::less<>>> txn_;  // the open transaction's writes
  bool alarm_loaded_ = false;
  std::optional<int64_t> alarm_;
  bool alarm_change_ = false;     // the alarm changed since TakeUnflushed
  size_t batches_in_flight_ = 0;  // taken by TakeUnflushed, not yet BatchCommitted
  uint64_t written_ = 0;
  Status broken_;  // set by Break, cleared by Reset
};

}  // namespace edgelab::objects

#endif  // EDGELAB_OBJECTS_STORAGE_H_
