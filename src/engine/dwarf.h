// engine/dwarf.h: source frames (function, file:line:column, inlined calls)
// for a byte offset in a Wasm module that carries DWARF, read with LLVM 14's
// DebugInfoDWARF (Debian's llvm-14-dev).
//
// Why a file of its own in engine/ rather than a folder: its one user is the
// engine's call sites (call_sites.h), so a folder would hold one file; but it
// is the only file that includes LLVM, so it builds as its own target
// (edgelab_dwarf in CMakeLists.txt) and LLVM's headers, definitions and link
// reach nothing else. This header includes neither LLVM nor wabt.
//
// Addresses: DWARF for Wasm addresses code by its offset from the start of
// the code section's contents (checked against llvm-dwarfdump-14 and
// llvm-symbolizer-14 on clang 14's output); callers pass offsets in the
// module binary and this file converts.
//
// Threading: not thread-safe (LLVM parses units lazily on lookup); the
// caller serializes every call on one Dwarf.
// Failure: broken DWARF is never an error. Open returns null when the module
// has no code section; Symbolize returns no frames where it can read nothing.
// LLVM's warnings are dropped, never printed. Only the .debug_* sections
// reach LLVM (dwarf.cc says why), and its DWARF reader survived about 60,000
// randomly corrupted copies of a real guest's DWARF (1 to 50 bytes changed;
// call_sites_test keeps a loop of 300), but it is not hardened against
// hostile input: DWARF that crashes it would take the process down at the
// module's first call site.
#ifndef EDGELAB_ENGINE_DWARF_H_
#define EDGELAB_ENGINE_DWARF_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "race/observer.h"

namespace edgelab::engine {

class Dwarf {
 public:
  // True when `wasm`, a valid module, has the custom sections ".debug_info"
  // and ".debug_line". Reads only the section headers; no LLVM.
  static bool Present(const std::vector<uint8_t>& wasm);
  // A reader over `wasm` (kept for the reader's life), or null (above).
  // Reads section headers only; units are parsed on first lookup.
  static std::unique_ptr<Dwarf> Open(std::vector<uint8_t> wasm);
  ~Dwarf();
  Dwarf(const Dwarf&) = delete;
  Dwarf& operator=(const Dwarf&) = delete;

  // The source frames of the instruction holding byte `offset` of the
  // module, innermost first: inlined functions expanded (inlined = true on
  // all but the last), names as DWARF has them (a linkage name when it has
  // one, mangled; else the plain name; "" when it has none), file names as
  // the compiler wrote them. Empty when DWARF says nothing about `offset`.
  std::vector<race::Frame> Symbolize(uint64_t offset);

 private:
  struct Impl;
  explicit Dwarf(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_DWARF_H_
