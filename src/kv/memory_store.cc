// kv/memory_store.cc: the in-memory Store. Every operation is one critical
// section, which is what makes a conditional put's check-and-write atomic.
#include "kv/memory_store.h"

#include <random>
#include <utility>

namespace edgelab::kv {
namespace {

bool IsLive(const Entry& e, int64_t now_ms) {
  return e.expiration_ms == 0 || e.expiration_ms > now_ms;
}

uint32_t RandomEpoch() {
  std::random_device rd;
  return static_cast<uint32_t>(rd());
}

}  // namespace

MemoryStore::MemoryStore(sched::Clock* clock) : MemoryStore(clock, RandomEpoch()) {}

MemoryStore::MemoryStore(sched::Clock* clock, uint32_t epoch) : clock_(clock), epoch_(epoch) {}

Entry* MemoryStore::FindLive(std::string_view ns, std::string_view key, int64_t now_ms) {
  auto ns_it = namespaces_.find(ns);
  if (ns_it == namespaces_.end()) return nullptr;
  auto it = ns_it->second.find(key);
  if (it == ns_it->second.end()) return nullptr;
  if (IsLive(it->second, now_ms)) return &it->second;
  ns_it->second.erase(it);
  return nullptr;
}

Result<Entry> MemoryStore::Get(std::string_view ns, std::string_view key) {
  EDGELAB_RETURN_IF_ERROR(CheckKey(key));
  const int64_t now_ms = clock_->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* e = FindLive(ns, key, now_ms);
  if (e == nullptr) return Status::NotFound("key not found in namespace " + std::string(ns));
  return *e;
}

Result<PutResult> MemoryStore::Put(std::string_view ns, std::string_view key,
                                   std::string_view value, const PutOptions& opts) {
  EDGELAB_RETURN_IF_ERROR(CheckPut(key, value, opts));
  const int64_t now_ms = clock_->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  Entry* live = FindLive(ns, key, now_ms);
  if (!PreconditionHolds(opts, live == nullptr ? nullptr : &live->etag)) {
    return PutResult{PutResult::Outcome::kPreconditionFailed, "", std::nullopt};
  }
  Entry fresh{std::string(value), opts.metadata, FormatEtag(epoch_, ++sequence_),
              opts.expiration_ms};
  PutResult result{PutResult::Outcome::kStored, fresh.etag, std::nullopt};
  if (opts.report_previous) result.previous_etag = live == nullptr ? "" : live->etag;
  if (live != nullptr) {
    *live = std::move(fresh);
  } else {
    auto ns_it = namespaces_.try_emplace(std::string(ns)).first;
    ns_it->second.insert_or_assign(std::string(key), std::move(fresh));
  }
  return result;
}

Status MemoryStore::Delete(std::string_view ns, std::string_view key) {
  EDGELAB_RETURN_IF_ERROR(CheckKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto ns_it = namespaces_.find(ns);
  if (ns_it == namespaces_.end()) return Status::OK();
  auto it = ns_it->second.find(key);
  if (it != ns_it->second.end()) ns_it->second.erase(it);
  return Status::OK();
}

Result<ListResult> MemoryStore::List(std::string_view ns, std::string_view prefix,
                                     std::string_view cursor, uint32_t limit) {
  EDGELAB_RETURN_IF_ERROR(CheckList(prefix, limit));
  const int64_t now_ms = clock_->WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  ListResult out;
  auto ns_it = namespaces_.find(ns);
  if (ns_it == namespaces_.end()) return out;
  Keys& keys = ns_it->second;
  // Resume strictly after the cursor, but never before the prefix.
  auto it =
      (!cursor.empty() && cursor >= prefix) ? keys.upper_bound(cursor) : keys.lower_bound(prefix);
  // One live key past a full page decides whether a cursor is returned, so
  // an empty cursor always means the listing is complete.
  while (it != keys.end() && std::string_view(it->first).starts_with(prefix)) {
    if (!IsLive(it->second, now_ms)) {
      it = keys.erase(it);
      continue;
    }
    if (out.keys.size() == limit) {
      out.cursor = out.keys.back().name;
      break;
    }
    out.keys.push_back({it->first, it->second.expiration_ms, it->second.metadata});
    ++it;
  }
  return out;
}

}  // namespace edgelab::kv
