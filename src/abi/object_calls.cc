// abi/object_calls.cc: host functions for vars and for Durable Object stubs:
// naming an object, sending it a request and reading the response it gave
// (docs/abi.md "Vars", "Durable Objects: stubs"). The calls a guest makes
// inside an object are in storage_calls.cc; the object rules themselves
// (one instance, serial turns, the output gate, cycles) are
// objects/registry.h's, reached through abi::ObjectNamespace.
//
// As in kv_calls.cc, every guest range is checked before anything is sent,
// so a bad pointer never leaves a request half-delivered to an object. The
// responses a request holds open are capped in number and bytes
// (abi/context.h, OpenResponses, says why and how handles are numbered).
#include <cstring>
#include <string>

#include "abi/calls.h"
#include "abi/context.h"
#include "abi/guest.h"

namespace edgelab::abi::calls {
namespace {

// The namespace for handle `h`, or null.
ObjectNamespace* Binding(HostCall& c, uint32_t h) {
  const auto& objects = c.ctx->objects();
  return h < objects.size() ? objects[h].ns : nullptr;
}

// The response for handle `r`, or null when there is none or it was closed.
const Response* Fetched(HostCall& c, uint32_t r) { return c.ctx->fetched.Find(r); }

void Warn(HostCall& c, std::string_view fn, std::string_view why) {
  c.ctx->Log(LogLevel::kWarn, "edgelab." + std::string(fn) + ": " + std::string(why));
}

// Maps a Fetch error to a guest code; logs what the guest cannot see. A
// cycle is a bug in the guests' call graph: its description (the chain of
// objects) goes to the log.
int32_t FetchErrorCode(HostCall& c, const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument:
      Warn(c, "do_fetch", s.message());
      return kEInval;
    case Code::kPreconditionFailed:
      Warn(c, "do_fetch", s.message());
      return kECycle;
    case Code::kUnavailable:
      return kEUnavailable;
    default:
      c.ctx->Log(LogLevel::kError, "edgelab.do_fetch: " + s.ToString());
      return kEIO;
  }
}

}  // namespace

HostOutcome VarGet(HostCall& c) {
  Guest g(c, "var_get");
  std::string_view name;
  if (!g.Read(g.U32(0), g.U32(1), &name)) return g.Trap();
  const Vars& vars = c.ctx->vars();
  auto it = vars.find(name);
  if (it == vars.end()) {
    uint8_t* unused;  // the buffer must still be valid: the rule has no exceptions
    if (!g.Writable(g.U32(2), g.U32(3), &unused)) return g.Trap();
    return g.Answer(kENotFound);
  }
  uint32_t len;
  if (!g.WriteOut(g.U32(2), g.U32(3), it->second, &len)) return g.Trap();
  return g.Answer(static_cast<int32_t>(len));
}

HostOutcome DoNamespace(HostCall& c) {
  Guest g(c, "do_namespace");
  std::string_view name;
  if (!g.Read(g.U32(0), g.U32(1), &name)) return g.Trap();
  const auto& objects = c.ctx->objects();
  for (size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].name == name) return g.Answer(static_cast<int32_t>(i));
  }
  return g.Answer(kENotFound);
}

namespace {

// The shape do_id_from_name and do_new_unique_id share: check the output
// range (args buf, buf + 1) and the handle (arg 0), then write the id that
// `make` gives.
template <typename Make>
HostOutcome WriteId(HostCall& c, Guest& g, int buf, Make make) {
  uint8_t* unused;
  if (!g.Writable(g.U32(buf), g.U32(buf + 1), &unused)) return g.Trap();
  ObjectNamespace* ns = Binding(c, g.U32(0));
  if (ns == nullptr) return g.Answer(kEInval);
  uint32_t len;
  if (!g.WriteOut(g.U32(buf), g.U32(buf + 1), make(*ns), &len)) return g.Trap();
  return g.Answer(static_cast<int32_t>(len));
}

}  // namespace

HostOutcome DoIdFromName(HostCall& c) {
  Guest g(c, "do_id_from_name");
  std::string_view name;
  if (!g.Read(g.U32(1), g.U32(2), &name)) return g.Trap();
  return WriteId(c, g, 3, [&](ObjectNamespace& ns) { return ns.IdFromName(name); });
}

