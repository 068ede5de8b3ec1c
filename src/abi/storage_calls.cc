// abi/storage_calls.cc: host functions a guest calls inside a Durable
// Object (during its do_fetch or do_alarm export): its id, its storage,
// transactions and its alarm (docs/abi.md "Inside a Durable Object"). They
// only reach objects::Storage (objects/storage.h says what a read sees and
// when a write applies); turns, the output gate and alarm retries are the
// registry's and the runtime's.
//
// As in kv_calls.cc, every guest range is checked before storage is touched,
// so a bad pointer never leaves a half-done write behind. Outside an object
// the calls are EINVAL, after the same checks: the pointer rule has no
// exceptions.
//
// Usage (abi/usage.h) counts request units as Cloudflare bills key-value
// backed Durable Object storage: 4 KB of value read or written per unit, at
// least one a call; a listing by the keys and values it returns together; a
// delete and an alarm_set one write unit each. A call reaching storage is
// counted whatever its result, except one refused for over-limit arguments
// (kInvalidArgument: the Workers runtime throws before billing those).
#include <algorithm>
#include <cstring>
#include <limits>

#include "abi/calls.h"
#include "abi/context.h"
#include "abi/guest.h"
#include "abi/observe.h"
#include "objects/storage.h"

namespace edgelab::abi::calls {
namespace {

// This object's storage, or null (logged) outside a Durable Object.
objects::Storage* Inside(HostCall& c, std::string_view fn) {
  objects::Storage* storage = c.ctx->object().storage;
  if (storage == nullptr) {
    c.ctx->Log(LogLevel::kWarn, "edgelab." + std::string(fn) + ": only inside a Durable Object");
  }
  return storage;
}

// An observation of a storage operation on `key` of this object. `space`
// must outlive it (the caller's "<class>/<id>").
Observation ObserveStorage(HostCall& c, const objects::Storage& storage, race::Op::Kind kind,
                           std::string_view key, const std::string& space) {
  Observation o(c, race::Op::Store::kObject, kind);
  if (o.on()) {
    o.op().space = space;
    o.op().key = key;
    o.op().in_transaction = storage.in_transaction();
  }
  return o;
}

// "<class>/<id>" of the object serving `c`, when observed; else empty.
std::string SpaceOf(HostCall& c) {
  if (c.ctx->observer() == nullptr || c.ctx->object().key == nullptr) return "";
  return c.ctx->object().key->ToString();
}

// Maps a storage error to a guest code; logs what the guest cannot see.
int32_t ErrorCode(HostCall& c, std::string_view fn, const Status& s) {
  switch (s.code()) {
    case Code::kNotFound:
      return kENotFound;
    case Code::kInvalidArgument:
      c.ctx->Log(LogLevel::kWarn, "edgelab." + std::string(fn) + ": " + s.message());
      return kEInval;
    default:
      c.ctx->Log(LogLevel::kError, "edgelab." + std::string(fn) + ": " + s.ToString());
      return kEIO;
  }
}

// Adds `units` to `counter` unless storage refused the call's arguments.
void CountUnits(HostCall& c, std::atomic<uint64_t> Usage::*counter, const Status& s,
                uint64_t units) {
  if (s.code() != Code::kInvalidArgument) c.ctx->Count(counter, units);
}

// The shape of the calls whose only guest data are their arguments: run `op`
// on the object's storage, charging `cost`; answer 0 or the error's code.
template <typename Op>
HostOutcome StorageOp(HostCall& c, std::string_view fn, uint64_t cost, Op op) {
  Guest g(c, fn);
  objects::Storage* storage = Inside(c, fn);
  if (storage == nullptr) return g.Answer(kEInval);
  c.bytes += cost;
  Status s = op(g, *storage);
  return g.Answer(s.ok() ? 0 : ErrorCode(c, fn, s));
}

}  // namespace

HostOutcome DoSelfId(HostCall& c) {
  Guest g(c, "do_self_id");
  uint8_t* unused;
  if (!g.Writable(g.U32(0), g.U32(1), &unused)) return g.Trap();
  if (Inside(c, "do_self_id") == nullptr) return g.Answer(kEInval);
  EDGELAB_CHECK(c.ctx->object().key != nullptr);  // the runtime sets both or neither
  uint32_t len;
  if (!g.WriteOut(g.U32(0), g.U32(1), c.ctx->object().key->id, &len)) return g.Trap();
  return g.Answer(static_cast<int32_t>(len));
}

HostOutcome StorageGet(HostCall& c) {
  Guest g(c, "storage_get");
  std::string_view key;
  uint8_t* unused;
  if (!g.Read(g.U32(0), g.U32(1), &key) || !g.Writable(g.U32(2), g.U32(3), &unused)) {
    return g.Trap();
  }
  objects::Storage* storage = Inside(c, "storage_get");
  if (storage == nullptr) return g.Answer(kEInval);
  c.bytes += kKvReadCost;
  const std::string space = SpaceOf(c);
  Observation o = ObserveStorage(c, *storage, race::Op::Kind::kRead, key, space);
  o.Invoke();
  Result<std::optional<std::string>> value = storage->Get(key);
  if (o.on() && value.ok() && value->has_value()) {
    o.op().found = true;
    o.op().value = **value;
  }
  o.Complete(value.status());
  CountUnits(c, &Usage::do_read_units, value.status(),
             value.ok() && value->has_value() ? StorageUnits((*value)->size()) : 1);
  if (!value.ok()) return g.Answer(ErrorCode(c, "storage_get", value.status()));
  if (!value->has_value()) return g.Answer(kENotFound);
  uint32_t len;
  if (!g.WriteOut(g.U32(2), g.U32(3), **value, &len)) return g.Trap();
  return g.Answer(static_cast<int32_t>(len));
}

HostOutcome StoragePut(HostCall& c) {
  Guest g(c, "storage_put");
  std::string_view key, value;
  if (!g.Read(g.U32(0), g.U32(1), &key) || !g.Read(g.U32(2), g.U32(3), &value)) return g.Trap();
  objects::Storage* storage = Inside(c, "storage_put");
  if (storage == nullptr) return g.Answer(kEInval);
  c.bytes += kKvWriteCost;
  const std::string space = SpaceOf(c);
  Observation o = ObserveStorage(c, *storage, race::Op::Kind::kWrite, key, space);
  if (o.on()) o.op().value = value;
  o.Invoke();
  Status s = storage->Put(key, value);
  o.Complete(s);
  CountUnits(c, &Usage::do_write_units, s, StorageUnits(value.size()));
  return g.Answer(s.ok() ? 0 : ErrorCode(c, "storage_put", s));
}

HostOutcome StorageDelete(HostCall& c) {
  Guest g(c, "storage_delete");
  std::string_view key;
  if (!g.Read(g.U32(0), g.U32(1), &key)) return g.Trap();
  objects::Storage* storage = Inside(c, "storage_delete");
  if (storage == nullptr) return g.Answer(kEInval);
  c.bytes += kKvWriteCost;
  const std::string space = SpaceOf(c);
  Observation o = ObserveStorage(c, *storage, race::Op::Kind::kDelete, key, space);
  o.Invoke();
  Result<bool> existed = storage->Delete(key);
  o.Complete(existed.status());
  CountUnits(c, &Usage::do_write_units, existed.status(), 1);
  if (!existed.ok()) return g.Answer(ErrorCode(c, "storage_delete", existed.status()));
  return g.Answer(*existed ? 1 : 0);
}

namespace {

// Offsets of edgelab_storage_list_options (docs/abi.md).
struct ListOptionsRaw {
  uint32_t prefix_ptr, prefix_len, start_ptr, start_len, end_ptr, end_len, limit;
};
static_assert(sizeof(ListOptionsRaw) == 28);

// Reads the options struct at `ptr` (0: all keys) and checks every range it
// points to; false traps.
bool ReadListOptions(Guest& g, uint32_t ptr, objects::ListOptions* opts) {
  if (ptr == 0) return true;
  std::string_view bytes, prefix, start, end;
  if (!g.Read(ptr, sizeof(ListOptionsRaw), &bytes)) return false;
  ListOptionsRaw raw;
  std::memcpy(&raw, bytes.data(), sizeof(raw));
  if (!g.Read(raw.prefix_ptr, raw.prefix_len, &prefix) ||
      !g.Read(raw.start_ptr, raw.start_len, &start) || !g.Read(raw.end_ptr, raw.end_len, &end)) {
    return false;
  }
  opts->prefix = std::string(prefix);
  opts->start = std::string(start);
  opts->end = std::string(end);
  opts->limit = raw.limit;
  return true;
}

void AppendU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<char*>(&v), 4); }

