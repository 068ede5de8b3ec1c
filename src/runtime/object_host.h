// runtime/object_host.h: Durable Object classes on the engine: ids, the
// guest side of a stub's fetch, and the turns (requests and alarms) an
// object's instance runs. The rules those turns obey (one instance per
// object, serial turns, output gate, alarms, cycles) are objects/registry.h's;
// this file supplies what runs inside them.
//
// Ids: IdFromName is the hex SHA-256 of the class name and the name, so the
// same name reaches the same object in every process and after restarts;
// NewUniqueId draws 256 bits from OpenSSL's CSPRNG (unguessable, as
// Cloudflare documents its unique ids). Both are 64
// lower-case hex characters; objects are keyed by (class name, id).
//
// An object's instance is an isolate of its class's module on the object's
// home loop's engine, created on the object's first turn (with _initialize)
// and kept while the object lives: module globals are the object's
// in-memory state. A turn that does not end kOk discards it (the next turn
// starts a fresh one); storage is kept. Limits are the worker's [limits].
//
// Threading: one ClassNamespace serves every loop; Fetch runs on the caller's
// fiber and the turn on the object's home loop (registry.h).
#ifndef EDGELAB_RUNTIME_OBJECT_HOST_H_
#define EDGELAB_RUNTIME_OBJECT_HOST_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "abi/context.h"
#include "engine/engine.h"
#include "objects/registry.h"
#include "runtime/log.h"
#include "runtime/outcome.h"

namespace edgelab::runtime {

// How deep a chain of object calls (worker -> A -> B -> ...) may go; deeper
// calls fail with kUnavailable (EUNAVAILABLE to the guest) and a log line.
// Each level holds a fiber and an isolate until the chain unwinds.
inline constexpr int kMaxCallDepth = 16;

// What a class's turns need from the runtime.
struct ClassServices {
  objects::Registry* registry = nullptr;
  std::vector<sched::Scheduler*> scheds;  // by home loop index (Object::home)
  std::vector<engine::Engine*> engines;   // likewise: each home loop's engine
  engine::Limits limits;
  LimitNames limit_names;
  uint64_t max_response_bytes = 0;
  const std::vector<abi::KvBinding>* kv = nullptr;
  const std::vector<abi::ObjectBinding>* objects = nullptr;
  const abi::Vars* vars = nullptr;
  abi::Usage* usage = nullptr;  // where turns count (abi/usage.h); null: nowhere
  std::string worker;           // the worker's name, for log lines
  Log* log = nullptr;
  // Observes every turn's storage operations (race/observer.h); null: none.
  race::Observer* observer = nullptr;
  std::atomic<uint64_t>* next_request_id = nullptr;  // the runtime's; set with observer
  std::atomic<uint64_t>* next_isolate_id = nullptr;  // likewise
};

class ClassNamespace final : public abi::ObjectNamespace {
 public:
  // `services` must outlive the namespace.
  ClassNamespace(std::string class_name, std::shared_ptr<const engine::Module> module,
                 const ClassServices* services);

  std::string IdFromName(std::string_view name) const override;
  std::string NewUniqueId(abi::Context& caller) const override;
  bool ValidId(std::string_view id) const override;
  Result<abi::Response> Fetch(abi::Context& caller, std::string_view id, abi::Request req) override;

  // The alarm turn (registry.h AlarmHandler) for an object of this class.
  Status RunAlarm(objects::Object& object, int retry);

  const std::string& class_name() const { return class_name_; }

 private:
  // Runs export `fn` in `object`'s instance with `ctx`; creates the
  // instance first when needed. Returns the outcome; on a fault the instance
  // is discarded and the fault logged.
  engine::CallOutcome Run(objects::Object& object, abi::Context& ctx, std::string_view fn);
  // A context for a turn of `object`, logging as `who`.
  abi::Context ContextFor(objects::Object& object, const std::string& who, int depth);
  // "<worker> do=<class>/<first 12 hex of the id>".
  std::string Who(const objects::Object& object) const;

  const std::string class_name_;
  const std::shared_ptr<const engine::Module> module_;
  const ClassServices* const services_;
};

}  // namespace edgelab::runtime

#endif  // EDGELAB_RUNTIME_OBJECT_HOST_H_
