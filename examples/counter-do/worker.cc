// examples/counter-do: the post's counter kept in a Durable Object instead of KV.
//
// One module is both the worker and the class Counter. The worker forwards GET / and GET /value
// to one object, named "global", which keeps the count in its storage (key "count", a decimal).
// An object runs one request at a time, so its read, add and write cannot interleave with
// another request's: no lock, no etag, no retry, and no request is turned away for contention,
// which is what counter-cas and counter-lock work for with KV. The price is the ceiling: every
// increment goes through one object on one thread, one turn at a time.
//
// GET / answers the new count, GET /value the stored one, as a plain decimal without a newline
// (as counter-cas's /value, which `edgelab bench --verify /value` reads). The answer leaves the
// object only once its write is durable (the output gate), so a count a client saw is stored.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>

#include "edgelab.hpp"

namespace {

using edgelab::Response;

constexpr std::string_view kKey = "count";

// A missing key counts as 0; nullopt when the key holds something that is not a decimal.
std::optional<uint64_t> ParseCount(const std::optional<std::string>& stored) {
  if (!stored) return 0;
  uint64_t n = 0;
  const char* end = stored->data() + stored->size();
  auto [stop, ec] = std::from_chars(stored->data(), end, n);
  if (ec != std::errc() || stop != end || stored->empty()) return std::nullopt;
  return n;
}

Response StorageFailure(edgelab::Error e) {
  return Response::Text(std::string("storage error: ") + edgelab::ErrorName(e) + "\n", 500);
}

// The class. It reads the count from storage on every request rather than keeping it in a
// member: the runtime caches the object's storage, so a read costs no disk access, and there is
// no second copy to get wrong after a trap resets the instance.
class Counter {
 public:
  explicit Counter(edgelab::State& state) : storage_(state.storage()) {}

  Response Fetch(const edgelab::Request& req) {
    if (req.method() != "GET") return Response::Text("only GET\n", 405).AddHeader("Allow", "GET");
    if (req.path() != "/" && req.path() != "/value") return Response::Text("not found\n", 404);
    auto got = storage_.Get(kKey);
    if (!got.ok()) return StorageFailure(got.error);
    std::optional<uint64_t> count = ParseCount(got.value);
    if (!count) return Response::Text("count does not hold a number\n", 500);
    if (req.path() == "/value") return Response::Text(std::to_string(*count));

    std::string next = std::to_string(*count + 1);
    if (edgelab::Error e = storage_.Put(kKey, next); e != edgelab::Error::kNone) {
      return StorageFailure(e);
    }
    return Response::Text(next);
  }

 private:
  edgelab::Storage& storage_;  // the State's, which outlives the instance
};

// ---- The worker ----

// The one object every request counts in. Opened on the first request (host calls are not
// allowed in _initialize) and kept: the binding's handle and the id never change.
const std::optional<edgelab::Stub>& GlobalCounter() {
  static const std::optional<edgelab::Stub> stub = []() -> std::optional<edgelab::Stub> {
    auto counters = edgelab::DurableObjectNamespace::Open("COUNTER");
    if (!counters) return std::nullopt;
    return counters->GetByName("global");
  }();
  return stub;
}

Response Handle(const edgelab::Request& req) {
  if (req.method() != "GET") return Response::Text("only GET\n", 405).AddHeader("Allow", "GET");
  if (req.path() != "/" && req.path() != "/value") return Response::Text("not found\n", 404);
  const auto& counter = GlobalCounter();
  if (!counter) return Response::Text("edge.toml binds no Durable Object COUNTER\n", 500);
  return counter->Fetch(req.path()).Forward();
}

}  // namespace

EDGELAB_HANDLER(Handle)
EDGELAB_DURABLE_OBJECT(Counter)
