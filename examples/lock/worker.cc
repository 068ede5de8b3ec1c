// examples/lock: the post's CounterLock, a lock with a lease, as a Durable Object class; and a
// worker that makes it a lock service of its own.
//
// One object is one lock (examples/counter-lock uses one per shard). Its state is in storage:
// `holder` (the owner token) and `expires` (Unix ms) make the lease and change together, in one
// transaction, with `grants` (how many leases it gave). Not in member fields: an object evicted
// when idle, or reset by a trap, starts again from storage, and a lock that forgot its holder
// would grant itself twice.
//
// Unlike the post's lock (a flag a 50 ms timer clears), a lease is free exactly when
// now >= expires: acquire compares times, so a late or lost alarm never extends a lease, and a
// holder that died blocks the others for at most LEASE_MS. The alarm (one pending at a time,
// at or before the held lease's expiry, moved on to the next lease when it fires) only clears a
// dead holder from storage (auto-release); no decision waits for it.
// What no lease can promise: a holder paused past its expiry (a slow KV write) still acts after
// the next holder got the lock. examples/counter-lock writes with if_match for that reason.
//
// The object answers, to GET or POST (any other method: 405):
//   /acquire?owner=O  200 "true": O holds the lease until now + LEASE_MS; 200 "false": an
//                     unexpired lease is held (by anyone: O too, as a token names one lease);
//   /release?owner=O  200 "true": O held it (expired or not) and it is free now; 200 "false":
//                     O does not hold it (and nothing changed);
//   /value            200, the number of leases granted so far, a plain decimal;
//   400 when owner is missing or empty, 404 for other paths, 500 naming a storage error or a
//   LEASE_MS out of range (1 to 60000).
// The worker accepts the same requests with `&key=K` added, and forwards them to the lock named
// K (default "global-lock", the post's), answering what the object answered.
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "edgelab.hpp"

namespace {

using edgelab::Error;
using edgelab::Response;

constexpr std::string_view kHolderKey = "holder";
constexpr std::string_view kExpiresKey = "expires";
constexpr std::string_view kGrantsKey = "grants";
// The post's auto-release time: long enough for one KV read and write with latency on, short
// enough that a dead holder stalls the others briefly.
constexpr int64_t kDefaultLeaseMs = 50;
// A lease of a minute is a dead holder blocking everyone for a minute: surely a typo (and the
// bound keeps now + lease far from overflow).
constexpr int64_t kMaxLeaseMs = 60'000;

// A decimal of type T, or nullopt for anything else (empty, sign, junk, overflow).
template <class T>
std::optional<T> ParseDecimal(std::string_view text) {
  T n = 0;
  auto [stop, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || stop != text.data() + text.size() || text.empty() || n < 0) {
    return std::nullopt;
  }
  return n;
}

// edge.toml [vars] LEASE_MS, or the default when unset; nullopt when it is not in
// [1, kMaxLeaseMs].
std::optional<int64_t> LeaseMsVar() {
  std::optional<std::string> text = edgelab::Var("LEASE_MS");
  if (!text) return kDefaultLeaseMs;
  std::optional<int64_t> ms = ParseDecimal<int64_t>(*text);
  if (!ms || *ms == 0 || *ms > kMaxLeaseMs) return std::nullopt;
  return ms;
}

// Reads `key` as a decimal into *n (0 when missing). Only this class writes these keys, so a
// value that is not a decimal is corruption: kIo, as the host reports a store it cannot read,
// with the key in the log.
template <class T>
Error ReadNumber(const edgelab::Storage& storage, std::string_view key, T* n) {
  auto got = storage.Get(key);
  if (!got.ok()) return got.error;
  *n = 0;
  if (!got.value) return Error::kNone;
  std::optional<T> parsed = ParseDecimal<T>(*got.value);
  if (!parsed) {
    edgelab::Log(edgelab::LogLevel::kError,
                 "CounterLock: storage key \"" + std::string(key) + "\" does not hold a decimal");
    return Error::kIo;
  }
  *n = *parsed;
  return Error::kNone;
}

// The lease as stored. No holder: the lock was never taken or was freed.
struct Lease {
  std::optional<std::string> holder;
  int64_t expires_ms = 0;
  bool HeldAt(int64_t now_ms) const { return holder && now_ms < expires_ms; }
};

Error ReadLease(const edgelab::Storage& storage, Lease* lease) {
  auto holder = storage.Get(kHolderKey);
  if (!holder.ok()) return holder.error;
  lease->holder = std::move(holder.value);
  return ReadNumber(storage, kExpiresKey, &lease->expires_ms);
}

// Stores a new lease and the grant count in one transaction: a trap between the writes must not
// leave a holder with an old expiry (or count a grant that did not happen).
Error WriteLease(const edgelab::Storage& storage, std::string_view holder, int64_t expires_ms,
                 uint64_t grants) {
  Error failed = Error::kNone;
  Error e = storage.Transaction([&](const edgelab::Storage& s) {
    failed = s.Put(kHolderKey, holder);
    if (failed == Error::kNone) failed = s.Put(kExpiresKey, std::to_string(expires_ms));
    if (failed == Error::kNone) failed = s.Put(kGrantsKey, std::to_string(grants));
    return failed == Error::kNone;
  });
  return failed != Error::kNone ? failed : e;
}

// Frees the lease: both keys in one transaction, so no reader sees a holder without its expiry.
Error ClearLease(const edgelab::Storage& storage) {
  Error failed = Error::kNone;
  Error e = storage.Transaction([&](const edgelab::Storage& s) {
    for (std::string_view key : {kHolderKey, kExpiresKey}) {
      auto deleted = s.Delete(key);
      if (!deleted.ok()) {
        failed = deleted.error;
        return false;
      }
    }
    return true;
  });
  return failed != Error::kNone ? failed : e;
}

Response StorageFailure(Error e) {
  return Response::Text(std::string("storage error: ") + edgelab::ErrorName(e) + "\n", 500);
}

Response Answer(bool yes) { return Response::Text(yes ? "true" : "false"); }

class CounterLock {
 public:
  // LEASE_MS is read once: vars come from edge.toml and cannot change under a running object.
  explicit CounterLock(edgelab::State& state)
      : storage_(state.storage()), lease_ms_(LeaseMsVar()) {}