// The encoded size of `pairs`: count, then (key_len, key, value_len, value)
// each.
uint64_t ListingBytes(const objects::KeyValues& pairs) {
  uint64_t n = 4;
  for (const auto& [key, value] : pairs) n += 8 + key.size() + value.size();
  return n;
}

// The largest listing storage_list builds: the request's memory limit (the
// listing lives in host memory until it is copied out, like a response
// body), and below 2 GiB so its length comes back as a non-negative i32. At
// least the empty listing's 4 bytes: a cap of 0 would mean none.
uint64_t ListingCap(const Context& ctx) {
  return std::clamp<uint64_t>(ctx.max_response_bytes, 4, std::numeric_limits<int32_t>::max());
}

// The bytes of keys and values in `pairs`, which its read units are billed by.
uint64_t DataBytes(const objects::KeyValues& pairs) {
  uint64_t n = 0;
  for (const auto& [key, value] : pairs) n += key.size() + value.size();
  return n;
}

std::string EncodeListing(const objects::KeyValues& pairs) {
  std::string out;
  out.reserve(ListingBytes(pairs));
  AppendU32(&out, static_cast<uint32_t>(pairs.size()));
  for (const auto& [key, value] : pairs) {
    AppendU32(&out, static_cast<uint32_t>(key.size()));
    out.append(key);
    AppendU32(&out, static_cast<uint32_t>(value.size()));
    out.append(value);
  }
  return out;
}

}  // namespace

