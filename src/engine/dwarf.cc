// engine/dwarf.cc: Dwarf on LLVM 14's DWARFContext over a module's
// .debug_* custom sections.
//
// Workload: a module is opened at load when call sites are asked for, each
// of its calls (a few thousand) is looked up once, and the reader is then
// dropped (call_sites.h). The first lookup in a unit costs the most: LLVM
// parses the unit's DIEs (the depth guard walks them once more) and line
// table then. Memory, while open: the module's bytes and the parsed units
// (about the size of the DWARF).
#include "engine/dwarf.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "llvm/DebugInfo/DIContext.h"
#include "llvm/DebugInfo/DWARF/DWARFContext.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

namespace edgelab::engine {
namespace {

constexpr uint8_t kCustomSection = 0;
constexpr uint8_t kCodeSection = 10;
constexpr size_t kHeaderBytes = 8;  // "\0asm" and the version

// An unsigned LEB128 at bytes[*pos] (at most 32 bits), advancing *pos; false
// when it runs past the end or is too long.
bool ReadU32(const std::vector<uint8_t>& bytes, size_t* pos, uint32_t* out) {
  uint64_t value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*pos >= bytes.size()) return false;
    const uint8_t b = bytes[(*pos)++];
    value |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *out = static_cast<uint32_t>(value);
      return value <= UINT32_MAX;
    }
  }
  return false;
}

// What the section headers of a module say about its DWARF.
struct Layout {
  uint64_t code_start = 0;  // offset of the code section's contents; 0: none
  // The custom sections named ".debug_*", by name without the dot (as
  // DWARFContext wants them), viewing the module's bytes.
  std::vector<std::pair<std::string_view, std::string_view>> debug;
  bool Has(std::string_view name) const {
    for (const auto& d : debug) {
      if (d.first == name) return true;
    }
    return false;
  }
};

// Walks the section headers (id, size, and a custom section's name). Stops
// at the first malformed header: the module was validated, so that is only
// trailing garbage, which we ignore as wabt did.
Layout ReadLayout(const std::vector<uint8_t>& bytes) {
  Layout layout;
  const char* const base = reinterpret_cast<const char*>(bytes.data());
  size_t pos = kHeaderBytes;
  while (pos < bytes.size()) {
    const uint8_t id = bytes[pos++];
    uint32_t size = 0;
    if (!ReadU32(bytes, &pos, &size) || size > bytes.size() - pos) break;
    const size_t end = pos + size;
    if (id == kCodeSection) layout.code_start = pos;
    uint32_t name_len = 0;
    size_t name_pos = pos;
    if (id == kCustomSection && ReadU32(bytes, &name_pos, &name_len) &&
        name_len <= end - name_pos) {
      const std::string_view name(base + name_pos, name_len);
      const size_t contents = name_pos + name_len;
      if (name.rfind(".debug_", 0) == 0) {
        layout.debug.emplace_back(name.substr(1),
                                  std::string_view(base + contents, end - contents));
      }
    }
    pos = end;
  }
  return layout;
}

std::string Known(const std::string& s) {
  return s == llvm::DILineInfo::BadString ? std::string() : s;
}

}  // namespace

struct Dwarf::Impl {
  std::vector<uint8_t> bytes;
  uint64_t code_start = 0;
  std::unique_ptr<llvm::DWARFContext> context;              // views `bytes`
  std::unordered_map<const llvm::DWARFUnit*, bool> usable;  // units checked so far
  size_t refused = 0;

  bool Usable(llvm::DWARFUnit* unit);
};

namespace {

// Guard (2) of dwarf.h: whether no DIE of `unit` nests deeper than
// kMaxDieDepth. LLVM 14 reads a unit's DIEs into an array, iteratively, each
// with the index of its parent (always lower), so depths come in one pass.
bool ShallowEnough(llvm::DWARFUnit* unit) {
  const uint32_t n = unit->getNumDIEs();
  std::vector<uint32_t> depth(n, 0);
  for (uint32_t i = 0; i < n; ++i) {
    const llvm::Optional<uint32_t> parent =
        unit->getDIEAtIndex(i).getDebugInfoEntry()->getParentIdx();
    if (parent && *parent < i) depth[i] = depth[*parent] + 1;
    if (depth[i] > Dwarf::kMaxDieDepth) return false;
  }
  return true;
}

}  // namespace

