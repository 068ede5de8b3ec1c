// race/detector.cc: the lost-update and unprotected read-modify-write
// detectors, their grouping and their reports. Workload: every KV operation
// of a loaded run (up to ~10^6 a second over all loops), so the hot path is
// one lock and one or two hash lookups; text is made only for a new group,
// outside the lock.
#include "race/detector.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "race/escape.h"
#include "race/recent.h"

namespace edgelab::race {
namespace {

constexpr size_t kKeptBytes = 256;  // of a value, in an Access
constexpr size_t kShownBytes = 64;  // of a value, in the text

// One string per (namespace, key); the length prefix keeps ("a", "b:c") and
// ("a:b", "c") apart.
std::string SlotKey(std::string_view space, std::string_view key) {
  return std::to_string(space.size()) + ":" + std::string(space) + std::string(key);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A token (a run of letters and digits) that is an id rather than a name:
// it holds a digit ("17", "v2", "0a1b2c3d"), or is long hex without one.
bool IsIdToken(std::string_view t) {
  bool digit = false, hex = true;
  for (char c : t) {
    digit |= IsDigit(c);
    hex &= IsHex(c);
  }
  return digit || (hex && t.size() >= 16);
}

std::string KeyPattern(std::string_view key) {
  std::string out;
  size_t i = 0;
  while (i < key.size()) {
    if (!IsAlnum(key[i])) {
      out += key[i++];
      continue;
    }
    size_t end = i;
    while (end < key.size() && IsAlnum(key[end])) ++end;
    std::string_view token = key.substr(i, end - i);
    if (IsIdToken(token)) {
      out += '*';
    } else {
      out += token;
    }
    i = end;
  }
  return out;
}

std::string Kept(std::string_view v) {
  if (v.size() <= kKeptBytes) return std::string(v);
  return std::string(v.substr(0, kKeptBytes)) + "...";
}

// What a request last read of one key.
struct ReadRecord {
  std::string value;  // Kept()
  uint64_t value_size = 0;
  std::string etag;
  bool found = false;
  int64_t time_ns = 0;
  CallSitePtr site;
  // The etag the request last knew the key by: the one read, then its own
  // later write's (or "" after its own delete).
  std::string known_etag;
};

struct RequestState {
  std::shared_ptr<const RequestInfo> info;
  std::unordered_map<std::string, ReadRecord> reads;  // by SlotKey
};

// A write that stored, remembered to name it when a later write erases it.
struct WriteRecord {
  std::shared_ptr<const RequestInfo> request;  // shared by the request's writes
  std::string value;                           // Kept()
  uint64_t value_size = 0;
  std::string etag;
  int64_t time_ns = 0;
  CallSitePtr site;
};

struct GroupKey {
  Report::Kind kind;
  std::string space;
  std::string pattern;
  const CallSite* read;
  const CallSite* write;
  const CallSite* overwritten;

  bool operator<(const GroupKey& o) const {
    return std::tie(kind, space, pattern, read, write, overwritten) <
           std::tie(o.kind, o.space, o.pattern, o.read, o.write, o.overwritten);
  }
};

GroupKey KeyOf(Report::Kind kind, const Op& op, const CallSite* read, const CallSite* overwritten) {
  return GroupKey{kind, std::string(op.space), KeyPattern(op.key),
                  read, op.site.get(),         overwritten};
}

GroupKey KeyOf(const Report& r) {
  return GroupKey{r.kind,
                  r.write.space,
                  r.key_pattern,
                  r.read.site.get(),
                  r.write.site.get(),
                  r.overwritten_known ? r.overwritten.site.get() : nullptr};
}

Access AccessOf(const Op& op, const RequestInfo& request) {
  Access a;
  a.request = request;
  a.key = std::string(op.key);
  a.space = std::string(op.space);
  return a;
}

Access FromRead(const Op& op, const RequestInfo& request, const ReadRecord& rd) {
  Access a = AccessOf(op, request);
  a.value = rd.value;
  a.value_size = rd.value_size;
  a.etag = rd.etag;
  a.found = rd.found;
  a.time_ns = rd.time_ns;
  a.site = rd.site;
  return a;
}

Access FromWrite(const Op& op, const RequestInfo& request) {
  Access a = AccessOf(op, request);
  a.value = Kept(op.value);
  a.value_size = op.value.size();
  a.etag = std::string(op.etag);
  a.time_ns = op.start_ns;
  a.site = op.site;
  return a;
}

Access FromRecord(const Op& op, const WriteRecord& w) {
  Access a = AccessOf(op, *w.request);
  a.value = w.value;
  a.value_size = w.value_size;
  a.etag = w.etag;
  a.time_ns = w.time_ns;
  a.site = w.site;
  return a;
}

// A lost update waiting for the Complete of the write it erased.
struct Parked {
  Report report;  // overwritten.etag is the etag awaited
  std::string slot;
  int64_t since_ns = 0;  // the erasing write's end
};

// How long a lost update waits for the overwritten write's Complete: far
// longer than the microseconds the two race by, far shorter than a run.
constexpr int64_t kParkNs = 100'000'000;
// Beyond this many waiting, a lost update is reported at once, as unknown.
constexpr size_t kMaxParked = 1024;
constexpr int64_t kNoOrigin = std::numeric_limits<int64_t>::min();

using Fresh = std::vector<ReportGroup>;  // new groups' first reports, to announce

Report Rmw(const Op& op, const RequestInfo& request, const ReadRecord& rd) {
  return Report{Report::Kind::kUnprotectedRmw, KeyPattern(op.key), FromRead(op, request, rd),
                FromWrite(op, request),        Access{},           false};
}

// `w` is the overwritten write, null when it was not observed.
Report MakeLostUpdate(const Op& op, const RequestInfo& request, const ReadRecord& rd,
                      const WriteRecord* w) {
  Report r{Report::Kind::kLostUpdate, KeyPattern(op.key), FromRead(op, request, rd),
           FromWrite(op, request),    Access{},           w != nullptr};
  if (w != nullptr) {
    r.overwritten = FromRecord(op, *w);
  } else {
    r.overwritten.key = std::string(op.key);
    r.overwritten.space = std::string(op.space);
    r.overwritten.etag = std::string(*op.previous_etag);
    r.overwritten.found = false;
  }
  return r;
}

// --- Text -------------------------------------------------------------------

std::string QuotedKey(std::string_view key) { return "\"" + Escaped(key) + "\""; }

// "value", cut at kShownBytes: "first 64 bytes"... (300 bytes).
std::string QuotedValue(const Access& a) {
  std::string_view v = a.value;
  std::string out = "\"" + Escaped(v.substr(0, std::min(v.size(), kShownBytes))) + "\"";
  if (a.value_size > kShownBytes) out += "... (" + std::to_string(a.value_size) + " bytes)";
  return out;
}

std::string Millis(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

// "request 42 (GET /, isolate 3)"; a Durable Object turn names its object.
std::string Who(const RequestInfo& r) {
  std::string s = "request " + std::to_string(r.id) + " (";
  if (!r.object.empty()) s += "object " + r.object + ", ";
  if (!r.method.empty() || !r.path.empty()) s += r.method + " " + r.path + ", ";
  return s + "isolate " + std::to_string(r.isolate) + ")";
}

std::string Relative(const std::string& path, const std::string& base) {
  if (base.empty() || path.size() <= base.size() + 1) return path;
  if (path.compare(0, base.size(), base) != 0 || path[base.size()] != '/') return path;
  return path.substr(base.size() + 1);
}

// "file:line:col" (as much as is known), or "(module)" without DWARF, as
// ThreadSanitizer prints "(binary+0x...)".
std::string Location(const Frame& f, const std::string& module, const std::string& base) {
  if (f.file.empty()) return "(" + Relative(module, base) + ")";
  std::string s = Relative(f.file, base);
  if (f.line != 0) s += ":" + std::to_string(f.line);
  if (f.line != 0 && f.column != 0) s += ":" + std::to_string(f.column);
  return s;
}

std::string FunctionName(const Frame& f) { return f.function.empty() ? "<unknown>" : f.function; }

std::string Frames(const CallSitePtr& site, const std::string& base) {
  if (site == nullptr || site->frames.empty()) {
    return "    <no call site: the operation was made outside a guest call>\n";
  }
  std::string out;
  for (size_t i = 0; i < site->frames.size(); ++i) {
    const Frame& f = site->frames[i];
    out += "    #" + std::to_string(i) + " " + FunctionName(f) + " " +
           Location(f, site->module, base) + (f.inlined ? " [inlined]" : "") + "\n";
  }
  return out;
}

bool IsSdk(const Frame& f) {
  size_t slash = f.file.find_last_of('/');
  std::string_view name =
      std::string_view(f.file).substr(slash == std::string::npos ? 0 : slash + 1);
  return name == "edgelab.hpp" || name == "edgelab.h";
}

// The function without its parameters and without "(anonymous namespace)::",
// as a person names it: "(anonymous namespace)::Handle(edgelab::Request
// const&)" -> "Handle".
std::string ShortFunction(std::string f) {
  static constexpr std::string_view kAnon = "(anonymous namespace)::";
  for (size_t at; (at = f.find(kAnon)) != std::string::npos;) f.erase(at, kAnon.size());
  int depth = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '<') ++depth;
    if (f[i] == '>') --depth;
    if (f[i] == '(' && depth == 0 && i > 0) return f.substr(0, i);
  }
  return f;
}

// " at file:line in f" for the first frame outside the SDK (frame 0 when all
// are SDK), " in f" without file info, "" without a site.
std::string SummaryWhere(const CallSitePtr& site, const std::string& base) {
  if (site == nullptr || site->frames.empty()) return "";
  const Frame* user = &site->frames[0];
  for (const Frame& f : site->frames) {
    if (!IsSdk(f)) {
      user = &f;
      break;
    }
  }
  std::string s;
  if (!user->file.empty()) {
    s = " at " + Relative(user->file, base);
    if (user->line != 0) s += ":" + std::to_string(user->line);
  }
  return s + " in " + ShortFunction(FunctionName(*user));
}

std::string Title(const Report& r) {
  return std::string(r.kind == Report::Kind::kLostUpdate ? "lost update on"
                                                         : "unprotected read-modify-write of") +
         " KV key " + QuotedKey(r.write.key);
}

// What the text needs besides the report.
struct TextOpts {
  const std::string& base;  // Options::base_dir
  int64_t origin_ns;        // times are printed from here
};

std::string At(const TextOpts& t, int64_t ns) {
  return Millis(t.origin_ns == kNoOrigin ? ns : ns - t.origin_ns);
}

// "had read "6" (etag E)" or "had read the key as absent".
std::string HadRead(const Access& read) {
  if (!read.found) return "had read the key as absent";
  return "had read " + QuotedValue(read) + " (etag " + read.etag + ")";
}

std::string OverwrittenText(const Report& r, const TextOpts& t) {
  const Access& o = r.overwritten;
  if (r.overwritten_known) {
    return "  erased the write of " + QuotedValue(o) + " by " + Who(o.request) + " at " +
           At(t, o.time_ns) + " (etag " + o.etag + "):\n" + Frames(o.site, t.base);
  }
  return "  erased a write of etag " + o.etag +
         " that was not observed (made before the detector started, by another process, or "
         "no longer remembered)\n";
}

constexpr std::string_view kFix =
    "  Fix: write with if_match (the etag read) and retry when the precondition fails "
    "(examples/counter-cas), or keep the key in a Durable Object (examples/counter-do).\n";

std::string ReadText(const Report& r, const TextOpts& t, std::string_view after) {
  return "  Request " + std::to_string(r.read.request.id) + " " + HadRead(r.read) + " at " +
         At(t, r.read.time_ns) + std::string(after) + ":\n" + Frames(r.read.site, t.base);
}

std::string LostUpdateBody(const Report& r, const TextOpts& t) {
  const Access& w = r.write;
  std::string s = "  Write of " + QuotedValue(w) + " by " + Who(w.request) + " at " +
                  At(t, w.time_ns) + " (new etag " + w.etag + "):\n" + Frames(w.site, t.base);
  s += OverwrittenText(r, t);
  s += ReadText(r, t, ", and wrote without checking it still held that");
  return s + std::string(kFix);
}

std::string RmwBody(const Report& r, const TextOpts& t) {
  const Access& w = r.write;
  std::string s = "  Unconditional write of " + QuotedValue(w) + " by " + Who(w.request) + " at " +
                  At(t, w.time_ns) + ":\n" + Frames(w.site, t.base);
  s += ReadText(r, t, "");
  s += "  Nothing checks that the key still holds what was read: another request that runs "
       "between this read and write loses its update. (Found without any interleaving: the bug "
       "is there at concurrency 1.)\n";
  return s + std::string(kFix);
}

// --- JSON -------------------------------------------------------------------

nlohmann::ordered_json FramesJson(const CallSitePtr& site) {
  nlohmann::ordered_json frames = nlohmann::ordered_json::array();
  if (site == nullptr) return frames;
  for (const Frame& f : site->frames) {
    frames.push_back({{"function", f.function},
                      {"file", f.file},
                      {"line", f.line},
                      {"column", f.column},
                      {"inlined", f.inlined}});
  }
  return frames;
}

nlohmann::ordered_json AccessJson(const Access& a) {
  return {{"request", a.request.id},
          {"isolate", a.request.isolate},
          {"method", a.request.method},
          {"path", a.request.path},
          {"object", a.request.object},
          {"key", a.key},
          {"value", a.value},
          {"value_size", a.value_size},
          {"etag", a.etag},
          {"found", a.found},
          {"time_ns", a.time_ns},
          {"module", a.site == nullptr ? "" : a.site->module},
          {"frames", FramesJson(a.site)}};
}

}  // namespace

struct Detector::State {
  std::mutex mu;  // guards every field but print_mu and origin_ns
  std::unordered_map<uint64_t, RequestState> requests;
  // Per key only writes that stored; values are Kept(), so the byte bound is
  // the entry bound's business.
  RecentByKey<WriteRecord> writes{kRecentWrites, kRecentWritesTotal, SIZE_MAX};
  std::vector<Parked> parked;  // oldest first
  std::vector<ReportGroup> groups;
  std::map<GroupKey, size_t> index;  // into groups
  uint64_t total = 0;
  uint64_t ungrouped = 0;  // reports past kMaxGroups: counted, not kept

