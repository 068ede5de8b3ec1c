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
// A module may also implement one Durable Object class (EDGELAB_DURABLE_OBJECT, below) and may be
// a worker and a class at once (examples/counter-do).
//
// Threading: an isolate serves one request at a time; nothing here locks. Module globals persist
// between the requests one isolate serves, and are never shared with other isolates: shared
// state lives in KV, where a read-modify-write needs Put with if_match (see examples/counter-cas),
// or in a Durable Object, which serves its requests one at a time (see examples/counter-do).
// Failure: guests build with -fno-exceptions, so every KV, object and storage call returns a
// [[nodiscard]] result whose `error` is Error::kNone on success. A missing key and a failed
// precondition are results, not errors. Out of memory aborts, which ends the request with 503.
#ifndef EDGELAB_SDK_EDGELAB_HPP_
#define EDGELAB_SDK_EDGELAB_HPP_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
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
  kCycle = EDGELAB_ECYCLE,
};

// "ENOTFOUND", "EIO", ...; "OK" for kNone.
inline const char* ErrorName(Error e) { return edgelab_strerror(static_cast<int32_t>(e)); }

namespace internal {

// Runs read(buf, cap), a host call returning the full length or a negative code, into `out`,
// again with the returned length while the result did not fit (edgelab.h's
// edgelab_internal_read_alloc says why it loops). Returns the length or the code.
// The first try reads into a buffer on the stack and copies only the bytes that came: guest code
// runs interpreted, where zero-filling a 256-byte string and freeing most of it again is a
// visible part of a small request's cost.
template <class Read>
int32_t ReadInto(std::string& out, Read read, size_t first_cap = 256) {
  char first[256];
  int32_t n = read(first, std::min(first_cap, sizeof first));
  if (n < 0) {
    out.clear();
    return n;
  }
  if (static_cast<size_t>(n) <= std::min(first_cap, sizeof first)) {
    // A new string moved in rather than out.assign(): libc++'s constructor inlines, its assign is
    // an out-of-line call of ~95 instructions (6 per request in examples/counter-do).
    out = std::string(first, static_cast<size_t>(n));
    return n;
  }
  for (;;) {
    out.resize(static_cast<size_t>(n));
    int32_t again = read(out.data(), out.size());
    if (again < 0) {
      out.clear();
      return again;
    }
    bool fit = static_cast<size_t>(again) <= out.size();
    out.resize(static_cast<size_t>(again));
    if (fit) return again;
    n = again;
  }
}

// An etag buffer for a host call that writes the etag NUL-terminated (docs/abi.md "KV"). Only its
// ends are cleared: zero-filling all EDGELAB_ETAG_CAP bytes was a memset, a bulk-memory charge and
// two calls per KV call, for bytes the host overwrites; the last byte stays a NUL (the host writes
// at most EDGELAB_ETAG_CAP bytes, its NUL included), so reading it back cannot run past the buffer.
struct EtagBuffer {
  EtagBuffer() {
    bytes[0] = '\0';
    bytes[EDGELAB_ETAG_CAP - 1] = '\0';
  }
  // Built by the constructor, not assigned: libc++'s assign(const char*) is out of line and, for an
  // etag (25 bytes, past the 10 a string holds inline on wasm32), went through its grow path. With
  // the memset gone too: ~92 fewer interpreted instructions per KV call (examples/counter-broken,
  // 3,164 -> 2,980 per request, 2026-11-27).
  std::string str() const { return std::string(bytes, __builtin_strlen(bytes)); }
  char bytes[EDGELAB_ETAG_CAP];
};

// A host call's return as an Error: negative codes pass, everything else is success.
inline Error ToError(int32_t rc) { return rc < 0 ? static_cast<Error>(rc) : Error::kNone; }

// Query components, decoded as edgelab_query_param (edgelab.h) decodes them: '+' is a space, %XX
// a byte, and a '%' without two hex digits after it stays. Text without '%' and '+' decodes to
// itself, so Request::query checks the whole query for them once (two memchr, 16 bytes per
// instruction) and then compares and copies bytes as they are; the byte-by-byte decode below
// runs ~20 interpreted instructions per byte.
inline bool HasEscapes(std::string_view s) {
  return s.find('%') != std::string_view::npos || s.find('+') != std::string_view::npos;
}

inline bool QueryKeyIs(std::string_view key, std::string_view name, bool escapes) {
  if (!escapes) return key == name;
  size_t i = 0, j = 0;
  while (i < key.size() && j < name.size() &&
         edgelab_internal_unescape(key.data(), key.size(), &i) == name[j]) {
    ++j;
  }
  return i == key.size() && j == name.size();
}

inline std::string QueryValue(std::string_view raw, bool escapes) {
  if (!escapes) return std::string(raw);
  std::string value;
  for (size_t i = 0; i < raw.size();) {
    value.push_back(edgelab_internal_unescape(raw.data(), raw.size(), &i));
  }
  return value;
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
    r.path_len_ = std::min(std::string_view(r.url_).find('?'), r.url_.size());
    return r;
  }

