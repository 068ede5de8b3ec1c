// cli/test_cmd.cc: `edgelab test edge.toml`: run a worker's requests under
// many seeded schedules (sim/simulation.h), stop at the first that breaks an
// invariant, print its seed and interleaving; `--replay SEED` runs that one
// schedule again, `--shrink` looks for fewer requests that still fail.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include "cli/commands.h"
#include "runtime/config.h"
#include "sched/process.h"
#include "sim/simulation.h"

namespace edgelab::cli {
namespace {

namespace fs = std::filesystem;

const char* StrategyName(sched::SimOptions::Strategy s) {
  return s == sched::SimOptions::Strategy::kPct ? "pct" : "random";
}

// `arg` as one shell word: unchanged when it is plain, else single-quoted.
std::string ShellWord(const std::string& arg) {
  const bool plain = !arg.empty() && arg.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-./=:@%+,") == std::string::npos;
  if (plain) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The command that replays `seed` (with `requests`/`concurrency` when they
// differ from the run's).
std::string ReplayCommand(const TestOptions& o, const sim::Scenario& sc, uint64_t seed) {
  std::string cmd = "edgelab test " + ShellWord(o.config);
  if (!o.scenario.empty()) cmd += " --scenario " + ShellWord(o.scenario);
  cmd += " -n " + std::to_string(sc.requests) + " -c " + std::to_string(sc.concurrency);
  if (!sc.verify_path.empty()) cmd += " --verify " + ShellWord(sc.verify_path);
  if (!sc.races) cmd += " --no-race";
  if (!sc.linearizable) cmd += " --no-linearizability";
  if (o.strategy == sched::SimOptions::Strategy::kPct) {
    cmd += " --strategy pct --pct-depth " + std::to_string(o.pct_depth);
  }
  return cmd + " --replay " + std::to_string(seed);
}

sim::ScheduleOptions Schedule(const TestOptions& o, uint64_t seed) {
  sim::ScheduleOptions s;
  s.seed = seed;
  s.strategy = o.strategy;
  s.pct_depth = o.pct_depth;
  return s;
}

void PrintNotes(const std::vector<std::string>& notes) {
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
}

void PrintViolations(const sim::ScheduleResult& r) {
  for (const sim::Violation& v : r.violations) {
    size_t start = 0;
    bool first = true;
    while (start <= v.detail.size()) {
      size_t end = v.detail.find('\n', start);
      if (end == std::string::npos) end = v.detail.size();
      std::printf("  %s%s\n", first ? (v.invariant + ": ").c_str() : "    ",
                  v.detail.substr(start, end - start).c_str());
      first = false;
      start = end + 1;
    }
  }
}

void PrintTraceStats(const sim::ScheduleResult& r) {
  std::printf("trace %016" PRIx64 ": %" PRIu64 " requests sent, %" PRIu64 " answered (%" PRIu64
              " 2xx), %" PRIu64 " scheduler steps, %.3f ms of virtual time\n",
              r.trace_hash, r.sent, r.answered, r.ok_2xx, r.steps,
              static_cast<double>(r.virtual_us) / 1000.0);
}

Status WriteText(const std::string& what, const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IOError("cannot create " + what + " file " + path);
  out << text;
  out.flush();
  if (!out) return Status::IOError(what + " file " + path + ": write failed");
  return Status::OK();
}

// --trace and --history for the failing (or replayed) schedule.
Status WriteFiles(const TestOptions& o, const sim::ScheduleResult& r) {
  if (!o.trace.empty()) {
    std::string text;
    for (const std::string& l : r.trace) text += l + "\n";
    EDGELAB_RETURN_IF_ERROR(WriteText("trace", o.trace, text));
  }
  if (!o.history.empty()) EDGELAB_RETURN_IF_ERROR(WriteText("history", o.history, r.history));
  return Status::OK();
}

// The failing schedule: what broke, the lines of the requests involved, the
// first race report, how to replay.
void PrintFailure(const TestOptions& o, const sim::Scenario& sc, const sim::ScheduleResult& r,
                  bool whole_trace) {
  PrintViolations(r);
  PrintNotes(r.notes);
  const std::vector<std::string>& lines = whole_trace ? r.trace : r.focus;
  std::printf("\ninterleaving (%s; virtual time, request, what it did):\n",
              whole_trace || lines.size() == r.trace.size()
                  ? "every request"
                  : "the requests involved; --trace FILE writes every line");
  for (const std::string& l : lines) std::printf("%s\n", l.c_str());
  std::printf("\n");
  PrintTraceStats(r);
  if (!r.race_report.empty()) std::printf("\n%s\n", r.race_report.c_str());
  std::printf("\nreplay: %s\n", ReplayCommand(o, sc, r.seed).c_str());
}

// Runs the scenario at `seed` and says whether it broke every one of
// `invariants` (all of them: counter-broken's single request breaks only the
// race detector's prediction, not the lost update the run was shrunk for).
Result<bool> FailsAgain(sim::Simulation& s, const TestOptions& o, uint64_t seed,
                        const std::vector<std::string>& invariants, sim::ScheduleResult* out) {
  EDGELAB_ASSIGN_OR_RETURN(sim::ScheduleResult r, s.Run(Schedule(o, seed)));
  for (const std::string& want : invariants) {
    bool broken = false;
    for (const sim::Violation& v : r.violations) broken |= v.invariant == want;
    if (!broken) return false;
  }
  *out = std::move(r);
  return true;
}

// The fewest requests (then the fewest in flight) that still break every
// invariant the failing schedule broke, with its seed. Not every smaller run is
// tried: requests grow by doubling until one fails, then bisect; in flight
// from 1 up. Returns false when nothing smaller fails.
Result<bool> Shrink(sim::Simulation& s, const TestOptions& o, const sim::ScheduleResult& failed,
                    sim::ScheduleResult* best) {
  std::vector<std::string> invariants;
  for (const sim::Violation& v : failed.violations) invariants.push_back(v.invariant);
  sim::Scenario& sc = s.mutable_scenario();
  const uint64_t n = sc.requests;
  const uint32_t c = sc.concurrency;
  uint64_t pass = 0, fail = n;
  bool found = false;  // a smaller run failed: *best holds it
  sim::ScheduleResult r;
  for (uint64_t k = 1; k < n; k *= 2) {
    sc.requests = k;
    sc.concurrency = static_cast<uint32_t>(std::min<uint64_t>(c, k));
    EDGELAB_ASSIGN_OR_RETURN(bool fails, FailsAgain(s, o, failed.seed, invariants, &r));
    if (fails) {
      fail = k;
      *best = r;
      found = true;
      break;
    }
    pass = k;
  }
  while (fail - pass > 1) {
    const uint64_t mid = pass + (fail - pass) / 2;
    sc.requests = mid;
    sc.concurrency = static_cast<uint32_t>(std::min<uint64_t>(c, mid));
    EDGELAB_ASSIGN_OR_RETURN(bool fails, FailsAgain(s, o, failed.seed, invariants, &r));
    if (fails) {
      fail = mid;
      *best = r;
      found = true;
    } else {
      pass = mid;
    }
  }
  sc.requests = fail;
  sc.concurrency = static_cast<uint32_t>(std::min<uint64_t>(c, fail));
  for (uint32_t k = 1; k < sc.concurrency; ++k) {
    const uint32_t was = sc.concurrency;
    sc.concurrency = k;
    EDGELAB_ASSIGN_OR_RETURN(bool fails, FailsAgain(s, o, failed.seed, invariants, &r));
    if (fails) {
      *best = r;
      found = true;
      break;
    }
    sc.concurrency = was;
  }
  return found;
}

}  // namespace

int Test(const TestOptions& opts) {
  auto config = runtime::LoadConfig(opts.config);
  if (!config.ok()) return Fail(config.status(), 2);
  sim::Scenario scenario;
  if (!opts.scenario.empty()) {
    auto loaded = sim::LoadScenario(opts.scenario);
    if (!loaded.ok()) return Fail(loaded.status(), 2);
    scenario = std::move(*loaded);
  }
  if (opts.requests) scenario.requests = *opts.requests;
  if (opts.concurrency) scenario.concurrency = *opts.concurrency;
  if (opts.verify) scenario.verify_path = *opts.verify;
  if (opts.no_race) scenario.races = false;
  if (opts.no_linearizability) scenario.linearizable = false;
  if (!scenario.verify_path.empty() && scenario.verify_path[0] != '/') {
    return Fail(Status::InvalidArgument("--verify: must be a path starting with /, not \"" +
                                        scenario.verify_path + "\""),
                2);
  }
  for (const sim::RequestTemplate& t : scenario.mix) {
    if (t.location.empty()) continue;
    bool known = false;
    for (const auto& l : config->locations) known |= l.name == t.location;
    if (!known) {
      return Fail(Status::InvalidArgument(opts.scenario + ": request.location: \"" + t.location +
                                          "\" is not a [[locations]] name in " + opts.config),
                  2);
    }
  }
  for (const auto& [flag, path] : {std::pair{"--trace", opts.trace}, {"--history", opts.history}}) {
    std::error_code ec;
    if (!path.empty() && fs::is_directory(path, ec)) {
      return Fail(Status::InvalidArgument(std::string(flag) + " " + path + ": is a folder"), 2);
    }
  }
  const std::string name = config->name;
  sim::Simulation simulation(std::move(*config), scenario);
  const sim::Scenario& sc = simulation.scenario();

  if (opts.replay) {
    auto r = simulation.Run(Schedule(opts, *opts.replay));
    if (!r.ok()) return Fail(r.status(), 2);
    std::printf("replay %s: seed %" PRIu64 " (%s), %" PRIu64 " requests, %u in flight\n",
                name.c_str(), *opts.replay, StrategyName(opts.strategy), sc.requests,
                sc.concurrency);
    if (r->failed()) {
      std::printf("FAILED\n");
      PrintFailure(opts, sc, *r, /*whole_trace=*/true);
    } else {
      std::printf("passed: every invariant held\n");
      PrintNotes(r->notes);
      std::printf("\n");
      for (const std::string& l : r->trace) std::printf("%s\n", l.c_str());
      std::printf("\n");
      PrintTraceStats(*r);
    }
    if (Status s = WriteFiles(opts, *r); !s.ok()) return Fail(s, 1);
    return r->failed() ? 1 : 0;
  }

  std::printf("test %s: %" PRIu64 " requests, %u in flight, %" PRIu64
              " schedules from seed %" PRIu64 " (%s)\n",
              name.c_str(), sc.requests, sc.concurrency, opts.schedules, opts.seed,
              StrategyName(opts.strategy));
  std::fflush(stdout);
  const bool progress = !opts.quiet && isatty(STDERR_FILENO);
  const int64_t start = sched::MonotonicMillis();
  int64_t shown = start;
  uint64_t simulated = 0;
  std::set<uint64_t> interleavings;  // distinct trace hashes
  std::vector<std::string> notes;    // the first schedule's with notes (they repeat)
  for (uint64_t i = 0; i < opts.schedules; ++i) {
    const uint64_t seed = opts.seed + i;
    auto r = simulation.Run(Schedule(opts, seed));
    if (!r.ok()) return Fail(r.status(), 2);
    simulated += r->sent;
    interleavings.insert(r->trace_hash);
    if (notes.empty()) notes = r->notes;
    if (progress && sched::MonotonicMillis() - shown >= 500) {
      shown = sched::MonotonicMillis();
      std::fprintf(stderr, "\r  schedule %" PRIu64 " of %" PRIu64 " passed", i + 1, opts.schedules);
    }
    if (!r->failed()) continue;
    if (progress) std::fprintf(stderr, "\r%60s\r", "");
    std::printf("schedule %" PRIu64 " of %" PRIu64 ", seed %" PRIu64 ": FAILED\n", i + 1,
                opts.schedules, seed);
    PrintFailure(opts, sc, *r, /*whole_trace=*/false);
    if (Status s = WriteFiles(opts, *r); !s.ok()) return Fail(s, 1);
    if (!opts.trace.empty()) std::printf("trace written to %s\n", opts.trace.c_str());
    if (!opts.history.empty()) {
      std::printf("history written to %s (edgelab check %s)\n", opts.history.c_str(),
                  ShellWord(opts.history).c_str());
    }
    if (opts.shrink) {
      std::fflush(stdout);
      sim::ScheduleResult smaller;
      auto shrunk = Shrink(simulation, opts, *r, &smaller);
      if (!shrunk.ok()) return Fail(shrunk.status(), 2);
      if (!*shrunk) {
        std::printf("\nshrink: no smaller run fails with seed %" PRIu64 "\n", seed);
      } else {
        std::printf("\nshrunk: %" PRIu64 " requests at %u in flight still fail with seed %" PRIu64
                    "\n",
                    sc.requests, sc.concurrency, seed);
        PrintFailure(opts, sc, smaller, /*whole_trace=*/true);
        if (!opts.trace.empty() || !opts.history.empty()) {
          if (Status s = WriteFiles(opts, smaller); !s.ok()) return Fail(s, 1);
          std::printf("--trace and --history now hold the shrunk run's\n");
        }
      }
    }
    return 1;
  }
  if (progress) std::fprintf(stderr, "\r%60s\r", "");
  const double secs = static_cast<double>(sched::MonotonicMillis() - start) / 1000.0;
  std::string held = "every request answered";
  if (!sc.verify_path.empty()) held += ", counter " + sc.verify_path + " = 2xx answers";
  if (sc.races) held += ", no race reported";
  if (sc.linearizable) {
    held += notes.empty() ? ", history linearizable" : ", history linearizable where checked";
  }
  std::printf("passed: %" PRIu64 " of %" PRIu64 " schedules (seeds %" PRIu64 "..%" PRIu64 "): %s\n",
              opts.schedules, opts.schedules, opts.seed, opts.seed + opts.schedules - 1,
              held.c_str());
  PrintNotes(notes);
  std::printf("%zu distinct interleavings (trace hashes)%s\n", interleavings.size(),
              interleavings.size() == 1 && opts.schedules > 1
                  ? ": every schedule ran the same way (nothing could interleave)"
                  : "");
  std::printf("%" PRIu64 " requests simulated in %.2f s (%.0f requests/s)\n", simulated, secs,
              secs > 0 ? static_cast<double>(simulated) / secs : 0.0);
  return 0;
}

}  // namespace edgelab::cli
