// engine/dwarf.h: source frames (function, file:line:column, inlined calls)
// for a byte offset in a Wasm module that carries DWARF, read with LLVM 14's
// DebugInfoDWARF (Debian's llvm-14-dev).
//
// Why a file of its own in engine/ rather than a folder: its one user is the
// engine's call sites (call_sites.h), so a folder would hold one file; but
// with demangle.cc it is the only code that includes LLVM, so the two build
// as their own target (edgelab_dwarf in CMakeLists.txt) and LLVM's headers,
// definitions and link reach nothing else. This header includes neither LLVM
// nor wabt.
//
// Addresses: DWARF for Wasm addresses code by its offset from the start of
// the code section's contents (checked against llvm-dwarfdump-14 and
// llvm-symbolizer-14 on clang 14's output); callers pass offsets in the
// module binary and this file converts.
//
// Hostile DWARF: a guest's DWARF is its author's input to LLVM, read at
// module load (call_sites.h). Three guards stand in front of LLVM:
//   (1) Only the .debug_* sections reach LLVM (dwarf.cc says why).
//   (2) A lookup first finds the address's compile unit and reads that
//       unit's DIEs (LLVM does both without recursing); a unit whose DIEs
//       nest deeper than kMaxDieDepth is refused, and its addresses get no
//       frames: LLVM's address map (DWARFUnit::updateAddressDieMap)
//       recurses once per nesting level, and a clang -g function with 3,000
//       nested scopes took it past 1,600 frames. Real units nest under 20.
//   (3) A unit naming a split-DWARF file (DW_AT_dwo_name,
//       DW_AT_GNU_dwo_name) is refused: LLVM would open that path on the
//       host.
// LLVM's DWARF reader survived about 60,000 randomly corrupted copies of a
// real guest's DWARF (1 to 50 bytes changed; call_sites_test keeps a loop of
// 300), and the guards cover the deep recursion we know of, but it is not
// otherwise hardened: DWARF that crashes it would end the load.
//
// Threading: not thread-safe (LLVM parses units lazily on lookup); the
// caller serializes every call on one Dwarf.
// Failure: broken or refused DWARF is never an error. Open returns null when
// the module has no code section; Symbolize returns no frames where it can
// read nothing. LLVM's warnings are dropped, never printed.
// Requires: a thread's stack, not a fiber's (LLVM recurses up to
// kMaxDieDepth levels).
#ifndef EDGELAB_ENGINE_DWARF_H_
#define EDGELAB_ENGINE_DWARF_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "race/observer.h"

namespace edgelab::engine {

class Dwarf {
 public:
  // Deepest DIE nesting (the unit DIE is 0) of a unit Symbolize reads.
  static constexpr uint32_t kMaxDieDepth = 256;

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
  // the compiler wrote them. Empty when DWARF says nothing about `offset` or
  // its unit is refused (guards 2 and 3).
  std::vector<race::Frame> Symbolize(uint64_t offset);
  // Units refused so far (each counted once).
  size_t units_refused() const;

 private:
  struct Impl;
  explicit Dwarf(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_DWARF_H_
