// abi/kv_calls.cc: host functions for KV bindings (docs/abi.md "KV").
//
// Every guest range is checked before the store is touched, so a bad pointer
// never leaves a half-done write behind; output ranges are checked again
// after the operation (memory cannot change meanwhile: see abi/host.h).
// Usage (abi/usage.h) counts each call that reached the namespace, whatever
// it answered (a get that finds nothing is still a read), except one the
// store refused for over-limit arguments: the Workers runtime throws those
// before any request is made, so Cloudflare never bills them.
#include <cstring>

#include "abi/calls.h"
#include "abi/context.h"
#include "abi/guest.h"
#include "abi/observe.h"
#include "kv/namespace.h"

namespace edgelab::abi::calls {
namespace {

// The binding for handle `h`, or null.
kv::Namespace* Binding(HostCall& c, uint32_t h) {
  const auto& kv = c.ctx->kv();
  return h < kv.size() ? kv[h].ns : nullptr;
}

// Maps a store error to a guest code; logs what the guest cannot see.
int32_t ErrorCode(HostCall& c, std::string_view fn, const Status& s) {
  switch (s.code()) {
    case Code::kNotFound:
      return kENotFound;
    case Code::kPreconditionFailed:
      return kEPrecondition;
    case Code::kInvalidArgument:
      c.ctx->Log(LogLevel::kWarn, "edgelab." + std::string(fn) + ": " + s.message());
      return kEInval;
    case Code::kUnavailable:
      return kEUnavailable;
    default:
      c.ctx->Log(LogLevel::kError, "edgelab." + std::string(fn) + ": " + s.ToString());
      return kEIO;
  }
}

// An observation of a KV operation on binding `h` and `key`.
Observation ObserveKv(HostCall& c, uint32_t h, kv::Namespace* ns, race::Op::Kind kind,
                      std::string_view key) {
  Observation o(c, race::Op::Store::kKv, kind);
  if (o.on()) {
    o.op().space = ns->id();
    o.op().binding = c.ctx->kv()[h].name;
    o.op().key = key;
  }
  return o;
}

// Counts one call of kind `counter` that reached the store and answered `s`.
void Count(HostCall& c, std::atomic<uint64_t> Usage::*counter, const Status& s) {
  if (s.code() != Code::kInvalidArgument) c.ctx->Count(counter);
}

// Offsets of edgelab_kv_put_options (docs/abi.md).
struct PutOptionsRaw {
  uint32_t condition, etag_ptr, etag_len, metadata_ptr, metadata_len;
  uint32_t out_etag_ptr, out_etag_cap, reserved;
  int64_t expiration_ttl, expiration;
};
static_assert(sizeof(PutOptionsRaw) == 48);

// Expirations are seconds; past this (the year 5138) a value is a bug or an
// attack, and seconds * 1000 + now must not overflow int64.
constexpr int64_t kMaxExpirationSeconds = int64_t{1} << 37;

// Reads and checks the options struct; false traps. `*bad` is set for a
// well-formed read of invalid values (an EINVAL result, not a trap).
bool ReadPutOptions(Guest& g, uint32_t ptr, kv::PutOptions* opts, PutOptionsRaw* raw, bool* bad) {
  *raw = {};
  *bad = false;
  if (ptr == 0) return true;
  std::string_view bytes, etag, metadata;
  if (!g.Read(ptr, sizeof(PutOptionsRaw), &bytes)) return false;
  std::memcpy(raw, bytes.data(), sizeof(PutOptionsRaw));
  if (!g.Read(raw->etag_ptr, raw->etag_len, &etag)) return false;
  if (!g.Read(raw->metadata_ptr, raw->metadata_len, &metadata)) return false;
  uint8_t* unused;
  if (raw->out_etag_ptr != 0 && !g.Writable(raw->out_etag_ptr, raw->out_etag_cap, &unused)) {
    return false;
  }
  using C = kv::PutOptions::Condition;
  if (raw->condition > 2 || raw->reserved != 0 || raw->expiration_ttl < 0 || raw->expiration < 0 ||
      raw->expiration_ttl > kMaxExpirationSeconds || raw->expiration > kMaxExpirationSeconds) {
    *bad = true;
    return true;
  }
  opts->condition = raw->condition == 1   ? C::kIfMatch
                    : raw->condition == 2 ? C::kIfNoneMatch
                                          : C::kNone;
  opts->if_match = std::string(etag);
  opts->metadata = std::string(metadata);
  if (raw->expiration > 0) {
    opts->expiration_ms = raw->expiration * 1000;
  } else if (raw->expiration_ttl > 0) {
    opts->expiration_ms = g.ctx().sched().WallMillis() + raw->expiration_ttl * 1000;
  }
  return true;
}

}  // namespace

HostOutcome KvOpen(HostCall& c) {
  Guest g(c, "kv_open");
  std::string_view name;
  if (!g.Read(g.U32(0), g.U32(1), &name)) return g.Trap();
  const auto& kv = c.ctx->kv();
  for (size_t i = 0; i < kv.size(); ++i) {
    if (kv[i].name == name) {
      g.Return(static_cast<uint32_t>(i));
      return HostOutcome::Return();
    }
  }
  g.Return(kENotFound);
  return HostOutcome::Return();
}

namespace {

// The shape kv_get, kv_get_strong and kv_get_metadata share: check the key
// and the `out_pairs` output ranges (args 3, 4 and on, in pairs) before
// touching the store, read the entry at the request's location with
// `consistency`, and let `write` answer with it.
template <typename Write>
HostOutcome ReadEntry(HostCall& c, Guest& g, std::string_view fn, int out_pairs, Write write,
                      kv::Consistency consistency = kv::Consistency::kEventual) {
  std::string_view key;
  uint8_t* unused;
  if (!g.Read(g.U32(1), g.U32(2), &key)) return g.Trap();
  for (int i = 0; i < out_pairs; ++i) {
    if (!g.Writable(g.U32(3 + 2 * i), g.U32(4 + 2 * i), &unused)) return g.Trap();
  }
  kv::Namespace* ns = Binding(c, g.U32(0));
  if (ns == nullptr) return g.Answer(kEInval);
  c.bytes += kKvReadCost;
  Observation o = ObserveKv(c, g.U32(0), ns, race::Op::Kind::kRead, key);
  if (o.on()) {
    o.op().strong = consistency == kv::Consistency::kStrong ||
                    ns->consistency() == kv::Consistency::kStrong;
  }
  o.Invoke();
  Result<kv::Entry> entry = ns->Get(c.ctx->sched(), key, consistency, c.ctx->location);
  if (o.on() && entry.ok()) {
    o.op().found = true;
    o.op().value = entry->value;
    o.op().etag = entry->etag;
  }
  o.Complete(entry.status().code() == Code::kNotFound ? Status::OK() : entry.status());
  Count(c, &Usage::kv_reads, entry.status());
  if (!entry.ok()) return g.Answer(ErrorCode(c, fn, entry.status()));
  return write(*entry);
}

// kv_get and kv_get_strong: the value, and the etag NUL-terminated.
HostOutcome GetValue(HostCall& c, std::string_view fn, kv::Consistency consistency) {
  Guest g(c, fn);
  auto write = [&](const kv::Entry& entry) {
    uint32_t len;
    if (!g.WriteOut(g.U32(3), g.U32(4), entry.value, &len) ||
        !g.WriteCString(g.U32(5), g.U32(6), entry.etag)) {
      return g.Trap();
    }
    return g.Answer(static_cast<int32_t>(len));
  };
  return ReadEntry(c, g, fn, 2, write, consistency);
}

}  // namespace

HostOutcome KvGet(HostCall& c) { return GetValue(c, "kv_get", kv::Consistency::kEventual); }

HostOutcome KvGetStrong(HostCall& c) {
  return GetValue(c, "kv_get_strong", kv::Consistency::kStrong);
}

HostOutcome KvGetMetadata(HostCall& c) {
  Guest g(c, "kv_get_metadata");
  return ReadEntry(c, g, "kv_get_metadata", 1, [&](const kv::Entry& entry) {
    uint32_t len;
    if (!g.WriteOut(g.U32(3), g.U32(4), entry.metadata, &len)) return g.Trap();
    return g.Answer(static_cast<int32_t>(len));
  });
}

HostOutcome KvPut(HostCall& c) {
  Guest g(c, "kv_put");
  std::string_view key, value;
  kv::PutOptions opts;
  PutOptionsRaw raw;
  bool bad;
  if (!g.Read(g.U32(1), g.U32(2), &key) || !g.Read(g.U32(3), g.U32(4), &value) ||
      !ReadPutOptions(g, g.U32(5), &opts, &raw, &bad)) {
    return g.Trap();
  }
  kv::Namespace* ns = Binding(c, g.U32(0));
  if (ns == nullptr || bad) return g.Answer(kEInval);
  c.bytes += kKvWriteCost;
  Observation o = ObserveKv(c, g.U32(0), ns, race::Op::Kind::kWrite, key);
  if (o.on()) {
    using C = kv::PutOptions::Condition;
    o.op().value = value;
    o.op().condition = opts.condition == C::kIfMatch       ? race::Op::Condition::kIfMatch
                       : opts.condition == C::kIfNoneMatch ? race::Op::Condition::kIfNoneMatch
                                                           : race::Op::Condition::kNone;
    o.op().if_match = opts.if_match;
    o.op().expiration_ms = opts.expiration_ms;
    opts.report_previous = true;
  }
  o.Invoke();
  Result<kv::PutResult> put = ns->Put(c.ctx->sched(), key, value, opts, c.ctx->location);
  if (o.on() && put.ok()) {
    const bool stored = put->outcome == kv::PutResult::Outcome::kStored;
    o.op().etag = put->etag;
    if (put->previous_etag) o.op().previous_etag = *put->previous_etag;
    o.Complete(stored ? race::Op::Outcome::kOk : race::Op::Outcome::kFailed);
  } else {
    o.Complete(put.status());
  }
  Count(c, &Usage::kv_writes, put.status());
  if (!put.ok()) return g.Answer(ErrorCode(c, "kv_put", put.status()));
  if (put->outcome == kv::PutResult::Outcome::kPreconditionFailed) {
    return g.Answer(kEPrecondition);
  }
  if (raw.out_etag_ptr != 0 && !g.WriteCString(raw.out_etag_ptr, raw.out_etag_cap, put->etag)) {
    return g.Trap();
  }
  g.Return(0);
  return HostOutcome::Return();
}

HostOutcome KvDelete(HostCall& c) {
  Guest g(c, "kv_delete");
  std::string_view key;
  if (!g.Read(g.U32(1), g.U32(2), &key)) return g.Trap();
  kv::Namespace* ns = Binding(c, g.U32(0));
  if (ns == nullptr) return g.Answer(kEInval);
  c.bytes += kKvWriteCost;
  Observation o = ObserveKv(c, g.U32(0), ns, race::Op::Kind::kDelete, key);
  o.Invoke();
  Status s = ns->Delete(c.ctx->sched(), key, c.ctx->location);
  o.Complete(s);
  Count(c, &Usage::kv_deletes, s);
  g.Return(s.ok() ? 0 : ErrorCode(c, "kv_delete", s));
  return HostOutcome::Return();
}

namespace {

void AppendU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<char*>(&v), 4); }

