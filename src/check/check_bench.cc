// check/check_bench.cc: times CheckLinearizable on history files, for
// bench/check-vs-porcupine.sh (docs/benchmarks.md), and writes the generated
// etcd-style Jepsen logs that script also feeds to Porcupine. A standalone
// tool, not a test (timings vary by machine and load):
//
//   ninja -C build edgelab_check_bench
//   build/src/check/edgelab_check_bench [--model M] [--min-ms N] [--timeout S] FILE...
//   build/src/check/edgelab_check_bench --generate DIR
//
// Timing: one line per file, tab-separated,
//   file  verdict  ops  parse_us  check_us
// parse_us is ParseHistory once; check_us the median of CheckLinearizable
// over as many runs as fit in --min-ms (at least 3, unless they take over a
// second). The file is read before either clock starts; parsing is not in
// check_us. A check gives up as `unknown` after --timeout seconds (default
// 60). A check that is not linearizable includes its explanation (the prefix
// and the stuck op): CheckLinearizable always builds it.
//
// --generate DIR writes etcd-style logs in Jepsen's old format (the one
// Porcupine's test parser reads): one register, values 0..4, reads 50%,
// writes 30%, cas 20%, each op taking effect at a random moment inside its
// interval; 2% of writes and cas end in :info (half of them took effect; the
// process is then replaced by a fresh one, as Jepsen does). For 5, 10 and 20
// clients, 1,000 ops, seeds 1..3: `ok` is linearizable by construction;
// `bad-end` turns the last ok read into a read of 9 (never written);
// `stale-mid` and `stale-end` make one ok read, from the middle or from 90%
// of the ops on, return a value no op can have left there
// (ReadOfIsImpossible).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "check/history.h"
#include "check/linearizable.h"

namespace {

using namespace edgelab;         // NOLINT: a small tool
using namespace edgelab::check;  // NOLINT

struct GenOp {
  int process = 0;
  std::string f;
  int a = 0, b = 0;  // write value / cas old, new
  int read = -1;     // value an ok read saw, -1 nil
  bool ok = true, info = false;
  int invoke_line = 0, complete_line = -1;  // 0-based; -1: never (info)
};

// One line of Jepsen's old log format.
// (Built with += throughout: g++ 12 at -O3 warns falsely, -Wrestrict, on
// "literal" + std::string temporaries.)
std::string LogLine(int process, const char* type, const std::string& f, const std::string& v) {
  std::string s = "INFO  jepsen.util - ";
  s += std::to_string(process);
  for (const std::string& part : {std::string("\t:") + type, "\t:" + f, "\t" + v}) s += part;
  return s += '\n';
}

std::string Arg(const GenOp& op, bool completion) {
  if (op.f == "read") return completion ? (op.read < 0 ? "nil" : std::to_string(op.read)) : "nil";
  if (op.f == "write") return std::to_string(op.a);
  std::string s = "[";
  s += std::to_string(op.a);
  s += ' ';
  s += std::to_string(op.b);
  return s += ']';
}

// One simulated run: its log lines and its ops.
struct Run {
  std::vector<std::string> lines;
  std::vector<GenOp> ops;
};

Run Simulate(int op_count, int clients, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  struct Client {
    int process;
    GenOp op;
    bool open = false, applied = false;
  };
  std::vector<Client> cs;
  for (int i = 0; i < clients; ++i) cs.push_back({i, {}, false, false});
  int state = -1, invoked = 0, open = 0;
  Run run;
  while (invoked < op_count || open > 0) {
    Client& c = cs[pick(clients)];
    if (!c.open) {
      if (invoked == op_count) continue;
      int f = pick(10);  // reads half the time, as in the etcd logs
      c.op = GenOp{c.process, f < 5 ? "read" : f < 8 ? "write" : "cas", pick(5), pick(5)};
      c.op.invoke_line = static_cast<int>(run.lines.size());
      c.open = true, c.applied = false;
      ++invoked, ++open;
      run.lines.push_back(LogLine(c.process, "invoke", c.op.f, Arg(c.op, false)));
    } else if (!c.applied) {
      c.op.info = c.op.f != "read" && pick(100) < 2;
      if (!c.op.info || pick(2) == 0) {  // half of the timed-out ops took effect
        if (c.op.f == "read") c.op.read = state;
        if (c.op.f == "write") state = c.op.a;
        if (c.op.f == "cas") {
          c.op.ok = state == c.op.a;
          if (c.op.ok) state = c.op.b;
        }
      }
      c.applied = true;
    } else {
      if (c.op.info) {
        run.lines.push_back(LogLine(c.process, "info", c.op.f, ":timed-out"));
        c.process += clients;
      } else {
        c.op.complete_line = static_cast<int>(run.lines.size());
        run.lines.push_back(LogLine(c.process, c.op.ok ? "ok" : "fail", c.op.f, Arg(c.op, true)));
      }
      run.ops.push_back(c.op);
      c.open = false;
      --open;
    }
  }
  return run;
}

std::string ReplaceRead(const std::string& line, int value) {
  size_t tab = line.rfind('\t');
  std::string s = line.substr(0, tab + 1);
  s += std::to_string(value);
  return s += '\n';
}

bool WriteFile(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const std::string& l : lines) out << l;
  return static_cast<bool>(out);
}

