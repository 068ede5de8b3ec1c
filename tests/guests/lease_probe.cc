// tests/guests/lease_probe.cc: leases that only time frees, for src/sim/simulation_test.cc's
// proof that `edgelab test` runs in virtual time (a minute-long lease expires without a minute
// passing). Built with the C++ SDK (sdk/edgelab.hpp).
//
// Bindings the edge.toml must give: KV binding "KV"; LOCK, class "CounterLock" (examples/lock's
// module, whose lease is edge.toml's LEASE_MS).
//
//   /kv?owner=O[&after_ms=N]    sleeps N ms (edgelab::SleepMs; default 0), then takes the KV
//                               lease: key "lease", put with if_none_match and expiration_ttl
//                               60 s. 200 "O" when stored; 409 "held by H" when the key holds H
//                               (an unexpired lease), or "taken" when the create-only put lost
//   /lock?owner=O[&after_ms=N]  sleeps N ms, then acquires CounterLock "lease": 200 "O" when it
//                               answered true, 409 "held" when false
//   /unique                     acquires CounterLock objects by NewUniqueId() for owner "u"
//                               (twice, two objects): 200 "u"; for the simulation's proof that
//                               unique ids come from the seed
//   a failed KV or object call is 500 naming the error; another path 404.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "edgelab.hpp"

namespace {

using edgelab::Response;

constexpr int64_t kKvLeaseSeconds = 60;

Response Fail(const char* what, edgelab::Error e) {
  return Response::Text(std::string(what) + " error: " + edgelab::ErrorName(e), 500);
}

// The after_ms query parameter, 0 when absent; nullopt when it is not a decimal.
std::optional<uint32_t> AfterMs(const edgelab::Request& req) {
  std::optional<std::string> text = req.query("after_ms");
  if (!text) return 0;
  uint32_t ms = 0;
  auto [stop, ec] = std::from_chars(text->data(), text->data() + text->size(), ms);
  if (ec != std::errc() || stop != text->data() + text->size() || text->empty()) {
    return std::nullopt;
  }
  return ms;
}

Response TakeKv(const std::string& owner) {
  static const std::optional<edgelab::Kv> kv = edgelab::Kv::Open("KV");
  if (!kv) return Response::Text("edge.toml binds no KV", 500);
  auto got = kv->Get("lease");
  if (!got.ok()) return Fail("KV", got.error);
  if (got.value) return Response::Text("held by " + *got.value, 409);
  auto put = kv->Put("lease", owner, {.if_none_match = true, .expiration_ttl = kKvLeaseSeconds});
  if (put.outcome == edgelab::PutResult::kError) return Fail("KV", put.error);
  if (!put.stored()) return Response::Text("taken", 409);
  return Response::Text(owner);
}

Response TakeLock(const std::string& owner) {
  static const std::optional<edgelab::DurableObjectNamespace> locks =
      edgelab::DurableObjectNamespace::Open("LOCK");
  if (!locks) return Response::Text("edge.toml binds no LOCK", 500);
  edgelab::StubResponse r =
      locks->GetByName("lease").Fetch("/acquire?owner=" + owner, {.method = "POST"});
  if (r.error != edgelab::Error::kNone) return Fail("lock", r.error);
  if (r.status != 200) return Response::Text("lock answered " + std::to_string(r.status), 500);
  if (r.body != "true") return Response::Text("held", 409);
  return Response::Text(owner);
}

Response TakeUnique() {
  static const std::optional<edgelab::DurableObjectNamespace> locks =
      edgelab::DurableObjectNamespace::Open("LOCK");
  if (!locks) return Response::Text("edge.toml binds no LOCK", 500);
  for (int i = 0; i < 2; ++i) {
    edgelab::StubResponse r =
        locks->Get(locks->NewUniqueId()).Fetch("/acquire?owner=u", {.method = "POST"});
    if (r.error != edgelab::Error::kNone) return Fail("lock", r.error);
    if (r.status != 200 || r.body != "true") return Response::Text("not granted", 500);
  }
  return Response::Text("u");
}

Response Handle(const edgelab::Request& req) {
  if (req.path() == "/unique") return TakeUnique();
  if (req.path() != "/kv" && req.path() != "/lock") return Response::Text("not found", 404);
  std::optional<std::string> owner = req.query("owner");
  std::optional<uint32_t> after_ms = AfterMs(req);
  if (!owner || owner->empty() || !after_ms) {
    return Response::Text("need owner=O and a decimal after_ms", 400);
  }
  if (*after_ms > 0) edgelab::SleepMs(*after_ms);
  return req.path() == "/kv" ? TakeKv(*owner) : TakeLock(*owner);
}

}  // namespace

EDGELAB_HANDLER(Handle)