  const std::string& method() const { return method_; }
  // The request target as sent: "/path?query".
  const std::string& url() const { return url_; }
  // The URL without "?query". Found once in FromHost: handlers call this in every comparison, and
  // each search for '?' was a memchr of ~130 interpreted instructions.
  std::string_view path() const { return std::string_view(url_.data(), path_len_); }

  // The percent-decoded value of query parameter `name` (first match; "" for "?name"), or
  // nullopt when the URL has none.
  // The same answers as edgelab_query_param on url(), for ~1/4 of the interpreted instructions:
  // parts found with memchr, and nothing decoded that has nothing to decode. (Through the C
  // function, with its strcspn and byte-wise decoding, one query cost examples/lock's object
  // ~2,750 instructions, a third of its turn.)
  std::optional<std::string> query(std::string_view name) const {
    if (path_len_ == url_.size()) return std::nullopt;  // no '?'
    std::string_view rest = std::string_view(url_).substr(path_len_ + 1);
    const size_t hash = rest.find('#');
    const bool fragment = hash != std::string_view::npos;
    rest = rest.substr(0, hash);
    const bool escapes = internal::HasEscapes(rest);
    for (;;) {
      const size_t amp = rest.find('&');
      // Where edgelab_query_param stops: the end of the URL (not a '#') after the last '&'.
      if (amp == std::string_view::npos && rest.empty() && !fragment) return std::nullopt;
      std::string_view part = rest.substr(0, amp);
      const size_t eq = part.find('=');
      if (internal::QueryKeyIs(part.substr(0, eq), name, escapes)) {
        if (eq == std::string_view::npos) return std::string();
        return internal::QueryValue(part.substr(eq + 1), escapes);
      }
      if (amp == std::string_view::npos) return std::nullopt;
      rest.remove_prefix(amp + 1);
    }
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
  size_t path_len_ = 0;                      // url_'s bytes before '?'
  mutable std::optional<std::string> body_;  // a cache: reading it does not change the request
};

namespace internal {

// Whether header name `name` is "Content-Type", in any case (HTTP names are case-insensitive).
inline bool IsContentType(std::string_view name) {
  constexpr std::string_view kLower = "content-type";
  if (name.size() != kLower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kLower[i]) return false;
  }
  return true;
}

}  // namespace internal

