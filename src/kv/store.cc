// kv/store.cc: the Workers limits every backend enforces, and the etag format
// they share. Checked before any lock is taken, so over-limit input costs no
// contention.
#include "kv/store.h"

#include <cinttypes>
#include <cstdio>

namespace edgelab::kv {
namespace {

Status OverLimit(const char* what, size_t actual, size_t limit) {
  return Status::InvalidArgument(std::string(what) + " is " + std::to_string(actual) +
                                 " bytes; the limit is " + std::to_string(limit) + " bytes");
}

}  // namespace

Status CheckKey(std::string_view key) {
  if (key.empty()) {
    return Status::InvalidArgument("key is empty; keys are 1 to " + std::to_string(kMaxKeyBytes) +
                                   " bytes");
  }
  if (key.size() > kMaxKeyBytes) return OverLimit("key", key.size(), kMaxKeyBytes);
  return Status::OK();
}

Status CheckPut(std::string_view key, std::string_view value, const PutOptions& opts) {
  EDGELAB_RETURN_IF_ERROR(CheckKey(key));
  if (value.size() > kMaxValueBytes) return OverLimit("value", value.size(), kMaxValueBytes);
  if (opts.metadata.size() > kMaxMetadataBytes) {
    return OverLimit("metadata", opts.metadata.size(), kMaxMetadataBytes);
  }
  if (opts.expiration_ms < 0) {
    return Status::InvalidArgument("expiration_ms is " + std::to_string(opts.expiration_ms) +
                                   "; use 0 (never) or a Unix time in milliseconds");
  }
  return Status::OK();
}

Status CheckList(std::string_view prefix, uint32_t limit) {
  if (limit < 1 || limit > kMaxListLimit) {
    return Status::InvalidArgument("list limit is " + std::to_string(limit) + "; use 1 to " +
                                   std::to_string(kMaxListLimit));
  }
  if (prefix.size() > kMaxKeyBytes) return OverLimit("list prefix", prefix.size(), kMaxKeyBytes);
  return Status::OK();
}

std::string FormatEtag(uint32_t epoch, uint64_t sequence) {
  char buf[8 + 1 + 16 + 1];
  std::snprintf(buf, sizeof(buf), "%08" PRIx32 "-%016" PRIx64, epoch, sequence);
  return buf;
}

bool PreconditionHolds(const PutOptions& opts, const std::string* live_etag) {
  switch (opts.condition) {
    case PutOptions::Condition::kNone:
      return true;
    case PutOptions::Condition::kIfMatch:
      return live_etag != nullptr && *live_etag == opts.if_match;
    case PutOptions::Condition::kIfNoneMatch:
      return live_etag == nullptr;
  }
  return false;
}

}  // namespace edgelab::kv
