// sim/simulation.cc: one schedule: build the runtime on a SimScheduler, drive
// the scenario's requests through Runtime::Handle (no HTTP), then check the
// invariants (see simulation.h).
#include "sim/simulation.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>

#include "abi/context.h"
#include "base/fnv.h"
#include "check/history.h"
#include "check/linearizable.h"
#include "engine/engine.h"
#include "kv/memory_store.h"
#include "objects/backend.h"
#include "race/detector.h"
#include "race/history.h"
#include "runtime/log.h"
#include "runtime/runtime.h"
#include "sim/trace.h"

namespace edgelab::sim {
namespace {

// Every observer of a schedule, in one.
class Fanout final : public race::Observer {
 public:
  explicit Fanout(std::vector<race::Observer*> all) : all_(std::move(all)) {}
  void Begin(const race::RequestInfo& r) override {
    for (auto* o : all_) o->Begin(r);
  }
  void Invoke(const race::Op& op) override {
    for (auto* o : all_) o->Invoke(op);
  }
  void Complete(const race::Op& op) override {
    for (auto* o : all_) o->Complete(op);
  }
  void End(const race::RequestInfo& r, bool finished) override {
    for (auto* o : all_) o->End(r, finished);
  }

 private:
  const std::vector<race::Observer*> all_;
};

// The checker's budget, in polls (one per 4096 search steps): a history it
// cannot decide within ~400M steps is "undecided", the same on every replay
// (a wall-clock limit would make the verdict depend on the machine).
constexpr uint64_t kCheckPolls = 100'000;

// Histories longer than this are not checked: the search keeps every
// configuration, and 50,000 operations on one key took 5 GB (a review).
constexpr size_t kMaxCheckedOps = 20'000;

// Lines of the focus shown whole; past it, the first and last halves.
constexpr size_t kFocusLines = 80;

std::optional<int64_t> ParseInt(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string Clip(std::string_view s, size_t n) {
  std::string out;
  for (char c : s.substr(0, n)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > n) out += "...";
  return out;
}

// The lines of `trace` by the requests in `ids` (all lines when empty),
// clipped to kFocusLines.
std::vector<std::string> Focus(const std::vector<TraceLine>& trace, const std::set<uint64_t>& ids) {
  std::vector<std::string> picked;
  for (const TraceLine& l : trace) {
    if (ids.empty() || ids.count(l.request) != 0) picked.push_back(l.text);
  }
  if (picked.size() <= kFocusLines) return picked;
  std::vector<std::string> out(picked.begin(), picked.begin() + kFocusLines / 2);
  out.push_back("       ... " + std::to_string(picked.size() - kFocusLines) + " lines ...");
  out.insert(out.end(), picked.end() - kFocusLines / 2, picked.end());
  return out;
}

// The counter invariant: `verify` (the answer to GET `path`) is a number
// equal to the requests answered 2xx. Nothing when it holds.
std::optional<Violation> CounterViolation(const std::string& path, const abi::Response& verify,
                                          uint64_t ok_2xx) {
  std::optional<int64_t> value = ParseInt(verify.body);
  if (verify.status < 200 || verify.status >= 300 || !value) {
    return Violation{"counter", "GET " + path + " answered " + std::to_string(verify.status) +
                                    " \"" + Clip(verify.body, 60) + "\", not a number"};
  }
  if (*value == static_cast<int64_t>(ok_2xx)) return std::nullopt;
  const int64_t lost = static_cast<int64_t>(ok_2xx) - *value;
  const std::string why =
      lost > 0 ? std::to_string(lost) + (lost == 1 ? " increment lost" : " increments lost")
               : std::to_string(-lost) + " more than were answered";
  return Violation{"counter", path + " is " + std::to_string(*value) + " after " +
                                  std::to_string(ok_2xx) + " requests answered 2xx (" + why + ")"};
}

// The race invariant: a violation listing the detector's groups (at most
// five), the report shown in full (a lost update before a prediction, which
// one request makes on its own) and its requests in `focus`.
void CheckRaces(const race::Detector& detector, ScheduleResult* result, std::set<uint64_t>* focus) {
  std::vector<race::ReportGroup> groups = detector.Groups();
  if (groups.empty()) return;
  std::string detail;
  for (size_t i = 0; i < groups.size() && i < 5; ++i) {
    if (!detail.empty()) detail += "\n";
    detail += detector.SummaryLine(groups[i]) + " (x" + std::to_string(groups[i].count) + ")";
  }
  if (groups.size() > 5) detail += "\n... " + std::to_string(groups.size() - 5) + " more groups";
  result->violations.push_back({"race", detail});
  auto shown = std::find_if(groups.begin(), groups.end(), [](const race::ReportGroup& g) {
    return g.first.kind == race::Report::Kind::kLostUpdate;
  });
  if (shown == groups.end()) shown = groups.begin();
  result->race_report = detector.Format(*shown);
  const race::Report& r = shown->first;
  *focus = {r.read.request.id, r.write.request.id};
  if (r.kind == race::Report::Kind::kLostUpdate && r.overwritten_known) {
    focus->insert(r.overwritten.request.id);
  }
}

// The linearizability invariant over result->history. When nothing has set
// `focus` yet, the first violation's requests go there (the stuck operation
// and the last three it could not follow).
Status CheckHistory(ScheduleResult* result, std::set<uint64_t>* focus) {
  Result<check::History> h = check::ParseHistory(result->history);
  if (!h.ok()) {
    return Status::Corruption("the recorded history does not parse: " + h.status().ToString());
  }
  if (h->ops.size() > kMaxCheckedOps) {
    result->notes.push_back(
        "linearizability not checked: the history has " + std::to_string(h->ops.size()) +
        " operations, past " + std::to_string(kMaxCheckedOps) +
        " (the check's memory grows faster than the history): run fewer requests per "
        "schedule and more schedules, or pass --no-linearizability");
    return Status::OK();
  }
  uint64_t polls = 0;
  EDGELAB_ASSIGN_OR_RETURN(check::CheckResult checked,
                           check::CheckLinearizable(*h, check::AutoModel(*h),
                                                    [&polls] { return ++polls > kCheckPolls; }));
  auto add = [&](size_t op) {
    const std::string& p = h->ops[op].process;
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), id);
    if (ec == std::errc() && end == p.data() + p.size()) focus->insert(id);
  };
  std::string detail;
  for (const check::KeyResult& k : checked.keys) {
    if (k.verdict == check::Verdict::kLinearizable) continue;
    if (!detail.empty()) detail += "\n";
    detail += "key " + k.key + ": " + check::VerdictName(k.verdict) + ": " + k.explanation;
    if (k.verdict == check::Verdict::kNotLinearizable && focus->empty()) {
      add(k.stuck);
      for (size_t i = k.prefix.size() >= 3 ? k.prefix.size() - 3 : 0; i < k.prefix.size(); ++i) {
        add(k.prefix[i]);
      }
    }
  }
  if (checked.verdict == check::Verdict::kNotLinearizable) {
    detail += "\n(pN is request #N; events and lines are the history's: --history FILE)";
    result->violations.push_back({"linearizable", detail});
  } else if (checked.verdict == check::Verdict::kUnknown) {
    result->notes.push_back("linearizability undecided within the check's budget: " + detail);
  }
  return Status::OK();
}

}  // namespace

