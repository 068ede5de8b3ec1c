// objects/storage.cc: Storage. Workload assumed: an object reads and writes
// tens of keys per request, mostly the same ones again and again, so after
// the first touch a key is served from the cache; its whole state usually
// fits in the 8 MiB cap. Lists are rarer and go to the backend every time
// (their rows are not cached: one large list would evict the hot keys).
//
// What the cache holds, and why List and Get may trust it: a key absent from
// the cache is not in unflushed_ and not in any batch in flight (an applied
// write always goes to the cache too, and entries are dropped only while no
// batch is in flight and never when unflushed), so for such a key the
// backend is right.
#include "objects/storage.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace edgelab::objects {
namespace {

using SlotMap = std::map<std::string, std::optional<std::string>, std::less<>>;

Status OverLimit(const char* what, size_t actual, size_t limit) {
  return Status::InvalidArgument(std::string(what) + " is " + std::to_string(actual) +
                                 " bytes; the limit is " + std::to_string(limit) + " bytes");
}

Status CheckKey(std::string_view key) {
  if (key.empty()) {
    return Status::InvalidArgument("key is empty; keys are 1 to " + std::to_string(kMaxKeyBytes) +
                                   " bytes");
  }
  if (key.size() > kMaxKeyBytes) return OverLimit("key", key.size(), kMaxKeyBytes);
  return Status::OK();
}

// What a cache entry costs: its key and its value (an absent key: the key).
size_t EntryBytes(std::string_view key, const std::optional<std::string>& slot) {
  return key.size() + (slot.has_value() ? slot->size() : 0);
}

// Walks, in byte order, the keys in `opts`' range that the cache or the open
// transaction hold, giving each key's state as the object sees it: the
// transaction's write over the cache's entry.
class Overlay {
 public:
  Overlay(const SlotMap& cache, const SlotMap* txn, const ListOptions& opts) : opts_(opts) {
    const std::string& from = std::max(opts.start, opts.prefix);
    cache_ = {cache.lower_bound(from), cache.end()};
    if (txn != nullptr) txn_ = {txn->lower_bound(from), txn->end()};
  }

  // The next key, or nullptr when the range holds no more.
  const std::string* key() const {
    const std::string* c = Live(cache_) ? &cache_.first->first : nullptr;
    const std::string* t = Live(txn_) ? &txn_.first->first : nullptr;
    if (c == nullptr || t == nullptr) return c != nullptr ? c : t;
    return *t <= *c ? t : c;
  }
  // The state of key(). Requires: key() != nullptr.
  const std::optional<std::string>& slot() const {
    const std::string* k = key();
    return Live(txn_) && txn_.first->first == *k ? txn_.first->second : cache_.first->second;
  }
  // Steps past key(). Requires: key() != nullptr.
  void Next() {
    // Map nodes stay put while iterators move, so `k` outlives both steps.
    const std::string& k = *key();
    const bool in_cache = Live(cache_) && cache_.first->first == k;
    if (Live(txn_) && txn_.first->first == k) ++txn_.first;
    if (in_cache) ++cache_.first;
  }

 private:
  using Range = std::pair<SlotMap::const_iterator, SlotMap::const_iterator>;
  // Whether the range's next entry is inside `opts_`. The walk starts at
  // max(start, prefix) and stops at the first key past the range, since every
  // later key is past it too (a key >= prefix that does not start with it is
  // greater than every key that does).
  bool Live(const Range& r) const {
    if (r.first == r.second) return false;
    const std::string& k = r.first->first;
    return k.starts_with(opts_.prefix) && (opts_.end.empty() || k < opts_.end);
  }

  const ListOptions& opts_;
  Range cache_, txn_;
};

// ListOptions::max_bytes's measure: the listing's count, then per pair its
// two lengths and bytes; and the most one stored pair can take (Put keeps
// every key and value within the limits).
constexpr uint64_t kListingCountBytes = 4;
constexpr uint64_t kPairBytes = 8;
constexpr uint64_t kMaxPairBytes = kPairBytes + kMaxKeyBytes + kMaxValueBytes;

// A listing being built: its pairs, and whether it is done because it holds
// `limit` pairs or because a pair would have taken it past `max_bytes`.
class Listing {
 public:
  explicit Listing(const ListOptions& opts) : opts_(opts) { over_ = Over(); }

  bool Done() const { return over_ || (opts_.limit != 0 && pairs_.size() >= opts_.limit); }
  // Whether a pair was refused for max_bytes (then the listing is useless).
  bool over() const { return over_; }
  size_t size() const { return pairs_.size(); }
  // Appends the pair, or refuses it (over()) when it does not fit.
  // Requires: !Done().
  void Add(std::string key, std::string value) {
    bytes_ += kPairBytes + key.size() + value.size();
    over_ = Over();
    if (!over_) pairs_.emplace_back(std::move(key), std::move(value));
  }
  KeyValues Take() { return std::move(pairs_); }

 private:
  bool Over() const { return opts_.max_bytes != 0 && bytes_ > opts_.max_bytes; }

