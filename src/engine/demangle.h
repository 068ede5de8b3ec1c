// engine/demangle.h: C++ (Itanium ABI) names from a guest's name section and
// DWARF made readable, at a bounded cost: the guest wrote these names, so
// they are hostile input to the demangler.
//
// Why not __cxa_demangle alone: it recurses once per nesting level (a name
// `_Z1f` + 1,000 x `P` + `i` takes ~360 KB of stack, more than a fiber has),
// and its output can grow exponentially with the name (each level of
// `B<S_, S_>` back-references doubles it: 245 bytes print 54 MB in 1.4 s, 300
// bytes would never finish). So names longer than kMaxMangledBytes stay
// mangled, and a name is printed only after its parse tree, a DAG, has been
// measured (linear in the tree) and cannot print more than kMaxPrintedBytes
// (an upper bound, a few times the real length); a result longer than
// kMaxDemangledBytes is dropped too, which bounds what a name costs to keep.
// Parsing and printing use LLVM 14's
// demangler (the header-only ItaniumDemangle.h; demangle.cc builds in
// edgelab_dwarf with dwarf.cc, the other file that includes LLVM), which is
// what llvm-symbolizer prints. Of the SDK's guests' 843 distinct names it
// prints 39 unlike __cxa_demangle: lambdas ('lambda'(int) for
// {lambda(int)#1}), std::nullptr_t for decltype(nullptr), inheriting
// constructors, and clang's enable_if attributes, which __cxa_demangle
// refuses.
//
// Threading: safe from any thread at once (no shared state).
// Failure: none; a name it will not or cannot demangle comes back as it was.
// Requires: a thread's stack, not a fiber's: parsing and printing recurse once
// per nesting level, up to ~1,000 levels for a name of kMaxMangledBytes (at
// most 145 KB of stack over a dozen shapes of 1,024-byte names, -O2; more
// under sanitizers). engine.h's Module::Load runs on the main thread.
#ifndef EDGELAB_ENGINE_DEMANGLE_H_
#define EDGELAB_ENGINE_DEMANGLE_H_

#include <cstddef>
#include <string>

namespace edgelab::engine {

// Longest mangled name demangled; the SDK's guests' longest is 200 bytes.
inline constexpr size_t kMaxMangledBytes = 1024;
// Most a name may be bounded to print (a printing costs ~1 ns a byte).
inline constexpr size_t kMaxPrintedBytes = 64 * 1024;
// Longest demangled name kept; the SDK's guests' longest is ~600 bytes.
inline constexpr size_t kMaxDemangledBytes = 8 * 1024;

// `name` demangled when it is an Itanium C++ name ("_Z...", Rust's legacy
// names included) of at most kMaxMangledBytes that parses, is bounded to
// print at most kMaxPrintedBytes and prints at most kMaxDemangledBytes; else
// `name` itself.
std::string Demangle(const std::string& name);

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_DEMANGLE_H_
