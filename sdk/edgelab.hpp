// sdk/edgelab.hpp: the C++20 guest SDK for edgelab workers (ABI v1, docs/abi.md), on edgelab.h.
//
// A worker is one function from Request to Response:
//
//   #include "edgelab.hpp"
//   edgelab::Response Hello(const edgelab::Request& req) {
//     return edgelab::Response::Text("hello from " + std::string(req.path()) + "\n");
//   }
//   EDGELAB_HANDLER(Hello)
//
// Threading: an isolate serves one request at a time; nothing here locks. Module globals persist
// between the requests one isolate serves, and are never shared with other isolates: shared
// state lives in KV, where a read-modify-write needs Put with if_match (see examples/counter-cas).
// Failure: guests build with -fno-exceptions, so every KV call returns a [[nodiscard]] result
// whose `error` is Error::kNone on success. A missing key and a failed precondition are results,
// not errors. Out of memory aborts, which ends the request with 503.
#ifndef EDGELAB_SDK_EDGELAB_HPP_
#define EDGELAB_SDK_EDGELAB_HPP_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgelab.h"

namespace edgelab {

// A host error code (docs/abi.md "Error codes"); kNone means success.
enum class Error : int32_t {
  kNone = 0,
  kNotFound = EDGELAB_ENOTFOUND,
  kPreconditionFailed = EDGELAB_EPRECONDITION,
  kInvalidArgument = EDGELAB_EINVAL,
  kIo = EDGELAB_EIO,
  kUnavailable = EDGELAB_EUNAVAILABLE,
};

// "ENOTFOUND", "EIO", ...; "OK" for kNone.
inline const char* ErrorName(Error e) { return edgelab_strerror(static_cast<int32_t>(e)); }

namespace internal {

// Runs read(buf, cap), a host call returning the full length or a negative code, into `out`,
// again with the returned length while the result did not fit (edgelab.h's
// edgelab_internal_read_alloc says why it loops). Returns the length or the code.
template <class Read>
int32_t ReadInto(std::string& out, Read read, size_t first_cap = 256) {
  out.resize(first_cap);
  for (;;) {
    int32_t n = read(out.data(), out.size());
    if (n < 0) {
      out.clear();
      return n;
    }
    bool fit = static_cast<size_t>(n) <= out.size();
    out.resize(static_cast<size_t>(n));
    if (fit) return n;
  }
}

}  // namespace internal

// The request being served. Method and URL are read when it is made; headers and the body are
// read from the host on demand.
class Request {
 public:
  static Request FromHost() {
    Request r;
    (void)internal::ReadInto(r.method_, edgelab_raw_req_method, 16);
    (void)internal::ReadInto(r.url_, edgelab_raw_req_url);
    return r;
  }

  const std::string& method() const { return method_; }
  // The request target as sent: "/path?query".
  const std::string& url() const { return url_; }
  // The URL without "?query".
  std::string_view path() const { return std::string_view(url_).substr(0, url_.find('?')); }

  // The percent-decoded value of query parameter `name` (first match; "" for "?name"), or
  // nullopt when the URL has none.
  std::optional<std::string> query(std::string_view name) const {
    std::string value(url_.size() + 1, '\0');  // decoding never lengthens
    int32_t n =
        edgelab_query_param(url_.c_str(), std::string(name).c_str(), value.data(), value.size());
    if (n < 0) return std::nullopt;
    value.resize(static_cast<size_t>(n));
    return value;
  }

  // The first value of header `name` (compared case-insensitively), or nullopt.
  std::optional<std::string> header(std::string_view name) const {
    std::string value;
    int32_t n = internal::ReadInto(value, [name](char* buf, size_t cap) {
      return edgelab_raw_req_header(name.data(), name.size(), buf, cap);
    });
    if (n < 0) return std::nullopt;
    return value;
  }

  // All headers as "name: value\n" lines, in the order they arrived.
  std::string headers() const {
    std::string all;
    (void)internal::ReadInto(all, edgelab_raw_req_headers);
    return all;
  }

  // The body, read from the host on first use.
  const std::string& body() const {
    if (!body_) {
      body_.emplace();
      (void)internal::ReadInto(*body_, edgelab_raw_req_body);
    }
    return *body_;
  }

 private:
  Request() = default;

