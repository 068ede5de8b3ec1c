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
//
// Then the numbers behind kBytesPerFuel and kHostCallFuel (engine.h): how
// many bytes the host's memcpy moves in the time one fuel unit takes (cache-
// resident and DRAM-sized buffers), what one host call costs beyond the loop
// around it, and the per-byte rate of real ABI calls (random, resp_write)
// made from a guest loop.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "abi/context.h"
#include "engine/engine.h"
#include "testing/fake_scheduler.h"
#include "testing/wat.h"
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

const char kHostWat[] = R"((module
  (import "edgelab" "resp_status" (func $status (param i32)))
  (import "edgelab" "random" (func $random (param i32 i32)))
  (import "edgelab" "resp_write" (func $write (param i32 i32)))
  (memory (export "memory") 17)
  ;; 100,000 iterations, with and without a host call touching no bytes,
  ;; then 1 MiB per call: 1,000 calls of random, 100 of resp_write (the
  ;; body it builds must stay under the 128 MiB response cap).
  (func (export "empty") (local $i i32)
    (loop $top
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $i) (i32.const 100000)))))
  (func (export "calls") (local $i i32)
    (loop $top
      (call $status (i32.const 200))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $i) (i32.const 100000)))))
  (func (export "random") (local $i i32)
    (loop $top
      (call $random (i32.const 0) (i32.const 1048576))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $i) (i32.const 1000)))))
  (func (export "write") (local $i i32)
    (loop $top
      (call $write (i32.const 0) (i32.const 1048576))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $i) (i32.const 100)))))
  (func (export "fetch"))))";
constexpr double kHostLoopCalls = 100'000;
constexpr double kByteCallBytes = 1 << 20;

std::vector<uint8_t> Assemble(const std::string& wat) {
  std::vector<uint8_t> binary = test::AssembleWat(wat, /*names=*/false);
  if (binary.empty()) {
    std::fprintf(stderr, "bad WAT\n");
    std::exit(1);
  }
  return binary;
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

// Bytes the host's memcpy moves per fuel unit, for buffers of `size`.
void ReportMemcpy(size_t size) {
  std::vector<uint8_t> from(size, 1), to(size);
  const size_t rounds = (size_t{4} << 30) / size;  // 4 GiB in all
  const double t = Best([&] {
    for (size_t i = 0; i < rounds; ++i) {
      from[i % size] = static_cast<uint8_t>(i);  // not a copy the compiler may skip
      std::memcpy(to.data(), from.data(), size);
    }
  });
  const double bytes_per_ms = static_cast<double>(rounds * size) / t / 1e3;
  std::printf("memcpy  %8zu KiB buffers: %6.2f GB/s, %5.1f bytes per fuel\n", size >> 10,
              bytes_per_ms / 1e6, bytes_per_ms / engine::kFuelPerMs);
}

// CPU seconds of one call of `name` in kHostWat through the engine.
double HostRun(engine::Isolate* iso, abi::Context* ctx, const char* name) {
  return Best([&] {
    ctx->response.body.clear();
    engine::CallOutcome out = iso->Call(name, ctx);
    if (!out.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, out.message.c_str());
      std::exit(1);
    }
  });
}

// A host call's own cost in fuel, and the per-byte rate of real ABI calls.
void ReportHostCalls() {
  auto module = engine::Module::FromBytes("host.wasm", Assemble(kHostWat), {"fetch"});
  if (!module.ok()) std::exit(1);
  engine::Engine eng;
  engine::Limits limits;
  limits.fuel = uint64_t{1} << 62;
  test::FakeScheduler sched;
  abi::Context ctx(&sched, nullptr, nullptr);
  auto iso = eng.Instantiate(*module, limits, &ctx);
  if (!iso.ok()) std::exit(1);
  const double per_call =
      (HostRun(iso->get(), &ctx, "calls") - HostRun(iso->get(), &ctx, "empty")) / kHostLoopCalls;
  std::printf("host call (resp_status): %4.0f ns, %5.1f fuel; kHostCallFuel is %llu\n",
              per_call * 1e9, per_call * 1e3 * engine::kFuelPerMs,
              static_cast<unsigned long long>(engine::kHostCallFuel));
  for (const auto& [name, calls] : {std::pair{"random", 1000.0}, std::pair{"write", 100.0}}) {
    const double bytes_per_ms = calls * kByteCallBytes / HostRun(iso->get(), &ctx, name) / 1e3;
    std::printf("%-7s 1 MiB per call: %6.2f GB/s, %5.1f bytes per fuel\n", name, bytes_per_ms / 1e6,
                bytes_per_ms / engine::kFuelPerMs);
  }
  std::printf("kBytesPerFuel is %llu\n", static_cast<unsigned long long>(engine::kBytesPerFuel));
}

}  // namespace

int main() {
  const std::vector<uint8_t> bytes = Assemble(kWat);
  Report(bytes, "tight", kTightIters * kTightInstrs);
  Report(bytes, "mixed", 0);
  ReportForever(bytes, 200'000'000);
  std::printf("kFuelPerMs is %llu\n", static_cast<unsigned long long>(engine::kFuelPerMs));
  ReportMemcpy(64 << 10);
  ReportMemcpy(1 << 20);
  ReportMemcpy(64 << 20);
  ReportHostCalls();
  return 0;
}
