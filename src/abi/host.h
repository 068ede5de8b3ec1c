// abi/host.h: the contract between the engine and the host functions of
// guest ABI v1 (docs/abi.md). The engine links a module's imports to these
// functions and calls them with raw argument values and a view of the
// calling isolate's linear memory; abi/ never sees the interpreter.
//
// Pointer rule (the one place it is stated): every guest (ptr, len) is
// checked against the memory view before it is read or written; a bad one
// makes the host function return a trap naming the function, the pointer
// and the length. A guest can never make the host read or write outside its
// own linear memory. Memory cannot grow during a host call (no guest code
// runs inside one), so a view stays valid for the whole call, including
// across waits on the scheduler.
//
// Threading: a host function runs on the fiber that runs the guest; it may
// wait through the Context's scheduler.
// This header must compile as C++17 (the engine includes it).
#ifndef EDGELAB_ABI_HOST_H_
#define EDGELAB_ABI_HOST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "race/observer.h"

namespace edgelab::abi {

class Context;

enum class ValType : uint8_t { kI32, kI64, kF32, kF64 };

// One isolate's linear memory during one host call.
struct Memory {
  uint8_t* base = nullptr;
  uint64_t size = 0;
  // True when [ptr, ptr+len) lies inside the memory (no overflow).
  bool Contains(uint64_t ptr, uint64_t len) const { return ptr <= size && len <= size - ptr; }
};

// How a host call ends.
struct HostOutcome {
  enum class Kind { kReturn, kTrap, kExit };
  Kind kind = Kind::kReturn;
  std::string message;    // for kTrap: what went wrong
  int32_t exit_code = 0;  // for kExit (WASI proc_exit)

  static HostOutcome Return() { return {}; }
  static HostOutcome Trap(std::string m) { return {Kind::kTrap, std::move(m), 0}; }
  static HostOutcome Exit(int32_t code) { return {Kind::kExit, {}, code}; }
};

// Where the guest is during a host call; implemented by the engine. Only
// called when something observes the call (race/observer.h), so a call site
// costs nothing otherwise.
class GuestStack {
 public:
  virtual ~GuestStack() = default;
  // The guest's frames at this host call, innermost first (the guest
  // function that called the host function is frames[0]), symbolized with
  // DWARF when the module has it, else with the name section. Interned: the
  // same stack of the same module gives the same pointer, for the first
  // 1,024 distinct stacks of a module (engine/call_sites.h); past them a
  // stack gets the site of its innermost call alone (still shared per call).
  // Names and files are cut to 256 bytes, sites to 64 frames.
  // Null when no guest frame is known, and always for a module loaded
  // without call sites: the engine resolves them at load, only when asked
  // (engine.h, LoadOptions; the runtime asks when an observer is set).
  // Symbolizes nothing itself, so it is safe on a request's fiber.
  virtual race::CallSitePtr Capture() const = 0;
};

struct HostCall {
  Context* ctx;  // the request being served; never null
  Memory mem;
  const uint64_t* args;  // one per param; i32 values are zero-extended
  uint64_t* results;     // one per result; write i32 results as uint32
  // The call's cost: guest bytes it read or may have written plus bytes it
  // produced, added by abi::Guest's accessors (guest.h says what each adds).
  // The engine turns it into fuel after the call returns (engine.h, CPU), so
  // a guest cannot hide work from its CPU limit inside host calls. A host
  // function that does work not proportional to these bytes adds its own.
  uint64_t bytes = 0;
  // The guest's call stack, for observers; null when the caller has none
  // (tests calling host functions directly).
  const GuestStack* stack = nullptr;
};

using HostFn = HostOutcome (*)(HostCall& call);

struct HostFunction {
  std::string_view module;  // "edgelab" or "wasi_snapshot_preview1"
  std::string_view name;
  std::vector<ValType> params;
  std::vector<ValType> results;
  HostFn fn;
};

inline constexpr std::string_view kModule = "edgelab";
inline constexpr std::string_view kWasiModule = "wasi_snapshot_preview1";
// WASI errno returned by WASI imports the subset does not implement.
inline constexpr uint32_t kWasiENOSYS = 52;

// The host function a module may import as module.name, or nullptr.
const HostFunction* FindHostFunction(std::string_view module, std::string_view name);
// Every host function of ABI v1, for documentation and tests.
const std::vector<HostFunction>& AllHostFunctions();

}  // namespace edgelab::abi

#endif  // EDGELAB_ABI_HOST_H_
