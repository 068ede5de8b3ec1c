// examples/counter-broken: the post's shared counter, race included (shared/seed/post.txt).
//
// GET / reads `global_counter` from EDGE_COUNTER_KV, waits, and writes count + 1 without a
// condition. Two isolates that read the same count both write count + 1, and one increment is
// lost: after N requests the stored count is below N. The wait (count % 10 ms) stands in for the
// post's real work between read and write; it widens the window so the loss shows at modest load.
// examples/counter-cas is the fix. GET /value answers the stored count as a plain decimal, for
// checking accuracy after a benchmark.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "edgelab.hpp"

namespace {

using edgelab::Response;

constexpr std::string_view kKey = "global_counter";

// Requests this isolate counted. A module global lives as long as its isolate and is never
// shared: each isolate counts only its own, which is why the post's "local" count is no help.
uint64_t local_count = 0;

// Opened on the first request (not in a global initializer: _initialize runs before any request,
// when host calls are not allowed) and kept: a binding's handle lasts the isolate's life.
const std::optional<edgelab::Kv>& CounterKv() {
  static const std::optional<edgelab::Kv> kv = edgelab::Kv::Open("EDGE_COUNTER_KV");
  return kv;
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

Response KvFailure(edgelab::Error e) {
  return Response::Text(std::string("KV error: ") + edgelab::ErrorName(e) + "\n",
                        e == edgelab::Error::kUnavailable ? 503 : 500);
}

Response Handle(const edgelab::Request& req) {
  if (req.method() != "GET") return Response::Text("only GET\n", 405).AddHeader("Allow", "GET");
  if (req.path() != "/" && req.path() != "/value") return Response::Text("not found\n", 404);
  const auto& kv = CounterKv();
  if (!kv) return Response::Text("edge.toml binds no EDGE_COUNTER_KV\n", 500);

  auto got = kv->Get(kKey);
  if (!got.ok()) return KvFailure(got.error);
  std::optional<uint64_t> count = ParseCount(got.value);
  if (!count) return Response::Text("global_counter does not hold a number\n", 500);
  if (req.path() == "/value") return Response::Text(std::to_string(*count));

  edgelab::SleepMs(static_cast<uint32_t>(*count % 10));
  // The bug: nothing checks that the count is still the one read above.
  auto put = kv->Put(kKey, std::to_string(*count + 1));
  if (!put.stored()) return KvFailure(put.error);
  ++local_count;
  return Response::Text("Request counted. Global count: " + std::to_string(*count + 1) +
                        ", Local isolate count: " + std::to_string(local_count));
}

}  // namespace

EDGELAB_HANDLER(Handle)
