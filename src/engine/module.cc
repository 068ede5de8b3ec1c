// engine/module.cc: Module::Load. Reads a Wasm binary into wabt's IR,
// validates it, checks it against ABI v1 (exports, imports) and the engine's
// shape rules, rewrites it to enforce limits (rewrite.h), then reads the
// result into the interpreter's ModuleDesc that every engine instantiates,
// and maps its calls back to the original binary (call_map.h).
//
// Workload: once per worker module at startup (and per version deployed);
// a 25 KB module loads in a few milliseconds, so clarity beats speed here.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "engine/demangle.h"
#include "engine/engine.h"
#include "engine/module_impl.h"
#include "engine/nesting.h"
#include "engine/rewrite.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/binary-writer.h"
#include "wabt/cast.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/ir.h"
#include "wabt/stream.h"
#include "wabt/validator.h"

namespace edgelab::engine {
namespace {

// Most locals (params included) one function may declare. Web engines use
// the same bound; the interpreter allocates them on its value stack at each
// call, so this bounds the host memory deep recursion can take.
constexpr uint32_t kMaxLocals = 50'000;

Status Invalid(const std::string& name, const std::string& why) {
  return Status::InvalidArgument(name + ": " + why);
}

std::string FormatErrors(const wabt::Errors& errors) {
  std::string out;
  for (const wabt::Error& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.message;
    if (e.loc.offset != wabt::kInvalidOffset) {
      char at[40];
      std::snprintf(at, sizeof(at), " (at byte 0x%zx)", e.loc.offset);
      out += at;
    }
  }
  return out.empty() ? "malformed module" : out;
}

// The most common wrong input is a text file, often the .wat the .wasm was
// to be built from; wabt would only say it cannot read the magic number.
Status CheckMagic(const std::string& name, const std::vector<uint8_t>& bytes) {
  static constexpr uint8_t kMagic[] = {0x00, 'a', 's', 'm'};
  if (bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0) {
    return Status::OK();
  }
  return Invalid(name,
                 "not a WebAssembly binary (no \\0asm header; is it a .wat text file? compile "
                 "it with wat2wasm)");
}

// Reads and validates `bytes` with `features` into `out`; the error text, or
// "" when the module is valid.
std::string ReadAndValidate(const std::string& name, const std::vector<uint8_t>& bytes,
                            const wabt::Features& features, wabt::Module* out) {
  wabt::Errors errors;
  wabt::ReadBinaryOptions options(features, nullptr, /*read_debug_names=*/true,
                                  /*stop_on_first_error=*/true,
                                  /*fail_on_custom_section_error=*/false);
  if (wabt::Failed(
          wabt::ReadBinaryIr(name.c_str(), bytes.data(), bytes.size(), options, &errors, out)) ||
      wabt::Failed(wabt::ValidateModule(out, &errors, wabt::ValidateOptions(features)))) {
    return FormatErrors(errors);
  }
  return "";
}

struct Proposal {
  const char* flag;
  const char* help;
  bool on_by_default;
  void (wabt::Features::*enable)();
};

constexpr Proposal kProposals[] = {
#define WABT_FEATURE(variable, flag, default_, help) \
  {flag, help, default_, &wabt::Features::enable_##variable},
#include "wabt/feature.def"
#undef WABT_FEATURE
};

// For a module that fails with the default features: the proposal that makes
// it load, if one does ("" otherwise). Only runs on the error path.
std::string UnsupportedProposal(const std::string& name, const std::vector<uint8_t>& bytes) {
  for (const Proposal& p : kProposals) {
    if (p.on_by_default) continue;
    wabt::Features features;
    (features.*p.enable)();
    wabt::Module scratch;
    if (ReadAndValidate(name, bytes, features, &scratch).empty()) {
      return std::string("the \"") + p.flag + "\" proposal (" + p.help + ")";
    }
  }
  return "";
}

Status Decode(const std::string& name, const std::vector<uint8_t>& bytes, wabt::Module* out) {
  std::string why = ReadAndValidate(name, bytes, wabt::Features(), out);
  if (why.empty()) return Status::OK();
  std::string proposal = UnsupportedProposal(name, bytes);
  if (!proposal.empty()) {
    return Invalid(name, "uses " + proposal + ", which edgelab does not support: " + why);
  }
  return Invalid(name, why);
}

std::string TypeName(wabt::Type t) { return t.GetName(); }

std::string SignatureText(const wabt::TypeVector& params, const wabt::TypeVector& results) {
  auto list = [](const wabt::TypeVector& types) {
    std::string s = "(";
    for (size_t i = 0; i < types.size(); ++i) s += (i ? " " : "") + TypeName(types[i]);
    return s + ")";
  };
  return list(params) + " -> " + list(results);
}

wabt::Type ToWabt(abi::ValType t) {
  switch (t) {
    case abi::ValType::kI32:
      return wabt::Type::I32;
    case abi::ValType::kI64:
      return wabt::Type::I64;
    case abi::ValType::kF32:
      return wabt::Type::F32;
    case abi::ValType::kF64:
      return wabt::Type::F64;
  }
  return wabt::Type::Void;
}

wabt::TypeVector ToWabt(const std::vector<abi::ValType>& types) {
  wabt::TypeVector out;
  for (abi::ValType t : types) out.push_back(ToWabt(t));
  return out;
}

const char* KindName(wabt::ExternalKind kind) { return wabt::GetKindName(kind); }

// Binds one function import to a host function (or the WASI ENOSYS stub).
Result<ImportBinding> BindImport(const std::string& name, const wabt::FuncImport& import,
                                 HostResolver resolve) {
  const wabt::FuncSignature& sig = import.func.decl.sig;
  const std::string what = "import \"" + import.module_name + "." + import.field_name + "\"";
  const std::string actual = SignatureText(sig.param_types, sig.result_types);
  ImportBinding b{import.module_name, import.field_name, nullptr,
                  wabt::interp::FuncType(sig.param_types, sig.result_types)};
  b.host = resolve(import.module_name, import.field_name);
  if (b.host == nullptr) {
    const bool wasi = import.module_name == abi::kWasiModule;
    if (wasi && sig.result_types == wabt::TypeVector{wabt::Type::I32}) return b;
    return Invalid(name, what + " " + actual + " is not a host function of ABI v1 (docs/abi.md)");
  }
  const std::string expected = SignatureText(ToWabt(b.host->params), ToWabt(b.host->results));
  if (expected != actual) {
    return Invalid(name, what + " has type " + actual + "; ABI v1 defines it as " + expected);
  }
  if (sig.param_types.size() > kMaxHostValues || sig.result_types.size() > kMaxHostValues) {
    return Invalid(name, what + " has too many params or results");
  }
  return b;
}

Status CheckImports(const std::string& name, const wabt::Module& ir, HostResolver resolve,
                    std::vector<ImportBinding>* out) {
  for (const wabt::Import* import : ir.imports) {
    const auto* func = wabt::dyn_cast<wabt::FuncImport>(import);
    if (func == nullptr) {
      return Invalid(name, "import \"" + import->module_name + "." + import->field_name +
                               "\" is a " + KindName(import->kind()) +
                               "; a worker may import only functions (it must define and "
                               "export its own memory)");
    }
    EDGELAB_ASSIGN_OR_RETURN(ImportBinding b, BindImport(name, *func, resolve));
    out->push_back(std::move(b));
  }
  return Status::OK();
}

// Checks that export `export_name`, if present, is a function () -> ();
// `required` says whether it must be present.
Status CheckFuncExport(const std::string& name, const wabt::Module& ir,
                       const std::string& export_name, bool required) {
  const wabt::Export* e = ir.GetExport(export_name);
  const std::string want = "a function () -> ()";
  if (e == nullptr) {
    if (!required) return Status::OK();
    return Invalid(name, "missing export \"" + export_name + "\" (" + want + ")");
  }
  if (e->kind != wabt::ExternalKind::Func) {
    return Invalid(
        name, "export \"" + export_name + "\" is a " + KindName(e->kind) + ", expected " + want);
  }
  const wabt::FuncSignature& sig = ir.GetFunc(e->var)->decl.sig;
  if (sig.GetNumParams() != 0 || sig.GetNumResults() != 0) {
    return Invalid(name, "export \"" + export_name + "\" has type " +
                             SignatureText(sig.param_types, sig.result_types) + ", expected " +
                             want);
  }
  return Status::OK();
}

Status CheckExports(const std::string& name, const wabt::Module& ir,
                    const std::vector<std::string>& required) {
  const wabt::Export* memory = ir.GetExport("memory");
  if (memory == nullptr) {
    return Invalid(name, "missing export \"memory\" (the worker's linear memory)");
  }
  if (memory->kind != wabt::ExternalKind::Memory) {
    return Invalid(name, std::string("export \"memory\" is a ") + KindName(memory->kind) +
                             ", expected a memory");
  }
  for (const std::string& r : required) EDGELAB_RETURN_IF_ERROR(CheckFuncExport(name, ir, r, true));
  EDGELAB_RETURN_IF_ERROR(CheckFuncExport(name, ir, "_initialize", false));
  for (const wabt::Export* e : ir.exports) {
    if (e->name.rfind(kReservedPrefix, 0) == 0) {
      return Invalid(name, "export \"" + e->name + "\" uses the prefix reserved for the engine (" +
                               kReservedPrefix + ")");
    }
  }
  return Status::OK();
}

Status CheckShape(const std::string& name, const wabt::Module& ir) {
  if (ir.memories.size() != 1) return Invalid(name, "a worker must define exactly one memory");
  for (const wabt::Table* t : ir.tables) {
    if (t->elem_limits.initial > kMaxTableElements) {
      return Invalid(name, "a table starts with " + std::to_string(t->elem_limits.initial) +
                               " elements; the limit is " + std::to_string(kMaxTableElements));
    }
  }
  for (wabt::Index i = ir.num_func_imports; i < ir.funcs.size(); ++i) {
    if (ir.funcs[i]->GetNumParamsAndLocals() > kMaxLocals) {
      return Invalid(name, "function " + std::to_string(i) + " has more than " +
                               std::to_string(kMaxLocals) + " locals");
    }
  }
  return Status::OK();
}

// Writes the rewritten IR and reads it as the interpreter's module.
Status Compile(const std::string& name, const wabt::Module& ir, wabt::interp::ModuleDesc* out) {
  wabt::Features features;
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options(features, /*canonicalize_lebs=*/true,
                                         /*relocatable=*/false, /*write_debug_names=*/false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &ir, write_options))) {
    return Invalid(name, "internal error: cannot write the metered module");
  }
  const std::vector<uint8_t>& data = stream.output_buffer().data;
  wabt::Errors errors;
  wabt::ReadBinaryOptions read_options(features, nullptr, false, true, false);
  if (wabt::Failed(wabt::interp::ReadBinaryInterp(name, data.data(), data.size(), read_options,
                                                  &errors, out))) {
    return Invalid(name,
                   "internal error: the metered module does not load: " + FormatErrors(errors));
  }
  return Status::OK();
}

void IndexExports(ModuleImpl* m) {
  for (uint32_t i = 0; i < m->desc.exports.size(); ++i) {
    const wabt::interp::ExportType& e = m->desc.exports[i].type;
    m->export_names.push_back(e.name);
    if (e.type->kind == wabt::ExternalKind::Func) m->func_exports.emplace(e.name, i);
  }
  const wabt::Limits& pages = m->desc.memories.at(0).type.limits;
  m->initial_pages = pages.initial;
  m->declared_max_pages = pages.max;  // MemoryType fills in 65536 when absent
}

Result<std::unique_ptr<ModuleImpl>> Build(std::string name, std::vector<uint8_t> bytes,
                                          const std::vector<std::string>& required,
                                          HostResolver resolve, const LoadOptions& options) {
  auto m = std::make_unique<ModuleImpl>();
  m->name = std::move(name);
  EDGELAB_RETURN_IF_ERROR(CheckMagic(m->name, bytes));
  EDGELAB_RETURN_IF_ERROR(CheckNesting(m->name, bytes));
  wabt::Module ir;
  EDGELAB_RETURN_IF_ERROR(Decode(m->name, bytes, &ir));
  EDGELAB_RETURN_IF_ERROR(CheckExports(m->name, ir, required));
  EDGELAB_RETURN_IF_ERROR(CheckImports(m->name, ir, resolve, &m->imports));
  EDGELAB_RETURN_IF_ERROR(CheckShape(m->name, ir));
  for (const wabt::Func* f : ir.funcs) m->func_names.push_back(ReadableName(f->name));
  const RewriteResult rw = RewriteForLimits(&ir);
  m->fuel_global = rw.fuel_global;
  m->grow_failed_global = rw.grow_failed_global;
  m->first_internal_func = rw.first_internal_func;
  m->start_func = rw.start_func;
  EDGELAB_RETURN_IF_ERROR(Compile(m->name, ir, &m->desc));
  IndexExports(m.get());
  m->call_map = CallMap::Build(ir, m->desc);
  // DWARF is read from the original bytes (the rewrite drops custom sections
  // from `ir`), here and only here: CallSites keeps frames, not bytes.
  if (options.call_sites) m->call_sites = std::make_unique<CallSites>(*m, std::move(bytes));
  return m;
}

Result<std::vector<uint8_t>> ReadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file (the worker module)");
    return Status::IOError(path + ": cannot open: " + std::strerror(err));
  }
  std::vector<uint8_t> bytes;
  uint8_t buf[64 * 1024];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) return Status::IOError(path + ": read failed: " + std::strerror(err));
  return bytes;
}

