// objects/backend.cc: MemoryBackend. Every call is one critical section
// under mu_, which is all Commit's atomicity needs: a reader never sees half
// of a commit. The SQLite backend is in sqlite_backend.cc.
#include "objects/backend.h"

#include <algorithm>

namespace edgelab::objects {
namespace {

// Whether `key` is inside `opts` (backend.h, invariant 2), given that it is
// at or past max(start, prefix): the walk starts there and stops at the first
// key this rejects, since every later key is rejected too (a key >= prefix
// that does not start with it is greater than every key that does).
bool BeforeEnd(const std::string& key, const ListOptions& opts) {
  return key.starts_with(opts.prefix) && (opts.end.empty() || key < opts.end);
}

}  // namespace

Result<std::optional<std::string>> MemoryBackend::Get(const ObjectKey& object,
                                                      std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto obj = data_.find(object);
  if (obj == data_.end()) return std::optional<std::string>();
  auto it = obj->second.find(std::string(key));
  if (it == obj->second.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<KeyValues> MemoryBackend::List(const ObjectKey& object, const ListOptions& opts) {
  std::lock_guard<std::mutex> lock(mu_);
  KeyValues out;
  auto obj = data_.find(object);
  if (obj == data_.end()) return out;
  const std::map<std::string, std::string>& keys = obj->second;
  for (auto it = keys.lower_bound(std::max(opts.start, opts.prefix));
       it != keys.end() && BeforeEnd(it->first, opts); ++it) {
    if (opts.limit != 0 && out.size() == opts.limit) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

Result<std::optional<int64_t>> MemoryBackend::GetAlarm(const ObjectKey& object) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = alarms_.find(object);
  if (it == alarms_.end()) return std::optional<int64_t>();
  return std::optional<int64_t>(it->second);
}

Result<std::vector<StoredAlarm>> MemoryBackend::Alarms() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredAlarm> out;
  out.reserve(alarms_.size());
  for (const auto& [object, time_ms] : alarms_) out.push_back({object, time_ms});
  return out;
}

Status MemoryBackend::Commit(const std::vector<ObjectBatch>& batches) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ObjectBatch& batch : batches) {
    std::map<std::string, std::string>& keys = data_[batch.object];
    for (const ObjectBatch::Write& w : batch.writes) {
      if (w.value.has_value()) {
        keys.insert_or_assign(w.key, *w.value);
      } else {
        keys.erase(w.key);
      }
    }
    // An object whose last key went keeps no empty map behind.
    if (keys.empty()) data_.erase(batch.object);
    if (batch.alarm == ObjectBatch::Alarm::kSet)
      alarms_.insert_or_assign(batch.object, batch.alarm_ms);
    if (batch.alarm == ObjectBatch::Alarm::kDeleted) alarms_.erase(batch.object);
  }
  return Status::OK();
}

}  // namespace edgelab::objects
