// engine/rewrite.cc: the limit-enforcing IR rewrite (see rewrite.h for what
// it does and why). Runs once per module load; linear in the code size.
#include "engine/rewrite.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "engine/engine.h"
#include "wabt/cast.h"

namespace edgelab::engine {
namespace {

using wabt::Const;
using wabt::Expr;
using wabt::ExprList;
using wabt::ExprType;
using wabt::FuncSignature;
using wabt::Index;
using wabt::Location;
using wabt::Opcode;
using wabt::Type;
using wabt::Var;

// Bytes (memory) and elements (table) a bulk operation may move per unit of
// fuel, as shifts. An interpreted instruction costs about what a memcpy of
// 64 bytes does; table elements are refs written one by one.
constexpr int kMemBytesPerFuelShift = 6;
constexpr int kTableElemsPerFuelShift = 2;
// Instructions of the fuel check that run on every pass (the `if` runs as
// one branch; `unreachable` does not run). Charged with the region so fuel
// tracks the interpreter's work: without it `loop br 0` (what clang makes of
// `for (;;);`, the classic runaway) would cost 1 per iteration while running
// 9 instructions, and outlive its CPU limit ninefold.
constexpr uint64_t kCheckCost = 8;

Var IndexVar(Index index) { return Var(index, Location()); }

// A straight-line instruction sequence under construction.
class Code {
 public:
  Code& GlobalGet(Index g) { return Add<wabt::GlobalGetExpr>(IndexVar(g)); }
  Code& GlobalSet(Index g) { return Add<wabt::GlobalSetExpr>(IndexVar(g)); }
  Code& LocalGet(Index l) { return Add<wabt::LocalGetExpr>(IndexVar(l)); }
  Code& LocalTee(Index l) { return Add<wabt::LocalTeeExpr>(IndexVar(l)); }
  Code& I32(uint32_t v) { return Add<wabt::ConstExpr>(Const::I32(v)); }
  Code& I64(uint64_t v) { return Add<wabt::ConstExpr>(Const::I64(v)); }
  Code& Binary(Opcode op) { return Add<wabt::BinaryExpr>(op); }
  Code& Compare(Opcode op) { return Add<wabt::CompareExpr>(op); }
  Code& Convert(Opcode op) { return Add<wabt::ConvertExpr>(op); }
  Code& MemoryGrow() { return Add<wabt::MemoryGrowExpr>(IndexVar(0)); }
  // if <then> end, with an empty block type.
  Code& If(Code then) {
    auto e = std::make_unique<wabt::IfExpr>();
    e->true_.exprs = then.Take();
    list_.push_back(std::move(e));
    return *this;
  }
  Code& Unreachable() { return Add<wabt::UnreachableExpr>(); }
  ExprList Take() { return std::move(list_); }

 private:
  template <typename T, typename... Args>
  Code& Add(Args&&... args) {
    list_.push_back(std::make_unique<T>(std::forward<Args>(args)...));
    return *this;
  }
  ExprList list_;
};

// Traps when the i64 global `fuel` is below zero.
Code& TrapIfNegative(Code& code, Index fuel) {
  return code.GlobalGet(fuel).I64(0).Compare(Opcode::I64LtS).If(std::move(Code().Unreachable()));
}

FuncSignature Signature(std::vector<Type> params, std::vector<Type> results) {
  FuncSignature sig;
  sig.param_types = std::move(params);
  sig.result_types = std::move(results);
  return sig;
}

class Rewriter {
 public:
  explicit Rewriter(wabt::Module* m) : m_(m) {}

  RewriteResult Run() {
    RewriteResult r;
    r.start_func = TakeStart();
    CapTables();
    fuel_ = AppendGlobal(Type::I64, Const::I64(0), kFuelExport);
    grow_failed_ = AppendGlobal(Type::I32, Const::I32(0), kGrowFailedExport);
    r.fuel_global = fuel_;
    r.grow_failed_global = grow_failed_;
    const Index first_internal = static_cast<Index>(m_->funcs.size());
    r.first_internal_func = first_internal;
    AppendHelpers();
    for (Index i = m_->num_func_imports; i < first_internal; ++i) {
      MeterRegion(&m_->funcs[i]->exprs);
    }
    return r;
  }

 private:
  std::optional<uint32_t> TakeStart() {
    if (m_->starts.empty()) return std::nullopt;
    const Index start = m_->GetFuncIndex(*m_->starts[0]);
    m_->starts.clear();  // points into the field erased below
    for (auto it = m_->fields.begin(); it != m_->fields.end();) {
      it = it->type() == wabt::ModuleFieldType::Start ? m_->fields.erase(it) : std::next(it);
    }
    return start;
  }

  void CapTables() {
    for (wabt::Table* t : m_->tables) {
      if (!t->elem_limits.has_max || t->elem_limits.max > kMaxTableElements) {
        t->elem_limits.has_max = true;
        t->elem_limits.max = kMaxTableElements;
      }
    }
  }