bool Dwarf::Impl::Usable(llvm::DWARFUnit* unit) {
  auto known = usable.find(unit);
  if (known != usable.end()) return known->second;
  const llvm::DWARFDie root = unit->getUnitDIE(/*ExtractUnitDIEOnly=*/true);
  const bool ok = root.isValid() &&
                  !root.find({llvm::dwarf::DW_AT_dwo_name, llvm::dwarf::DW_AT_GNU_dwo_name}) &&
                  ShallowEnough(unit);
  usable.emplace(unit, ok);
  if (!ok) ++refused;
  return ok;
}

Dwarf::Dwarf(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dwarf::~Dwarf() = default;

bool Dwarf::Present(const std::vector<uint8_t>& wasm) {
  const Layout layout = ReadLayout(wasm);
  return layout.Has("debug_info") && layout.Has("debug_line") && layout.code_start != 0;
}

std::unique_ptr<Dwarf> Dwarf::Open(std::vector<uint8_t> wasm) {
  auto impl = std::make_unique<Impl>();
  impl->bytes = std::move(wasm);
  const Layout layout = ReadLayout(impl->bytes);
  impl->code_start = layout.code_start;
  if (impl->code_start == 0) return nullptr;
  // The DWARF sections alone, not the module as a WasmObjectFile: LLVM 14's
  // Wasm reader ends the process (report_fatal_error) on a malformed custom
  // section (a bad string in "producers", say), which wabt let through.
  // Wasm32 addresses are 4 bytes.
  llvm::StringMap<std::unique_ptr<llvm::MemoryBuffer>> sections;
  for (const auto& [name, contents] : layout.debug) {
    sections[llvm::StringRef(name.data(), name.size())] = llvm::MemoryBuffer::getMemBuffer(
        llvm::StringRef(contents.data(), contents.size()), "", false);
  }
  // The default handlers print to stderr, once per bad unit; a guest's
  // broken DWARF is the guest's affair, and its frames fall back to names.
  auto drop = [](llvm::Error e) { llvm::consumeError(std::move(e)); };
  impl->context = llvm::DWARFContext::create(sections, 4, true, drop, drop);
  if (impl->context == nullptr) return nullptr;
  return std::unique_ptr<Dwarf>(new Dwarf(std::move(impl)));
}

std::vector<race::Frame> Dwarf::Symbolize(uint64_t offset) {
  std::vector<race::Frame> frames;
  if (offset < impl_->code_start) return frames;
  const llvm::object::SectionedAddress address{offset - impl_->code_start,
                                               llvm::object::SectionedAddress::UndefSection};
  // The same unit getInliningInfoForAddress finds, checked first.
  llvm::DWARFCompileUnit* unit = impl_->context->getCompileUnitForAddress(address.Address);
  if (unit == nullptr || !impl_->Usable(unit)) return frames;
  const llvm::DILineInfoSpecifier spec(
      llvm::DILineInfoSpecifier::FileLineInfoKind::AbsoluteFilePath,
      llvm::DILineInfoSpecifier::FunctionNameKind::LinkageName);
  const llvm::DIInliningInfo info = impl_->context->getInliningInfoForAddress(address, spec);
  const uint32_t n = info.getNumberOfFrames();
  for (uint32_t i = 0; i < n; ++i) {
    const llvm::DILineInfo& line = info.getFrame(i);
    race::Frame f;
    f.function = Known(line.FunctionName);
    f.file = Known(line.FileName);
    f.line = line.Line;
    f.column = line.Column;
    f.inlined = i + 1 < n;
    frames.push_back(std::move(f));
  }
  return frames;
}

size_t Dwarf::units_refused() const { return impl_->refused; }

}  // namespace edgelab::engine
