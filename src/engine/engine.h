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
// isolates of one engine may be suspended mid-call at once (a host function
// waiting on the scheduler). Nothing in an Engine assumes one call at a time:
// the request context and the interpreter stack live in each Isolate.
//
// Limits, enforced per call:
//   CPU: Load rewrites the module to charge fuel at every function entry and
//        loop head: the instructions of that region, counted up front (both
//        arms of an `if`, nested blocks; a nested loop charges for itself),
//        plus the check's own, so fuel is an upper bound on instructions run
//        (details in rewrite.h). Bulk memory and table operations
//        (memory.fill/copy/init, table.fill/copy/init) also charge for their
//        length, and so does every host call that returns, for the bytes it
//        moved and a fixed cost (kBytesPerFuel, kHostCallFuel). The charge
//        comes after the work, so one host call can overrun the limit by its
//        own work: bounded by what one call can move (the guest's memory, a
//        KV value). A call starts with `fuel`; below zero it ends kOutOfFuel.
//   Memory: memory.grow beyond `max_memory_pages` (or the module's own
//        maximum) fails (returns -1) as the spec allows; if the call then
//        traps, it ends kOutOfMemory. The cap is the memory's declared
//        maximum in the engine's copy of the module (one copy per distinct
//        cap), so the interpreter's own grow enforces it. Tables are capped
//        at kMaxTableElements.
//   Stack: guest recursion deeper than the interpreter's call stack (about
//        1,600 frames) traps with "call stack exhausted"; the host's own
//        stack is never at risk (the interpreter keeps guest frames on the
//        heap).
//   Traps: any trap ends kTrap with the message and the innermost guest
//        function's name from the name section ("func[<index>]" without one);
//        kOutOfFuel and kOutOfMemory name that function too. A load or store
//        trapping just below address 2^32 gets a hint that the guest's
//        shadow stack overflowed (it wraps there with --stack-first). An
//        exception a host function throws becomes a trap ("<module>.<fn>:
//        out of host memory" for std::bad_alloc, else its what()).
// An isolate whose call did not end kOk (or ended kExit) must be discarded:
// its stack pointer and heap may be mid-update.
//
// Call sites: every host call gets HostCall::stack (abi/host.h), whose
// Capture names the guest's frames, interned per module: file:line:column
// and inlined frames when the module carries DWARF (.debug_info and
// .debug_line; the SDK's workers do), else the name section's names; null
// for a module loaded without LoadOptions::call_sites (the default). Every
// call of the module is symbolized at load (call_sites.h says why: nothing
// that recurses may run on a request's fiber), which adds 2-4 ms to the
// examples' loads (about doubling them); a capture then costs tens of ns for
// a stack seen before, under a µs for a new one.
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

// Fuel units per millisecond of CPU. A unit is one instruction the
// interpreter runs, counted up front per region (rewrite.h): the guest's
// instructions plus the 8 of each fuel check, so fuel follows the
// interpreter's real work whatever the shape of the loop. Measured with
// src/engine/fuel_bench.cc (RelWithDebInfo, process CPU time, best of 5; the
// 2-core dev VM, g++ 12, wabt 1.0.32, three runs, other builds running):
//   tight loop (8-instruction body): 134-143 k fuel/ms; unmetered it runs
//     143-155 M instr/s, so metering costs +113..+120 % (the check is as
//     long as the body: the worst case for overhead);
//   mixed loop (arithmetic, memory, an if, a call): 136-141 k fuel/ms;
//     metering costs +38..+46 %;
//   `loop br 0` (clang's `for (;;);`): 140-149 k fuel/ms.
// Rounded to 140,000: `cpu_ms` matches real CPU within about 10 % here.
// Re-measure on the reference machine before relying on absolute times.
inline constexpr uint64_t kFuelPerMs = 140'000;
// The CPU milliseconds `fuel` stands for, at kFuelPerMs.
inline constexpr double FuelMillis(uint64_t fuel) { return static_cast<double>(fuel) / kFuelPerMs; }
// Work inside host calls, in fuel. A host call that returns is charged
// kHostCallFuel plus HostCall::bytes / kBytesPerFuel (abi/host.h: the guest
// bytes it touched and the bytes it produced). Measured with fuel_bench (same
// machine and method as kFuelPerMs, three runs), in bytes moved in the time
// the interpreter burns one unit of fuel:
//   memcpy: 638-675 (64 KiB buffers), 387-409 (1 MiB), 119-154 (64 MiB);
//   resp_write of 1 MiB (a string append): 166-189;
//   random of 1 MiB (8 bytes per call of the scheduler's mt19937_64): 8.5-8.7.
// A host call that touches no bytes (resp_status) costs 62-77 ns more than
// the loop around it: 9-11 fuel, 2 of which its instructions already pay.
// kBytesPerFuel follows the slowest per-byte path, not memcpy, so that the
// CPU limit holds whichever host function a guest leans on: at memcpy's
// rate (119-409) a loop of 1 MiB `random` calls would outrun cpu_ms 14- to
// 48-fold (fd_write and log also walk their bytes one by one). The price:
// memcpy-bound calls (resp_write, req_body) pay 20-85 times their cost,
// about 1 ms of budget per MiB moved, so the default 50 ms still lets a
// request move ~50 MiB through host calls. Once the slow functions charge
// their own extra (host.h), this can rise towards memcpy's rate.
inline constexpr uint64_t kBytesPerFuel = 8;
inline constexpr uint64_t kHostCallFuel = 10;  // 9-11 measured
inline constexpr uint32_t kPageBytes = 64 * 1024;
// Largest table (elements) a module may declare or grow to; 8 bytes each.
inline constexpr uint32_t kMaxTableElements = 1u << 20;