  std::string method_;
  std::string url_;
  mutable std::optional<std::string> body_;  // a cache: reading it does not change the request
};

// What the handler answers. Content-Length is the host's; a header name or value holding CR or
// LF, or a status outside 100-599, traps the guest when sent.
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // A text/plain response.
  static Response Text(std::string body, int status = 200) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    r.body = std::move(body);
    return r;
  }

  Response& AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  // Hands the response to the host. EDGELAB_HANDLER calls it once; call it yourself only from a
  // fetch export you write by hand.
  void Send() const {
    edgelab_raw_resp_status(status);
    for (const auto& [name, value] : headers) {
      edgelab_raw_resp_header(name.data(), name.size(), value.data(), value.size());
    }
    if (!body.empty()) edgelab_raw_resp_write(body.data(), body.size());
  }
};

// ---- KV ----

struct [[nodiscard]] GetResult {
  Error error = Error::kNone;        // kInvalidArgument, kIo or kUnavailable; never kNotFound
  std::optional<std::string> value;  // nullopt: no such key
  std::string etag;                  // the value's etag (for PutOptions::if_match); "" if none
  bool ok() const { return error == Error::kNone; }
};

struct [[nodiscard]] MetadataResult {
  Error error = Error::kNone;           // as GetResult
  std::optional<std::string> metadata;  // nullopt: no such key; "" when the key has none
  bool ok() const { return error == Error::kNone; }
};

struct PutOptions {
  // Compare-and-swap: store only if the key's etag still equals this one.
  std::optional<std::string_view> if_match;
  // Create only: store only if the key does not exist. Exclusive with if_match.
  bool if_none_match = false;
  std::string_view metadata;   // at most 1024 bytes; empty = none
  int64_t expiration_ttl = 0;  // seconds from now; 0 = never
  int64_t expiration = 0;      // absolute Unix seconds; 0 = never; wins over expiration_ttl
};

struct [[nodiscard]] PutResult {
  enum Outcome {
    kStored,              // written; `etag` is the new etag
    kPreconditionFailed,  // if_match / if_none_match did not hold; nothing was written
    kError,               // see `error`
  };
  Outcome outcome = kError;
  Error error = Error::kNone;  // when kError: kInvalidArgument, kIo or kUnavailable
  std::string etag;
  bool stored() const { return outcome == kStored; }
};

struct [[nodiscard]] ListResult {
  Error error = Error::kNone;     // kInvalidArgument, kIo or kUnavailable
  std::vector<std::string> keys;  // in key order
  std::string cursor;             // pass to List to continue; "" when the listing is complete
  bool ok() const { return error == Error::kNone; }
};

// One KV namespace binding (edge.toml [[kv_namespaces]] binding). Cheap to copy; valid for the
// isolate's life, so a worker may open it once and keep it in a global.
// Consistency: every successful write gives the key a new etag; a conditional Put checks and
// writes atomically. Reads may be stale when edge.toml simulates locations with caches.
class Kv {
 public:
  // nullopt when edge.toml declares no such binding.
  static std::optional<Kv> Open(std::string_view binding) {
    int32_t h = edgelab_raw_kv_open(binding.data(), binding.size());
    if (h < 0) return std::nullopt;
    return Kv(h);
  }

  // The value and etag of `key`. kInvalidArgument when the key is over 512 bytes.
  GetResult Get(std::string_view key) const {
    GetResult r;
    char etag[EDGELAB_ETAG_CAP] = {};
    std::string value;
    int32_t n = internal::ReadInto(value, [&](char* buf, size_t cap) {
      return edgelab_raw_kv_get(handle_, key.data(), key.size(), buf, cap, etag, sizeof etag);
    });
    if (n == EDGELAB_ENOTFOUND) return r;
    if (n < 0) {
      r.error = static_cast<Error>(n);
      return r;
    }
    r.value = std::move(value);
    r.etag = etag;
    return r;
  }

  MetadataResult GetMetadata(std::string_view key) const {
    MetadataResult r;
    std::string metadata;
    int32_t n = internal::ReadInto(metadata, [&](char* buf, size_t cap) {
      return edgelab_raw_kv_get_metadata(handle_, key.data(), key.size(), buf, cap);
    });
    if (n == EDGELAB_ENOTFOUND) return r;
    if (n < 0) {
      r.error = static_cast<Error>(n);
      return r;
    }
    r.metadata = std::move(metadata);
    return r;
  }

