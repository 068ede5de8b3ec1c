// cli/bench_cmd.cc: `edgelab bench TARGET [--compare TARGET2]`: runs the
// load of bench/load.h against a URL, or against a worker started in this
// process (an edge.toml, fresh storage each repetition), R times (A B A B
// when comparing, so drift on the machine hits both), reads the counter of
// --verify after each, prices each repetition (bench/cost.h), and prints
// the post's table; --json and --html write the whole record.
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "bench/cost.h"
#include "bench/html.h"
#include "bench/load.h"
#include "bench/report.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "instance/instance.h"
#include "runtime/config.h"
#include "sched/clock.h"
#include "sched/process.h"

namespace edgelab::cli {
namespace {

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

// The integer the verify URL answers (a missing counter, 404, reads as 0).
Result<int64_t> ReadCounter(const std::string& url) {
  auto body = bench::Fetch(url);
  if (!body.ok() && body.status().code() == Code::kNotFound) return int64_t{0};
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

std::string Thousands(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

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
    std::fprintf(
        stderr, "\r\033[K%s  %.1f s  sent %s  done %s  %s req/s  errors %s", what_.c_str(), s,
        Thousands(p.sent.load(std::memory_order_relaxed)).c_str(), Thousands(done).c_str(),
        Thousands(s > 0 ? static_cast<uint64_t>(static_cast<double>(done) / s) : 0).c_str(),
        Thousands(p.failed.load(std::memory_order_relaxed)).c_str());
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

class Runner {
 public:
  Runner(const BenchOptions& opts, bench::BenchSpec spec, bool tty)
      : opts_(opts), spec_(std::move(spec)), tty_(tty) {}

  // One repetition of `t`; the rep's figures, or a failure to report.
  Result<bench::Rep> RunRep(const Target& t, const std::string& what, int* exit_code) {
    std::unique_ptr<TempData> data;
    std::unique_ptr<instance::Instance> in;
    std::string base = t.url;
    if (t.worker) {
      EDGELAB_ASSIGN_OR_RETURN(data, TempData::Make());
      instance::InstanceOptions io;
      io.config = t.config;
      io.data = data->path();
      io.quiet = true;
      io.threads = opts_.server_threads;
      bool bad_input = false;
      auto started = instance::Instance::Start(io, &bad_input);
      if (!started.ok()) {
        *exit_code = bad_input ? 2 : 1;
        return started.status();
      }
      in = std::move(*started);
      base = in->Url();
    }
    *exit_code = 1;
    bench::Rep rep;
    Status s = Measure(t, base, in.get(), what, &rep);
    if (in) {
      Status stopped = in->Stop(opts_.drain_timeout_s);
      if (stopped.code() == Code::kTimeout) {
        // Requests still run on its loops: it cannot be destroyed (instance.h).
        std::fprintf(stderr, "edgelab: %s\n", stopped.message().c_str());
        (void)in->Flush();
        std::fflush(stdout);
        std::_Exit(1);
      }
      if (s.ok()) s = stopped;
    }
    if (!s.ok()) return s;
    return rep;
  }

 private:
  // The URL of path `path` on the server at `base` (scheme://host:port...).
  static Result<std::string> On(const std::string& base, const std::string& path) {
    EDGELAB_ASSIGN_OR_RETURN(bench::Url u, bench::ParseUrl(base));
    return "http://" + u.HostHeader() + (path.empty() || path[0] != '/' ? "/" : "") + path;
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
      EDGELAB_ASSIGN_OR_RETURN(v.before, ReadCounter(verify_url));
    }
    if (spec_.warmup_s > 0) {
      bench::LoadOptions w = lo;
      w.requests = 0;
      w.duration_s = spec_.warmup_s;
      ProgressLine line(tty_, what + " warm-up");
      bench::Progress p;
      auto warm = bench::RunLoad(w, &p, [&] { line.Show(p); });
      line.Clear();
      if (!warm.ok()) return warm.status();
      rep->warmup = std::move(*warm);
    }
    abi::UsageCounts u0 = in ? in->usage() : abi::UsageCounts{};
    ProgressLine line(tty_, what);
    bench::Progress p;
    auto run = bench::RunLoad(lo, &p, [&] { line.Show(p); });
    line.Clear();
    if (!run.ok()) return run.status();
    rep->load = std::move(*run);
    if (in) {
      rep->usage = ToBenchUsage(u0, in->usage());
    } else {
      rep->usage.requests = rep->load.requests();
    }
    if (!verify_url.empty()) {
      EDGELAB_ASSIGN_OR_RETURN(v.after, ReadCounter(verify_url));
      v.expected = v.before + static_cast<int64_t>(rep->load.completed) +
                   static_cast<int64_t>(rep->warmup ? rep->warmup->completed : 0);
      rep->verify = v;
    }
    rep->cost = bench::MonthlyCost(rep->usage, spec_.monthly_requests, spec_.prices);
    return Status::OK();
  }

  const BenchOptions& opts_;
  const bench::BenchSpec spec_;
  const bool tty_;
};

// "rep 2/5  counter-broken  1000 requests in 0.52 s, 1,923 req/s, p99 48.2 ms,
// kept 64 of 1000, failed 0".
std::string RepLine(const Target& t, size_t i, size_t n, const bench::Rep& rep) {
  const bench::LoadReport& r = rep.load;
  char buf[256];
  std::snprintf(buf, sizeof(buf), "rep %zu/%zu  %s  %s requests in %.2f s, %s req/s, p99 %.2f ms",
                i, n, t.label.c_str(), Thousands(r.requests()).c_str(), r.seconds,
                Thousands(static_cast<uint64_t>(std::llround(r.RequestsPerSecond()))).c_str(),
                static_cast<double>(r.latency.Percentile(99)) / 1000.0);
  std::string line = buf;
  if (rep.verify) {
    line += ", kept " + std::to_string(rep.verify->kept()) + " of " +
            std::to_string(rep.verify->wanted());
  }
  line += ", failed " + std::to_string(r.failed);
  if (r.target_rate > 0) {
    line += " (target " + Thousands(static_cast<uint64_t>(std::llround(r.target_rate))) +
            " req/s, " + std::to_string(r.late) + " sent late)";
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

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IOError(path + ": cannot write: " + std::strerror(errno));
  return Status::OK();
}

int Fail(const Status& s, int code) {
  std::fprintf(stderr, "edgelab: %s\n", s.message().c_str());
  return code;
}

}  // namespace

int Bench(const BenchOptions& opts) {
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
  // One descriptor per connection: -c 1000 passes Debian's soft limit of 1024.
  uint64_t files = sched::RaiseFileLimit();
  if (files != 0 && static_cast<uint64_t>(opts.connections) * targets.size() + 256 > files) {
    std::fprintf(stderr, "edgelab: -c %u needs more open files than this process may have (%llu)\n",
                 opts.connections, static_cast<unsigned long long>(files));
    return 2;
  }

  const bool json_stdout = opts.json == "-";
  FILE* text = json_stdout ? stderr : stdout;
  const bool tty = !opts.quiet && isatty(STDERR_FILENO) == 1;
  Runner runner(opts, spec, tty);
  std::vector<bench::TargetResult> results(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    results[i].label = targets[i].label;
    results[i].target = targets[i].text;
    results[i].worker = targets[i].worker;
  }
  const bool single = targets.size() == 1 && opts.reps == 1;
  for (uint32_t r = 1; r <= opts.reps; ++r) {
    for (size_t i = 0; i < targets.size(); ++i) {
      std::string what = targets[i].label;
      if (opts.reps > 1) what += " rep " + std::to_string(r) + "/" + std::to_string(opts.reps);
      int code = 1;
      auto rep = runner.RunRep(targets[i], what, &code);
      if (!rep.ok()) return Fail(rep.status(), code);
      if (single) {
        std::fprintf(text, "%s", bench::FormatReport(rep->load).c_str());
        if (rep->verify) {
          const bench::Verify& v = *rep->verify;
          std::fprintf(
              text, "verify %s: %lld (expected %lld: %lld of %lld updates kept, %lld lost%s)\n",
              v.path.c_str(), static_cast<long long>(v.after), static_cast<long long>(v.expected),
              static_cast<long long>(v.kept()), static_cast<long long>(v.wanted()),
              static_cast<long long>(v.lost()), v.lost() > 0 ? " -- a race" : "");
        }
      } else {
        std::fprintf(text, "%s\n", RepLine(targets[i], r, opts.reps, *rep).c_str());
      }
      std::fflush(text);
      results[i].reps.push_back(std::move(*rep));
    }
  }
  spec.created = NowIso();
  std::fprintf(text, "\n%s", bench::FormatTable(spec, results).c_str());
  nlohmann::json doc = bench::ToJson(spec, results);
  if (!opts.json.empty()) {
    if (json_stdout) {
      std::printf("%s\n", doc.dump(2).c_str());
    } else if (Status s = WriteFile(opts.json, doc.dump(2) + "\n"); !s.ok()) {
      return Fail(s, 1);
    } else {
      std::fprintf(text, "json: %s\n", opts.json.c_str());
    }
  }
  if (!opts.html.empty()) {
    if (Status s = WriteFile(opts.html, bench::RenderHtml(doc)); !s.ok()) return Fail(s, 1);
    std::fprintf(text, "report: %s\n", fs::absolute(opts.html).string().c_str());
  }
  // A target where nothing succeeded measured nothing: say so to scripts.
  for (const auto& t : results) {
    uint64_t completed = 0;
    for (const auto& rep : t.reps) completed += rep.load.completed;
    if (completed == 0) return 1;
  }
  return 0;
}

}  // namespace edgelab::cli