HostOutcome DoNewUniqueId(HostCall& c) {
  Guest g(c, "do_new_unique_id");
  return WriteId(c, g, 1, [&](ObjectNamespace& ns) { return ns.NewUniqueId(*c.ctx); });
}

namespace {

// Offsets of edgelab_do_request (docs/abi.md).
struct RequestRaw {
  uint32_t method_ptr, method_len, url_ptr, url_len;
  uint32_t headers_ptr, headers_len, body_ptr, body_len;
};
static_assert(sizeof(RequestRaw) == 32);

// The guest's request, as views of its memory (valid for the whole call:
// abi/host.h).
struct RequestViews {
  std::string_view method, url, headers, body;
};

// Reads the struct at `ptr` and checks every range it points to; false traps.
bool ReadRequest(Guest& g, uint32_t ptr, RequestViews* v) {
  std::string_view bytes;
  if (!g.Read(ptr, sizeof(RequestRaw), &bytes)) return false;
  RequestRaw raw;
  std::memcpy(&raw, bytes.data(), sizeof(raw));
  return g.Read(raw.method_ptr, raw.method_len, &v->method) &&
         g.Read(raw.url_ptr, raw.url_len, &v->url) &&
         g.Read(raw.headers_ptr, raw.headers_len, &v->headers) &&
         g.Read(raw.body_ptr, raw.body_len, &v->body);
}

constexpr size_t kMaxMethodBytes = 16;

bool ValidMethod(std::string_view m) {
  if (m.empty() || m.size() > kMaxMethodBytes) return false;
  for (char ch : m) {
    if (ch < 'A' || ch > 'Z') return false;
  }
  return true;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Parses "name: value\n" lines (the last '\n' may be missing) into `out`.
// The same rule as resp_header: no empty name, no ':' in a name, no CR.
bool ParseHeaders(std::string_view text, Headers* out, std::string* why) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t sep = line.find(": ");
    if (sep == std::string_view::npos) {
      *why = "header line without \": \" (want \"name: value\\n\" lines)";
      return false;
    }
    std::string_view name = line.substr(0, sep), value = line.substr(sep + 2);
    if (name.empty() || name.find(':') != std::string_view::npos || HasLineBreak(line)) {
      *why = "invalid header name or value (empty name, ':' in name, or CR)";
      return false;
    }
    out->emplace_back(name, value);
  }
  return true;
}

// The request the object sees, with the defaults filled in; false (and the
// reason, for the log) for values the ABI refuses.
bool BuildRequest(const RequestViews& v, Request* req, std::string* why) {
  if (!v.method.empty()) {
    if (!ValidMethod(v.method)) {
      *why = "method must be 1-16 bytes of A-Z";
      return false;
    }
    req->method = std::string(v.method);
  }
  if (!v.url.empty()) {
    // The runtime logs urls: a line break would forge log lines.
    if (HasLineBreak(v.url)) {
      *why = "url with CR or LF";
      return false;
    }
    req->url = std::string(v.url);
  }
  if (!ParseHeaders(v.headers, &req->headers, why)) return false;
  req->body = std::string(v.body);
  return true;
}

// Whether the request may hold one more response (context.h says why the
// caps); when not, logs which cap it is at. Checked before anything is sent,
// so a guest at a cap causes no effects in the object.
bool RoomForAResponse(HostCall& c) {
  const OpenResponses& open = c.ctx->fetched;
  if (open.open() >= OpenResponses::kMaxOpen) {
    Warn(c, "do_fetch",
         std::to_string(open.open()) +
             " responses are open, the limit: close them with do_response_close once read; "
             "nothing was sent");
    return false;
  }
  if (open.held_bytes() >= c.ctx->max_response_bytes) {
    Warn(c, "do_fetch",
         "open responses hold " + std::to_string(open.held_bytes()) + " bytes, the limit of " +
             std::to_string(c.ctx->max_response_bytes) +
             " bytes ([limits] memory_mb): close them with do_response_close once read; "
             "nothing was sent");
    return false;
  }
  return true;
}