  // Scheduler time of the first operation seen: the text's times count from
  // it. Written once under mu, read by Format without it.
  std::atomic<int64_t> origin_ns{kNoOrigin};

  // Serializes on_new_group, so texts never interleave; taken without mu so
  // a slow printer never blocks the operations being observed.
  std::mutex print_mu;

  RequestState& Request(const RequestInfo& info);
  void Read(RequestState& r, const std::string& slot, const Op& op);
  void Write(RequestState& r, const std::string& slot, const Op& op, const Options& opts,
             Fresh* fresh);
  void LostUpdate(const RequestState& r, const ReadRecord& rd, const std::string& slot,
                  const Op& op, Fresh* fresh);
  void Unpark(const std::string& slot, const WriteRecord& w, const Op& op, Fresh* fresh);
  // Reports parked lost updates as unknown: those parked before `now_ns`
  // minus kParkNs, or all.
  void Expire(int64_t now_ns, Fresh* fresh);
  void ExpireAll(Fresh* fresh);
  // Counts a report into the group `key`; only a new group's first report is
  // made (make() -> Report), so a report merged into its group costs no copy.
  template <typename Make>
  void Add(GroupKey key, Make make, Fresh* fresh);
};

template <typename Make>
void Detector::State::Add(GroupKey key, Make make, Fresh* fresh) {
  ++total;
  auto [it, inserted] = index.try_emplace(std::move(key), groups.size());
  if (!inserted) {
    ++groups[it->second].count;
    return;
  }
  if (groups.size() >= kMaxGroups) {
    index.erase(it);
    ++ungrouped;
    return;
  }
  groups.push_back(ReportGroup{make(), 1});
  fresh->push_back(groups.back());
}

RequestState& Detector::State::Request(const RequestInfo& info) {
  RequestState& r = requests[info.id];
  if (r.info == nullptr) r.info = std::make_shared<const RequestInfo>(info);
  return r;
}

void Detector::State::Read(RequestState& r, const std::string& slot, const Op& op) {
  ReadRecord& rd = r.reads[slot];
  rd.found = op.found;
  rd.value = Kept(op.value);
  rd.value_size = op.value.size();
  rd.etag = op.found ? std::string(op.etag) : std::string();
  rd.known_etag = rd.etag;
  rd.time_ns = op.start_ns;
  rd.site = op.site;
}

void Detector::State::Write(RequestState& r, const std::string& slot, const Op& op,
                            const Options& opts, Fresh* fresh) {
  auto read = r.reads.find(slot);
  if (read != r.reads.end() && op.condition == Op::Condition::kNone) {
    const ReadRecord& rd = read->second;
    // previous_etag "" after a read that found the key: a delete or an
    // expiry came between, not a write; deletes are not writes here.
    if (opts.lost_updates && op.previous_etag && !op.previous_etag->empty() &&
        *op.previous_etag != rd.known_etag) {
      LostUpdate(r, rd, slot, op, fresh);
    }
    if (opts.predictive) {
      Add(
          KeyOf(Report::Kind::kUnprotectedRmw, op, rd.site.get(), nullptr),
          [&] { return Rmw(op, *r.info, rd); }, fresh);
    }
  }
  if (read != r.reads.end()) read->second.known_etag = std::string(op.etag);
  // Remembered after the check, so a write never finds itself as the one it
  // overwrote.
  WriteRecord w{r.info,      Kept(op.value), op.value.size(), std::string(op.etag),
                op.start_ns, op.site};
  if (!parked.empty()) Unpark(slot, w, op, fresh);
  writes.Add(slot, std::move(w), 0);
}

// The overwritten write is usually remembered already; when its Complete has
// not arrived yet (it raced this one's across loop threads) the report waits
// for it, up to kParkNs of scheduler time.
void Detector::State::LostUpdate(const RequestState& r, const ReadRecord& rd,
                                 const std::string& slot, const Op& op, Fresh* fresh) {
  const std::string_view previous = *op.previous_etag;
  const WriteRecord* w =
      writes.FindNewest(slot, [&](const WriteRecord& c) { return c.etag == previous; });
  if (w == nullptr && !previous.empty() && parked.size() < kMaxParked) {
    parked.push_back(Parked{MakeLostUpdate(op, *r.info, rd, nullptr), slot, op.end_ns});
    return;
  }
  Add(
      KeyOf(Report::Kind::kLostUpdate, op, rd.site.get(), w ? w->site.get() : nullptr),
      [&] { return MakeLostUpdate(op, *r.info, rd, w); }, fresh);
}

void Detector::State::Unpark(const std::string& slot, const WriteRecord& w, const Op& op,
                             Fresh* fresh) {
  for (auto it = parked.begin(); it != parked.end();) {
    if (it->slot != slot || it->report.overwritten.etag != w.etag) {
      ++it;
      continue;
    }
    Report report = std::move(it->report);
    it = parked.erase(it);
    report.overwritten = FromRecord(op, w);
    report.overwritten_known = true;
    Add(
        KeyOf(report), [&] { return std::move(report); }, fresh);
  }
}

void Detector::State::Expire(int64_t now_ns, Fresh* fresh) {
  while (!parked.empty() && now_ns - parked.front().since_ns > kParkNs) {
    Report report = std::move(parked.front().report);
    parked.erase(parked.begin());
    Add(
        KeyOf(report), [&] { return std::move(report); }, fresh);
  }
}

void Detector::State::ExpireAll(Fresh* fresh) {
  Expire(std::numeric_limits<int64_t>::max(), fresh);
}

namespace {

// base_dir defaulted to the working directory, without a trailing '/' ("/"
// itself becomes "": nothing is shortened against it).
Detector::Options WithBaseDir(Detector::Options opts) {
  std::string& dir = opts.base_dir;
  if (dir.empty()) {
    std::error_code ec;
    dir = std::filesystem::current_path(ec).string();  // "" on error: paths stay as written
  }
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  return opts;
}

}  // namespace

Detector::Detector(Options opts)
    : opts_(WithBaseDir(std::move(opts))), state_(std::make_unique<State>()) {}

Detector::~Detector() = default;

// The detector needs outcomes only: a read that failed tells nothing, and a
// write counts once it stored.
void Detector::Invoke(const Op&) {}

void Detector::Complete(const Op& op) {
  if (op.store != Op::Store::kKv || op.outcome != Op::Outcome::kOk) return;
  if (op.kind == Op::Kind::kList) return;
  Fresh fresh;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->origin_ns.load() == kNoOrigin) state_->origin_ns.store(op.start_ns);
    if (!state_->parked.empty()) state_->Expire(op.end_ns, &fresh);
    RequestState& r = state_->Request(*op.request);
    const std::string slot = SlotKey(op.space, op.key);
    if (op.kind == Op::Kind::kRead) {
      state_->Read(r, slot, op);
    } else if (op.kind == Op::Kind::kWrite) {
      state_->Write(r, slot, op, opts_, &fresh);
    } else if (auto it = r.reads.find(slot); it != r.reads.end()) {
      it->second.known_etag.clear();  // its own delete: the key is absent as far as it knows
    }
  }
  Announce(fresh);
}