std::string EncodeListing(const kv::ListResult& list) {
  std::string out;
  AppendU32(&out, static_cast<uint32_t>(list.keys.size()));
  AppendU32(&out, static_cast<uint32_t>(list.cursor.size()));
  out.append(list.cursor);
  for (const auto& key : list.keys) {
    AppendU32(&out, static_cast<uint32_t>(key.name.size()));
    out.append(key.name);
  }
  return out;
}

}  // namespace

HostOutcome KvList(HostCall& c) {
  Guest g(c, "kv_list");
  std::string_view prefix, cursor;
  uint8_t* unused;
  if (!g.Read(g.U32(1), g.U32(2), &prefix) || !g.Read(g.U32(3), g.U32(4), &cursor) ||
      !g.Writable(g.U32(6), g.U32(7), &unused)) {
    return g.Trap();
  }
  kv::Namespace* ns = Binding(c, g.U32(0));
  uint32_t limit = g.U32(5) == 0 ? kv::kMaxListLimit : g.U32(5);
  if (ns == nullptr || limit > kv::kMaxListLimit) return g.Answer(kEInval);
  c.bytes += kKvWriteCost;  // a range scan: priced like a write
  Observation o = ObserveKv(c, g.U32(0), ns, race::Op::Kind::kList, prefix);
  o.Invoke();
  Result<kv::ListResult> list = ns->List(c.ctx->sched(), prefix, cursor, limit, c.ctx->location);
  o.Complete(list.status());
  Count(c, &Usage::kv_lists, list.status());
  if (!list.ok()) return g.Answer(ErrorCode(c, "kv_list", list.status()));
  uint32_t len;
  if (!g.WriteOut(g.U32(6), g.U32(7), EncodeListing(*list), &len)) return g.Trap();
  g.Return(len);
  return HostOutcome::Return();
}

}  // namespace edgelab::abi::calls