HostOutcome StorageList(HostCall& c) {
  Guest g(c, "storage_list");
  objects::ListOptions opts;
  uint8_t* unused;
  if (!ReadListOptions(g, g.U32(0), &opts) || !g.Writable(g.U32(1), g.U32(2), &unused)) {
    return g.Trap();
  }
  objects::Storage* storage = Inside(c, "storage_list");
  if (storage == nullptr) return g.Answer(kEInval);
  c.bytes += kKvWriteCost;  // a range scan: priced like a write
  // Without a limit a listing can reach any size (values are up to 128 KiB
  // each): Storage stops building it at the cap rather than hold it all.
  opts.max_bytes = ListingCap(*c.ctx);
  const std::string space = SpaceOf(c);
  Observation o = ObserveStorage(c, *storage, race::Op::Kind::kList, opts.prefix, space);
  o.Invoke();
  Result<objects::KeyValues> pairs = storage->List(opts);
  o.Complete(pairs.status());
  uint64_t examined = pairs.ok() ? DataBytes(*pairs) : 0;
  // A refused listing examined at least the cap (below): billed for that.
  if (pairs.status().code() == Code::kResourceExhausted) examined = opts.max_bytes;
  CountUnits(c, &Usage::do_read_units, pairs.status(), StorageUnits(examined));
  if (pairs.status().code() == Code::kResourceExhausted) {
    // Storage read at least the cap (and at most about twice it) before it
    // refused: the guest pays for the scan it asked for, though it gets
    // nothing, so refused listings in a loop still run out of CPU.
    c.bytes += opts.max_bytes;
    c.ctx->Log(LogLevel::kWarn, "edgelab.storage_list: listing larger than " +
                                    std::to_string(opts.max_bytes) +
                                    " bytes: use limit/start to page");
    return g.Answer(kEInval);
  }
  if (!pairs.ok()) return g.Answer(ErrorCode(c, "storage_list", pairs.status()));
  EDGELAB_CHECK(ListingBytes(*pairs) <= opts.max_bytes);  // Storage::List's contract
  uint32_t len;
  if (!g.WriteOut(g.U32(1), g.U32(2), EncodeListing(*pairs), &len)) return g.Trap();
  return g.Answer(static_cast<int32_t>(len));
}

HostOutcome StorageTxnBegin(HostCall& c) {
  return StorageOp(c, "storage_txn_begin", 0,
                   [](Guest&, objects::Storage& s) { return s.BeginTransaction(); });
}

HostOutcome StorageTxnCommit(HostCall& c) {
  return StorageOp(c, "storage_txn_commit", kKvWriteCost,
                   [](Guest&, objects::Storage& s) { return s.CommitTransaction(); });
}

HostOutcome StorageTxnRollback(HostCall& c) {
  return StorageOp(c, "storage_txn_rollback", 0,
                   [](Guest&, objects::Storage& s) { return s.RollbackTransaction(); });
}

HostOutcome AlarmSet(HostCall& c) {
  return StorageOp(c, "alarm_set", kKvWriteCost, [&c](Guest& g, objects::Storage& s) {
    Status set = s.SetAlarm(static_cast<int64_t>(g.U64(0)));
    CountUnits(c, &Usage::do_write_units, set, 1);  // Cloudflare: one write unit each
    return set;
  });
}

HostOutcome AlarmDelete(HostCall& c) {
  return StorageOp(c, "alarm_delete", kKvWriteCost,
                   [](Guest&, objects::Storage& s) { return s.DeleteAlarm(); });
}

// Answers an i64: the alarm's time, -1 for none, or an error code widened.
HostOutcome AlarmGet(HostCall& c) {
  Guest g(c, "alarm_get");
  objects::Storage* storage = Inside(c, "alarm_get");
  int64_t answer = kEInval;
  if (storage != nullptr) {
    c.bytes += kKvReadCost;
    Result<std::optional<int64_t>> alarm = storage->GetAlarm();
    answer = alarm.ok() ? alarm->value_or(-1) : ErrorCode(c, "alarm_get", alarm.status());
  }
  g.Return64(static_cast<uint64_t>(answer));
  return HostOutcome::Return();
}

}  // namespace edgelab::abi::calls