// What the handler answers. Content-Length is the host's; a header name or value holding CR or
// LF, or a status outside 100-599, traps the guest when sent.
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // A text/plain response. Its "Content-Type: text/plain; charset=utf-8" is not in `headers`:
  // Send() adds it unless `headers` has a Content-Type, which then replaces it. In the vector it
  // cost the vector and two strings, ~610 of the ~2,170 instructions of examples/counter-do's
  // whole object turn (2026-11-27).
  static Response Text(std::string body, int status = 200) {
    Response r;
    r.status = status;
    r.text_plain_ = true;
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
    if (text_plain_ && std::none_of(headers.begin(), headers.end(), [](const auto& h) {
          return internal::IsContentType(h.first);
        })) {
      constexpr std::string_view kName = "Content-Type", kValue = "text/plain; charset=utf-8";
      edgelab_raw_resp_header(kName.data(), kName.size(), kValue.data(), kValue.size());
    }
    for (const auto& [name, value] : headers) {
      edgelab_raw_resp_header(name.data(), name.size(), value.data(), value.size());
    }
    if (!body.empty()) edgelab_raw_resp_write(body.data(), body.size());
  }

 private:
  bool text_plain_ = false;  // made by Text(): Send() adds its Content-Type
};

// ---- KV ----

// Where a KV read is served (docs/abi.md "KV"). kEventual: from the serving location's cache
// when it has the key, up to edge.toml [kv] cache_ttl_ms stale (as Workers KV). kStrong: from
// the origin, seeing every write completed before it; read the etag for an if_match Put so.
enum class Consistency { kEventual, kStrong };

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
// writes atomically. Reads may be stale when edge.toml simulates locations with caches
// ([[locations]]): see Consistency.
class Kv {
 public:
  // nullopt when edge.toml declares no such binding.
  static std::optional<Kv> Open(std::string_view binding) {
    int32_t h = edgelab_raw_kv_open(binding.data(), binding.size());
    if (h < 0) return std::nullopt;
    return Kv(h);
  }

  // The value and etag of `key`, read with `consistency`. kInvalidArgument when the key is over
  // 512 bytes.
  GetResult Get(std::string_view key, Consistency consistency = Consistency::kEventual) const {
    GetResult r;
    internal::EtagBuffer etag;
    std::string value;
    int32_t n = internal::ReadInto(value, [&](char* buf, size_t cap) {
      if (consistency == Consistency::kStrong) {
        return edgelab_raw_kv_get_strong(handle_, key.data(), key.size(), buf, cap, etag.bytes,
                                         sizeof etag.bytes);
      }
      return edgelab_raw_kv_get(handle_, key.data(), key.size(), buf, cap, etag.bytes,
                                sizeof etag.bytes);
    });
    if (n == EDGELAB_ENOTFOUND) return r;
    if (n < 0) {
      r.error = static_cast<Error>(n);
      return r;
    }
    r.value = std::move(value);
    r.etag = etag.str();
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
    internal::EtagBuffer etag;
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
    o.out_etag_ptr = etag.bytes;
    o.out_etag_cap = sizeof etag.bytes;
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
      r.etag = etag.str();
    }
    return r;
  }

  // kNone also when the key was missing.
  [[nodiscard]] Error Delete(std::string_view key) const {
    return internal::ToError(edgelab_raw_kv_delete(handle_, key.data(), key.size()));
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

// ---- Vars ----

// The value of edge.toml [vars] `name` (numbers and booleans arrive as their text), or nullopt.
inline std::optional<std::string> Var(std::string_view name) {
  std::string value;
  int32_t n = internal::ReadInto(
      value,
      [name](char* buf, size_t cap) {
        return edgelab_raw_var_get(name.data(), name.size(), buf, cap);
      },
      64);
  if (n < 0) return std::nullopt;
  return value;
}

// ---- Durable Objects: reaching one (from a worker, or from inside an object) ----
//
// An object is one instance of a class, named by an id. Its requests run one at a time, in
// arrival order, and an answer leaves only once the storage writes before it are durable
// (docs/abi.md "How an object runs" is the contract). A request to an object waits for its
// answer: a chain of objects that would end up waiting on itself (A calls B, whose request calls
// A) is refused at once with Error::kCycle.

// An object's answer.
struct [[nodiscard]] StubResponse {
  // kCycle (nothing was sent), kIo (the object's storage write failed: its answer is lost),
  // kUnavailable (shutting down), kInvalidArgument (malformed id, method or header, a url with
  // CR or LF); kNone when answered. A trap inside the object is an answer (500, or 503 for a CPU or
  // memory limit).
  Error error = Error::kNone;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool ok() const { return error == Error::kNone; }

  // This answer as the worker's own. One that never came is 503 when the server is shutting
  // down (retry elsewhere) and 500 otherwise, naming the error.
  Response Forward() && {
    if (!ok()) {
      return Response::Text(std::string("Durable Object error: ") + ErrorName(error) + "\n",
                            error == Error::kUnavailable ? 503 : 500);
    }
    Response out;
    out.status = status;
    out.headers = std::move(headers);
    out.body = std::move(body);
    return out;
  }
};

struct FetchOptions {
  std::string_view method = "GET";  // 1-16 bytes of A-Z ("" is GET)
  std::string_view body;
  // No empty name, no ':' in a name, no CR or LF anywhere (else kInvalidArgument).
  std::vector<std::pair<std::string, std::string>> headers;
  // False leaves StubResponse::headers empty: a caller that needs only the status and body
  // (a lock's "true"/"false") skips a host call and the decoding, ~500 interpreted
  // instructions per fetch.
  bool read_headers = true;
};

namespace internal {

// Headers as the "name: value\n" lines do_fetch takes; false for a header it would refuse or,
// worse, misread: a line break inside a value would start a header the caller never set.
inline bool EncodeHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string* out) {
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return false;
    }
    out->append(name).append(": ").append(value).push_back('\n');
  }
  return true;
}

