// examples/counter-lock: the post's fixed counter: a Durable Object lock around the KV
// read-modify-write, with compare-and-swap under it.
//
// GET / takes the lease of one CounterLock object (examples/lock), reads `global_counter` and
// its etag from EDGE_COUNTER_KV, writes count + 1 with if_match (if_none_match when the key is
// missing), releases the lease and answers the new count. Why both: the lock makes isolates
// take turns, so their writes rarely conflict and none of them spends its tries on conflicts
// (counter-cas, with [kv.latency] on and 100 requests in flight, answers ~7 % of them 503 after
// 10 conflicts in a row; this worker, a few in 10,000, at its deadline); CAS keeps the count
// right where a lease cannot: a holder paused past LEASE_MS overlaps the next one, and then its
// if_match fails, so it releases and starts over instead of losing an update.
// A request waits for the lease until DEADLINE_MS after it arrived, and only then answers 503,
// uncounted. GET /value answers the stored count as a plain decimal.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "edgelab.hpp"

namespace {

using edgelab::Response;

constexpr std::string_view kKey = "global_counter";
constexpr uint64_t kDefaultShards = 1;
constexpr uint64_t kDefaultDeadlineMs = 2000;
// Upper bounds for the vars, so a typo cannot overflow a deadline: a request held a minute is
// past any client's patience, and a thousand locks is far more than one process needs.
constexpr uint64_t kMaxShards = 1024;
constexpr uint64_t kMaxDeadlineMs = 60'000;

// Backoff while the lease is held by another request. A lease is held for two lock calls, one
// KV read and one KV write: under a millisecond without [kv.latency], about 6 ms with a 2 ms
// median. Base 1 ms: a first retry lands about when a short hold ends. Doubling reaches the
// 32 ms cap at the 6th retry; the cap stays under the 50 ms lease so a waiter asks at least
// once per lease, and a lease left by a dead holder is taken soon after it expires. Each wait
// is random in [0, ceiling] ("full jitter", as counter-cas explains): waiters refused together
// would otherwise ask again together, and every refusal costs the lock object a turn.
// Polling is not fair: a newcomer asks every 1-2 ms while an old waiter asks every ~16 ms, so
// the old one tends to lose. Measured with `edgelab bench -n 1000 -c 100` ([isolates] max 16,
// [kv.latency] lognormal median 2 ms, 2026-11-27): cap 32 ms, ~175 req/s, p99 1.6-2 s; cap 16,
// ~162 req/s, p99 ~1.35 s; cap 8, ~145 req/s, p99 ~1.2 s; with each, a few requests in
// 10,000 reached the 2 s deadline. Without latency (cap 32): ~790 req/s, p99 ~350 ms, none. The
// deadline bounds the unfairness: 2 s, about five times the post's 420 ms p99, is reached only
// by a request that lost many draws in a row, or a lock stuck or far too hot; then 503 is the
// honest answer. (A lock that queued its waiters would be fair, but an object runs one turn at
// a time: a turn waiting for a release would block the release itself.)
constexpr uint32_t kBackoffBaseMs = 1;
constexpr uint32_t kBackoffCapMs = 32;
constexpr uint32_t kBackoffMaxShift = 5;  // 1 << 5 == 32: no shift past the cap

// Waits between tries, with the growing ceiling above, never past the deadline.
class Backoff {
 public:
  explicit Backoff(int64_t deadline_ms) : deadline_ms_(deadline_ms) {}

  // Sleeps before the next try; false (without sleeping) once the deadline has passed.
  bool Wait() {
    int64_t left = deadline_ms_ - edgelab::NowMs();
    if (left <= 0) return false;
    uint32_t ceiling =
        std::min(kBackoffCapMs, kBackoffBaseMs << std::min(retry_++, kBackoffMaxShift));
    int64_t ms = static_cast<int64_t>(edgelab::RandomU64() % (ceiling + 1));
    edgelab::SleepMs(static_cast<uint32_t>(std::min(ms, left)));
    return true;
  }

