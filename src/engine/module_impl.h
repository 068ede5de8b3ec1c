// engine/module_impl.h: what a loaded Module holds (internal to engine/).
// Includes wabt: compile its users as C++17.
//
// A ModuleImpl is built once by Module::Load and is then immutable (but for
// call_sites' interning, a cache safe from any thread); engines on every
// thread read it at once without locks. Each Engine turns `desc` into its own
// interp::Module (the interpreter's objects live in one Store per thread).
#ifndef EDGELAB_ENGINE_MODULE_IMPL_H_
#define EDGELAB_ENGINE_MODULE_IMPL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/host.h"
#include "engine/call_map.h"
#include "engine/call_sites.h"
#include "engine/engine.h"
#include "wabt/interp/interp.h"

namespace edgelab::engine {

// Host functions take at most this many params and results (engine.cc
// marshals them through fixed arrays; Load rejects longer signatures).
inline constexpr size_t kMaxHostValues = 16;

// How one function import is served.
struct ImportBinding {
  std::string module, name;       // as imported, for messages
  const abi::HostFunction* host;  // nullptr: the WASI ENOSYS stub
  wabt::interp::FuncType type;
};

class ModuleImpl {
 public:
  ModuleImpl() : id(NextId()) {}

  // Unique for the life of the process (a cache key that, unlike an
  // address, is never reused by a later module).
  const uint64_t id;
  std::string name;                     // the path, for messages
  wabt::interp::ModuleDesc desc;        // the metered module, as the interpreter reads it
  std::vector<ImportBinding> imports;   // one per import, in import order
  std::vector<std::string> func_names;  // by function index; "" when unnamed
  // Functions at or past this index were appended by the rewrite; a trap in
  // one is reported in its caller.
  uint32_t first_internal_func = 0;
  uint32_t fuel_global = 0;            // i64, charged down by metered code
  uint32_t grow_failed_global = 0;     // i32, set to 1 when memory.grow fails
  std::optional<uint32_t> start_func;  // removed from the module; run by Instantiate
  uint64_t initial_pages = 0;
  uint64_t declared_max_pages = 0;  // the module's own maximum (65536 if none)
  // Exported functions: name -> index into desc.exports (and into an
  // instance's exports()).
  std::map<std::string, uint32_t, std::less<>> func_exports;
  std::vector<std::string> export_names;  // every export, for HasExport
  // Guest call sites at host calls (abi::GuestStack): pcs of `desc`'s
  // istream to calls in the original binary, and their frames resolved at
  // load with the interned sites. call_sites is null unless the module was
  // loaded with LoadOptions::call_sites.
  CallMap call_map;
  std::unique_ptr<CallSites> call_sites;

 private:
  static uint64_t NextId();
};

// The name to report for function `index` of `m`: its name-section name
// (demangled), or "func[<index>]".
std::string FunctionName(const ModuleImpl& m, uint32_t index);

// A name-section or DWARF name as reported: without the IR's leading "$",
// C++ (and Rust legacy) names demangled within demangle.h's bounds.
// Requires: a thread's stack, not a fiber's (demangle.h).
std::string ReadableName(const std::string& name);

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_MODULE_IMPL_H_