// The reverse, for do_response_headers' lines: appends each "name: value" line to `out`.
inline void DecodeHeaders(std::string_view text,
                          std::vector<std::pair<std::string, std::string>>* out) {
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon + 1 < line.size() && line[colon + 1] == ' ') {
      out->emplace_back(line.substr(0, colon), line.substr(colon + 2));
    }
  }
}

// Reads everything of response handle `h`, then closes it: a request that calls objects in a
// loop (a lock taken with retries) would otherwise keep every answer in host memory until it
// ends. The headers are decoded from a buffer on the stack when they fit (a few short lines
// nearly always do): a std::string for them was one more allocation and copy per call; with the
// single-pass decode below, ~300 fewer interpreted instructions per call.
inline void ReadResponse(int32_t h, bool read_headers, StubResponse* r) {
  r->status = edgelab_raw_do_response_status(h);
  if (read_headers) {
    char first[256];
    int32_t n = edgelab_raw_do_response_headers(h, first, sizeof first);
    if (n >= 0 && static_cast<size_t>(n) <= sizeof first) {
      DecodeHeaders(std::string_view(first, static_cast<size_t>(n)), &r->headers);
    } else if (n >= 0) {
      std::string text;
      (void)ReadInto(text, [h](char* buf, size_t cap) {
        return edgelab_raw_do_response_headers(h, buf, cap);
      });
      DecodeHeaders(text, &r->headers);
    }
  }
  (void)ReadInto(r->body,
                 [h](char* buf, size_t cap) { return edgelab_raw_do_response_body(h, buf, cap); });
  (void)edgelab_raw_do_response_close(h);
}

}  // namespace internal

// A reference to one object. Cheap to copy (a handle and the id); it does not keep the object
// alive or busy: each Fetch is one request.
class Stub {
 public:
  const std::string& id() const { return id_; }

  // Sends a request for `url` (the target the object sees: "/path?query") and waits for the
  // object's answer.
  StubResponse Fetch(std::string_view url, const FetchOptions& opts = {}) const {
    StubResponse r;
    std::string headers;
    if (!internal::EncodeHeaders(opts.headers, &headers)) {
      r.error = Error::kInvalidArgument;
      return r;
    }
    edgelab_do_request req = {
        .method_ptr = opts.method.data(),
        .method_len = static_cast<uint32_t>(opts.method.size()),
        .url_ptr = url.data(),
        .url_len = static_cast<uint32_t>(url.size()),
        .headers_ptr = headers.data(),
        .headers_len = static_cast<uint32_t>(headers.size()),
        .body_ptr = opts.body.data(),
        .body_len = static_cast<uint32_t>(opts.body.size()),
    };
    int32_t h = edgelab_raw_do_fetch(ns_, id_.data(), id_.size(), &req);
    if (h < 0) {
      r.error = static_cast<Error>(h);
      return r;
    }
    internal::ReadResponse(h, opts.read_headers, &r);
    return r;
  }

