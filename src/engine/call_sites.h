// engine/call_sites.h: one module's guest call sites (race/observer.h
// CallSite): each distinct stack is symbolized once, then interned, so
// equal stacks share one CallSite (internal to engine/; C++17).
//
// A stack is the istream pcs of the isolate's guest frames, innermost first
// (engine.cc's Capture reads them off the interpreter). Keyed by pcs rather
// than by (function, offset): on a mapped function (call_map.h) the two are
// one to one, and keying by pcs makes a hit cost one hash and compare, no
// lookups; on an unmapped function it keeps distinct calls apart.
//
// Symbolizing: each frame becomes its CallMap point; with DWARF (the module
// carried .debug_info and .debug_line) the call's offset is looked up there
// (dwarf.h), inlined calls expanded; the physical frame takes the name
// section's name (qualified and demangled) unless DWARF has a linkage name,
// since clang's -gline-tables-only DWARF names functions without class or
// namespace. Without DWARF, or where it knows nothing, a frame is the name
// section's name (FunctionName), no file, line 0. Frames in the rewrite's
// helpers (index >= first_internal_func) are dropped.
//
// Workload: every KV and storage operation captures when an observer is
// attached (race/observer.h); a worker has tens to hundreds of distinct
// stacks, so after warm-up nearly every Resolve is a hit.
// Threading: one per Module, shared by every thread's isolates of it; all
// methods are safe from any thread at once. A hit takes mu_ for one lookup;
// a miss symbolizes under dwarf_mu_ (LLVM is not thread-safe) without
// holding mu_, then inserts, keeping another thread's result if it won.
// Invariants: (1) up to kMaxInterned distinct stacks per module, equal
// stacks give the same pointer; past that, new stacks get a fresh CallSite
// each (never null, but not interned: comparing their pointers says
// "different" for equal stacks). (2) A site has at most kMaxFrames guest
// frames before inline expansion: the innermost ones.
#ifndef EDGELAB_ENGINE_CALL_SITES_H_
#define EDGELAB_ENGINE_CALL_SITES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/call_map.h"
#include "race/observer.h"

namespace edgelab::engine {

class Dwarf;
class ModuleImpl;

class CallSites {
 public:
  static constexpr size_t kMaxFrames = 32;
  static constexpr size_t kMaxInterned = 4096;

  // For `module`, which must outlive this. `dwarf_bytes` is the original
  // binary when it carries DWARF (Dwarf::Present), else empty; it is parsed
  // on the first miss that needs it, and dropped if it does not parse.
  CallSites(const ModuleImpl& module, std::vector<uint8_t> dwarf_bytes);
  ~CallSites();
  CallSites(const CallSites&) = delete;
  CallSites& operator=(const CallSites&) = delete;

  // The site of guest frames at `pcs[0..n)`, innermost first. Null when no
  // pc lies in a guest function of the module (n == 0 included).
  // Requires: n <= kMaxFrames.
  race::CallSitePtr Resolve(const uint32_t* pcs, size_t n);
  // Stacks interned so far (tests).
  size_t interned();
  // Whether the module carries DWARF that has not (yet) failed to parse.
  bool has_dwarf();

 private:
  struct Interned {
    std::vector<uint32_t> pcs;
    race::CallSitePtr site;
  };
  race::CallSitePtr FindLocked(uint64_t hash, const uint32_t* pcs, size_t n) const;
  race::CallSitePtr Symbolize(const uint32_t* pcs, size_t n);
  void AppendFrames(const CallPoint& point, std::vector<race::Frame>* out);
  std::vector<race::Frame> DwarfFrames(uint32_t offset);

  // Fixed after construction.
  const ModuleImpl& m_;

  // Guarded by mu_.
  std::mutex mu_;
  std::unordered_map<uint64_t, std::vector<Interned>> by_hash_;
  size_t interned_ = 0;

  // Guarded by dwarf_mu_.
  std::mutex dwarf_mu_;
  std::vector<uint8_t> dwarf_bytes_;  // until opened
  std::unique_ptr<Dwarf> dwarf_;
};

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_CALL_SITES_H_