  const ListOptions& opts_;
  KeyValues pairs_;
  uint64_t bytes_ = kListingCountBytes;
  bool over_ = false;
};

// How many rows to ask the backend for next. Without max_bytes: as many as
// `limit` still wants (0: all). With it, no more than would fit in max_bytes
// were each as large as a pair can be, so one page holds at most max_bytes
// too (one pair when even one may not fit): the host never holds more than
// about twice the cap, whatever the object stored. The price is more backend
// queries for small pairs: ~1,000 rows a page at a 128 MiB cap, 126 at 16 MiB.
uint32_t PageLimit(const ListOptions& opts, size_t have) {
  const uint32_t want = opts.limit == 0 ? 0 : opts.limit - static_cast<uint32_t>(have);
  if (opts.max_bytes == 0) return want;
  const uint64_t fit = std::max<uint64_t>(1, opts.max_bytes / kMaxPairBytes);
  const uint32_t page = static_cast<uint32_t>(std::min<uint64_t>(fit, UINT32_MAX));
  return want == 0 ? page : std::min(want, page);
}

// Appends the overlay's present keys before `bound` (every one left when
// `bound` is null) until `out` is done.
void DrainOverlay(Overlay& overlay, const std::string* bound, Listing& out) {
  while (!out.Done()) {
    const std::string* k = overlay.key();
    if (k == nullptr || (bound != nullptr && *k >= *bound)) return;
    if (overlay.slot().has_value()) out.Add(*k, *overlay.slot());
    overlay.Next();
  }
}

// Merges one page of backend rows with the overlay keys up to its last row.
// A row whose key the overlay holds is replaced by the overlay's state.
void MergePage(KeyValues& rows, Overlay& overlay, Listing& out) {
  for (auto& [key, value] : rows) {
    DrainOverlay(overlay, &key, out);
    if (out.Done()) return;
    const std::string* k = overlay.key();
    if (k == nullptr || *k != key) {
      out.Add(std::move(key), std::move(value));
      continue;
    }
    if (overlay.slot().has_value()) out.Add(key, *overlay.slot());
    overlay.Next();
  }
}

}  // namespace

Storage::Storage(Backend* backend, ObjectKey object)
    : backend_(backend), object_(std::move(object)) {}

const Storage::Slot* Storage::Find(std::string_view key) const {
  if (txn_.has_value()) {
    auto it = txn_->find(key);
    if (it != txn_->end()) return &it->second;
  }
  auto it = cache_.find(key);
  return it != cache_.end() ? &it->second : nullptr;
}

Result<std::optional<std::string>> Storage::Get(std::string_view key) {
  if (!broken_.ok()) return broken_;
  EDGELAB_RETURN_IF_ERROR(CheckKey(key));
  if (const Slot* slot = Find(key)) return *slot;
  EDGELAB_ASSIGN_OR_RETURN(Slot stored, backend_->Get(object_, key));
  Cache(key, stored);
  Trim();
  return stored;
}

Status Storage::Put(std::string_view key, std::string_view value) {
  if (!broken_.ok()) return broken_;
  EDGELAB_RETURN_IF_ERROR(CheckKey(key));
  if (value.size() > kMaxValueBytes) return OverLimit("value", value.size(), kMaxValueBytes);
  Write(key, std::string(value));
  return Status::OK();
}

Result<bool> Storage::Delete(std::string_view key) {
  // Get checks the key, and tells whether it existed.
  EDGELAB_ASSIGN_OR_RETURN(const Slot current, Get(key));
  Write(key, std::nullopt);
  return current.has_value();
}

// Pages through the backend: a page of PageLimit rows may yield fewer
// results (the cache hides deleted keys), so the next page starts just past
// the last row (key + "\0" is its successor in byte order) until `out` is
// done or the backend has no more rows.
Result<KeyValues> Storage::List(const ListOptions& opts) {
  if (!broken_.ok()) return broken_;
  Listing out(opts);
  Overlay overlay(cache_, txn_.has_value() ? &*txn_ : nullptr, opts);
  ListOptions page = opts;
  for (bool more = true; more && !out.Done();) {
    page.limit = PageLimit(opts, out.size());
    EDGELAB_ASSIGN_OR_RETURN(KeyValues rows, backend_->List(object_, page));
    more = page.limit != 0 && rows.size() == page.limit;
    if (more) page.start = rows.back().first + '\0';
    MergePage(rows, overlay, out);
  }
  DrainOverlay(overlay, nullptr, out);
  if (out.over()) {
    return Status::ResourceExhausted("listing of object " + object_.ToString() +
                                     " is larger than " + std::to_string(opts.max_bytes) +
                                     " bytes (its byte cap)");
  }
  return out.Take();
}

Status Storage::BeginTransaction() {
  if (!broken_.ok()) return broken_;
  if (txn_.has_value()) {
    return Status::InvalidArgument("object " + object_.ToString() +
                                   " already has an open transaction; transactions do not nest");
  }
  txn_.emplace();
  return Status::OK();
}

