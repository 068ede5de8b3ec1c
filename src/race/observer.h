// race/observer.h: the one hook through which KV and Durable Object storage
// operations are observed (DESIGN.md "Observers, not flags"). The race
// detectors and the history recorder (race/detector.h, race/history.h) are
// observers; abi/ calls them around every KV and storage operation a guest
// makes; the runtime says which request and isolate made it.
//
// Cost: with no observer attached abi/ builds no Op and captures no call
// site: one null check per operation.
//
// Threading: an Observer is shared by every loop and called from any thread
// and fiber at once; implementations lock what they share. Each request runs
// on one fiber and makes one operation at a time, so for one request
// Invoke, Complete and End arrive in order, never concurrently.
// This header must compile as C++17 (abi/ and engine/ include it).
#ifndef EDGELAB_RACE_OBSERVER_H_
#define EDGELAB_RACE_OBSERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgelab::race {

// One source frame of a guest's call stack.
struct Frame {
  std::string function;  // demangled; from DWARF, else the name section, else "func[N]"
  std::string file;      // from DWARF as the compiler wrote it; empty without DWARF
  uint32_t line = 0;     // 0 when unknown
  uint32_t column = 0;   // 0 when unknown
  bool inlined = false;  // inlined into the frame after it (DWARF only)
};

// Where a guest was when it made a host call: its frames, innermost first,
// inlined functions expanded when the module has DWARF. Made by the engine,
// interned per module and call stack, so equal stacks of one module share
// one CallSite and comparing the pointers compares the sites.
struct CallSite {
  std::string module;  // the module's path, as the worker's edge.toml named it
  std::vector<Frame> frames;
};
using CallSitePtr = std::shared_ptr<const CallSite>;

// The request (or Durable Object turn) an operation belongs to. Ids are
// unique within one runtime, shared by worker requests and object turns.
struct RequestInfo {
  uint64_t id = 0;
  uint64_t isolate = 0;  // the isolate serving it (ids unique per runtime)
  std::string worker;    // the worker's name (edge.toml `name`)
  std::string method;    // of the request the guest received
  std::string path;      // its path, without the query
  std::string object;    // inside a Durable Object: "<class>/<id>"; else empty
  std::string location;  // the edge location serving a worker request (kv/locations.h)
  int status = 0;        // the response status, set by End (0 for object turns)
};

// One KV or storage operation.
struct Op {
  enum class Store { kKv, kObject };
  enum class Kind { kRead, kWrite, kDelete, kList };
  // A write's precondition (KV only; storage writes are kNone).
  enum class Condition { kNone, kIfMatch, kIfNoneMatch };
  // How it ended; set for Complete only.
  //   kOk: done (a read that found nothing is kOk with found = false);
  //   kFailed: refused with nothing changed (a failed precondition, or an
  //            argument over a limit);
  //   kUnknown: an error after which the store may or may not hold the
  //             write (I/O error, unavailable).
  enum class Outcome { kOk, kFailed, kUnknown };

  Store store = Store::kKv;
  Kind kind = Kind::kRead;
  // kKv: the namespace id (edge.toml `id`, shared by every worker binding
  // it); kObject: "<class>/<object id>".
  std::string_view space;
  std::string_view binding;              // kKv: the binding the guest used; else empty
  std::string_view key;                  // kList: the prefix
  const RequestInfo* request = nullptr;  // never null
  bool in_transaction = false;           // kObject: inside storage_txn_begin/commit
  bool strong = false;  // KV reads: at the origin, past any location's cache (kv/locations.h)

  // Writes: what is written (empty for kDelete) and the precondition.
  std::string_view value;
  Condition condition = Condition::kNone;
  std::string_view if_match;  // the etag required, for kIfMatch
  int64_t expiration_ms = 0;  // KV writes: when the value expires (Unix ms); 0: never

  // Complete only.
  Outcome outcome = Outcome::kOk;
  bool found = false;     // reads: the key existed (else value is empty)
  std::string_view etag;  // KV reads: the etag read; KV writes: the new etag
  // KV writes that stored: the etag the write replaced ("" when the key was
  // absent), reported atomically by the store. Unset otherwise.
  std::optional<std::string_view> previous_etag;

  // Scheduler time (sched/: NowMicros * 1000): Invoke's before the
  // operation waits or reaches the store, Complete's after it returned.
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  // The guest's call stack at the host call; null when the engine could not
  // tell (a host call made outside a guest call).
  CallSitePtr site;
};

class Observer {
 public:
  virtual ~Observer() = default;
  // A worker request starts (its isolate not yet known). Optional: object
  // turns have none.
  virtual void Begin(const RequestInfo& /*request*/) {}
  // Before the operation: start_ns, the request, what it asks for and the
  // site are set; the outcome fields are not.
  virtual void Invoke(const Op& op) = 0;
  // After it, with the same fields plus the outcome and end_ns. A request
  // cut off while an operation waits (shutdown) gets End without Complete.
  virtual void Complete(const Op& op) = 0;
  // The request (or turn) is over; `finished` is false when it ended early
  // (a trap, a broken limit, cut off): then an operation Invoked but not
  // Completed has an unknown outcome.
  virtual void End(const RequestInfo& request, bool finished) = 0;
};

}  // namespace edgelab::race

#endif  // EDGELAB_RACE_OBSERVER_H_
