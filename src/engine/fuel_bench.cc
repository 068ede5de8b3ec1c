// engine/fuel_bench.cc: measures the numbers behind kFuelPerMs (engine.h):
// how much fuel the metered interpreter burns per millisecond of CPU, and
// what metering costs against the same module run unmetered. A standalone
// tool, not a test (timings vary by machine and load):
//
//   ninja -C build edgelab_fuel_bench && build/src/engine/edgelab_fuel_bench
//
// Three workloads: "tight", a counting loop of 8 instructions per iteration
// (the check at its head is as long as its body); "mixed", a loop of ~40
// instructions (arithmetic, memory, an if, a call) closer to compiled guest
// code; "forever", `loop br 0` (clang's `for (;;);`), metered only: it runs
// until its fuel is gone. Times are process CPU time, best of 5 runs.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "abi/context.h"
#include "engine/engine.h"
#include "wabt/binary-reader.h"
#include "wabt/binary-writer.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/interp/interp.h"
#include "wabt/ir.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace {

using namespace edgelab;  // NOLINT: a small tool
namespace interp = wabt::interp;

constexpr uint64_t kTightIters = 20'000'000;
constexpr uint64_t kTightInstrs = 8;  // per iteration, as counted below

const char kWat[] = R"((module
  (memory (export "memory") 1)
  (func $mix (param $x i32) (result i32)
    (i32.xor (i32.mul (local.get $x) (i32.const 0x9e3779b1))
             (i32.shr_u (local.get $x) (i32.const 15))))
  ;; 8 instructions per iteration: local.get, i32.const, i32.add, local.set,
  ;; local.get, i32.const, i32.lt_u, br_if.
  (func (export "tight") (local $i i32)
    (loop $top
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $i) (i32.const 20000000)))))
  (func (export "mixed") (local $i i32) (local $h i32)
    (loop $top
      (local.set $h (call $mix (i32.add (local.get $h) (local.get $i))))
      (i32.store (i32.and (i32.shl (local.get $i) (i32.const 2)) (i32.const 0xfffc))
                 (local.get $h))
      (local.set $h (i32.add (local.get $h)
        (i32.load (i32.and (i32.add (local.get $h) (i32.const 4)) (i32.const 0xfffc)))))
      (if (i32.and (local.get $h) (i32.const 1))
        (then (local.set $h (i32.rotl (local.get $h) (i32.const 7))))
        (else (local.set $h (i32.sub (local.get $h) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $i) (i32.const 5000000)))))
  (func (export "forever") (loop $l (br $l)))
  (func (export "fetch"))))";

std::vector<uint8_t> Assemble() {
  wabt::Errors errors;
  wabt::Features features;
  auto lexer = wabt::WastLexer::CreateBufferLexer("bench.wat", kWat, sizeof(kWat) - 1, &errors);
  wabt::WastParseOptions options(features);
  std::unique_ptr<wabt::Module> module;
  if (wabt::Failed(wabt::ParseWatModule(lexer.get(), &module, &errors, &options)) ||
      wabt::Failed(wabt::ResolveNamesModule(module.get(), &errors))) {
    std::fprintf(stderr, "bad WAT\n");
    std::exit(1);
  }
  wabt::MemoryStream stream;
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, module.get(), wabt::WriteBinaryOptions()))) {
    std::exit(1);
  }
  return stream.output_buffer().data;
}

double CpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// Best-of-5 CPU seconds of `run`.
template <typename F>
double Best(F run) {
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    const double t0 = CpuSeconds();
    run();
    best = std::min(best, CpuSeconds() - t0);
  }
  return best;
}

// The export `name` of the unmetered module, on the bare interpreter.
double Unmetered(const std::vector<uint8_t>& bytes, const char* name) {
  interp::Store store;
  interp::ModuleDesc desc;
  wabt::Errors errors;
  wabt::ReadBinaryOptions options;
  if (wabt::Failed(
          interp::ReadBinaryInterp("bench", bytes.data(), bytes.size(), options, &errors, &desc))) {
    std::exit(1);
  }
  auto module = interp::Module::New(store, desc);
  interp::Trap::Ptr trap;
  auto instance = interp::Instance::Instantiate(store, module.ref(), {}, &trap);
  interp::Func::Ptr func;
  for (size_t i = 0; i < desc.exports.size(); ++i) {
    if (desc.exports[i].type.name == name) {
      func = store.UnsafeGet<interp::Func>(instance->exports()[i]);
    }
  }
  interp::Thread thread(store);
  return Best([&] {
    interp::Values results;
    if (wabt::Failed(func->Call(thread, interp::Values(), results, &trap))) std::exit(1);
  });
}

// The same export through the engine: CPU seconds and fuel used per call.
std::pair<double, uint64_t> Metered(const std::vector<uint8_t>& bytes, const char* name) {
  auto module = engine::Module::FromBytes("bench.wasm", bytes, {"fetch"});
  if (!module.ok()) std::exit(1);
  engine::Engine eng;
  engine::Limits limits;
  limits.fuel = uint64_t{1} << 62;
  abi::Context ctx(nullptr, nullptr, nullptr);
  auto iso = eng.Instantiate(*module, limits, &ctx);
  if (!iso.ok()) std::exit(1);
  uint64_t fuel = 0;
  const double t = Best([&] {
    engine::CallOutcome out = (*iso)->Call(name, &ctx);
    if (!out.ok()) std::exit(1);
    fuel = out.fuel_used;
  });
  return {t, fuel};
}

// "forever" with `fuel`: fuel burnt per ms until it runs out.
void ReportForever(const std::vector<uint8_t>& bytes, uint64_t fuel) {
  auto module = engine::Module::FromBytes("bench.wasm", bytes, {"fetch"});
  if (!module.ok()) std::exit(1);
  engine::Engine eng;
  engine::Limits limits;
  limits.fuel = fuel;
  abi::Context ctx(nullptr, nullptr, nullptr);
  auto iso = eng.Instantiate(*module, limits, &ctx);
  if (!iso.ok()) std::exit(1);
  const double t = Best([&] {
    if ((*iso)->Call("forever", &ctx).kind != engine::CallOutcome::Kind::kOutOfFuel) std::exit(1);
  });
  std::printf("%-7s metered %6.3f s, fuel %llu, %7.0f fuel/ms\n", "forever", t,
              static_cast<unsigned long long>(fuel), fuel / t / 1e3);
}

void Report(const std::vector<uint8_t>& bytes, const char* name, uint64_t instrs) {
  const double bare = Unmetered(bytes, name);
  const auto [metered, fuel] = Metered(bytes, name);
  // The unmetered rate is known only where the instruction count is.
  char rate[32] = "     -";
  if (instrs != 0) std::snprintf(rate, sizeof(rate), "%6.1f", instrs / bare / 1e6);
  std::printf(
      "%-7s unmetered %6.3f s %s M instr/s | metered %6.3f s, fuel %llu, "
      "%7.0f fuel/ms | overhead %+6.1f %%\n",
      name, bare, rate, metered, static_cast<unsigned long long>(fuel), fuel / metered / 1e3,
      (metered / bare - 1) * 100);
}

}  // namespace

int main() {
  const std::vector<uint8_t> bytes = Assemble();
  Report(bytes, "tight", kTightIters * kTightInstrs);
  Report(bytes, "mixed", 0);
  ReportForever(bytes, 200'000'000);
  std::printf("kFuelPerMs is %llu\n", static_cast<unsigned long long>(engine::kFuelPerMs));
  return 0;
}