// Whether an ok read `r` of `u` is impossible: some ok write w of another
// value completed before r's invoke, and no op that could write u (any write
// of u or cas to u, whatever its outcome) can take effect between w's invoke
// and r's completion. Then every state r could see was set by w or by an op
// placed after w, none of which wrote u.
bool ReadOfIsImpossible(const Run& run, const GenOp& r, int u) {
  const GenOp* w = nullptr;
  for (const GenOp& o : run.ops) {
    if (o.f == "write" && !o.info && o.complete_line < r.invoke_line &&
        (w == nullptr || o.complete_line > w->complete_line)) {
      w = &o;
    }
  }
  if (w == nullptr || w->a == u) return false;
  for (const GenOp& o : run.ops) {
    bool writes_u = (o.f == "write" && o.a == u) || (o.f == "cas" && o.b == u);
    int end = o.complete_line < 0 ? INT32_MAX : o.complete_line;
    if (writes_u && end > w->invoke_line && o.invoke_line < r.complete_line) return false;
  }
  return true;
}

// The run with one ok read reading a stale value that makes it impossible
// (ReadOfIsImpossible): the first such read from `from` (a fraction of the
// ops) on, else the last one before.
std::vector<std::string> WithStaleRead(const Run& run, double from) {
  std::vector<std::string> lines = run.lines;
  size_t n = run.ops.size(), start = static_cast<size_t>(from * n);
  for (size_t k = 0; k < n; ++k) {
    const GenOp& r = run.ops[start + k < n ? start + k : n - 1 - k];
    if (r.f != "read" || r.info) continue;
    for (int u = 0; u < 5; ++u) {
      if (ReadOfIsImpossible(run, r, u)) {
        lines[r.complete_line] = ReplaceRead(lines[r.complete_line], u);
        return lines;
      }
    }
  }
  return {};
}

int Generate(const std::string& dir) {
  for (int clients : {5, 10, 20}) {
    for (uint32_t seed = 1; seed <= 3; ++seed) {
      Run run = Simulate(1000, clients, seed * 100 + clients);
      std::string base = dir;
      for (const std::string& part :
           {"/gen-c" + std::to_string(clients), "-s" + std::to_string(seed)}) {
        base += part;
      }
      std::vector<std::string> bad = run.lines;
      for (auto r = run.ops.rbegin(); r != run.ops.rend(); ++r) {
        if (r->f != "read" || r->info) continue;
        bad[r->complete_line] = ReplaceRead(bad[r->complete_line], 9);  // never written
        break;
      }
      std::vector<std::string> mid = WithStaleRead(run, 0.5), end = WithStaleRead(run, 0.9);
      if (mid.empty() || end.empty()) {
        std::fprintf(stderr, "%s: no read could be made stale\n", base.c_str());
        return 2;
      }
      if (!WriteFile(base + "-ok.log", run.lines) || !WriteFile(base + "-bad-end.log", bad) ||
          !WriteFile(base + "-stale-mid.log", mid) || !WriteFile(base + "-stale-end.log", end)) {
        return 2;
      }
    }
  }
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Time(const std::vector<std::string>& files, Model model, double min_ms, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  auto us = [](Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read\n", file.c_str());
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto t0 = Clock::now();
    Result<History> h = ParseHistory(text.str());
    double parse_us = us(Clock::now() - t0);
    if (!h.ok()) {
      std::fprintf(stderr, "%s: %s\n", file.c_str(), h.status().ToString().c_str());
      return 2;
    }
    std::vector<double> times;
    Verdict verdict = Verdict::kUnknown;
    auto start = Clock::now();
    auto more = [&] {
      double spent_ms = us(Clock::now() - start) / 1000;
      return (times.size() < 3 && spent_ms < 1000) || (spent_ms < min_ms && times.size() < 10000);
    };
    while (times.empty() || more()) {
      auto t = Clock::now();
      auto out_of_time = [&] { return us(Clock::now() - t) > timeout_s * 1e6; };
      Result<CheckResult> r = CheckLinearizable(*h, model, out_of_time);
      times.push_back(us(Clock::now() - t));
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", file.c_str(), r.status().ToString().c_str());
        return 2;
      }
      verdict = r->verdict;
    }
    std::string v = VerdictName(verdict);
    std::replace(v.begin(), v.end(), ' ', '-');
    std::printf("%s\t%s\t%zu\t%.1f\t%.1f\n", file.c_str(), v.c_str(), h->ops.size(), parse_us,
                Median(times));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Model model = Model::kCasRegister;
  double min_ms = 50, timeout_s = 60;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--generate" && i + 1 < argc) return Generate(argv[i + 1]);
    if (a == "--min-ms" && i + 1 < argc) {
      min_ms = std::atof(argv[++i]);
    } else if (a == "--timeout" && i + 1 < argc) {
      timeout_s = std::atof(argv[++i]);
    } else if (a == "--model" && i + 1 < argc) {
      Result<Model> m = ParseModel(argv[++i]);
      if (!m.ok()) {
        std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
        return 2;
      }
      model = *m;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr,
                   "usage: edgelab_check_bench [--model M] [--min-ms N] [--timeout S] FILE...\n"
                   "       edgelab_check_bench --generate DIR\n");
      return 2;
    } else {
      files.push_back(a);
    }
  }
  return Time(files, model, min_ms, timeout_s);
}