Status Storage::CommitTransaction() {
  if (!broken_.ok()) return broken_;
  if (!txn_.has_value()) {
    return Status::InvalidArgument("commit: object " + object_.ToString() +
                                   " has no open transaction");
  }
  SlotMap writes = std::move(*txn_);
  txn_.reset();
  // Nothing to apply is no written() step: the output gate would wait for a
  // commit of it, and has_unflushed() would never ask for one.
  if (writes.empty()) return Status::OK();
  for (auto& [key, slot] : writes) Apply(key, std::move(slot));
  ++written_;
  return Status::OK();
}

Status Storage::RollbackTransaction() {
  if (!broken_.ok()) return broken_;
  if (!txn_.has_value()) {
    return Status::InvalidArgument("rollback: object " + object_.ToString() +
                                   " has no open transaction");
  }
  txn_.reset();
  return Status::OK();
}

Result<std::optional<int64_t>> Storage::GetAlarm() {
  if (!broken_.ok()) return broken_;
  if (!alarm_loaded_) {
    EDGELAB_ASSIGN_OR_RETURN(alarm_, backend_->GetAlarm(object_));
    alarm_loaded_ = true;
  }
  return alarm_;
}

Status Storage::SetAlarm(int64_t unix_ms) {
  if (!broken_.ok()) return broken_;
  if (unix_ms <= 0 || unix_ms > kMaxAlarmMs) {
    return Status::InvalidArgument("alarm time is " + std::to_string(unix_ms) +
                                   "; use a Unix time in milliseconds, from 1 to " +
                                   std::to_string(kMaxAlarmMs) + " (the end of year 9999)");
  }
  ChangeAlarm(unix_ms);
  return Status::OK();
}

Status Storage::DeleteAlarm() {
  if (!broken_.ok()) return broken_;
  ChangeAlarm(std::nullopt);
  return Status::OK();
}

void Storage::ChangeAlarm(std::optional<int64_t> alarm) {
  alarm_ = alarm;
  alarm_loaded_ = true;
  alarm_change_ = true;
  ++written_;
}

ObjectBatch Storage::TakeUnflushed() {
  ObjectBatch batch;
  batch.object = object_;
  batch.writes.reserve(unflushed_.size());
  // Extracting moves each key out too (a map's keys are const in place).
  while (!unflushed_.empty()) {
    auto node = unflushed_.extract(unflushed_.begin());
    batch.writes.push_back({std::move(node.key()), std::move(node.mapped())});
  }
  if (alarm_change_) {
    batch.alarm = alarm_.has_value() ? ObjectBatch::Alarm::kSet : ObjectBatch::Alarm::kDeleted;
    batch.alarm_ms = alarm_.value_or(0);
    alarm_change_ = false;
  }
  ++batches_in_flight_;
  return batch;
}

void Storage::BatchCommitted() {
  // A batch taken before a Reset is never committed (registry.h, rule 3), so
  // a call with none in flight is the caller's bug.
  EDGELAB_CHECK(batches_in_flight_ > 0);
  --batches_in_flight_;
  Trim();
}

void Storage::Break(Status why) {
  Reset();
  broken_ = std::move(why);
}

void Storage::Reset() {
  broken_ = Status::OK();
  cache_.clear();
  cached_bytes_ = 0;
  unflushed_.clear();
  txn_.reset();
  alarm_loaded_ = false;
  alarm_.reset();
  alarm_change_ = false;
  batches_in_flight_ = 0;
}

void Storage::Write(std::string_view key, Slot slot) {
  if (txn_.has_value()) {
    txn_->insert_or_assign(std::string(key), std::move(slot));
    return;
  }
  Apply(key, std::move(slot));
  ++written_;
}

void Storage::Apply(std::string_view key, Slot slot) {
  Cache(key, slot);
  unflushed_.insert_or_assign(std::string(key), std::move(slot));
}

void Storage::Cache(std::string_view key, Slot slot) {
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    cached_bytes_ += EntryBytes(key, slot);
    cache_.emplace(std::string(key), std::move(slot));
    return;
  }
  cached_bytes_ = cached_bytes_ - EntryBytes(key, it->second) + EntryBytes(key, slot);
  it->second = std::move(slot);
}

// Drops every entry at once rather than the least recently used: it costs no
// bookkeeping per read, and an object past 8 MiB of hot state is rare enough
// that re-reading what it still needs is cheaper than tracking recency for
// every object. Entries with a write not yet durable stay (see the top).
void Storage::Trim() {
  if (batches_in_flight_ != 0 || cached_bytes_ <= kMaxCacheBytes) return;
  for (auto it = cache_.begin(); it != cache_.end();) {
    const bool pinned =
        unflushed_.contains(it->first) || (txn_.has_value() && txn_->contains(it->first));
    if (pinned) {
      ++it;
      continue;
    }
    cached_bytes_ -= EntryBytes(it->first, it->second);
    it = cache_.erase(it);
  }
}

}  // namespace edgelab::objects