 private:
  friend class DurableObjectNamespace;
  Stub(int32_t ns, std::string id) : ns_(ns), id_(std::move(id)) {}

  int32_t ns_;
  std::string id_;
};

// One [[durable_objects.bindings]] name: a class's objects. Cheap to copy; valid for the
// isolate's life, so a worker may open it once and keep it.
class DurableObjectNamespace {
 public:
  // nullopt when edge.toml declares no such binding.
  static std::optional<DurableObjectNamespace> Open(std::string_view binding) {
    int32_t h = edgelab_raw_do_namespace(binding.data(), binding.size());
    if (h < 0) return std::nullopt;
    return DurableObjectNamespace(h);
  }

  // The id of the object called `name` (64 lower-case hex characters): the same name gives the
  // same object, across isolates and restarts.
  std::string IdFromName(std::string_view name) const {
    return ReadId([&](char* buf, size_t cap) {
      return edgelab_raw_do_id_from_name(handle_, name.data(), name.size(), buf, cap);
    });
  }

  // The id of a new object no one else can name.
  std::string NewUniqueId() const {
    return ReadId(
        [this](char* buf, size_t cap) { return edgelab_raw_do_new_unique_id(handle_, buf, cap); });
  }

  // A stub for object `id`; a malformed id shows as kInvalidArgument from Fetch.
  Stub Get(std::string_view id) const { return Stub(handle_, std::string(id)); }
  Stub GetByName(std::string_view name) const { return Get(IdFromName(name)); }

  int32_t handle() const { return handle_; }

 private:
  explicit DurableObjectNamespace(int32_t handle) : handle_(handle) {}

  // "" only on a bad handle, which Open never makes.
  template <class Read>
  static std::string ReadId(Read read) {
    std::string id;
    (void)internal::ReadInto(id, read, EDGELAB_ID_LEN);
    return id;
  }

  int32_t handle_;
};

// ---- Inside a Durable Object ----
//
// docs/abi.md "How an object runs" is the contract; what it means for a class here:
//   1. a request (or alarm) has the object to itself from start to end, even while it waits
//      (SleepMs, a call to another object): no locking inside an object;
//   2. member fields live as long as the instance, which is lost when the object traps, is
//      evicted after idle_timeout_ms or the server restarts; storage is kept. So what must
//      survive (a lease, a count) goes to storage, and a member field may only cache it;
//   3. keys that must change together change in one Transaction; alarms are not part of it.
// Every call here is valid only inside the do_fetch / do_alarm exports (a worker gets
// kInvalidArgument and a warning in the log).

struct [[nodiscard]] StorageGetResult {
  Error error = Error::kNone;        // kInvalidArgument (empty key, over 2048 bytes), kIo
  std::optional<std::string> value;  // nullopt: no such key
  bool ok() const { return error == Error::kNone; }
};

struct StorageListOptions {
  std::string_view prefix;  // only keys starting with it
  std::string_view start;   // from this key, inclusive ("" = from the first)
  std::string_view end;     // up to this key, exclusive ("" = to the last)
  uint32_t limit = 0;       // at most this many pairs; 0 = no limit
};

struct [[nodiscard]] StorageListResult {
  Error error = Error::kNone;                                // kInvalidArgument, kIo
  std::vector<std::pair<std::string, std::string>> entries;  // (key, value) in key byte order
  bool ok() const { return error == Error::kNone; }
};

struct [[nodiscard]] StorageDeleteResult {
  Error error = Error::kNone;  // kInvalidArgument, kIo
  bool existed = false;
  bool ok() const { return error == Error::kNone; }
};