Simulation::Simulation(runtime::Config config, Scenario scenario)
    : config_(std::move(config)), scenario_(std::move(scenario)) {}

Simulation::~Simulation() = default;

Result<std::shared_ptr<const engine::Module>> Simulation::Module(
    const std::string& path, const std::vector<std::string>& required, bool call_sites) {
  std::string key = path + (call_sites ? "\n+sites" : "\n-sites");
  for (const auto& r : required) key += "\n" + r;
  auto it = modules_.find(key);
  if (it != modules_.end()) return it->second;
  engine::LoadOptions options;
  options.call_sites = call_sites;
  EDGELAB_ASSIGN_OR_RETURN(auto module, engine::Module::Load(path, required, options));
  modules_.emplace(key, module);
  return module;
}

Result<ScheduleResult> Simulation::Run(const ScheduleOptions& o) {
  const Scenario& sc = scenario_;
  ScheduleResult result;
  result.seed = o.seed;

  sched::SimOptions so;
  so.seed = o.seed;
  so.strategy = o.strategy;
  so.pct_depth = o.pct_depth;
  // PCT's k: about eight steps a request (its fiber's start, a yield before
  // every KV operation, waits for an isolate); a function of the inputs
  // only, so a replay draws the same change points.
  so.pct_steps = std::max<uint64_t>(1, (sc.requests + 1) * 8);
  so.max_steps = o.max_steps;
  auto sim = std::make_unique<sched::SimScheduler>(so);
  sched::SimLoops loops(sim.get());
  // The etag epoch from the seed: the same etags on every replay.
  kv::MemoryStore store(sim.get(), static_cast<uint32_t>(sim->Random()));
  objects::MemoryBackend objects;

  // Guest and runtime log lines of a schedule are dropped: 1,000 schedules
  // would print each a thousand times. (Access lines are off: quiet.)
  std::unique_ptr<FILE, int (*)(FILE*)> devnull(std::fopen("/dev/null", "w"), &std::fclose);
  if (devnull == nullptr) return Status::IOError("cannot open /dev/null");
  runtime::Log log(devnull.get(), /*quiet=*/true);

  race::Detector detector(race::Detector::Options{});
  std::unique_ptr<race::HistoryRecorder> history = race::HistoryRecorder::InMemory();
  Trace trace(sim.get());
  std::vector<race::Observer*> watching = {&detector, &trace};
  if (sc.linearizable) watching.push_back(history.get());  // else nothing reads it
  Fanout observers(std::move(watching));

  auto rt = std::make_unique<runtime::Runtime>(config_, &store, &objects, &loops, &log);
  // However Run returns: fibers still waiting (a deadlock, or a request cut
  // off by the step limit) are unwound while the runtime they point into
  // still exists, then the runtime goes, then the scheduler; everything
  // declared above outlives both.
  bool drained = false;
  struct Teardown {
    std::unique_ptr<sched::SimScheduler>& sim;
    std::unique_ptr<runtime::Runtime>& rt;
    const bool& drained;
    ~Teardown() {
      if (!drained) sim.reset();
      rt.reset();
      sim.reset();
    }
  } teardown{sim, rt, drained};
  rt->set_observer(&observers);
  rt->set_module_loader([this](const std::string& path, const std::vector<std::string>& required,
                               const engine::LoadOptions& options) {
    return Module(path, required, options.call_sites);
  });
  if (Status s = rt->Start(); !s.ok()) return s;

  // The closed loop: `concurrency` in flight; each answer sends the next.
  uint64_t answered = 0;
  std::function<void()> send = [&] {
    const uint64_t i = result.sent++;
    const RequestTemplate& t = sc.Pick(i);
    abi::Request req;
    req.method = t.method;
    req.url = t.path;
    req.body = t.body;
    if (!t.location.empty()) req.headers.emplace_back(config_.location_header, t.location);
    rt->Handle(0, std::move(req), [&](abi::Response r) {
      ++answered;
      if (r.status >= 200 && r.status < 300) ++result.ok_2xx;
      if (result.sent < sc.requests) send();
    });
  };
  for (uint32_t i = 0; i < sc.concurrency && result.sent < sc.requests; ++i) send();
  sched::SimScheduler::RunResult run = sim->RunUntil([&] { return answered == sc.requests; });
  result.answered = answered;

  std::optional<Violation> counter;
  bool verify_stuck = false;  // the verify request itself was never answered
  if (run == sched::SimScheduler::RunResult::kDone && !sc.verify_path.empty()) {
    bool got = false;
    abi::Response verify;
    // With caching locations the verify waits out the cache TTL (virtual
    // time) first: every location's cached copy has then expired and its
    // read reaches the origin, which holds every write. Else a stale cache
    // would report increments lost that were not.
    const int64_t settle_us = config_.locations.size() > 1 && config_.kv_cache_ttl_ms > 0
                                  ? config_.kv_cache_ttl_ms * 1000 + 1000
                                  : 0;
    sim->Spawn([&] {
      if (settle_us > 0) sim->SleepFor(settle_us);
      abi::Request req;
      req.url = sc.verify_path;
      rt->Handle(0, std::move(req), [&](abi::Response r) {
        verify = std::move(r);
        got = true;
      });
    });
    run = sim->RunUntil([&] { return got; });
    verify_stuck = !got;
    if (got) counter = CounterViolation(sc.verify_path, verify, result.ok_2xx);
  }
  const sched::SimScheduler::RunResult main_run = run;

  // Stop alarms and sweeps; whatever the requests left running ends now.
  rt->Shutdown();
  drained = main_run == sched::SimScheduler::RunResult::kDone && sim->RunUntil([&] {
    return sim->live_fibers() == 0;
  }) == sched::SimScheduler::RunResult::kDone;

  result.steps = sim->steps();
  result.virtual_us = sim->NowMicros();
  result.trace_hash = trace.Hash();
  FnvFold(result.trace_hash, sim->trace_hash());
  for (const TraceLine& l : trace.lines()) result.trace.push_back(l.text);

  std::set<uint64_t> focus_ids;  // the requests the first violation involves
  if (counter) result.violations.push_back(*counter);
  if (sc.races) CheckRaces(detector, &result, &focus_ids);
  if (Status s = history->Close(); !s.ok()) return s;
  if (sc.linearizable) {
    result.history = history->TakeText();
    EDGELAB_RETURN_IF_ERROR(CheckHistory(&result, &focus_ids));
  }
  if (main_run != sched::SimScheduler::RunResult::kDone) {
    // The scenario's requests, or (all of them answered) the verify request.
    const std::string stuck = verify_stuck
                                  ? "the verify request (GET " + sc.verify_path + ") was"
                                  : std::to_string(result.sent - answered) + " of " +
                                        std::to_string(result.sent) + " requests sent were";
    result.violations.push_back(
        {"progress", main_run == sched::SimScheduler::RunResult::kIdle
                         ? "deadlock: " + stuck + " never answered, and nothing was left to run"
                         : "livelock: " + stuck + " not answered after " +
                               std::to_string(result.steps) + " scheduler steps"});
  }
  if (result.failed()) {
    std::vector<TraceLine> lines = trace.lines();
    if (focus_ids.empty() && main_run != sched::SimScheduler::RunResult::kDone) {
      // A deadlock shows its end: what ran last.
      if (lines.size() > kFocusLines) lines.erase(lines.begin(), lines.end() - kFocusLines);
    }
    result.focus = Focus(lines, focus_ids);
  }

  return result;
}

}  // namespace edgelab::sim
