// engine/call_sites.h: one module's guest call sites (race/observer.h
// CallSite): every call of the module symbolized once, at load; each
// distinct stack then interned, so equal stacks share one CallSite (internal
// to engine/; C++17).
//
// Why at load: Capture runs on a request's fiber (256 KiB of stack), and
// symbolizing recurses with its input: __cxa_demangle once per nesting level
// of a name, LLVM's DWARF reader once per DIE nesting level. A guest chose
// both, and crashed the host that way (SIGSEGV under --race). Load runs on a
// thread's stack (engine.h), so the constructor resolves every mapped call of
// the CallMap there, under the guards of demangle.h and dwarf.h, into a table
// of frames per call offset, and drops the DWARF reader and the module's
// bytes (before, the bytes, ~0.4 MB per DWARF module, were kept for the
// module's life). Resolve then only looks frames up: nothing recurses on a
// fiber.
//
// A stack is the istream pcs of the isolate's guest frames, innermost first
// (engine.cc's Capture reads them off the interpreter). Keyed by pcs rather
// than by (function, offset): on a mapped function (call_map.h) the two are
// one to one, and keying by pcs makes a hit cost one hash and compare, no
// lookups; on an unmapped function it keeps distinct calls apart.
//
// Frames of a call: with DWARF (the module carried .debug_info and
// .debug_line) the call's offset is looked up there (dwarf.h), inlined calls
// expanded; the physical frame takes the name section's name (qualified and
// demangled) unless DWARF has a linkage name, since clang's
// -gline-tables-only DWARF names functions without class or namespace.
// Without DWARF, where it knows nothing, or for a frame not at a mapped call,
// a frame is the name section's name (FunctionName), no file, line 0. Frames
// in the rewrite's helpers (index >= first_internal_func) are dropped.
//
// Cost, measured with call_site_bench (RelWithDebInfo, the 2-core dev VM,
// best of 5 loads, three runs): resolving at load adds 1.8-4.0 ms to the
// examples' loads (counter-broken, 345 KB and 143 calls: 2.2 -> 4.0 ms;
// lock, 435 KB and 367 calls: 4.1 -> 8.1 ms; hello, 1 KB and 2 calls: 0.02
// -> 0.03 ms), mostly LLVM parsing the units and line tables the calls fall
// in. The table takes 28-73 KB, where the module's bytes (345-435 KB) and
// LLVM's parsed units were kept before. A capture of a stack seen before
// costs 12-75 ns (2 to 32 frames); a new stack, which copies its frames out
// of the table, under a µs (4,097 new 4-frame stacks in 2 ms in
// call_sites_test).
// Workload: every KV and storage operation captures when an observer is
// attached (race/observer.h); a worker has tens to hundreds of distinct
// stacks, so after warm-up nearly every Resolve is a hit.
//
// Threading: one per Module, shared by every thread's isolates of it; all
// methods are safe from any thread at once. The table is fixed after
// construction; a hit takes mu_ for one lookup; a miss builds its site
// without holding mu_, then inserts, keeping another thread's if it won.
// Invariants: (1) up to kMaxInterned distinct stacks per module, equal
// stacks give the same pointer; past that, a new stack gets the site of its
// innermost call alone, interned per call (so memory stays bounded by the
// module's calls, and equal innermost calls still share a pointer). (2) A
// site has at most kMaxFrames guest frames before inline expansion (the
// innermost ones) and kMaxSiteFrames after it. (3) A call has at most
// kMaxCallFrames frames (the innermost inlined ones and the physical one),
// and the table at most kMaxTableFrames; calls past that get names only.
// (4) A function name or file in a site is at most kMaxShownBytes (longer
// ones are cut, marked "..."): a module of long names would otherwise make
// each interned stack cost megabytes (a 1 MiB name 31 frames deep: 32 MB a
// stack, found in review).
#ifndef EDGELAB_ENGINE_CALL_SITES_H_
#define EDGELAB_ENGINE_CALL_SITES_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/call_map.h"
#include "race/observer.h"

namespace edgelab::engine {

class ModuleImpl;

// What resolving found (tests, call_site_bench).
struct CallSiteStats {
  size_t calls = 0;          // mapped calls in the module
  size_t dwarf_calls = 0;    // of them, with frames from DWARF
  size_t units_refused = 0;  // DWARF units refused (dwarf.h guards 2 and 3)
  size_t table_bytes = 0;    // the frame table's memory, about
};

class CallSites {
 public:
  static constexpr size_t kMaxFrames = 32;
  static constexpr size_t kMaxSiteFrames = 64;
  static constexpr size_t kMaxShownBytes = 256;
  // Worst case kMaxInterned * kMaxSiteFrames * 2 * kMaxShownBytes = 32 MiB.
  static constexpr size_t kMaxInterned = 1024;
  static constexpr size_t kMaxCallFrames = 16;
  static constexpr size_t kMaxTableFrames = size_t{1} << 20;

  // Resolves every mapped call of `module` (which must outlive this, with
  // its call_map, func_names and first_internal_func set) from `wasm`, the
  // original binary, which is read here only: DWARF when Dwarf::Present.
  // Requires: a thread's stack, not a fiber's (see above).
  CallSites(const ModuleImpl& module, std::vector<uint8_t> wasm);
  ~CallSites();
  CallSites(const CallSites&) = delete;
  CallSites& operator=(const CallSites&) = delete;

  // The site of guest frames at `pcs[0..n)`, innermost first. Null when no
  // pc lies in a guest function of the module (n == 0 included). Looks
  // frames up only: safe on a fiber.
  // Requires: n <= kMaxFrames.
  race::CallSitePtr Resolve(const uint32_t* pcs, size_t n);
  // Stacks interned so far (tests).
  size_t interned();
  const CallSiteStats& stats() const { return stats_; }

 private:
  struct Interned {
    std::vector<uint32_t> pcs;
    race::CallSitePtr site;
  };
  // A resolved frame; function and file index strings_.
  struct StoredFrame {
    uint32_t function;
    uint32_t file;
    uint32_t line;
    uint32_t column;
    bool inlined;
  };
  // Frames [first, first + count) of frames_ are the call at `offset`.
  struct Call {
    uint32_t offset;
    uint32_t first;
    uint32_t count;
  };
  class Builder;

  race::CallSitePtr FindLocked(uint64_t hash, const uint32_t* pcs, size_t n) const;
  // Past kMaxInterned: the site of the innermost call `pc` alone.
  race::CallSitePtr InnermostLocked(uint32_t pc);
  race::CallSitePtr Symbolize(const uint32_t* pcs, size_t n) const;
  void AppendFrames(const CallPoint& point, std::vector<race::Frame>* out) const;

  // Fixed after construction.
  const ModuleImpl& m_;
  std::vector<std::string> strings_;  // distinct names and files
  std::vector<StoredFrame> frames_;
  std::vector<Call> calls_;  // ascending offset; only calls DWARF knows
  CallSiteStats stats_;

  // Guarded by mu_.
  std::mutex mu_;
  std::unordered_map<uint64_t, std::vector<Interned>> by_hash_;
  size_t interned_ = 0;
  std::unordered_map<uint32_t, race::CallSitePtr> by_innermost_;  // past kMaxInterned
};

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_CALL_SITES_H_
