// race/recent.h: internal to race/: the most recent entries per key, bounded
// per key and over all keys, for the detector (the writes that may have been
// overwritten) and the history recorder (etag -> value, to turn if_match into
// cas). Both want "what was written lately to this key" and neither may grow
// with the number of keys a long run touches.
//
// Threading: none; the owner locks.
// Invariants: (1) a key holds at most `per_key` entries, oldest evicted first;
//             (2) every entry held is among the last `max_order` added, and
//                 the held entries' bytes are at most `max_bytes` (the oldest
//                 anywhere goes first);
//             (3) a key with no entries is not held.
#ifndef EDGELAB_RACE_RECENT_H_
#define EDGELAB_RACE_RECENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

namespace edgelab::race {

template <typename V>
class RecentByKey {
 public:
  // Requires: per_key >= 1.
  RecentByKey(size_t per_key, size_t max_order, size_t max_bytes)
      : per_key_(per_key), max_order_(max_order), max_bytes_(max_bytes) {}

  // Adds `value` as the newest entry of `key`; `bytes` is what it costs. An
  // entry over max_bytes is not kept (it would push every other one out).
  void Add(const std::string& key, V value, size_t bytes) {
    if (bytes > max_bytes_) return;
    auto& [name, entries] = *by_key_.try_emplace(key).first;
    entries.push_back(Entry{++seq_, bytes, std::move(value)});
    bytes_ += bytes;
    // The map's nodes do not move on rehash, so `name` stays valid until the
    // key is erased, which happens only once its last entry left (see Pop).
    order_.push_back({&name, seq_});
    if (entries.size() > per_key_) {
      bytes_ -= entries.front().bytes;
      entries.pop_front();  // its order_ record stays, stale, until popped
    }
    while (!order_.empty() && (order_.size() > max_order_ || bytes_ > max_bytes_)) PopOldest();
  }

  // The newest entry of `key` for which `pred` holds, or null. The pointer
  // lives until the next Add.
  template <typename Pred>
  const V* FindNewest(const std::string& key, Pred pred) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return nullptr;
    for (auto e = it->second.rbegin(); e != it->second.rend(); ++e) {
      if (pred(e->value)) return &e->value;
    }
    return nullptr;
  }

  size_t keys() const { return by_key_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    uint64_t seq;
    size_t bytes;
    V value;
  };

  // Drops the oldest record of order_, and its entry when the key still holds
  // it (a per-key eviction may have dropped it already). A key's entries are
  // in order_ in the same order, so when its last entry goes no record of the
  // key is left in order_ and erasing it cannot leave one dangling.
  void PopOldest() {
    auto [name, seq] = order_.front();
    order_.pop_front();
    auto it = by_key_.find(*name);
    if (it->second.empty() || it->second.front().seq != seq) return;
    bytes_ -= it->second.front().bytes;
    it->second.pop_front();
    if (it->second.empty()) by_key_.erase(it);
  }

  const size_t per_key_;
  const size_t max_order_;
  const size_t max_bytes_;
  uint64_t seq_ = 0;
  size_t bytes_ = 0;
  std::unordered_map<std::string, std::deque<Entry>> by_key_;
  std::deque<std::pair<const std::string*, uint64_t>> order_;  // oldest first
};

}  // namespace edgelab::race

#endif  // EDGELAB_RACE_RECENT_H_
