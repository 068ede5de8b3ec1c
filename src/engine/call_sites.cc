// engine/call_sites.cc: CallSites (see call_sites.h for the rules).
#include "engine/call_sites.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/dwarf.h"
#include "engine/module_impl.h"

namespace edgelab::engine {
namespace {

// `s` cut to CallSites::kMaxShownBytes (invariant (4)), marked "...".
std::string Shown(const std::string& s) {
  if (s.size() <= CallSites::kMaxShownBytes) return s;
  return s.substr(0, CallSites::kMaxShownBytes - 3) + "...";
}

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

// Fills a CallSites' table at its construction; owns the DWARF reader (and
// so the module's bytes) until then.
class CallSites::Builder {
 public:
  Builder(CallSites* out, std::vector<uint8_t> wasm) : out_(out) {
    if (Dwarf::Present(wasm)) dwarf_ = Dwarf::Open(std::move(wasm));
  }
  ~Builder() {
    if (dwarf_ != nullptr) out_->stats_.units_refused = dwarf_->units_refused();
  }

  // Adds the frames DWARF gives for the call at `point`, if any.
  void Add(const CallPoint& point) {
    const ModuleImpl& m = out_->m_;
    if (dwarf_ == nullptr || point.offset == 0 || point.func >= m.first_internal_func) return;
    if (out_->frames_.size() >= kMaxTableFrames) return;
    std::vector<race::Frame> frames = dwarf_->Symbolize(point.offset);
    if (frames.empty()) return;
    NameFrames(point.func, &frames);
    if (frames.size() > kMaxCallFrames) {  // keep the innermost and the physical frame
      frames.erase(frames.begin() + (kMaxCallFrames - 1), frames.end() - 1);
    }
    const Call call{point.offset, static_cast<uint32_t>(out_->frames_.size()),
                    static_cast<uint32_t>(frames.size())};
    for (const race::Frame& f : frames) {
      out_->frames_.push_back(
          StoredFrame{Intern(f.function), Intern(f.file), f.line, f.column, f.inlined});
    }
    out_->calls_.push_back(call);
    ++out_->stats_.dwarf_calls;
  }

 private:
  // Readable names for DWARF's frames of a call in function `func`.
  void NameFrames(uint32_t func, std::vector<race::Frame>* frames) const {
    const ModuleImpl& m = out_->m_;
    race::Frame& physical = frames->back();
    const bool has_symbol = func < m.func_names.size() && !m.func_names[func].empty();
    const bool use_symbol =
        !IsMangled(physical.function) && (has_symbol || physical.function.empty());
    for (race::Frame& f : *frames) {
      f.function = f.function.empty() ? "??" : ReadableName(f.function);
    }
    if (use_symbol) physical.function = FunctionName(m, func);
  }

  uint32_t Intern(const std::string& s) {
    auto [it, fresh] = index_.try_emplace(s, static_cast<uint32_t>(out_->strings_.size()));
    if (fresh) out_->strings_.push_back(s);
    return it->second;
  }

  CallSites* const out_;
  std::unique_ptr<Dwarf> dwarf_;
  std::unordered_map<std::string, uint32_t> index_;
};

CallSites::CallSites(const ModuleImpl& module, std::vector<uint8_t> wasm) : m_(module) {
  const std::vector<CallPoint> calls = m_.call_map.Calls();
  {
    Builder builder(this, std::move(wasm));
    for (const CallPoint& point : calls) builder.Add(point);
  }
  stats_.calls = calls.size();
  std::sort(calls_.begin(), calls_.end(),
            [](const Call& a, const Call& b) { return a.offset < b.offset; });
  strings_.shrink_to_fit();
  frames_.shrink_to_fit();
  calls_.shrink_to_fit();
  stats_.table_bytes = strings_.capacity() * sizeof(std::string) +
                       frames_.capacity() * sizeof(StoredFrame) + calls_.capacity() * sizeof(Call);
  for (const std::string& s : strings_) stats_.table_bytes += s.capacity() + 1;
}

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
  if (interned_ >= kMaxInterned) return InnermostLocked(pcs[0]);
  by_hash_[hash].push_back(Interned{std::vector<uint32_t>(pcs, pcs + n), fresh});
  ++interned_;
  return fresh;
}

race::CallSitePtr CallSites::InnermostLocked(uint32_t pc) {
  auto [it, inserted] = by_innermost_.try_emplace(pc);
  // Lookups in the fixed table only: cheap enough under mu_, and at most one
  // entry per pc the module can call from.
  if (inserted) it->second = Symbolize(&pc, 1);
  return it->second;
}

size_t CallSites::interned() {
  std::lock_guard<std::mutex> lock(mu_);
  return interned_;
}

race::CallSitePtr CallSites::Symbolize(const uint32_t* pcs, size_t n) const {
  auto site = std::make_shared<race::CallSite>();
  site->module = m_.name;
  for (size_t i = 0; i < n && site->frames.size() < kMaxSiteFrames; ++i) {
    const std::optional<CallPoint> point = m_.call_map.Find(pcs[i]);
    if (!point || point->func >= m_.first_internal_func) continue;
    AppendFrames(*point, &site->frames);
  }
  if (site->frames.size() > kMaxSiteFrames) site->frames.resize(kMaxSiteFrames);
  if (site->frames.empty()) return nullptr;
  return site;
}

// The frames of one physical guest frame: the table's when DWARF knew its
// call, else the name section's name alone.
void CallSites::AppendFrames(const CallPoint& point, std::vector<race::Frame>* out) const {
  auto call = std::lower_bound(calls_.begin(), calls_.end(), point.offset,
                               [](const Call& c, uint32_t offset) { return c.offset < offset; });
  if (point.offset == 0 || call == calls_.end() || call->offset != point.offset) {
    race::Frame f;
    f.function = Shown(FunctionName(m_, point.func));
    out->push_back(std::move(f));
    return;
  }
  for (uint32_t i = call->first; i < call->first + call->count; ++i) {
    const StoredFrame& s = frames_[i];
    out->push_back(race::Frame{Shown(strings_[s.function]), Shown(strings_[s.file]), s.line,
                               s.column, s.inlined});
  }
}

}  // namespace edgelab::engine
