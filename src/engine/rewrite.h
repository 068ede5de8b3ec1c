// engine/rewrite.h: the IR rewrite that makes a module enforce the engine's
// limits (internal to engine/; includes wabt, compile as C++17).
//
// Everything is appended (globals, functions, types, exports), never
// inserted, so no existing index shifts and the name section stays valid.
// After the rewrite the module:
//   1. charges fuel: at every function entry and loop head it runs
//        global.get $fuel; i64.const COST; i64.sub; global.set $fuel;
//        global.get $fuel; i64.const 0; i64.lt_s; if unreachable end
//      where COST counts the instructions of that region (nested blocks and
//      both arms of an `if` included, nested loops excluded: they charge for
//      themselves; at least 1) plus the 8 of the check itself, so fuel is an
//      upper bound on the wasm instructions run. (Not quite on the
//      interpreter's own: its lowering adds a drop_keep or return at block
//      and function ends, and an `if` with a taken br_if becomes two
//      branches; a review measured 103,008 interpreted instructions for
//      86,009 fuel on a module built for it, within 20 %.) Nothing runs an
//      unbounded number of times without passing a loop head or a function
//      entry, so fuel bounds work.
//      Cheaper options deferred: a function with no loops, no calls it cannot
//      bound and no call_indirect could skip its check, with an unchecked
//      subtraction of its cost at each call site instead (charging its cost
//      into the caller's region, taken or not, was tried and reverted: a
//      br_table dispatch over 50 such leaves paid ~8x the fuel); the check
//      costs the most on tight loops (+110 % on an 8-instruction body).
//   2. charges bulk operations for their length: memory.fill/copy/init get
//      `call $charge_mem` (length/64) and table.fill/copy/init
//      `call $charge_table` (length/4) in front, each passing the length
//      (on top of the stack) through.
//   3. routes every memory.grow through an appended `$grow`, which sets
//      $grow_failed to 1 when the grow returns -1.
//   4. puts `call $probe` (an empty function) in front of every
//      call_indirect. wabt 1.0.32's interpreter does not stop when a
//      call_indirect overflows its call stack (it records the trap and runs
//      on, corrupting its value stack; fixed upstream in #2464); a direct
//      call does stop. The probe's direct call traps first whenever the
//      call_indirect would overflow, since both push one frame onto the
//      same stack.
//   5. has no start function: it is returned, and Instantiate runs it with
//      fuel (the interpreter would run it unmetered inside instantiation).
//   6. caps every table's maximum at kMaxTableElements.
// The fuel and grow_failed globals are exported as "__edgelab_fuel" and
// "__edgelab_grow_failed"; a module may not use the "__edgelab_" prefix.
#ifndef EDGELAB_ENGINE_REWRITE_H_
#define EDGELAB_ENGINE_REWRITE_H_

#include <cstdint>
#include <optional>

#include "wabt/ir.h"

namespace edgelab::engine {

inline constexpr char kReservedPrefix[] = "__edgelab_";
inline constexpr char kFuelExport[] = "__edgelab_fuel";
inline constexpr char kGrowFailedExport[] = "__edgelab_grow_failed";

struct RewriteResult {
  uint32_t fuel_global = 0;
  uint32_t grow_failed_global = 0;
  uint32_t first_internal_func = 0;  // the appended functions start here
  std::optional<uint32_t> start_func;
};

// Rewrites `module` (valid, read from a binary: every Var is an index) as
// described above. The result is valid whenever the input was.
RewriteResult RewriteForLimits(wabt::Module* module);

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_REWRITE_H_