  Index AppendGlobal(Type type, Const init, const char* export_name) {
    auto g = std::make_unique<wabt::GlobalModuleField>();
    g->global.type = type;
    g->global.mutable_ = true;
    g->global.init_expr.push_back(std::make_unique<wabt::ConstExpr>(init));
    m_->AppendField(std::move(g));
    const Index index = static_cast<Index>(m_->globals.size() - 1);
    auto e = std::make_unique<wabt::ExportModuleField>();
    e->export_.name = export_name;
    e->export_.kind = wabt::ExternalKind::Global;
    e->export_.var = IndexVar(index);
    m_->AppendField(std::move(e));
    return index;
  }

  Index TypeIndex(const FuncSignature& sig) {
    const Index found = m_->GetFuncTypeIndex(sig);
    if (found != wabt::kInvalidIndex) return found;
    auto t = std::make_unique<wabt::FuncType>();
    t->sig = sig;
    auto f = std::make_unique<wabt::TypeModuleField>();
    f->type = std::move(t);
    m_->AppendField(std::move(f));
    return static_cast<Index>(m_->types.size() - 1);
  }

  Index AppendFunc(FuncSignature sig, std::vector<Type> locals, Code body) {
    auto f = std::make_unique<wabt::FuncModuleField>();
    f->func.decl.has_func_type = true;
    f->func.decl.type_var = IndexVar(TypeIndex(sig));
    f->func.decl.sig = std::move(sig);
    f->func.local_types.Set(locals);
    f->func.exprs = body.Take();
    m_->AppendField(std::move(f));
    return static_cast<Index>(m_->funcs.size() - 1);
  }

  void AppendHelpers() {
    probe_ = AppendFunc(Signature({}, {}), {}, Code());
    charge_mem_ =
        AppendFunc(Signature({Type::I32}, {Type::I32}), {}, Charge(kMemBytesPerFuelShift));
    charge_table_ =
        AppendFunc(Signature({Type::I32}, {Type::I32}), {}, Charge(kTableElemsPerFuelShift));
    // (param $delta i32) (local $old i32): $old = memory.grow($delta);
    // if $old == -1 then $grow_failed = 1; return $old.
    Code grow;
    grow.LocalGet(0).MemoryGrow().LocalTee(1).I32(~0u).Compare(Opcode::I32Eq);
    grow.If(std::move(Code().I32(1).GlobalSet(grow_failed_))).LocalGet(1);
    grow_ = AppendFunc(Signature({Type::I32}, {Type::I32}), {Type::I32}, std::move(grow));
  }

  // (param $len i32) (result i32): charges $len >> shift fuel, returns $len.
  Code Charge(int shift) {
    Code c;
    c.GlobalGet(fuel_).LocalGet(0).Convert(Opcode::I64ExtendI32U).I64(shift);
    c.Binary(Opcode::I64ShrU).Binary(Opcode::I64Sub).GlobalSet(fuel_);
    TrapIfNegative(c, fuel_).LocalGet(0);
    return c;
  }

  // Prepends the fuel check to the body of a function or loop.
  void MeterRegion(ExprList* exprs) {
    const uint64_t cost = std::max<uint64_t>(1, Walk(exprs)) + kCheckCost;
    Code check;
    check.GlobalGet(fuel_).I64(cost).Binary(Opcode::I64Sub).GlobalSet(fuel_);
    TrapIfNegative(check, fuel_);
    ExprList prologue = check.Take();
    exprs->splice(exprs->begin(), prologue);
  }

  // Rewrites `exprs` in place; returns how many of its instructions run per
  // entry at most, nested loops excluded (they are metered on their own).
  uint64_t Walk(ExprList* exprs) {
    uint64_t cost = 0;
    for (auto it = exprs->begin(); it != exprs->end(); ++it) {
      ++cost;
      Expr* e = &*it;
      switch (e->type()) {
        case ExprType::Block:
          cost += Walk(&wabt::cast<wabt::BlockExpr>(e)->block.exprs);
          break;
        case ExprType::If:
          cost += Walk(&wabt::cast<wabt::IfExpr>(e)->true_.exprs);
          cost += Walk(&wabt::cast<wabt::IfExpr>(e)->false_);
          break;
        case ExprType::Loop:
          MeterRegion(&wabt::cast<wabt::LoopExpr>(e)->block.exprs);
          break;
        case ExprType::MemoryGrow:
          it = exprs->insert(exprs->erase(it), std::make_unique<wabt::CallExpr>(IndexVar(grow_)));
          break;
        case ExprType::CallIndirect:
          InsertCall(exprs, it, probe_);
          break;
        case ExprType::MemoryFill:
        case ExprType::MemoryCopy:
        case ExprType::MemoryInit:
          InsertCall(exprs, it, charge_mem_);
          break;
        case ExprType::TableFill:
        case ExprType::TableCopy:
        case ExprType::TableInit:
          InsertCall(exprs, it, charge_table_);
          break;
        default:
          break;
      }
    }
    return cost;
  }

  // Inserts `call func` just before `pos`.
  static void InsertCall(ExprList* exprs, ExprList::iterator pos, Index func) {
    exprs->insert(pos, std::make_unique<wabt::CallExpr>(IndexVar(func)));
  }

  wabt::Module* const m_;
  Index fuel_ = 0, grow_failed_ = 0;
  Index probe_ = 0, charge_mem_ = 0, charge_table_ = 0, grow_ = 0;
};

}  // namespace

RewriteResult RewriteForLimits(wabt::Module* module) { return Rewriter(module).Run(); }

}  // namespace edgelab::engine