  // Writes `key`, unconditionally or under options' condition. kError/kInvalidArgument when a
  // limit is passed (key 512 B, value 25 MiB, metadata 1024 B) or both conditions are set.
  PutResult Put(std::string_view key, std::string_view value,
                const PutOptions& options = {}) const {
    PutResult r;
    if (options.if_match && options.if_none_match) {
      r.error = Error::kInvalidArgument;
      return r;
    }
    char etag[EDGELAB_ETAG_CAP] = {};
    edgelab_kv_put_options o = {};
    if (options.if_match) {
      o.condition = EDGELAB_KV_PUT_IF_MATCH;
      o.etag_ptr = options.if_match->data();
      o.etag_len = static_cast<uint32_t>(options.if_match->size());
    } else if (options.if_none_match) {
      o.condition = EDGELAB_KV_PUT_IF_NONE_MATCH;
    }
    o.metadata_ptr = options.metadata.data();
    o.metadata_len = static_cast<uint32_t>(options.metadata.size());
    o.out_etag_ptr = etag;
    o.out_etag_cap = sizeof etag;
    o.expiration_ttl = options.expiration_ttl;
    o.expiration = options.expiration;
    int32_t rc =
        edgelab_raw_kv_put(handle_, key.data(), key.size(), value.data(), value.size(), &o);
    if (rc == EDGELAB_EPRECONDITION) {
      r.outcome = PutResult::kPreconditionFailed;
    } else if (rc < 0) {
      r.error = static_cast<Error>(rc);
    } else {
      r.outcome = PutResult::kStored;
      r.etag = etag;
    }
    return r;
  }

  // kNone also when the key was missing.
  [[nodiscard]] Error Delete(std::string_view key) const {
    int32_t rc = edgelab_raw_kv_delete(handle_, key.data(), key.size());
    return rc < 0 ? static_cast<Error>(rc) : Error::kNone;
  }

  // Up to `limit` keys (1-1000; 0 means 1000) starting with `prefix`, after `cursor` ("" to
  // start from the first key).
  ListResult List(std::string_view prefix = {}, std::string_view cursor = {},
                  uint32_t limit = 0) const {
    ListResult r;
    std::string raw;
    int32_t n = internal::ReadInto(raw, [&](char* buf, size_t cap) {
      return edgelab_raw_kv_list(handle_, prefix.data(), prefix.size(), cursor.data(),
                                 cursor.size(), limit, buf, cap);
    });
    edgelab_kv_listing listing;
    if (n < 0 || (n = edgelab_kv_listing_init(&listing, raw.data(), raw.size())) < 0) {
      r.error = static_cast<Error>(n);
      return r;
    }
    r.cursor.assign(listing.cursor, listing.cursor_len);
    const char* key;
    uint32_t key_len;
    while ((n = edgelab_kv_listing_next(&listing, &key, &key_len)) == 1) {
      r.keys.emplace_back(key, key_len);
    }
    if (n < 0) r.error = static_cast<Error>(n);
    return r;
  }

  int32_t handle() const { return handle_; }

 private:
  explicit Kv(int32_t handle) : handle_(handle) {}

  int32_t handle_;
};

// ---- Time, randomness, logging ----

// Waits without holding a host thread; other requests run meanwhile.
inline void SleepMs(uint32_t ms) { edgelab_raw_sleep_ms(ms); }

// Wall-clock Unix milliseconds (simulated time under `edgelab test`).
inline int64_t NowMs() { return edgelab_raw_now_ms(); }

inline uint64_t RandomU64() { return edgelab_random_u64(); }

enum class LogLevel : int32_t { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One line in the server log.
inline void Log(LogLevel level, std::string_view msg) {
  edgelab_raw_log(static_cast<int32_t>(level), msg.data(), msg.size());
}

namespace internal {
inline void Serve(Response (*handler)(const Request&)) { handler(Request::FromHost()).Send(); }
}  // namespace internal

}  // namespace edgelab

// Defines the module's `fetch` export: reads the request, calls
// `edgelab::Response fn(const edgelab::Request&)`, sends what it returns. Use once, at file scope.
#define EDGELAB_HANDLER(fn) \
  extern "C" EDGELAB_EXPORT("fetch") void edgelab_fetch(void) { ::edgelab::internal::Serve(fn); }

#endif  // EDGELAB_SDK_EDGELAB_HPP_