// Keeps `resp` open and returns its handle, or EUNAVAILABLE when it would
// take the bytes held past the memory limit. Then the object has already
// run the request (its storage writes stand): the guest asked for more than
// it may hold, and holding it anyway is what the limit is there to stop.
int32_t Hold(HostCall& c, Response resp) {
  OpenResponses& open = c.ctx->fetched;
  const uint64_t bytes = OpenResponses::Bytes(resp);
  const uint64_t limit = c.ctx->max_response_bytes;
  if (bytes > limit - open.held_bytes()) {  // held_bytes() <= limit: RoomForAResponse
    Warn(c, "do_fetch",
         "a response of " + std::to_string(bytes) + " bytes would take the open responses past " +
             "the limit of " + std::to_string(limit) +
             " bytes ([limits] memory_mb); it was dropped, after the object ran the request");
    return kEUnavailable;
  }
  return static_cast<int32_t>(open.Open(std::move(resp)));
}

}  // namespace

HostOutcome DoFetch(HostCall& c) {
  Guest g(c, "do_fetch");
  std::string_view id;
  RequestViews views;
  if (!g.Read(g.U32(1), g.U32(2), &id) || !ReadRequest(g, g.U32(3), &views)) return g.Trap();
  ObjectNamespace* ns = Binding(c, g.U32(0));
  if (ns == nullptr) return g.Answer(kEInval);
  Request req;
  std::string why = ns->ValidId(id) ? "" : "malformed id (want 64 lower-case hex characters)";
  if (!why.empty() || !BuildRequest(views, &req, &why)) {
    Warn(c, "do_fetch", why);
    return g.Answer(kEInval);
  }
  if (!RoomForAResponse(c)) return g.Answer(kEUnavailable);
  c.bytes += kKvWriteCost;  // crosses loops and may commit the object's storage
  Result<Response> resp = ns->Fetch(*c.ctx, id, std::move(req));
  // A billed Durable Object request is one the object ran: it answered, or
  // its commit failed after it ran (kIOError). A cycle, too deep a chain or
  // a shutdown refuses the call before any turn (ObjectNamespace::Fetch).
  if (resp.ok() || resp.status().code() == Code::kIOError) c.ctx->Count(&Usage::do_requests);
  if (!resp.ok()) return g.Answer(FetchErrorCode(c, resp.status()));
  return g.Answer(Hold(c, std::move(*resp)));
}

HostOutcome DoResponseStatus(HostCall& c) {
  Guest g(c, "do_response_status");
  const Response* r = Fetched(c, g.U32(0));
  return g.Answer(r != nullptr ? r->status : kEInval);
}

namespace {

// The shape do_response_headers and do_response_body share: write the part
// of response arg 0 that `part` gives to the buffer (args 1, 2).
template <typename Part>
HostOutcome WriteResponsePart(HostCall& c, std::string_view fn, Part part) {
  Guest g(c, fn);
  const Response* r = Fetched(c, g.U32(0));
  if (r == nullptr) {
    uint8_t* unused;  // the buffer must still be valid: the rule has no exceptions
    if (!g.Writable(g.U32(1), g.U32(2), &unused)) return g.Trap();
    return g.Answer(kEInval);
  }
  uint32_t len;
  if (!g.WriteOut(g.U32(1), g.U32(2), part(*r), &len)) return g.Trap();
  return g.Answer(static_cast<int32_t>(len));
}

}  // namespace

HostOutcome DoResponseHeaders(HostCall& c) {
  return WriteResponsePart(c, "do_response_headers", [](const Response& r) {
    std::string all;
    for (const auto& [name, value] : r.headers) {
      all.append(name).append(": ").append(value).push_back('\n');
    }
    return all;
  });
}

HostOutcome DoResponseBody(HostCall& c) {
  return WriteResponsePart(c, "do_response_body",
                           [](const Response& r) { return std::string_view(r.body); });
}

HostOutcome DoResponseClose(HostCall& c) {
  Guest g(c, "do_response_close");
  return g.Answer(c.ctx->fetched.Close(g.U32(0)) ? 0 : kEInval);
}

}  // namespace edgelab::abi::calls