  Response Fetch(const edgelab::Request& req) {
    if (req.method() != "GET" && req.method() != "POST") {
      return Response::Text("only GET or POST\n", 405).AddHeader("Allow", "GET, POST");
    }
    std::string_view path = req.path();
    if (path == "/value") return Value();
    if (path != "/acquire" && path != "/release") return Response::Text("not found\n", 404);
    std::optional<std::string> owner = req.query("owner");
    if (!owner || owner->empty()) return Response::Text("missing owner: want ?owner=TOKEN\n", 400);
    return path == "/acquire" ? Acquire(*owner) : Release(*owner);
  }

  // Auto-release. The registry clears the alarm before running this, so re-arming here is safe.
  // An alarm can fire early by the clock's measure or after a newer lease was granted: then it
  // waits for that lease's expiry instead.
  void Alarm() {
    Lease lease;
    Error e = CurrentLease(&lease);
    if (e == Error::kNone && !lease.holder) return;  // released meanwhile
    if (e == Error::kNone) {
      e = lease.HeldAt(edgelab::NowMs()) ? storage_.SetAlarm(lease.expires_ms) : Clear();
    }
    if (e == Error::kNone) return;
    // Trapping is how an alarm asks to be retried (EDGELAB_DURABLE_OBJECT). Nothing is at risk
    // meanwhile: an expired lease is free to acquire whether or not this has run.
    edgelab::Log(edgelab::LogLevel::kError,
                 std::string("CounterLock alarm: storage error ") + edgelab::ErrorName(e));
    abort();
  }

 private:
  Response Acquire(const std::string& owner) {
    if (!lease_ms_) return BadLeaseMs();
    Lease lease;
    if (Error e = CurrentLease(&lease); e != Error::kNone) return StorageFailure(e);
    int64_t now = edgelab::NowMs();
    if (lease.HeldAt(now)) return Answer(false);
    uint64_t grants = 0;
    if (Error e = Grants(&grants); e != Error::kNone) return StorageFailure(e);
    int64_t expires = now + *lease_ms_;
    if (Error e = Grant(owner, expires, grants + 1); e != Error::kNone) return StorageFailure(e);
    // The auto-release alarm is cleanup only (a lease ends by time, whatever the alarm does),
    // so one pending alarm serves every lease granted before it fires: Alarm() moves it on to
    // the lease then held. Setting it on every grant and deleting it on every release wrote the
    // alarm twice per lease, on the counter's critical path. Alarms are not part of
    // transactions, so this comes after the commit; if it fails, only the cleanup is lost.
    auto pending = storage_.GetAlarm();
    if (pending.ok() && !pending.unix_ms) {
      if (Error e = storage_.SetAlarm(expires); e != Error::kNone) {
        edgelab::Log(edgelab::LogLevel::kWarn,
                     std::string("CounterLock: no auto-release alarm: ") + edgelab::ErrorName(e));
      }
    }
    return Answer(true);
  }

