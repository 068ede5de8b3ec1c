// abi/context.h: what a guest's host calls can reach while it serves one
// request: the request, the response being built, its KV bindings, its
// Durable Object bindings (and, inside an object, that object's storage),
// its vars, the scheduler to wait on, the log and the usage counters. The
// runtime fills one per request; the engine hands it to every host call.
//
// Threading: belongs to the one fiber serving the request.
// This header must compile as C++17 (the engine includes abi headers).
#ifndef EDGELAB_ABI_CONTEXT_H_
#define EDGELAB_ABI_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "abi/usage.h"
#include "base/status.h"
#include "race/observer.h"

namespace edgelab::sched {
class Scheduler;
}
namespace edgelab::kv {
class Namespace;
}
namespace edgelab::objects {
class Storage;
struct ObjectKey;
}  // namespace edgelab::objects

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

// The Durable Object responses one request holds open: do_fetch's response
// handles (docs/abi.md), each valid until do_response_close or the end of
// the request.
//
// Why caps: an open response lives in host memory, so without them a guest
// fetching in a loop without closing grows the host without bound (1.7 GB
// in one request with memory_mb = 16, before they existed). At most kMaxOpen
// are open at once, and held_bytes() counts what they hold so do_fetch can
// keep it within the request's memory limit (object_calls.cc enforces both).
//
// Handles: the low kSlotBits bits name a slot, the bits above its
// generation. Open takes the lowest free slot, so the slots in use stay
// within kMaxOpen however many responses a request fetches and closes, and
// Close bumps the slot's generation, so a closed handle's number is not
// handed out again: using a handle after closing it (an easy bug in a loop)
// stays EINVAL rather than reading someone else's response. Only after 2^25
// reuses of one slot does its generation wrap and an old number come back;
// that is 33 million do_fetch calls in one request, each charged as a storage
// write, far past any CPU limit. A request's first 64 handles are 0 to 63.
//
// Threading: belongs to the request's fiber, like the Context.
class OpenResponses {
 public:
  static constexpr uint32_t kMaxOpen = 64;
  static constexpr uint32_t kSlotBits = 6;  // log2(kMaxOpen)

  // What a response holds while open: its body, and its headers as
  // do_response_headers gives them ("name: value\n" lines).
  static uint64_t Bytes(const Response& r);

  // The open response with handle `h`, or null (never opened, or closed).
  const Response* Find(uint32_t h) const;
  // Keeps `r` open; returns its handle, at most INT32_MAX.
  // Requires: open() < kMaxOpen.
  uint32_t Open(Response r);
  // Frees the response with handle `h`; false when `h` names none.
  bool Close(uint32_t h);

  size_t open() const { return open_; }
  // Bytes(r) summed over the open responses.
  uint64_t held_bytes() const { return held_bytes_; }
  // Slots ever used (open or free), at most kMaxOpen: for tests.
  size_t slots() const { return slots_.size(); }

 private:
  static constexpr uint32_t kGenerationMask = (1u << (31 - kSlotBits)) - 1;
  struct Slot {
    std::optional<Response> response;  // nullopt: free
    uint32_t generation = 0;           // of the handle that names it now or will next
  };

  std::vector<Slot> slots_;
  size_t open_ = 0;
  uint64_t held_bytes_ = 0;
};

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct KvBinding {
  std::string name;   // the binding name the guest opens
  kv::Namespace* ns;  // outlives the context
};

class Context;

// One Durable Object namespace (a class) as a guest reaches it through a
// binding. Implemented by the runtime, which owns the objects.
// Threading: shared by all loops; every method is safe from any fiber.
class ObjectNamespace {
 public:
  virtual ~ObjectNamespace() = default;
  // The id of the object named `name` in this namespace: 64 lower-case hex
  // characters; the same name always gives the same id (across restarts).
  virtual std::string IdFromName(std::string_view name) const = 0;
  // A new random id (64 lower-case hex characters) drawn from `caller`'s
  // scheduler.
  virtual std::string NewUniqueId(Context& caller) const = 0;
  // Whether `id` has the form of an id (64 lower-case hex characters).
  virtual bool ValidId(std::string_view id) const = 0;
  // Sends `req` to object `id` and waits (on caller's scheduler) for its
  // response; a guest fault inside the object is a response (500 / 503),
  // not an error. Errors: kInvalidArgument for a malformed id;
  // kPreconditionFailed when the call would close a cycle of objects waiting
  // on each other (objects/registry.h rule 5); kIOError when the object's
  // storage write failed (its response is lost); kUnavailable when the
  // runtime is shutting down.
  // Requires: on a fiber of caller.sched().
  virtual Result<Response> Fetch(Context& caller, std::string_view id, Request req) = 0;
};

