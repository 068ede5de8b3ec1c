// examples/flag: a stale read, the bug only locations show (issue 6; docs/simulation.md
// "Locations in simulation").
//
// A feature flag in KV: one request turns it on, others read it. With one location every read
// sees the last write. On the edge (edge.toml's two [[locations]]) each location caches what it
// read, a missing key too, for [kv] cache_ttl_ms: a request at sjc that read the flag as off
// keeps reading it as off for up to a minute after a request at ams turned it on and was
// answered. No race detector sees it (no request reads and then writes); the linearizability
// check does: the read of nothing after the write of "1" completed fits no order of the
// operations. `edgelab test edge.toml --scenario stale-read.toml` fails so; strong-read.toml,
// the same requests reading at the origin, passes.
//
//   PUT or POST /flag                200 "1": stores "1" under `flag` in FLAG_KV
//   GET /flag                        200: the stored value ("1"), or "0" when `flag` is absent;
//                                    read with Consistency::kEventual (the location's cache)
//   GET /flag?consistency=strong     the same, read with Consistency::kStrong (the origin: sees
//                                    every write completed before it); `eventual` is the default
//   a KV error is 500 (503 when unavailable), another consistency 400, another method 405,
//   another path 404. No answer ends in a newline.
#include <optional>
#include <string>

#include "edgelab.hpp"

namespace {

using edgelab::Response;

constexpr std::string_view kKey = "flag";

// Opened on the first request (host calls are not allowed in _initialize) and kept.
const std::optional<edgelab::Kv>& FlagKv() {
  static const std::optional<edgelab::Kv> kv = edgelab::Kv::Open("FLAG_KV");
  return kv;
}

Response KvFailure(edgelab::Error e) {
  return Response::Text(std::string("KV error: ") + edgelab::ErrorName(e),
                        e == edgelab::Error::kUnavailable ? 503 : 500);
}

Response Read(const edgelab::Kv& kv, const edgelab::Request& req) {
  std::optional<std::string> consistency = req.query("consistency");
  if (consistency && *consistency != "strong" && *consistency != "eventual") {
    return Response::Text("consistency must be strong or eventual", 400);
  }
  auto got = kv.Get(kKey, consistency == "strong" ? edgelab::Consistency::kStrong
                                                  : edgelab::Consistency::kEventual);
  if (!got.ok()) return KvFailure(got.error);
  return Response::Text(got.value.value_or("0"));
}

Response Handle(const edgelab::Request& req) {
  if (req.path() != "/flag") return Response::Text("not found", 404);
  const auto& kv = FlagKv();
  if (!kv) return Response::Text("edge.toml binds no FLAG_KV", 500);
  if (req.method() == "GET") return Read(*kv, req);
  if (req.method() != "PUT" && req.method() != "POST") {
    return Response::Text("only GET, PUT or POST", 405).AddHeader("Allow", "GET, PUT, POST");
  }
  auto put = kv->Put(kKey, "1");
  if (!put.stored()) return KvFailure(put.error);
  return Response::Text("1");
}

}  // namespace

EDGELAB_HANDLER(Handle)