struct Limits {
  uint64_t fuel = 50 * kFuelPerMs;
  uint32_t max_memory_pages = 128u * 1024 * 1024 / kPageBytes;
};

struct CallOutcome {
  enum class Kind { kOk, kTrap, kOutOfFuel, kOutOfMemory, kExit };
  Kind kind = Kind::kOk;
  std::string message;     // trap message; empty for kOk
  std::string function;    // innermost guest function at the trap, if known
  int32_t exit_code = 0;   // kExit
  uint64_t fuel_used = 0;  // fuel the call burnt (all of it for kOutOfFuel)
  bool ok() const { return kind == Kind::kOk; }
};

// Finds the host function a module may import as module.name (nullptr when
// there is none). The returned object must outlive every Engine.
using HostResolver = const abi::HostFunction* (*)(std::string_view module, std::string_view name);

// How Module::Load prepares a module.
struct LoadOptions {
  // Resolve every call's guest frames at load so that Capture can name call
  // sites (see Call sites above; call_sites.h). Off: no DWARF is read, the
  // original bytes are dropped at the end of the load, Capture returns null.
  bool call_sites = false;
};

class ModuleImpl;
class EngineImpl;
class IsolateImpl;

class Module {
 public:
  // Reads, validates and meters the module at `path`; checks that it exports
  // a memory named "memory" and every name in `required_exports` as a
  // function () -> () (so is `_initialize` when exported), and that every
  // import is an ABI v1 host function with the right signature (unknown WASI
  // preview1 functions returning i32 are bound to a stub answering ENOSYS).
  // Errors: kNotFound / kIOError (file), kInvalidArgument ("<path>: <why>")
  // for a file that is not a Wasm binary (no \0asm header: likely a .wat),
  // a function nesting blocks deeper than 10,000 (nesting.h), or a
  // malformed, invalid or unsupported module (the message names the
  // unsupported proposal, e.g. threads or multi-memory). Broken or refused
  // DWARF never fails a load (dwarf.h): those calls get names only.
  // Requires: a thread's stack (the main thread's 8 MB), not a fiber's: the
  // passes over the module, demangling and DWARF recurse once per nesting
  // level (nesting.h, demangle.h, dwarf.h).
  static Result<std::shared_ptr<const Module>> Load(
      const std::string& path, const std::vector<std::string>& required_exports,
      const LoadOptions& options = LoadOptions());
  // As Load, from bytes; `name` stands for the path in messages.
  static Result<std::shared_ptr<const Module>> FromBytes(
      std::string name, std::vector<uint8_t> bytes,
      const std::vector<std::string>& required_exports, const LoadOptions& options = LoadOptions());
  // As above, linking imports through `resolve` instead of
  // abi::FindHostFunction (tests, tools with their own host functions).
  static Result<std::shared_ptr<const Module>> FromBytes(
      std::string name, std::vector<uint8_t> bytes,
      const std::vector<std::string>& required_exports, HostResolver resolve,
      const LoadOptions& options = LoadOptions());
  ~Module();

  const std::string& name() const;
  bool HasExport(std::string_view name) const;
  const ModuleImpl& impl() const { return *impl_; }

 private:
  explicit Module(std::unique_ptr<ModuleImpl> impl);
  std::unique_ptr<ModuleImpl> impl_;
};

class Isolate;

// Counters for tests and metrics.
struct EngineStats {
  uint64_t live_isolates = 0;
  uint64_t store_objects = 0;  // interpreter objects, incl. garbage not yet collected
  uint64_t collections = 0;    // garbage collections of the store so far
};

// One per OS thread.
// Requires: every Isolate it made is destroyed before it (CHECKed).
class Engine {
 public:
  Engine();
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A fresh instance of `module`, with its start function and then
  // `_initialize` already called when the module has them (reactor model),
  // each with `limits.fuel`. `ctx` serves host calls made by them (logging,
  // mostly); if it is null such a call traps.
  // Errors: kResourceExhausted when the initial memory exceeds the limit or
  // initialization runs out of fuel or memory; kTrap when instantiation or
  // initialization traps (or exits).
  Result<std::unique_ptr<Isolate>> Instantiate(std::shared_ptr<const Module> module,
                                               const Limits& limits, abi::Context* ctx);

  EngineStats stats() const;

 private:
  std::unique_ptr<EngineImpl> impl_;
};

class Isolate {
 public:
  ~Isolate();  // Requires: not in the middle of Call (on another fiber).
  // Calls the exported function `name` (no params, no results) with `ctx`
  // serving its host calls and the Instantiate limits' fuel. A missing
  // export, or a call while this isolate is already mid-call on another
  // fiber, ends kTrap without running anything.
  // Requires: ctx != nullptr if the function makes host calls (else it traps).
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
