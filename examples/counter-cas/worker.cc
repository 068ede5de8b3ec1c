// examples/counter-cas: examples/counter-broken fixed with compare-and-swap on the KV etag.
//
// GET / reads `global_counter` and its etag, waits the same count % 10 ms as the broken counter
// (so the two compare under identical load), then writes count + 1 only if the etag still
// matches (only if the key is still missing, when it was). When another isolate wrote first,
// nothing is stored: it reads again and retries after a backoff, so every answered request is
// counted exactly once. GET /value answers the stored count as a plain decimal.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "edgelab.hpp"

namespace {

using edgelab::Response;

constexpr std::string_view kKey = "global_counter";

// Retry policy. A failed precondition means another isolate stored a newer count between our
// read and our put; re-reading and retrying is the only way to count this request. Isolates that
// failed together would retry together and collide again, so each waits a random time in
// [0, min(cap, base * 2^retry)] ms ("full jitter": it spreads contenders most and does the least
// total work of the common jitter schemes). Base 1 ms is about one KV round trip, so a first
// retry usually lands just after the competing write. Doubling reaches the 64 ms cap at the 7th
// retry; with 10 tries the worst total wait is 1+2+4+8+16+32+64+64+64 = 255 ms (about half that
// on average), well inside the post's 420 ms p99 budget. A request that loses 10 times in a row
// is on a key too hot for one counter: 503 tells the client to back off instead of piling on.
// Retries skip the count % 10 ms window: it stands for work done once per request.
constexpr int kMaxTries = 10;
constexpr uint32_t kBackoffBaseMs = 1;
constexpr uint32_t kBackoffCapMs = 64;

uint32_t BackoffMs(int retry) {
  uint32_t ceiling = std::min(kBackoffCapMs, kBackoffBaseMs << retry);
  return static_cast<uint32_t>(edgelab::RandomU64() % (ceiling + 1));
}

// Requests this isolate counted (module globals are per isolate; see counter-broken).
uint64_t local_count = 0;

// Opened on the first request and kept: a binding's handle lasts the isolate's life.
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

Response NotANumber() { return Response::Text("global_counter does not hold a number\n", 500); }

Response Count(const edgelab::Kv& kv) {
  for (int attempt = 0; attempt < kMaxTries; ++attempt) {
    if (attempt > 0) edgelab::SleepMs(BackoffMs(attempt - 1));
    auto got = kv.Get(kKey);
    if (!got.ok()) return KvFailure(got.error);
    std::optional<uint64_t> count = ParseCount(got.value);
    if (!count) return NotANumber();
    if (attempt == 0) edgelab::SleepMs(static_cast<uint32_t>(*count % 10));

    auto put = kv.Put(kKey, std::to_string(*count + 1),
                      got.value ? edgelab::PutOptions{.if_match = got.etag}
                                : edgelab::PutOptions{.if_none_match = true});
    if (put.outcome == edgelab::PutResult::kError) return KvFailure(put.error);
    if (put.stored()) {
      ++local_count;
      return Response::Text("Request counted. Global count: " + std::to_string(*count + 1) +
                            ", Local isolate count: " + std::to_string(local_count));
    }
  }
  edgelab::Log(edgelab::LogLevel::kWarn, "counter-cas: gave up after 10 conflicting writes");
  return Response::Text(
             "not counted: global_counter changed under 10 tries in a row; retry later\n", 503)
      .AddHeader("Retry-After", "1");
}

Response Handle(const edgelab::Request& req) {
  if (req.method() != "GET") return Response::Text("only GET\n", 405).AddHeader("Allow", "GET");
  if (req.path() != "/" && req.path() != "/value") return Response::Text("not found\n", 404);
  const auto& kv = CounterKv();
  if (!kv) return Response::Text("edge.toml binds no EDGE_COUNTER_KV\n", 500);
  if (req.path() == "/") return Count(*kv);

  auto got = kv->Get(kKey);
  if (!got.ok()) return KvFailure(got.error);
  std::optional<uint64_t> count = ParseCount(got.value);
  if (!count) return NotANumber();
  return Response::Text(std::to_string(*count));
}

}  // namespace

EDGELAB_HANDLER(Handle)
