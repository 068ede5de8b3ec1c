// abi/context.h: what a guest's host calls can reach while it serves one
// request: the request, the response being built, its KV bindings, the
// scheduler to wait on and the log. The runtime fills one per request; the
// engine hands it to every host call.
//
// Threading: belongs to the one fiber serving the request.
// This header must compile as C++17 (the engine includes abi headers).
#ifndef EDGELAB_ABI_CONTEXT_H_
#define EDGELAB_ABI_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgelab::sched {
class Scheduler;
}
namespace edgelab::kv {
class Namespace;
}

namespace edgelab::abi {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url = "/";  // the request target as sent: path and query
  Headers headers;
  std::string body;
};

struct Response {
  int status = 200;
  bool status_set = false;
  Headers headers;
  std::string body;
};

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct KvBinding {
  std::string name;   // the binding name the guest opens
  kv::Namespace* ns;  // outlives the context
};

class Context {
 public:
  using LogFn = std::function<void(LogLevel, std::string_view)>;

  Context(sched::Scheduler* sched, const std::vector<KvBinding>* kv, LogFn log)
      : sched_(sched), kv_(kv), log_(std::move(log)) {}

  // A context for a new isolate's _initialize, run while serving this one:
  // the same services and log, but no request to read and a response nobody
  // sends (initialization must not see or answer someone's request).
  Context ForInit() const { return Context(sched_, kv_, log_); }

  sched::Scheduler& sched() const { return *sched_; }
  const std::vector<KvBinding>& kv() const { return *kv_; }
  void Log(LogLevel level, std::string_view msg) const {
    if (log_) log_(level, msg);
  }

  // Set by the runtime before each call; the guest reads it.
  Request request;
  // Built by the guest; the runtime sends it.
  Response response;
  // Largest response body a guest may write (resp_write traps past it): the
  // body lives in host memory, so it counts against the worker's memory.
  uint64_t max_response_bytes = 128 * 1024 * 1024;
  // Partial stdout/stderr lines from WASI fd_write, flushed at newline.
  std::string stdout_line, stderr_line;

 private:
  sched::Scheduler* const sched_;
  const std::vector<KvBinding>* const kv_;
  const LogFn log_;
};

}  // namespace edgelab::abi

#endif  // EDGELAB_ABI_CONTEXT_H_
