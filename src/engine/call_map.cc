// engine/call_map.cc: CallMap::Build, the zip of istream calls and IR calls
// described in call_map.h. Runs once per module load; linear in code size.
#include "engine/call_map.h"

#include <algorithm>
#include <limits>

#include "wabt/cast.h"

namespace edgelab::engine {
namespace {

namespace interp = wabt::interp;
using wabt::ExprType;

// One call instruction as one side sees it. `at` is the istream pc after it
// (istream side) or its binary offset (IR side).
struct Call {
  bool direct = false;
  uint32_t callee = 0;  // direct calls only
  uint64_t at = 0;
};

bool SameCall(const Call& a, const Call& b) {
  return a.direct == b.direct && (!a.direct || a.callee == b.callee);
}

// The calls of `exprs`, in the order the binary writer emits them (depth
// first; an `if` before its `else`). Recurses once per nesting level, as the
// rewrite does (bounded by nesting.h).
void CollectIr(const wabt::ExprList& exprs, std::vector<Call>* out) {
  for (const wabt::Expr& e : exprs) {
    const uint64_t at = e.loc.offset;
    switch (e.type()) {
      case ExprType::Call:
        out->push_back({true, wabt::cast<wabt::CallExpr>(&e)->var.index(), at});
        break;
      case ExprType::ReturnCall:
        out->push_back({true, wabt::cast<wabt::ReturnCallExpr>(&e)->var.index(), at});
        break;
      case ExprType::CallIndirect:
      case ExprType::ReturnCallIndirect:
        out->push_back({false, 0, at});
        break;
      case ExprType::Block:
        CollectIr(wabt::cast<wabt::BlockExpr>(&e)->block.exprs, out);
        break;
      case ExprType::Loop:
        CollectIr(wabt::cast<wabt::LoopExpr>(&e)->block.exprs, out);
        break;
      case ExprType::If:
        CollectIr(wabt::cast<wabt::IfExpr>(&e)->true_.exprs, out);
        CollectIr(wabt::cast<wabt::IfExpr>(&e)->false_, out);
        break;
      case ExprType::Try: {
        const auto* t = wabt::cast<wabt::TryExpr>(&e);
        CollectIr(t->block.exprs, out);
        for (const wabt::Catch& c : t->catches) CollectIr(c.exprs, out);
        break;
      }
      default:
        break;
    }
  }
}

// The call instructions of istream [start, end).
void CollectIstream(const interp::Istream& istream, uint32_t start, uint32_t end,
                    std::vector<Call>* out) {
  for (interp::Istream::Offset pc = start; pc < end;) {
    const interp::Instr instr = istream.Read(&pc);
    switch (instr.op) {
      case wabt::Opcode::Call:
      case wabt::Opcode::InterpCallImport:
      case wabt::Opcode::InterpAdjustFrameForReturnCall:
        out->push_back({true, instr.imm_u32, pc});
        break;
      case wabt::Opcode::CallIndirect:
      case wabt::Opcode::ReturnCallIndirect:
        out->push_back({false, 0, pc});
        break;
      default:
        break;
    }
  }
}

// Where every piece of code in the istream starts (function bodies and the
// init expressions of globals and segments, which the reader emits before
// and after the bodies), and its end: a body ends at the next start.
std::vector<uint32_t> CodeStarts(const interp::ModuleDesc& desc) {
  std::vector<uint32_t> starts;
  auto add = [&](uint32_t offset) {
    if (offset != interp::Istream::kInvalidOffset) starts.push_back(offset);
  };
  for (const interp::FuncDesc& f : desc.funcs) add(f.code_offset);
  for (const interp::GlobalDesc& g : desc.globals) add(g.init_func.code_offset);
  for (const interp::ElemDesc& e : desc.elems) add(e.init_func.code_offset);
  for (const interp::DataDesc& d : desc.datas) add(d.init_func.code_offset);
  add(desc.istream.end());
  std::sort(starts.begin(), starts.end());
  return starts;
}

// The binary offset to report for a call whose IR offset is `at` (just past
// the instruction): its last byte; 0 when unknown.
uint32_t InsideCall(uint64_t at) {
  if (at == 0 || at > std::numeric_limits<uint32_t>::max()) return 0;
  return static_cast<uint32_t>(at - 1);
}

}  // namespace

CallMap CallMap::Build(const wabt::Module& ir, const interp::ModuleDesc& desc) {
  CallMap map;
  map.num_imports_ = ir.num_func_imports;
  if (ir.funcs.size() != ir.num_func_imports + desc.funcs.size()) {
    for (uint32_t i = ir.num_func_imports; i < ir.funcs.size(); ++i) map.unmapped_.push_back(i);
    return map;
  }
  const std::vector<uint32_t> code_starts = CodeStarts(desc);
  std::vector<Call> from_ir, from_istream;
  for (uint32_t i = 0; i < desc.funcs.size(); ++i) {
    const uint32_t func = map.num_imports_ + i;
    const uint32_t start = desc.funcs[i].code_offset;
    const auto next = std::upper_bound(code_starts.begin(), code_starts.end(), start);
    const uint32_t end = next == code_starts.end() ? start : *next;
    map.starts_.push_back(start);
    map.ends_.push_back(end);
    from_ir.clear();
    from_istream.clear();
    CollectIr(ir.funcs[func]->exprs, &from_ir);
    CollectIstream(desc.istream, start, end, &from_istream);
    const bool zips = from_ir.size() == from_istream.size() &&
                      std::equal(from_ir.begin(), from_ir.end(), from_istream.begin(), SameCall);
    if (!zips) {
      map.unmapped_.push_back(func);
      continue;
    }
    for (size_t k = 0; k < from_ir.size(); ++k) {
      map.entries_.push_back(
          {static_cast<uint32_t>(from_istream[k].at), CallPoint{func, InsideCall(from_ir[k].at)}});
    }
  }
  std::sort(map.entries_.begin(), map.entries_.end(),
            [](const Entry& a, const Entry& b) { return a.pc < b.pc; });
  return map;
}

std::optional<CallPoint> CallMap::Find(uint32_t pc) const {
  auto e = std::lower_bound(entries_.begin(), entries_.end(), pc,
                            [](const Entry& entry, uint32_t p) { return entry.pc < p; });
  if (e != entries_.end() && e->pc == pc) return e->point;
  auto s = std::upper_bound(starts_.begin(), starts_.end(), pc);
  if (s == starts_.begin()) return std::nullopt;
  const size_t i = static_cast<size_t>(s - starts_.begin()) - 1;
  if (pc >= ends_[i]) return std::nullopt;
  return CallPoint{num_imports_ + static_cast<uint32_t>(i), 0};
}

std::vector<CallPoint> CallMap::Calls() const {
  std::vector<CallPoint> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) out.push_back(e.point);
  return out;
}

std::vector<CallPoint> CallMap::CallsIn(uint32_t func) const {
  std::vector<CallPoint> out;
  for (const Entry& e : entries_) {
    if (e.point.func == func) out.push_back(e.point);
  }
  return out;
}

}  // namespace edgelab::engine