struct [[nodiscard]] AlarmResult {
  Error error = Error::kNone;      // kIo (kInvalidArgument outside an object)
  std::optional<int64_t> unix_ms;  // nullopt: no alarm is set
  bool ok() const { return error == Error::kNone; }
};

// The object's own storage: keys of 1-2048 bytes, values up to 128 KiB (else kInvalidArgument),
// and one alarm. Reads see every earlier write of this object, durable or not.
class Storage {
 public:
  StorageGetResult Get(std::string_view key) const {
    StorageGetResult r;
    std::string value;
    int32_t n = internal::ReadInto(value, [key](char* buf, size_t cap) {
      return edgelab_raw_storage_get(key.data(), key.size(), buf, cap);
    });
    if (n == EDGELAB_ENOTFOUND) return r;
    if (n < 0) {
      r.error = static_cast<Error>(n);
      return r;
    }
    r.value = std::move(value);
    return r;
  }

  [[nodiscard]] Error Put(std::string_view key, std::string_view value) const {
    return internal::ToError(
        edgelab_raw_storage_put(key.data(), key.size(), value.data(), value.size()));
  }

  StorageDeleteResult Delete(std::string_view key) const {
    StorageDeleteResult r;
    int32_t rc = edgelab_raw_storage_delete(key.data(), key.size());
    r.error = internal::ToError(rc);
    r.existed = rc == 1;
    return r;
  }

  StorageListResult List(const StorageListOptions& opts = {}) const;

  // Runs body(storage) inside a transaction: commits when it returns true, rolls back when it
  // returns false (report why through a capture). A trap inside body commits nothing. Returns
  // Begin's error (kInvalidArgument: a transaction is already open), else Commit's or
  // Rollback's.
  template <class Body>
  requires std::is_invocable_r_v<bool, Body, const Storage&>
  [[nodiscard]] Error Transaction(Body&& body) const {
    if (Error e = Begin(); e != Error::kNone) return e;
    return std::forward<Body>(body)(*this) ? Commit() : Rollback();
  }

  // The raw steps, for code that cannot use a closure. kInvalidArgument: Begin with one open
  // (there is no nesting), Commit or Rollback with none open.
  [[nodiscard]] Error Begin() const { return internal::ToError(edgelab_raw_storage_txn_begin()); }
  [[nodiscard]] Error Commit() const { return internal::ToError(edgelab_raw_storage_txn_commit()); }
  [[nodiscard]] Error Rollback() const {
    return internal::ToError(edgelab_raw_storage_txn_rollback());
  }

  // The alarm's time in Unix ms. A result rather than an optional because kIo must not read as
  // "no alarm".
  AlarmResult GetAlarm() const {
    AlarmResult r;
    int64_t t = edgelab_raw_alarm_get();
    if (t >= 0) r.unix_ms = t;
    if (t < -1) r.error = static_cast<Error>(t);
    return r;
  }

  // Sets the alarm (replacing any): do_alarm runs at or after `unix_ms`, at least once, even
  // after a restart. kInvalidArgument for unix_ms <= 0.
  [[nodiscard]] Error SetAlarm(int64_t unix_ms) const {
    return internal::ToError(edgelab_raw_alarm_set(unix_ms));
  }
  [[nodiscard]] Error DeleteAlarm() const { return internal::ToError(edgelab_raw_alarm_delete()); }

 private:
  friend class State;
  Storage() = default;
};