 private:
  const int64_t deadline_ms_;  // Unix ms
  uint32_t retry_ = 0;
};

// Opened on the first request and kept: a binding's handle lasts the isolate's life.
const std::optional<edgelab::Kv>& CounterKv() {
  static const std::optional<edgelab::Kv> kv = edgelab::Kv::Open("EDGE_COUNTER_KV");
  return kv;
}

const std::optional<edgelab::DurableObjectNamespace>& Locks() {
  static const auto locks = edgelab::DurableObjectNamespace::Open("COUNTER_LOCK");
  return locks;
}

// A missing key counts as 0; nullopt when the key holds something that is not a decimal.
std::optional<uint64_t> ParseCount(const std::optional<std::string>& stored) {
  if (!stored) return 0;
  uint64_t n = 0;
  const char* end = stored->data() + stored->size();
  auto [stop, ec] = std::from_chars(stored->data(), end, n);
  if (ec != std::errc() || stop != end || stored->empty()) return std::nullopt;
  return n;
}

// edge.toml [vars] `name` as an integer in [1, max]: `fallback` when unset, nullopt when it is
// set to anything else.
std::optional<uint64_t> VarInRange(std::string_view name, uint64_t fallback, uint64_t max) {
  std::optional<std::string> text = edgelab::Var(name);
  if (!text) return fallback;
  std::optional<uint64_t> n = ParseCount(text);
  if (!n || *n == 0 || *n > max) return std::nullopt;
  return n;
}

// FNV-1a: the same on every isolate, build and deploy, unlike std::hash (libc++ may change it).
// Every request for one key must pick the same lock, or two could hold "the" lock at once.
uint64_t StableHash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The lock guarding `key`. Shards spread different keys over objects; one key always has one
// lock, so with this worker's single key every request meets at one object, whatever
// LOCK_SHARDS says. Changing LOCK_SHARDS moves keys to other locks while old holders finish:
// for that moment two requests may hold a key's "lock", and the if_match write keeps it right.
edgelab::Stub LockFor(const edgelab::DurableObjectNamespace& locks, std::string_view key,
                      uint64_t shards) {
  return locks.GetByName("lock-" + std::to_string(StableHash(key) % shards));
}

std::string Hex(uint64_t v) {
  char buf[16];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v, 16).ptr);
}

Response KvFailure(edgelab::Error e) {
  return Response::Text(std::string("KV error: ") + edgelab::ErrorName(e) + "\n",
                        e == edgelab::Error::kUnavailable ? 503 : 500);
}

Response NotANumber() { return Response::Text("global_counter does not hold a number\n", 500); }

Response BadVar(std::string_view name, uint64_t max) {
  return Response::Text("edge.toml [vars] " + std::string(name) + " must be an integer from 1 to " +
                            std::to_string(max) + "\n",
                        500);
}

// What the lock answered: `true` or `false`, or the response to give when it did not answer
// one of those (no answer, a trap inside it, a body we do not know).
struct LockAnswer {
  bool yes = false;
  std::optional<Response> failure;
};

LockAnswer CallLock(const edgelab::Stub& lock, std::string_view op, const std::string& owner) {
  auto r =
      lock.Fetch(std::string(op) + "?owner=" + owner, {.method = "POST", .read_headers = false});
  if (!r.ok()) {
    return {.failure =
                Response::Text(std::string("lock error: ") + edgelab::ErrorName(r.error) + "\n",
                               r.error == edgelab::Error::kUnavailable ? 503 : 500)};
  }
  if (r.status != 200 || (r.body != "true" && r.body != "false")) {
    std::string first_line = r.body.substr(0, r.body.find('\n'));
    return {.failure = Response::Text(
                "lock answered " + std::to_string(r.status) + ": " + first_line + "\n", 500)};
  }
  return {.yes = r.body == "true"};
}

// Frees our lease. A failure here is only logged: the count is already decided, the lease frees
// itself at its expiry, and a 500 for a counted request would invite a retry that counts twice.
// "false" means our lease expired and someone else holds the lock now; nothing to do.
void Release(const edgelab::Stub& lock, const std::string& owner) {
  LockAnswer released = CallLock(lock, "/release", owner);
  if (released.failure) {
    edgelab::Log(edgelab::LogLevel::kWarn,
                 "counter-lock: release failed: " + released.failure->body);
  }
}

