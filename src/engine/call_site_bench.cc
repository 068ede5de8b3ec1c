// engine/call_site_bench.cc: what call sites cost (call_sites.h): a host call
// that captures a stack already interned, against the same host call that
// does not, with 2, 8 and 32 guest frames; then, for each module named on the
// command line, its load without and with LoadOptions::call_sites (which
// symbolizes every call) and the table that leaves. A standalone tool, not a
// test (timings vary by machine and load):
//
//   ninja -C build edgelab_call_site_bench call_site_guest && cd build &&
//     src/engine/edgelab_call_site_bench src/engine/call_site_guest.wasm examples/*.wasm
//
// Times are wall clock: best of 5 runs of 200,000 host calls each; best of 5
// loads.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "abi/context.h"
#include "abi/host.h"
#include "engine/engine.h"
#include "engine/module_impl.h"
#include "testing/wat.h"
#include "wabt/binary-writer.h"
#include "wabt/ir.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace {

using namespace edgelab;  // NOLINT: a small tool

constexpr int kCalls = 200'000;
bool g_capture = false;
race::CallSitePtr g_last;

abi::HostOutcome Hook(abi::HostCall& c) {
  if (g_capture) g_last = c.stack->Capture();
  return abi::HostOutcome::Return();
}

const abi::HostFunction* Resolver(std::string_view module, std::string_view name) {
  static const abi::HostFunction kHook{"test", "capture", {}, {}, Hook};
  if (module == "test" && name == "capture") return &kHook;
  return abi::FindHostFunction(module, name);
}

std::vector<uint8_t> Wat(const std::string& wat) {
  std::vector<uint8_t> binary = test::AssembleWat(wat);
  if (binary.empty()) {
    std::fprintf(stderr, "bad WAT\n");
    std::exit(1);
  }
  return binary;
}

// fetch recurses to `depth` (>= 2) guest frames, then makes kCalls host
// calls.
std::string Module(int depth) {
  return R"((module
    (import "test" "capture" (func $capture))
    (memory (export "memory") 1)
    (func $down (param $n i32) (local $i i32)
      (if (i32.gt_u (local.get $n) (i32.const 1))
        (then (call $down (i32.sub (local.get $n) (i32.const 1))) (return)))
      (loop $top
        (call $capture)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $top (i32.lt_u (local.get $i) (i32.const )" +
         std::to_string(kCalls) + R"()))))
    (func $fetch (export "fetch") (call $down (i32.const )" +
         std::to_string(depth - 1) + R"())))
  )";
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Best of 5 of one fetch (kCalls host calls), in seconds.
double Best(const std::shared_ptr<const engine::Module>& m, bool capture) {
  engine::Engine engine;
  abi::Context ctx(nullptr, nullptr, nullptr);
  engine::Limits limits;
  limits.fuel = UINT64_MAX / 2;
  double best = 1e9;
  for (int run = 0; run < 5; ++run) {
    auto iso = engine.Instantiate(m, limits, &ctx);
    if (!iso.ok()) std::exit(1);
    g_capture = capture;
    const auto start = std::chrono::steady_clock::now();
    if (!(*iso)->Call("fetch", &ctx).ok()) std::exit(1);
    best = std::min(best, Seconds(std::chrono::steady_clock::now() - start));
  }
  return best;
}

// Best of 5 loads of `bytes`, in seconds; the last module in *out.
double BestLoad(const char* path, const std::vector<uint8_t>& bytes, bool call_sites,
                std::shared_ptr<const engine::Module>* out) {
  engine::LoadOptions options;
  options.call_sites = call_sites;
  double best = 1e9;
  for (int run = 0; run < 5; ++run) {
    const auto start = std::chrono::steady_clock::now();
    auto m = engine::Module::FromBytes(path, bytes, {}, Resolver, options);
    best = std::min(best, Seconds(std::chrono::steady_clock::now() - start));
    if (!m.ok()) {
      std::fprintf(stderr, "%s: %s\n", path, m.status().ToString().c_str());
      std::exit(1);
    }
    *out = *m;
  }
  return best;
}

// The load of the module at `path` without and with call sites.
void LoadCost(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.empty()) return;
  std::shared_ptr<const engine::Module> m;
  const double without = BestLoad(path, bytes, false, &m);
  const double with = BestLoad(path, bytes, true, &m);
  const engine::CallSiteStats& st = m->impl().call_sites->stats();
  std::printf(
      "  %s (%zu KB): %.2f ms, with call sites %.2f ms (+%.2f); %zu calls, %zu from DWARF, "
      "%zu units refused, table %zu KB\n",
      path, bytes.size() / 1024, without * 1e3, with * 1e3, (with - without) * 1e3, st.calls,
      st.dwarf_calls, st.units_refused, st.table_bytes / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("host call, cached capture vs none (ns per call, best of 5 x %d calls)\n", kCalls);
  for (int depth : {2, 8, 32}) {
    engine::LoadOptions options;
    options.call_sites = true;
    auto m =
        engine::Module::FromBytes("bench.wasm", Wat(Module(depth)), {"fetch"}, Resolver, options);
    if (!m.ok()) return 1;
    const double none = Best(*m, false), with = Best(*m, true);
    std::printf("  %2zu frames: none %.1f, capture %.1f: capture costs %.1f ns\n",
                g_last ? g_last->frames.size() : 0, none * 1e9 / kCalls, with * 1e9 / kCalls,
                (with - none) * 1e9 / kCalls);
  }
  if (argc > 1) std::printf("module load, best of 5 (ms)\n");
  for (int i = 1; i < argc; ++i) LoadCost(argv[i]);
  return 0;
}