inline StorageListResult Storage::List(const StorageListOptions& opts) const {
  StorageListResult r;
  edgelab_storage_list_options o = {
      .prefix_ptr = opts.prefix.data(),
      .prefix_len = static_cast<uint32_t>(opts.prefix.size()),
      .start_ptr = opts.start.data(),
      .start_len = static_cast<uint32_t>(opts.start.size()),
      .end_ptr = opts.end.data(),
      .end_len = static_cast<uint32_t>(opts.end.size()),
      .limit = opts.limit,
  };
  std::string raw;
  int32_t n = internal::ReadInto(
      raw, [&o](char* buf, size_t cap) { return edgelab_raw_storage_list(&o, buf, cap); });
  edgelab_storage_listing listing;
  if (n < 0 || (n = edgelab_storage_listing_init(&listing, raw.data(), raw.size())) < 0) {
    r.error = static_cast<Error>(n);
    return r;
  }
  const char *key, *value;
  uint32_t key_len, value_len;
  while ((n = edgelab_storage_listing_next(&listing, &key, &key_len, &value, &value_len)) == 1) {
    r.entries.emplace_back(std::string(key, key_len), std::string(value, value_len));
  }
  if (n < 0) r.error = static_cast<Error>(n);
  return r;
}

// What an object knows about itself; EDGELAB_DURABLE_OBJECT makes one per instance and passes it
// to the class's constructor. It outlives the instance.
class State {
 public:
  // Requires: inside the object (the do_fetch / do_alarm exports).
  static State FromHost() {
    State s;
    (void)internal::ReadInto(s.id_, edgelab_raw_do_self_id, EDGELAB_ID_LEN);
    return s;
  }

  const std::string& id() const { return id_; }
  Storage& storage() { return storage_; }

 private:
  State() = default;

  std::string id_;
  Storage storage_;
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

// The object's instance and its State, made on the first request or alarm of the isolate (one
// isolate is one object), when host calls are allowed (unlike _initialize).
template <class T>
struct ObjectHolder {
  ObjectHolder() : state(State::FromHost()), object(state) {}
  State state;
  T object;
};

template <class T>
T& ObjectInstance() {
  static ObjectHolder<T> holder;
  return holder.object;
}

template <class T>
void ServeObject() {
  ObjectInstance<T>().Fetch(Request::FromHost()).Send();
}

template <class T>
void RunAlarm() {
  if constexpr (requires { std::declval<T&>().Alarm(); }) {
    ObjectInstance<T>().Alarm();
  } else {
    Log(LogLevel::kWarn, "edgelab: an alarm fired in a class without Alarm(); dropped");
  }
}

}  // namespace internal

}  // namespace edgelab

// Defines the module's `fetch` export: reads the request, calls
// `edgelab::Response fn(const edgelab::Request&)`, sends what it returns. Use once, at file scope.
#define EDGELAB_HANDLER(fn) \
  extern "C" EDGELAB_EXPORT("fetch") void edgelab_fetch(void) { ::edgelab::internal::Serve(fn); }

// Defines the exports of a Durable Object class: `do_fetch`, which serves one request to the
// object with ClassName's `edgelab::Response Fetch(const edgelab::Request&)`, and `do_alarm`,
// which runs its `void Alarm()`. ClassName's constructor takes `edgelab::State&`. The instance is
// made on the object's first request or alarm and kept in a function-local static: member fields
// are the object's in-memory state (point 2 above says when they are lost).
// do_alarm is exported even when ClassName has no Alarm(): it then logs a warning and returns,
// which drops the alarm as the host does for a module without do_alarm; one macro, no variant.
// An alarm is retried (alarm_retry_ms, doubling, alarm_max_retries times) only when Alarm()
// fails, that is, traps: call abort() in Alarm() to have it retried.
// Use once, at file scope: a module implements one class. It may also use EDGELAB_HANDLER (a
// worker with its own class).
#define EDGELAB_DURABLE_OBJECT(ClassName)                                    \
  extern "C" EDGELAB_EXPORT("do_fetch") void edgelab_export_do_fetch(void) { \
    ::edgelab::internal::ServeObject<ClassName>();                           \
  }                                                                          \
  extern "C" EDGELAB_EXPORT("do_alarm") void edgelab_export_do_alarm(void) { \
    ::edgelab::internal::RunAlarm<ClassName>();                              \
  }

#endif  // EDGELAB_SDK_EDGELAB_HPP_