  Response Release(const std::string& owner) {
    Lease lease;
    if (Error e = CurrentLease(&lease); e != Error::kNone) return StorageFailure(e);
    if (lease.holder != owner) return Answer(false);
    if (Error e = Clear(); e != Error::kNone) return StorageFailure(e);
    // The pending alarm stays: it finds no holder (or the next lease) when it fires, one turn
    // per lease period at most, instead of an alarm write on every release.
    return Answer(true);
  }

  Response Value() {
    uint64_t grants = 0;
    if (Error e = Grants(&grants); e != Error::kNone) return StorageFailure(e);
    return Response::Text(std::to_string(grants));
  }

  static Response BadLeaseMs() {
    return Response::Text("edge.toml [vars] LEASE_MS must be an integer from 1 to " +
                              std::to_string(kMaxLeaseMs) + " (milliseconds)\n",
                          500);
  }

  // The lease and grant count as this instance last read or wrote them. Storage stays the
  // truth: every change is written there first (and the mirror updated only once it was), and
  // a reset instance (a trap, an idle eviction, a failed commit) loses its members, so the next
  // one reads storage again. Only this object writes these keys, so the mirror cannot go stale.
  // Why: reading and parsing three decimals took ~1,500 of the ~3,300 interpreted instructions
  // of an /acquire turn, and the lock's turns are the counter-lock's critical path.
  Error CurrentLease(Lease* lease) {
    if (!lease_) {
      Lease read;
      if (Error e = ReadLease(storage_, &read); e != Error::kNone) return e;
      lease_ = std::move(read);
    }
    *lease = *lease_;
    return Error::kNone;
  }

  Error Grants(uint64_t* grants) {
    if (!grants_) {
      uint64_t read = 0;
      if (Error e = ReadNumber(storage_, kGrantsKey, &read); e != Error::kNone) return e;
      grants_ = read;
    }
    *grants = *grants_;
    return Error::kNone;
  }

  Error Grant(const std::string& owner, int64_t expires_ms, uint64_t grants) {
    lease_.reset();
    grants_.reset();
    Error e = WriteLease(storage_, owner, expires_ms, grants);
    if (e == Error::kNone) {
      lease_ = Lease{owner, expires_ms};
      grants_ = grants;
    }
    return e;
  }

  Error Clear() {
    lease_.reset();
    Error e = ClearLease(storage_);
    if (e == Error::kNone) lease_ = Lease{};
    return e;
  }

  edgelab::Storage& storage_;  // the State's, which outlives the instance
  const std::optional<int64_t> lease_ms_;
  std::optional<Lease> lease_;
  std::optional<uint64_t> grants_;
};

// ---- The worker: /acquire, /release and /value over HTTP, for any lock by name ----

constexpr std::string_view kDefaultLock = "global-lock";

// Opened on the first request and kept: a binding's handle lasts the isolate's life.
const std::optional<edgelab::DurableObjectNamespace>& Locks() {
  static const auto locks = edgelab::DurableObjectNamespace::Open("COUNTER_LOCK");
  return locks;
}

Response Handle(const edgelab::Request& req) {
  if (req.method() != "GET" && req.method() != "POST") {
    return Response::Text("only GET or POST\n", 405).AddHeader("Allow", "GET, POST");
  }
  if (req.path() != "/acquire" && req.path() != "/release" && req.path() != "/value") {
    return Response::Text("not found\n", 404);
  }
  const auto& locks = Locks();
  if (!locks) return Response::Text("edge.toml binds no Durable Object COUNTER_LOCK\n", 500);
  std::string key = req.query("key").value_or("");
  // The object reads only `owner`: the URL goes as it came, so nothing needs re-encoding.
  return locks->GetByName(key.empty() ? kDefaultLock : key)
      .Fetch(req.url(), {.method = req.method()})
      .Forward();
}

}  // namespace

EDGELAB_HANDLER(Handle)
EDGELAB_DURABLE_OBJECT(CounterLock)
