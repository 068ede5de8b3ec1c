// abi/request_calls.cc: host functions for the request, the response, time,
// randomness and logging (docs/abi.md).
#include <cctype>
#include <cstring>

#include "abi/calls.h"
#include "abi/context.h"
#include "abi/guest.h"
#include "sched/scheduler.h"

namespace edgelab::abi::calls {
namespace {

// Writes `data` to the guest buffer given by args 0 and 1 and returns its
// full length: the shape of every req_* call.
HostOutcome ReturnBytes(HostCall& c, std::string_view fn, std::string_view data) {
  Guest g(c, fn);
  uint32_t len;
  if (!g.WriteOut(g.U32(0), g.U32(1), data, &len)) return g.Trap();
  g.Return(len);
  return HostOutcome::Return();
}

constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;

// ASCII case-insensitive equality over every byte (NULs included, unlike
// strncasecmp, which would stop at one).
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y && std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

HostOutcome ReqMethod(HostCall& c) { return ReturnBytes(c, "req_method", c.ctx->request.method); }
HostOutcome ReqUrl(HostCall& c) { return ReturnBytes(c, "req_url", c.ctx->request.url); }
HostOutcome ReqBody(HostCall& c) { return ReturnBytes(c, "req_body", c.ctx->request.body); }

HostOutcome ReqHeaders(HostCall& c) {
  std::string all;
  for (const auto& [name, value] : c.ctx->request.headers) {
    all.append(name).append(": ").append(value).push_back('\n');
  }
  return ReturnBytes(c, "req_headers", all);
}

HostOutcome ReqHeader(HostCall& c) {
  Guest g(c, "req_header");
  std::string_view name;
  if (!g.Read(g.U32(0), g.U32(1), &name)) return g.Trap();
  for (const auto& [n, value] : c.ctx->request.headers) {
    if (EqualsIgnoreCase(n, name)) {
      uint32_t len;
      if (!g.WriteOut(g.U32(2), g.U32(3), value, &len)) return g.Trap();
      g.Return(len);
      return HostOutcome::Return();
    }
  }
  uint8_t* unused;  // the buffer must still be valid: the rule has no exceptions
  if (!g.Writable(g.U32(2), g.U32(3), &unused)) return g.Trap();
  g.Return(kENotFound);
  return HostOutcome::Return();
}

HostOutcome RespStatus(HostCall& c) {
  Guest g(c, "resp_status");
  int32_t code = g.I32(0);
  // A worker gives a final response: 1xx are interim statuses HTTP/1.1 sends
  // on its own (100 Continue), never a handler's answer.
  if (code < 200 || code > 599) return g.Trap("status " + std::to_string(code) + " not in 200-599");
  c.ctx->response.status = code;
  c.ctx->response.status_set = true;
  return HostOutcome::Return();
}

HostOutcome RespHeader(HostCall& c) {
  Guest g(c, "resp_header");
  std::string_view name, value;
  if (!g.Read(g.U32(0), g.U32(1), &name) || !g.Read(g.U32(2), g.U32(3), &value)) return g.Trap();
  if (name.empty() || HasLineBreak(name) || HasLineBreak(value) ||
      name.find(':') != std::string_view::npos) {
    return g.Trap("invalid header name or value (empty name, ':' in name, or CR/LF)");
  }
  // The host owns framing: a guest's Content-Length could only be wrong.
  if (EqualsIgnoreCase(name, "content-length")) {
    return HostOutcome::Return();
  }
  // Beast and most proxies refuse header blocks past ~64 KiB: fail here, in
  // the guest, not later at the front.
  size_t total = name.size() + value.size();
  for (const auto& [n, v] : c.ctx->response.headers) total += n.size() + v.size() + 4;
  if (total > kMaxResponseHeaderBytes) {
    return g.Trap("response headers over " + std::to_string(kMaxResponseHeaderBytes) + " bytes");
  }
  c.ctx->response.headers.emplace_back(name, value);
  return HostOutcome::Return();
}

HostOutcome RespWrite(HostCall& c) {
  Guest g(c, "resp_write");
  std::string_view data;
  if (!g.Read(g.U32(0), g.U32(1), &data)) return g.Trap();
  if (c.ctx->response.body.size() + data.size() > c.ctx->max_response_bytes) {
    return g.Trap("response body over " + std::to_string(c.ctx->max_response_bytes) +
                  " bytes (the worker's memory limit)");
  }
  c.ctx->response.body.append(data);
  return HostOutcome::Return();
}

HostOutcome SleepMs(HostCall& c) {
  Guest g(c, "sleep_ms");
  c.ctx->sched().SleepFor(static_cast<int64_t>(g.U32(0)) * 1000);
  return HostOutcome::Return();
}

HostOutcome NowMs(HostCall& c) {
  Guest g(c, "now_ms");
  g.Return64(static_cast<uint64_t>(c.ctx->sched().WallMillis()));
  return HostOutcome::Return();
}

HostOutcome Random(HostCall& c) { return FillRandom(c, "random"); }

HostOutcome FillRandom(HostCall& c, std::string_view fn) {
  Guest g(c, fn);
  uint8_t* p;
  if (!g.Writable(g.U32(0), g.U32(1), &p)) return g.Trap();
  for (uint32_t i = 0; i < g.U32(1); i += 8) {
    uint64_t r = c.ctx->sched().Random();
    uint32_t n = g.U32(1) - i < 8 ? g.U32(1) - i : 8;
    std::memcpy(p + i, &r, n);
  }
  return HostOutcome::Return();
}

HostOutcome Log(HostCall& c) {
  Guest g(c, "log");
  std::string_view msg;
  if (!g.Read(g.U32(1), g.U32(2), &msg)) return g.Trap();
  int32_t level = g.I32(0);
  if (level < 0) level = 0;
  if (level > 3) level = 3;
  c.bytes += kLogLineCost;
  c.ctx->Log(static_cast<LogLevel>(level), msg);
  return HostOutcome::Return();
}

}  // namespace edgelab::abi::calls