// What the read-modify-write under the lease did: `count` (the new one) when stored; neither
// field when another writer got in between (our lease had expired); else `failure`.
struct Increment {
  std::optional<uint64_t> count;
  std::optional<Response> failure;
};

Increment IncrementHeld(const edgelab::Kv& kv) {
  auto got = kv.Get(kKey);
  if (!got.ok()) return {.failure = KvFailure(got.error)};
  std::optional<uint64_t> count = ParseCount(got.value);
  if (!count) return {.failure = NotANumber()};
  auto put = kv.Put(kKey, std::to_string(*count + 1),
                    got.value ? edgelab::PutOptions{.if_match = got.etag}
                              : edgelab::PutOptions{.if_none_match = true});
  if (put.outcome == edgelab::PutResult::kError) return {.failure = KvFailure(put.error)};
  if (!put.stored()) return {};
  return {.count = *count + 1};
}

Response DeadlinePassed() {
  edgelab::Log(edgelab::LogLevel::kWarn,
               "counter-lock: gave up: the lock stayed busy past DEADLINE_MS");
  return Response::Text("not counted: the lock stayed busy until the deadline; retry later\n", 503)
      .AddHeader("Retry-After", "1");
}

// Each round asks for a new lease under a new owner token, so a token always names one lease,
// then counts under it.
Response Count(const edgelab::Kv& kv, const edgelab::Stub& lock, Backoff& backoff) {
  for (;;) {
    std::string owner = Hex(edgelab::RandomU64());
    LockAnswer granted = CallLock(lock, "/acquire", owner);
    if (granted.failure) return *granted.failure;
    if (granted.yes) {
      Increment done = IncrementHeld(kv);
      Release(lock, owner);
      if (done.failure) return *done.failure;
      if (done.count) return Response::Text(std::to_string(*done.count));
    }
    if (!backoff.Wait()) return DeadlinePassed();
  }
}

Response Value(const edgelab::Kv& kv) {
  auto got = kv.Get(kKey);
  if (!got.ok()) return KvFailure(got.error);
  std::optional<uint64_t> count = ParseCount(got.value);
  if (!count) return NotANumber();
  return Response::Text(std::to_string(*count));
}

Response Handle(const edgelab::Request& req) {
  int64_t arrived_ms = edgelab::NowMs();
  if (req.method() != "GET") return Response::Text("only GET\n", 405).AddHeader("Allow", "GET");
  if (req.path() != "/" && req.path() != "/value") return Response::Text("not found\n", 404);
  const auto& kv = CounterKv();
  if (!kv) return Response::Text("edge.toml binds no EDGE_COUNTER_KV\n", 500);
  if (req.path() == "/value") return Value(*kv);

  const auto& locks = Locks();
  if (!locks) return Response::Text("edge.toml binds no Durable Object COUNTER_LOCK\n", 500);
  // Vars come from edge.toml and cannot change under a running isolate, and kKey always maps to
  // the same lock: read and build them once (per request they cost ~1,100 interpreted
  // instructions, a seventh of the request).
  static const std::optional<uint64_t> shards =
      VarInRange("LOCK_SHARDS", kDefaultShards, kMaxShards);
  if (!shards) return BadVar("LOCK_SHARDS", kMaxShards);
  static const std::optional<uint64_t> deadline_ms =
      VarInRange("DEADLINE_MS", kDefaultDeadlineMs, kMaxDeadlineMs);
  if (!deadline_ms) return BadVar("DEADLINE_MS", kMaxDeadlineMs);
  static const edgelab::Stub lock = LockFor(*locks, kKey, *shards);
  Backoff backoff(arrived_ms + static_cast<int64_t>(*deadline_ms));
  return Count(*kv, lock, backoff);
}

}  // namespace

EDGELAB_HANDLER(Handle)
