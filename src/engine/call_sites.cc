// engine/call_sites.cc: CallSites (see call_sites.h for the rules).
#include "engine/call_sites.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/dwarf.h"
#include "engine/module_impl.h"

namespace edgelab::engine {
namespace {

// FNV-1a over the pcs: cheap, and pcs of distinct stacks differ in their low
// bytes, which it mixes.
uint64_t Hash(const uint32_t* pcs, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= pcs[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

bool IsMangled(const std::string& name) { return name.rfind("_Z", 0) == 0; }

}  // namespace

CallSites::CallSites(const ModuleImpl& module, std::vector<uint8_t> dwarf_bytes)
    : m_(module), dwarf_bytes_(std::move(dwarf_bytes)) {}

CallSites::~CallSites() = default;

race::CallSitePtr CallSites::FindLocked(uint64_t hash, const uint32_t* pcs, size_t n) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return nullptr;
  for (const Interned& e : it->second) {
    if (e.pcs.size() == n && std::equal(pcs, pcs + n, e.pcs.begin())) return e.site;
  }
  return nullptr;
}

race::CallSitePtr CallSites::Resolve(const uint32_t* pcs, size_t n) {
  const uint64_t hash = Hash(pcs, n);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (race::CallSitePtr site = FindLocked(hash, pcs, n)) return site;
  }
  race::CallSitePtr fresh = Symbolize(pcs, n);
  if (fresh == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  if (race::CallSitePtr site = FindLocked(hash, pcs, n)) return site;  // another thread's
  if (interned_ >= kMaxInterned) return fresh;
  by_hash_[hash].push_back(Interned{std::vector<uint32_t>(pcs, pcs + n), fresh});
  ++interned_;
  return fresh;
}

size_t CallSites::interned() {
  std::lock_guard<std::mutex> lock(mu_);
  return interned_;
}

bool CallSites::has_dwarf() {
  std::lock_guard<std::mutex> lock(dwarf_mu_);
  return !dwarf_bytes_.empty() || dwarf_ != nullptr;
}

race::CallSitePtr CallSites::Symbolize(const uint32_t* pcs, size_t n) {
  auto site = std::make_shared<race::CallSite>();
  site->module = m_.name;
  for (size_t i = 0; i < n; ++i) {
    const std::optional<CallPoint> point = m_.call_map.Find(pcs[i]);
    if (!point || point->func >= m_.first_internal_func) continue;
    AppendFrames(*point, &site->frames);
  }
  if (site->frames.empty()) return nullptr;
  return site;
}

// The frames of one physical guest frame: DWARF's chain when it has one,
// else the name section's name alone.
void CallSites::AppendFrames(const CallPoint& point, std::vector<race::Frame>* out) {
  std::vector<race::Frame> frames;
  if (point.offset != 0) frames = DwarfFrames(point.offset);
  if (frames.empty()) {
    race::Frame f;
    f.function = FunctionName(m_, point.func);
    out->push_back(std::move(f));
    return;
  }
  race::Frame& physical = frames.back();
  const bool has_symbol = point.func < m_.func_names.size() && !m_.func_names[point.func].empty();
  const bool use_symbol =
      !IsMangled(physical.function) && (has_symbol || physical.function.empty());
  for (race::Frame& f : frames) f.function = f.function.empty() ? "??" : ReadableName(f.function);
  if (use_symbol) physical.function = FunctionName(m_, point.func);
  for (race::Frame& f : frames) out->push_back(std::move(f));
}

std::vector<race::Frame> CallSites::DwarfFrames(uint32_t offset) {
  std::lock_guard<std::mutex> lock(dwarf_mu_);
  if (!dwarf_bytes_.empty()) {
    dwarf_ = Dwarf::Open(std::move(dwarf_bytes_));
    dwarf_bytes_.clear();
    dwarf_bytes_.shrink_to_fit();
  }
  if (dwarf_ == nullptr) return {};
  return dwarf_->Symbolize(offset);
}

}  // namespace edgelab::engine