struct ObjectBinding {
  std::string name;     // the binding name the guest opens
  ObjectNamespace* ns;  // outlives the context
};

using Vars = std::map<std::string, std::string, std::less<>>;

// Inside a Durable Object's turn: the object itself.
struct ObjectScope {
  const objects::ObjectKey* key = nullptr;  // its namespace and id
  objects::Storage* storage = nullptr;      // its storage (objects/storage.h)
  int depth = 0;  // objects between the worker and this one (1: called by a worker)
};

class Context {
 public:
  using LogFn = std::function<void(LogLevel, std::string_view)>;

  Context(sched::Scheduler* sched, const std::vector<KvBinding>* kv, LogFn log)
      : sched_(sched), kv_(kv), log_(std::move(log)) {}

  // A context for a new isolate's _initialize, run while serving this one:
  // the same services and log, but no request to read and a response nobody
  // sends (initialization must not see or answer someone's request).
  Context ForInit() const {
    Context init(sched_, kv_, log_);
    init.objects_ = objects_;
    init.vars_ = vars_;
    init.usage_ = usage_;
    init.location = location;
    return init;
  }

  // Services beyond KV, set by the runtime after construction (defaults:
  // none). The pointees outlive the context.
  void set_objects(const std::vector<ObjectBinding>* objects) { objects_ = objects; }
  void set_vars(const Vars* vars) { vars_ = vars; }
  void set_object(ObjectScope scope) { object_ = scope; }
  // Where the host calls count what they use (abi/usage.h); null: nowhere.
  void set_usage(Usage* usage) { usage_ = usage; }
  // What observes this request's KV and storage operations (race/
  // observer.h); null (the default): nothing, and observing costs nothing.
  // Not carried into ForInit: initialization serves no request.
  void set_observer(race::Observer* observer) { observer_ = observer; }

  sched::Scheduler& sched() const { return *sched_; }
  const std::vector<KvBinding>& kv() const { return *kv_; }
  const std::vector<ObjectBinding>& objects() const { return objects_ ? *objects_ : kNoObjects; }
  const Vars& vars() const { return vars_ ? *vars_ : kNoVars; }
  // The object this request runs in; key and storage are null in a worker.
  const ObjectScope& object() const { return object_; }
  Usage* usage() const { return usage_; }
  race::Observer* observer() const { return observer_; }
  // Adds `n` to one counter of the usage (e.g. &Usage::kv_reads), if any.
  void Count(std::atomic<uint64_t> Usage::*counter, uint64_t n = 1) const {
    if (usage_ != nullptr) Usage::Add(usage_->*counter, n);
  }
  void Log(LogLevel level, std::string_view msg) const {
    if (log_) log_(level, msg);
  }

  // Set by the runtime before each call; the guest reads it.
  Request request;
  // The edge location serving this request, an index into the runtime's
  // kv::Locations (kv/locations.h); set by the runtime per request. The KV
  // calls read and write at it.
  size_t location = 0;
  // Who makes this request's operations, for the observer: filled by the
  // runtime when it sets one.
  race::RequestInfo info;
  // Built by the guest; the runtime sends it.
  Response response;
  // Largest response body a guest may write (resp_write traps past it): the
  // body lives in host memory, so it counts against the worker's memory.
  // The open responses of `fetched` have a budget of the same size, and so
  // does each storage listing.
  uint64_t max_response_bytes = 128 * 1024 * 1024;
  // Partial stdout/stderr lines from WASI fd_write, flushed at newline.
  std::string stdout_line, stderr_line;
  // Responses of Durable Object fetches (do_fetch) not yet closed; they live
  // at most as long as the request.
  OpenResponses fetched;

 private:
  sched::Scheduler* const sched_;
  const std::vector<KvBinding>* const kv_;
  const LogFn log_;
  const std::vector<ObjectBinding>* objects_ = nullptr;
  const Vars* vars_ = nullptr;
  ObjectScope object_;
  Usage* usage_ = nullptr;
  race::Observer* observer_ = nullptr;
  inline static const std::vector<ObjectBinding> kNoObjects;
  inline static const Vars kNoVars;
};

}  // namespace edgelab::abi

#endif  // EDGELAB_ABI_CONTEXT_H_
