// engine/engine.h: load, validate and meter Wasm modules and run isolates of
// them on the wabt interpreter. The only folder that includes wabt.
//
// Terms (DESIGN.md): a Module is a validated, metered worker module, shared by
// every thread; an Isolate is one instance of it (own memory and globals)
// that serves one request at a time and keeps its globals between requests.
//
// Threading: Module is immutable after Load and safe to share. An Engine and
// the Isolates it made belong to one OS thread (wabt keeps one Store per
// thread); an Isolate may run on any fiber of that thread, and several
// isolates of one engine may be suspended mid-call at once.
//
// Limits, enforced per call:
//   CPU: Load rewrites the module to charge fuel at every function entry and
//        loop head (the instructions of that straight-line region). A call
//        starts with `fuel`; below zero it ends kOutOfFuel.
//   Memory: memory.grow beyond `max_memory_pages` fails (returns -1) as the
//        spec allows; if the call then traps, it ends kOutOfMemory.
//   Traps: any trap (incl. call-stack exhaustion) ends kTrap with the message
//        and the innermost guest function's name from the name section.
// An isolate whose call did not end kOk (or ended kExit) must be discarded:
// its stack pointer and heap may be mid-update.
//
// This header must compile as C++17 and includes no wabt header.
#ifndef EDGELAB_ENGINE_ENGINE_H_
#define EDGELAB_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "abi/host.h"
#include "base/status.h"

namespace edgelab::engine {

// Fuel units per millisecond of CPU: about the instructions the interpreter
// runs in a millisecond on the reference 2-core machine (docs/benchmarks.md).
inline constexpr uint64_t kFuelPerMs = 100'000;
inline constexpr uint32_t kPageBytes = 64 * 1024;

struct Limits {
  uint64_t fuel = 50 * kFuelPerMs;
  uint32_t max_memory_pages = 128u * 1024 * 1024 / kPageBytes;
};

struct CallOutcome {
  enum class Kind { kOk, kTrap, kOutOfFuel, kOutOfMemory, kExit };
  Kind kind = Kind::kOk;
  std::string message;    // trap message; empty for kOk
  std::string function;   // innermost guest function at the trap, if known
  int32_t exit_code = 0;  // kExit
  bool ok() const { return kind == Kind::kOk; }
};

class ModuleImpl;
class EngineImpl;
class IsolateImpl;

class Module {
 public:
  // Reads, validates and meters the module at `path`; checks that it exports
  // a memory named "memory" and every name in `required_exports` as a
  // function, and that every import is an ABI v1 host function with the
  // right signature (unknown WASI preview1 functions returning i32 are bound
  // to a stub answering ENOSYS).
  // Errors: kNotFound / kIOError (file), kInvalidArgument ("<path>: <why>")
  // for a malformed, invalid or unsupported module.
  static Result<std::shared_ptr<const Module>> Load(
      const std::string& path, const std::vector<std::string>& required_exports);
  // As Load, from bytes; `name` stands for the path in messages.
  static Result<std::shared_ptr<const Module>> FromBytes(
      std::string name, std::vector<uint8_t> bytes,
      const std::vector<std::string>& required_exports);
  ~Module();

  const std::string& name() const;
  bool HasExport(std::string_view name) const;
  const ModuleImpl& impl() const { return *impl_; }

 private:
  explicit Module(std::unique_ptr<ModuleImpl> impl);
  std::unique_ptr<ModuleImpl> impl_;
};

class Isolate;

// One per OS thread.
class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A fresh instance of `module`, with `_initialize` already called when the
  // module exports it (reactor model). `ctx` serves host calls made by
  // `_initialize` (logging, mostly); it may be null only if there are none.
  // Errors: kResourceExhausted when the initial memory exceeds the limit,
  // kTrap when instantiation or _initialize traps.
  Result<std::unique_ptr<Isolate>> Instantiate(std::shared_ptr<const Module> module,
                                               const Limits& limits, abi::Context* ctx);

 private:
  std::unique_ptr<EngineImpl> impl_;
};

class Isolate {
 public:
  ~Isolate();
  // Calls the exported function `name` (no params, no results) with `ctx`
  // serving its host calls and `limits.fuel` fuel.
  CallOutcome Call(std::string_view name, abi::Context* ctx);
  // Memory now committed to this isolate, in bytes.
  uint64_t memory_bytes() const;
  const Module& module() const;

 private:
  friend class Engine;
  explicit Isolate(std::unique_ptr<IsolateImpl> impl);
  std::unique_ptr<IsolateImpl> impl_;
};

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_ENGINE_H_
