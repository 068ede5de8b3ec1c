// engine/call_map.h: from an interpreter frame's pc to the call instruction
// it stands at in the module's original binary (internal to engine/;
// includes wabt, compile as C++17).
//
// Why a pc names a call: in wabt 1.0.32 a frame's `offset` is its pc in the
// module's Istream. A frame that is not innermost is stopped in a call, so
// its pc is just after that call's istream instruction (Call, CallIndirect,
// or InterpCallImport for the frame that called a host function).
//
// How the map is built (Build): wabt's interpreter reader emits exactly one
// istream call instruction per wasm call instruction, in order, and nothing
// else with those opcodes (a return_call to a defined function emits
// InterpAdjustFrameForReturnCall, which we count as its call). The IR that
// the engine writes back after the rewrite holds the same calls in the same
// order, each with `loc.offset` from the original binary (wabt's IR reader
// sets it to the offset just past the instruction's immediates; calls the
// rewrite inserted have 0). So per function we walk the istream from its
// code_offset to the next code start, walk the IR's call Exprs depth first,
// and zip the two lists.
// Invariants: (1) a function is mapped only when both lists have the same
// length and every pair agrees (same kind; a direct call names the same
// callee); otherwise it is left out (listed in unmapped()) rather than
// guessed: its frames get the function but no offset. (2) A mapped offset is
// the last byte of the call instruction (inside it, so a DWARF line lookup
// finds the call's row), or 0 for a call the rewrite inserted.
// engine_test checks (1) on every function of every example module, so a
// wabt whose reader emits differently fails a test rather than mislabel.
//
// Threading: immutable after Build; read from any thread.
#ifndef EDGELAB_ENGINE_CALL_MAP_H_
#define EDGELAB_ENGINE_CALL_MAP_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "wabt/interp/interp.h"
#include "wabt/ir.h"

namespace edgelab::engine {

// A call instruction: the function (module index, imports included) it is
// in and its offset in the original binary (0: unknown).
struct CallPoint {
  uint32_t func = 0;
  uint32_t offset = 0;
};

class CallMap {
 public:
  CallMap() = default;
  // `ir` is the rewritten module, read from the original binary; `desc` is
  // the interpreter's reading of `ir` as written back.
  static CallMap Build(const wabt::Module& ir, const wabt::interp::ModuleDesc& desc);

  // The call a frame at `pc` is stopped in; for a pc that is not just after
  // a mapped call, the function holding `pc` with offset 0. Null when `pc`
  // lies in no function. O(log calls).
  std::optional<CallPoint> Find(uint32_t pc) const;
  // Defined functions (module indexes) left unmapped by invariant (1).
  const std::vector<uint32_t>& unmapped() const { return unmapped_; }
  // Every mapped call (the rewrite's included, offset 0), in istream order.
  std::vector<CallPoint> Calls() const;
  // Every mapped call in function `func`: for tests.
  std::vector<CallPoint> CallsIn(uint32_t func) const;

 private:
  struct Entry {
    uint32_t pc;  // istream offset just after the call instruction
    CallPoint point;
  };
  std::vector<Entry> entries_;  // ascending pc
  // code_offset of each defined function, ascending; [i] is function
  // num_imports_ + i, which ends where the next code starts (ends_).
  std::vector<uint32_t> starts_;
  std::vector<uint32_t> ends_;
  uint32_t num_imports_ = 0;
  std::vector<uint32_t> unmapped_;
};

}  // namespace edgelab::engine

#endif  // EDGELAB_ENGINE_CALL_MAP_H_