void Detector::Announce(const std::vector<ReportGroup>& fresh) const {
  if (fresh.empty() || !opts_.on_new_group) return;
  for (const ReportGroup& g : fresh) {
    std::string text = Format(g);
    std::lock_guard<std::mutex> lock(state_->print_mu);
    opts_.on_new_group(text);
  }
}

// Whoever asks for the reports gets the waiting lost updates too.
void Detector::Settle() const {
  Fresh fresh;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->ExpireAll(&fresh);
  }
  Announce(fresh);
}

void Detector::End(const RequestInfo& request, bool) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->requests.erase(request.id);
}

std::vector<ReportGroup> Detector::Groups() const {
  Settle();
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->groups;
}

uint64_t Detector::total() const {
  Settle();
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->total;
}

size_t Detector::tracked_requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->requests.size();
}

size_t Detector::tracked_keys() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->writes.keys();
}

std::string Detector::SummaryLine(const ReportGroup& g) const {
  const Report& r = g.first;
  return Title(r) + " in worker " + r.write.request.worker +
         SummaryWhere(r.write.site, opts_.base_dir);
}

std::string Detector::Format(const ReportGroup& g) const {
  const Report& r = g.first;
  const TextOpts t{opts_.base_dir, state_->origin_ns.load()};
  std::string s = "==================\n";
  s += "WARNING: edgelab: " + Title(r) + " (namespace " + r.write.space + ") in worker " +
       r.write.request.worker + "\n";
  s += r.kind == Report::Kind::kLostUpdate ? LostUpdateBody(r, t) : RmwBody(r, t);
  if (g.count > 1) {
    s += "  Seen " + std::to_string(g.count) + " times at these sites";
    s += r.key_pattern == r.write.key ? ".\n" : ", keys like " + QuotedKey(r.key_pattern) + ".\n";
  }
  s += "SUMMARY: edgelab: " + SummaryLine(g) + "\n";
  return s + "==================\n";
}