const abi::HostFunction* DefaultResolver(std::string_view module, std::string_view name) {
  return abi::FindHostFunction(module, name);
}

}  // namespace

std::string ReadableName(const std::string& ir_name) {
  return Demangle(!ir_name.empty() && ir_name[0] == '$' ? ir_name.substr(1) : ir_name);
}

uint64_t ModuleImpl::NextId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::string FunctionName(const ModuleImpl& m, uint32_t index) {
  if (index < m.func_names.size() && !m.func_names[index].empty()) return m.func_names[index];
  return "func[" + std::to_string(index) + "]";
}

Module::Module(std::unique_ptr<ModuleImpl> impl) : impl_(std::move(impl)) {}
Module::~Module() = default;

const std::string& Module::name() const { return impl_->name; }

bool Module::HasExport(std::string_view name) const {
  for (const std::string& e : impl_->export_names) {
    if (e == name) return true;
  }
  return false;
}

Result<std::shared_ptr<const Module>> Module::Load(const std::string& path,
                                                   const std::vector<std::string>& required,
                                                   const LoadOptions& options) {
  EDGELAB_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadFile(path));
  return FromBytes(path, std::move(bytes), required, DefaultResolver, options);
}

Result<std::shared_ptr<const Module>> Module::FromBytes(std::string name,
                                                        std::vector<uint8_t> bytes,
                                                        const std::vector<std::string>& required,
                                                        const LoadOptions& options) {
  return FromBytes(std::move(name), std::move(bytes), required, DefaultResolver, options);
}

Result<std::shared_ptr<const Module>> Module::FromBytes(std::string name,
                                                        std::vector<uint8_t> bytes,
                                                        const std::vector<std::string>& required,
                                                        HostResolver resolve,
                                                        const LoadOptions& options) {
  EDGELAB_ASSIGN_OR_RETURN(auto impl,
                           Build(std::move(name), std::move(bytes), required, resolve, options));
  return std::shared_ptr<const Module>(new Module(std::move(impl)));
}

}  // namespace edgelab::engine
