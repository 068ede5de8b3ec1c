// cli/bench_cmd.cc: `edgelab bench TARGET [--compare TARGET2]`: runs the
// load of bench/load.h against a URL, or against a worker started in this
// process (an edge.toml, fresh storage each repetition), R times (A B A B
// when comparing, so drift on the machine hits both), reads the counter of
// --verify after each, prices each repetition (bench/cost.h), and prints
// the post's table; --json and --html write the whole record.
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>

#include "bench/cost.h"
#include "bench/html.h"
#include "bench/load.h"
#include "bench/report.h"
#include "cli/commands.h"
#include "cli/watch.h"
#include "engine/engine.h"
#include "instance/instance.h"
#include "runtime/config.h"
#include "sched/clock.h"
#include "sched/process.h"

namespace edgelab::cli {
namespace {

using bench::Thousands;

namespace fs = std::filesystem;

// A thing to load: a URL, or an edge.toml served in this process.
struct Target {
  bool worker = false;
  std::string text;    // as given
  std::string config;  // edge.toml, for a worker
  std::string url;     // for a URL target
  std::string label;
};

// Exit-code-carrying error: 2 for bad input, 1 for failed work.
struct Failure {
  Status status;
  int code;
};

Result<Target> ResolveTarget(const std::string& text) {
  Target t;
  t.text = text;
  if (text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0) {
    EDGELAB_ASSIGN_OR_RETURN(bench::Url u, bench::ParseUrl(text));
    t.url = text;
    t.label = u.HostHeader() + (u.target == "/" ? "" : u.target);
    return t;
  }
  fs::path p(text);
  std::error_code ec;
  if (fs::is_directory(p, ec)) p /= "edge.toml";
  if (!fs::is_regular_file(p, ec)) {
    return Status::InvalidArgument(text +
                                   ": no such file (expected an edge.toml, a folder with "
                                   "one, or an http:// URL)");
  }
  EDGELAB_ASSIGN_OR_RETURN(runtime::Config config, runtime::LoadConfig(p.string()));
  t.worker = true;
  t.config = p.string();
  t.label = !config.name.empty() ? config.name : p.parent_path().filename().string();
  return t;
}

// The integer the verify URL answers. Before a run a missing counter (404)
// reads as 0; after it, a 404 is an error: a typo in the path would otherwise
// read as every update lost.
Result<int64_t> ReadCounter(const std::string& url, bool missing_is_zero) {
  auto body = bench::Fetch(url);
  if (!body.ok() && body.status().code() == Code::kNotFound) {
    if (missing_is_zero) return int64_t{0};
    return Status::InvalidArgument(body.status().message() +
                                   " (after the run: is the --verify path right?)");
  }
  if (!body.ok()) return body.status();
  try {
    size_t used = 0;
    int64_t v = std::stoll(*body, &used);
    if (body->find_first_not_of(" \r\n", used) == std::string::npos) return v;
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument(url + ": --verify expects a plain decimal, got \"" +
                                 body->substr(0, 40) + "\"");
}

bench::Usage ToBenchUsage(const abi::UsageCounts& a, const abi::UsageCounts& b) {
  bench::Usage u;
  u.known = true;
  u.requests = b.requests - a.requests;
  u.cpu_ms = static_cast<double>(b.cpu_fuel - a.cpu_fuel) / static_cast<double>(engine::kFuelPerMs);
  u.kv_reads = b.kv_reads - a.kv_reads;
  u.kv_writes = b.kv_writes - a.kv_writes;
  u.kv_deletes = b.kv_deletes - a.kv_deletes;
  u.kv_lists = b.kv_lists - a.kv_lists;
  u.do_requests = b.do_requests - a.do_requests;
  u.do_wall_s = static_cast<double>(b.do_wall_micros - a.do_wall_micros) / 1e6;
  u.do_cpu_ms =
      static_cast<double>(b.do_cpu_fuel - a.do_cpu_fuel) / static_cast<double>(engine::kFuelPerMs);
  u.do_read_units = b.do_read_units - a.do_read_units;
  u.do_write_units = b.do_write_units - a.do_write_units;
  return u;
}

// A fresh folder under $TMPDIR for one repetition's data, removed with it.
class TempData {
 public:
  static Result<std::unique_ptr<TempData>> Make() {
    std::string tmpl = (fs::temp_directory_path() / "edgelab-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return Status::IOError(tmpl +
                             ": cannot create a temporary data folder: " + std::strerror(errno));
    }
    return std::make_unique<TempData>(tmpl);
  }
  explicit TempData(std::string path) : path_(std::move(path)) {}
  ~TempData() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The live line on a terminal: elapsed, sent, rate, errors.
class ProgressLine {
 public:
  ProgressLine(bool on, std::string what) : on_(on), what_(std::move(what)) {
    start_ = sched::MonotonicMillis();
  }
  void Show(const bench::Progress& p) {
    if (!on_) return;
    double s = static_cast<double>(sched::MonotonicMillis() - start_) / 1000.0;
    uint64_t done =
        p.completed.load(std::memory_order_relaxed) + p.failed.load(std::memory_order_relaxed);
    char line[512];
    std::snprintf(
        line, sizeof(line), "%s  %.1f s  sent %s  done %s  %s req/s  errors %s", what_.c_str(), s,
        Thousands(p.sent.load(std::memory_order_relaxed)).c_str(), Thousands(done).c_str(),
        Thousands(s > 0 ? static_cast<uint64_t>(static_cast<double>(done) / s) : 0).c_str(),
        Thousands(p.failed.load(std::memory_order_relaxed)).c_str());
    // One row of the terminal: a wrapped line would leave a trail of rows
    // that \r cannot go back over.
    winsize ws{};
    size_t width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
    std::string text(line);
    if (text.size() >= width) text.resize(width - 1);
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
  }
  void Clear() {
    if (on_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  const bool on_;
  const std::string what_;
  int64_t start_;
};

// Ctrl-C (or SIGTERM) during a bench: the first ends the run early, keeping
// what was measured (the results are printed and written, marked
// interrupted); the second leaves at once, removing the temporary data.
// Polled from the main thread: signals are blocked in every thread.
class Interrupts {
 public:
  // Runs before the exit of a second signal (closes --history, writes
  // --race-json: what was observed so far is kept).
  void set_before_exit(std::function<void()> fn) { before_exit_ = std::move(fn); }
  // Polls for a pending signal; on the second one, removes `temp` and exits.
  void Poll(const std::string& temp) {
    int sig = sched::WaitForSignalFor({SIGINT, SIGTERM}, 0);
    if (sig == 0) return;
    if (interrupted_) {
      if (before_exit_) before_exit_();
      std::error_code ec;
      if (!temp.empty()) fs::remove_all(temp, ec);
      std::fprintf(stderr, "\nedgelab: %s again: stopping now\n", strsignal(sig));
      std::fflush(stderr);
      std::_Exit(130);
    }
    interrupted_ = true;
    std::fprintf(stderr,
                 "\nedgelab: %s: finishing the requests in flight, then the report (again to "
                 "stop now)\n",
                 strsignal(sig));
  }
  bool interrupted() const { return interrupted_; }

 private:
  bool interrupted_ = false;
  std::function<void()> before_exit_;
};

class Runner {
 public:
  Runner(const BenchOptions& opts, bench::BenchSpec spec, bool tty, Interrupts* interrupts)
      : opts_(opts), spec_(std::move(spec)), tty_(tty), interrupts_(interrupts) {}

  // Starts and stops each edge.toml target once on memory storage, so that a
  // bad module fails before any load rather than after A's first rep.
  Status Preflight(const Target& t, int* exit_code) {
    EDGELAB_ASSIGN_OR_RETURN(auto in, StartWorker(t, ":memory:", 1, exit_code));
    Status stopped = in->Stop(opts_.drain_timeout_s);
    if (stopped.code() == Code::kTimeout) in.release();  // instance.h (2): leave it be
    return stopped;
  }

  // One repetition of `t`; the rep's figures, or a failure to report.
  // `observer` (may be null) sees the worker's operations.
  Result<bench::Rep> RunRep(const Target& t, const std::string& what, int* exit_code,
                            race::Observer* observer) {
    std::unique_ptr<TempData> data;
    std::unique_ptr<instance::Instance> in;
    std::string base = t.url;
    if (t.worker) {
      EDGELAB_ASSIGN_OR_RETURN(data, TempData::Make());
      temp_ = data->path();
      EDGELAB_ASSIGN_OR_RETURN(
          in, StartWorker(t, data->path(), opts_.server_threads, exit_code, observer));
      base = in->Url();
    }
    *exit_code = 1;
    bench::Rep rep;
    Status s = Measure(t, base, in.get(), what, &rep);
    if (in) {
      Status stopped = in->Stop(opts_.drain_timeout_s);
      if (stopped.code() == Code::kTimeout) {
        // Requests still run on its loops: it cannot be destroyed
        // (instance.h (2)). Its data is throwaway: leave the instance to
        // the process's exit, remove the folder, and go on.
        std::fprintf(stderr,
                     "edgelab: %s: %s did not stop within %.0f s (--drain-timeout); its "
                     "requests are abandoned\n",
                     t.label.c_str(), stopped.message().c_str(), opts_.drain_timeout_s);
        in.release();
        stuck_ = true;
        stopped = Status::OK();
      }
      if (s.ok()) s = stopped;
    }
    temp_.clear();
    if (!s.ok()) return s;
    return rep;
  }

  // A worker that did not stop was left running: the exit code says so.
  bool stuck() const { return stuck_; }
  const std::string& temp() const { return temp_; }

 private:
  // Serves edge.toml target `t` on `data` (a folder or ":memory:"); on an
  // error, *exit_code is 2 for bad input (edge.toml, module), else 1.
  static Result<std::unique_ptr<instance::Instance>> StartWorker(
      const Target& t, const std::string& data, uint32_t threads, int* exit_code,
      race::Observer* observer = nullptr) {
    instance::InstanceOptions io;
    io.config = t.config;
    io.data = data;
    io.quiet = true;
    io.threads = threads;
    io.observer = observer;
    bool bad_input = false;
    auto started = instance::Instance::Start(io, &bad_input);
    if (!started.ok()) *exit_code = bad_input ? 2 : 1;
    return started;
  }

  // The URL of path `path` on the server at `base` (scheme://host:port...).
  static Result<std::string> On(const std::string& base, const std::string& path) {
    EDGELAB_ASSIGN_OR_RETURN(bench::Url u, bench::ParseUrl(base));
    return "http://" + u.HostHeader() + (path.empty() || path[0] != '/' ? "/" : "") + path;
  }

  // A load run with the live line and Ctrl-C.
  Result<bench::LoadReport> Load(const bench::LoadOptions& lo, const std::string& what) {
    ProgressLine line(tty_, what);
    bench::Progress p;
    p.stop = interrupts_->interrupted();
    auto run = bench::RunLoad(lo, &p, [&] {
      interrupts_->Poll(temp_);
      if (interrupts_->interrupted()) p.stop = true;
      line.Show(p);
    });
    line.Clear();
    return run;
  }

  // Updates a run answered as done: 2xx answers on every path but the
  // counter's own (reads of it are no updates).
  int64_t Updates(const bench::LoadReport& r, const bench::LoadOptions& lo) const {
    auto path_of = [](const std::string& p) { return p.substr(0, p.find('?')); };
    const std::string counter = path_of(spec_.verify);
    const std::string url_path = lo.paths.empty() ? bench::ParseUrl(lo.url)->target : "";
    int64_t n = 0;
    for (size_t i = 0; i < r.ok_by_path.size(); ++i) {
      const std::string& path = lo.paths.empty() ? url_path : lo.paths[i].path;
      if (path_of(path) != counter) n += static_cast<int64_t>(r.ok_by_path[i]);
    }
    return n;
  }

  // Waits (up to the request timeout) until the worker has finished every
  // request and object call, including those the client gave up on: they
  // may still count, and use what the bill counts.
  void WaitForQuiet(instance::Instance* in) {
    const int64_t deadline =
        sched::MonotonicMillis() + static_cast<int64_t>(opts_.timeout_s * 1000);
    while ((in->in_flight() != 0 || in->objects_busy() != 0) &&
           sched::MonotonicMillis() < deadline) {
      interrupts_->Poll(temp_);  // a stuck worker must not make Ctrl-C wait --timeout
      if (interrupts_->interrupted()) return;
      sched::SleepMillis(2);
    }
  }

  Status Measure(const Target& t, const std::string& base, instance::Instance* in,
                 const std::string& what, bench::Rep* rep) {
    bench::LoadOptions lo = spec_.load;
    if (t.worker) {
      lo.url = base + "/";  // --path picks others
    } else {
      lo.url = t.url;
    }
    std::string verify_url;
    if (!spec_.verify.empty()) {
      EDGELAB_ASSIGN_OR_RETURN(verify_url, On(base, spec_.verify));
    }
    bench::Verify v;
    v.path = spec_.verify;
    if (!verify_url.empty()) {
      EDGELAB_ASSIGN_OR_RETURN(v.before, ReadCounter(verify_url, /*missing_is_zero=*/true));
    }
    if (spec_.warmup_s > 0) {
      bench::LoadOptions w = lo;
      w.requests = 0;
      w.duration_s = spec_.warmup_s;
      auto warm = Load(w, what + " warm-up");
      if (!warm.ok()) return warm.status();
      rep->warmup = std::move(*warm);
      if (in) WaitForQuiet(in);
    }
    abi::UsageCounts u0 = in ? in->usage() : abi::UsageCounts{};
    auto run = Load(lo, what);
    if (!run.ok()) return run.status();
    rep->load = std::move(*run);
    if (in) {
      WaitForQuiet(in);
      rep->usage = ToBenchUsage(u0, in->usage());
    } else {
      rep->usage.requests = rep->load.requests();
    }
    if (!verify_url.empty()) {
      EDGELAB_ASSIGN_OR_RETURN(v.after, ReadCounter(verify_url, /*missing_is_zero=*/false));
      v.expected =
          v.before + Updates(rep->load, lo) + (rep->warmup ? Updates(*rep->warmup, lo) : 0);
      v.indeterminate = static_cast<int64_t>(rep->load.errors) +
                        static_cast<int64_t>(rep->warmup ? rep->warmup->errors : 0);
      rep->verify = v;
    }
    rep->cost = bench::MonthlyCost(rep->usage, spec_.monthly_requests, spec_.prices);
    return Status::OK();
  }

  const BenchOptions& opts_;
  const bench::BenchSpec spec_;
  const bool tty_;
  Interrupts* const interrupts_;
  std::string temp_;  // the data folder of the rep running, for Ctrl-C twice
  bool stuck_ = false;
};

// "rep 2/5  counter-broken  1000 requests in 0.52 s, 1,923 req/s, p99 48.2 ms,
// kept 64 of 1000, failed 0".
std::string RepLine(const Target& t, size_t i, size_t n, const bench::Rep& rep) {
  const bench::LoadReport& r = rep.load;
  char buf[256];
  std::snprintf(buf, sizeof(buf), "rep %zu/%zu  %s  %s requests in %.2f s, %s req/s, p99 %.2f ms",
                i, n, t.label.c_str(), Thousands(r.requests()).c_str(), r.seconds,
                Thousands(static_cast<uint64_t>(std::llround(r.CompletedPerSecond()))).c_str(),
                static_cast<double>(r.latency.Percentile(99)) / 1000.0);
  std::string line = buf;
  if (rep.verify) {
    line += ", kept " + std::to_string(rep.verify->kept()) + " of " +
            std::to_string(rep.verify->wanted());
  }
  line += ", failed " + std::to_string(r.failed);
  if (r.target_rate > 0) {
    line += " (target " + Thousands(static_cast<uint64_t>(std::llround(r.target_rate))) +
            " req/s, sent at " + Thousands(static_cast<uint64_t>(std::llround(r.SendRate()))) +
            ", " + std::to_string(r.late) + " late, " + std::to_string(r.unsent) + " never sent)";
  }
  return line;
}

std::string NowIso() {
  int64_t ms = sched::SystemClock()->WallMillis();
  time_t secs = static_cast<time_t>(ms / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

// The watch flags' rules (commands.h): what they need of the targets.
Status CheckWatch(const BenchOptions& opts, const std::vector<Target>& targets) {
  const WatchFlags& w = opts.watch;
  if (!w.any()) return Status::OK();
  for (const Target& t : targets) {
    if (!t.worker) {
      return Status::InvalidArgument(t.text +
                                     ": --race and --history watch a worker served here: give "
                                     "its edge.toml, not a URL");
    }
  }
  if (!w.history.empty() && (targets.size() > 1 || opts.reps > 1)) {
    return Status::InvalidArgument(
        "--history records one run: use it without --compare and with --reps 1");
  }
  if (!w.race_json.empty() && targets.size() > 1) {
    return Status::InvalidArgument("--race-json takes one target: use it without --compare");
  }
  return Status::OK();
}

}  // namespace

int Bench(const BenchOptions& opts, uint64_t* races) {
  bench::BenchSpec spec;
  spec.command = opts.command;
  spec.reps = opts.reps;
  spec.verify = opts.verify;
  spec.warmup_s = opts.warmup_s;
  spec.monthly_requests = opts.monthly_requests;
  for (const std::string& price : opts.prices) {
    if (Status s = bench::SetPrice(price, &spec.prices); !s.ok()) return Fail(s, 2);
  }
  bench::LoadOptions& lo = spec.load;
  lo.requests = opts.requests;
  lo.duration_s = opts.duration_s;
  lo.rate = opts.rate;
  lo.connections = opts.connections;
  lo.threads = opts.threads;
  lo.timeout_s = opts.timeout_s;
  lo.method = opts.method;
  lo.body = opts.body;
  if (!lo.body.empty() && lo.body[0] == '@') {
    std::ifstream in(lo.body.substr(1), std::ios::binary);
    if (!in)
      return Fail(Status::InvalidArgument(lo.body.substr(1) + ": cannot read --body file"), 2);
    lo.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  for (const std::string& h : opts.headers) {
    size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Fail(Status::InvalidArgument("--header \"" + h + "\": expected \"Name: value\""), 2);
    }
    size_t v = h.find_first_not_of(' ', colon + 1);
    lo.headers.emplace_back(h.substr(0, colon), v == std::string::npos ? "" : h.substr(v));
  }
  for (const std::string& p : opts.paths) {
    auto pw = bench::ParsePathWeight(p);
    if (!pw.ok()) return Fail(pw.status(), 2);
    lo.paths.push_back(*pw);
  }

  std::vector<Target> targets;
  for (const std::string& text : {opts.target, opts.compare}) {
    if (text.empty()) continue;
    auto t = ResolveTarget(text);
    if (!t.ok()) return Fail(t.status(), 2);
    targets.push_back(std::move(*t));
  }
  if (targets.size() == 2 && targets[0].label == targets[1].label) {
    targets[0].label += " (A)";
    targets[1].label += " (B)";
  }
  if (lo.requests == 0 && lo.duration_s <= 0) {
    return Fail(Status::InvalidArgument("bench: give -n REQUESTS or -d SECONDS"), 2);
  }
  for (auto [path, flag] : {std::pair{opts.json, "--json"}, std::pair{opts.html, "--html"}}) {
    if (Status s = CheckWritable(path, flag); !s.ok()) return Fail(s, 2);
  }
  if (Status s = CheckWatch(opts, targets); !s.ok()) return Fail(s, 2);
  // One per target: its races over all its reps.
  std::vector<std::unique_ptr<Watch>> watches(targets.size());
  if (opts.watch.any()) {
    for (size_t i = 0; i < targets.size(); ++i) {
      auto w = Watch::Open(opts.watch, nullptr);
      if (!w.ok()) return Fail(w.status(), 2);
      watches[i] = std::move(*w);
    }
  }
  // One descriptor per connection, two when the worker is in this process
  // (its end of each connection too): -c 1000 passes Debian's soft limit.
  bool any_worker = false;
  for (const Target& t : targets) any_worker |= t.worker;
  uint64_t files = sched::RaiseFileLimit();
  uint64_t need = static_cast<uint64_t>(opts.connections) * (any_worker ? 2 : 1) + 256;
  if (files != 0 && need > files) {
    std::fprintf(stderr,
                 "edgelab: -c %u needs %llu open files, more than this process may have (%llu)\n",
                 opts.connections, static_cast<unsigned long long>(need),
                 static_cast<unsigned long long>(files));
    return 2;
  }
  // Ctrl-C ends the run with a report rather than killing it (Interrupts);
  // blocked before any thread starts, so that every thread inherits it.
  sched::BlockSignals({SIGINT, SIGTERM});
  Interrupts interrupts;
  interrupts.set_before_exit([&watches] {
    for (auto& w : watches) {
      if (w) w->Finish(stderr, /*print_reports=*/false).IgnoreError();
    }
  });

  const bool json_stdout = opts.json == "-";
  FILE* text = json_stdout ? stderr : stdout;
  const bool tty = !opts.quiet && isatty(STDERR_FILENO) == 1;
  Runner runner(opts, spec, tty, &interrupts);
  for (const Target& t : targets) {
    if (!t.worker) continue;
    int code = 1;
    if (Status s = runner.Preflight(t, &code); !s.ok()) return Fail(s, code);
  }
  std::vector<bench::TargetResult> results(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    results[i].label = targets[i].label;
    results[i].target = targets[i].text;
    results[i].worker = targets[i].worker;
  }
  const bool single = targets.size() == 1 && opts.reps == 1;
  // A failure midway ends the bench, but what was measured is still reported.
  Status failed;
  int failed_code = 0;
  for (uint32_t r = 1; r <= opts.reps && failed.ok() && !interrupts.interrupted(); ++r) {
    for (size_t i = 0; i < targets.size() && failed.ok(); ++i) {
      interrupts.Poll(runner.temp());
      if (interrupts.interrupted()) break;
      std::string what = targets[i].label;
      if (opts.reps > 1) what += " rep " + std::to_string(r) + "/" + std::to_string(opts.reps);
      auto rep = runner.RunRep(targets[i], what, &failed_code,
                               watches[i] ? watches[i]->observer() : nullptr);
      if (!rep.ok()) {
        failed = rep.status();
        break;
      }
      if (single) {
        std::fprintf(text, "%s", bench::FormatReport(rep->load).c_str());
        if (rep->verify) {
          const bench::Verify& v = *rep->verify;
          std::string unanswered = v.indeterminate > 0 ? ", " + std::to_string(v.indeterminate) +
                                                             " unanswered may count or not"
                                                       : "";
          std::fprintf(
              text, "verify %s: %lld (expected %lld: %lld of %lld updates kept, %lld lost%s%s)\n",
              v.path.c_str(), static_cast<long long>(v.after), static_cast<long long>(v.expected),
              static_cast<long long>(v.kept()), static_cast<long long>(v.wanted()),
              static_cast<long long>(v.lost()), unanswered.c_str(),
              v.lost() > 0 ? " -- a race" : "");
        }
      } else {
        std::fprintf(text, "%s\n", RepLine(targets[i], r, opts.reps, *rep).c_str());
      }
      std::fflush(text);
      results[i].reps.push_back(std::move(*rep));
    }
  }
  if (!failed.ok()) Fail(failed, failed_code);
  // The races found, also when the run failed or was cut short: a worker
  // that failed midway may have raced before.
  uint64_t found = 0;
  Status watch_error;
  auto finish_watches = [&] {
    for (size_t i = 0; i < watches.size(); ++i) {
      if (!watches[i]) continue;
      if (targets.size() > 1) std::fprintf(text, "\n%s:\n", targets[i].label.c_str());
      if (Status s = watches[i]->Finish(text, /*print_reports=*/true); !s.ok()) watch_error = s;
      found += watches[i]->races();
      // A worker abandoned at its drain timeout may still report to it
      // (watch.h): leave it, as the worker is left, to the process's exit.
      if (runner.stuck()) watches[i].release();
    }
    if (races != nullptr) *races = found;
  };
  size_t measured = 0;
  for (const auto& t : results) measured += t.reps.size();
  if (measured == 0) {
    finish_watches();
    if (!watch_error.ok()) Fail(watch_error, 1);
    return !failed.ok() ? failed_code : 130;
  }
  // Compare like with like: a rep of A without its B is left out.
  if (results.size() == 2 && results[0].reps.size() > results[1].reps.size()) {
    results[0].reps.pop_back();
  }
  spec.interrupted = interrupts.interrupted();
  spec.created = NowIso();
  if (opts.table) std::fprintf(text, "\n%s", bench::FormatTable(spec, results).c_str());
  if (spec.interrupted) std::fprintf(text, "(interrupted: the reps above are all there is)\n");
  nlohmann::json doc = bench::ToJson(spec, results);
  // Text from the command line or a server (a URL, a label) need not be
  // UTF-8: JSON then carries U+FFFD rather than failing after the run.
  std::string json_text = doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  int code = !failed.ok() ? failed_code : spec.interrupted ? 130 : runner.stuck() ? 1 : 0;
  if (!opts.json.empty()) {
    if (json_stdout) {
      std::printf("%s\n", json_text.c_str());
    } else if (Status s = WriteFile(opts.json, json_text + "\n"); !s.ok()) {
      code = Fail(s, 1);
    } else {
      std::fprintf(text, "json: %s\n", opts.json.c_str());
    }
  }
  if (!opts.html.empty()) {
    if (Status s = WriteFile(opts.html, bench::RenderHtml(doc)); !s.ok()) {
      code = Fail(s, 1);
    } else {
      std::fprintf(text, "report: %s\n", fs::absolute(opts.html).string().c_str());
    }
  }
  finish_watches();
  if (!watch_error.ok()) code = Fail(watch_error, 1);
  if (code != 0) return code;
  // A target where nothing succeeded measured nothing: say so to scripts.
  for (const auto& t : results) {
    uint64_t completed = 0;
    for (const auto& rep : t.reps) completed += rep.load.completed;
    if (completed == 0) return 1;
  }
  return 0;
}

}  // namespace edgelab::cli