std::string Detector::Summary() const {
  Settle();
  std::vector<ReportGroup> groups;
  uint64_t total = 0, ungrouped = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    groups = state_->groups;
    total = state_->total;
    ungrouped = state_->ungrouped;
  }
  std::string s;
  for (const ReportGroup& g : groups) s += Format(g);
  if (groups.empty()) return s + "edgelab: no races found\n";
  std::string more;
  if (ungrouped > 0) {
    more = " (and " + std::to_string(ungrouped) + " more in groups past the first " +
           std::to_string(kMaxGroups) + ", not kept)";
  }
  return s + "edgelab: " + std::to_string(total) + (total == 1 ? " report" : " reports") + " in " +
         std::to_string(groups.size()) + (groups.size() == 1 ? " group" : " groups") + more + "\n";
}

std::string Detector::Json() const {
  Settle();
  std::vector<ReportGroup> groups;
  uint64_t total = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    groups = state_->groups;
    total = state_->total;
  }
  nlohmann::ordered_json out = {{"schema", "edgelab-race/1"}, {"total", total}};
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ReportGroup& g : groups) {
    const Report& r = g.first;
    const bool lost = r.kind == Report::Kind::kLostUpdate;
    nlohmann::ordered_json j = {{"kind", lost ? "lost-update" : "unprotected-rmw"},
                                {"count", g.count},
                                {"key", r.write.key},
                                {"key_pattern", r.key_pattern},
                                {"namespace", r.write.space},
                                {"worker", r.write.request.worker},
                                {"read", AccessJson(r.read)},
                                {"write", AccessJson(r.write)}};
    if (lost) {
      j["overwritten"] = AccessJson(r.overwritten);
      j["overwritten_known"] = r.overwritten_known;
    }
    j["text"] = Format(g);
    list.push_back(std::move(j));
  }
  out["groups"] = std::move(list);
  return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace edgelab::race
