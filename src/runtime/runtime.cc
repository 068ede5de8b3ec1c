// runtime/runtime.cc: per-loop engines and pools, and the life of a request
// on its fiber: acquire an isolate, call fetch, map the outcome, log, answer.
#include "runtime/runtime.h"

#include <cstdio>

#include "engine/engine.h"
#include "runtime/pool.h"

namespace edgelab::runtime {

class LoopState {
 public:
  LoopState(sched::RealScheduler* s, std::shared_ptr<const engine::Module> module,
            engine::Limits limits, size_t max, std::function<uint64_t()> next_id)
      : sched(s), pool(&engine, std::move(module), limits, max, s, std::move(next_id)) {}

  sched::RealScheduler* const sched;
  engine::Engine engine;
  IsolatePool pool;
};

namespace {

const char* LevelName(abi::LogLevel level) {
  switch (level) {
    case abi::LogLevel::kDebug:
      return "debug";
    case abi::LogLevel::kInfo:
      return "info";
    case abi::LogLevel::kWarn:
      return "warn";
    case abi::LogLevel::kError:
      return "error";
  }
  return "info";
}

// Loop i's share of `total` split over `n` loops: the shares sum to `total`
// exactly (the first total % n loops get one more).
size_t ShareOf(size_t total, size_t n, size_t i) { return total / n + (i < total % n ? 1 : 0); }

// The path part of a request target, for the access log.
std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

abi::Response Failure(int status, std::string body) {
  abi::Response r;
  r.status = status;
  r.headers.emplace_back("content-type", "text/plain");
  r.body = std::move(body);
  return r;
}

}  // namespace

Runtime::Runtime(Config config, kv::Store* store, sched::LoopGroup* loops, Log* log)
    : config_(std::move(config)), store_(store), loops_(loops), log_(log) {
  for (const auto& kv : config_.kv_namespaces) {
    namespaces_.push_back(std::make_unique<kv::Namespace>(store_, kv.id, config_.kv_latency));
    bindings_.push_back({kv.binding, namespaces_.back().get()});
  }
}

Runtime::~Runtime() = default;

Status Runtime::Start() {
  EDGELAB_ASSIGN_OR_RETURN(auto module, engine::Module::Load(config_.main, {"fetch"}));
  engine::Limits limits;
  limits.fuel = uint64_t{config_.cpu_ms} * engine::kFuelPerMs;
  limits.max_memory_pages = config_.memory_mb * (1024 * 1024 / engine::kPageBytes);
  // Pools on the first min(loops, max) loops only, so that `max` bounds the
  // isolates of the whole process exactly (max = 1 serializes every request).
  size_t n = std::min<size_t>(loops_->size(), config_.isolates_max);
  for (size_t i = 0; i < n; ++i) {
    states_.push_back(std::make_unique<LoopState>(&loops_->loop(i), module, limits,
                                                  ShareOf(config_.isolates_max, n, i),
                                                  [this] { return next_isolate_id_++; }));
  }
  // Prewarm on a fiber of a scheduler of our own, before the loops run, so an
  // _initialize that waits (or fails) does so here and its error reaches the
  // caller. Engines are not yet used by their loops' threads.
  sched::RealScheduler boot;
  Status status;
  boot.Spawn([&] {
    abi::Context ctx(&boot, &bindings_, [this](abi::LogLevel level, std::string_view msg) {
      log_->Line(config_.name + " init " + LevelName(level) + ": " + GuestText(msg));
    });
    // At least one isolate per pool even with min = 0: a module whose
    // _initialize fails should fail `serve`, not its first request.
    for (size_t i = 0; i < states_.size() && status.ok(); ++i) {
      size_t min = ShareOf(config_.isolates_min, states_.size(), i);
      status = states_[i]->pool.Prewarm(std::max<size_t>(min, 1), &ctx);
    }
    boot.Stop();
  });
  boot.Run();
  return status;
}

void Runtime::Handle(size_t loop_index, abi::Request req, std::function<void(abi::Response)> done) {
  sched::RealScheduler& origin = loops_->loop(loop_index);
  const int64_t arrived = origin.NowMicros();
  ++in_flight_;
  if (loop_index < states_.size()) {
    LoopState& loop = *states_[loop_index];
    loop.sched->Spawn(
        [this, &loop, arrived, req = std::move(req), done = std::move(done)]() mutable {
          Serve(loop, arrived, std::move(req), done);
          --in_flight_;
        });
    return;
  }
  // A loop without a pool (max < loops): serve on a pool's loop, answer on
  // ours (the connection belongs to this thread).
  LoopState& loop = *states_[loop_index % states_.size()];
  loop.sched->Post([this, &loop, &origin, arrived, req = std::move(req),
                    done = std::move(done)]() mutable {
    loop.sched->Spawn([this, &loop, &origin, arrived, req = std::move(req),
                       done = std::move(done)]() mutable {
      std::function<void(abi::Response)> reply = [&origin, &done](abi::Response r) {
        origin.Post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      };
      Serve(loop, arrived, std::move(req), reply);
      --in_flight_;
    });
  });
}

void Runtime::Serve(LoopState& loop, int64_t start, abi::Request req,
                    std::function<void(abi::Response)>& done) {
  sched::Scheduler& s = *loop.sched;
  uint64_t isolate_id = 0;
  abi::Context ctx(&s, &bindings_, [this, &isolate_id](abi::LogLevel level, std::string_view msg) {
    log_->Line(config_.name + " isolate=" + std::to_string(isolate_id) + " " + LevelName(level) +
               ": " + GuestText(msg));
  });
  ctx.request = std::move(req);
  ctx.max_response_bytes = uint64_t{config_.memory_mb} * 1024 * 1024;
  abi::Response response;
  auto leased = loop.pool.Acquire(&ctx);
  if (!leased.ok()) {
    log_->Line("error: " + config_.name +
               ": cannot start an isolate: " + leased.status().ToString());
    response = Failure(500, "worker failed to start: " + leased.status().message() + "\n");
  } else {
    std::unique_ptr<PooledIsolate> iso = std::move(*leased);
    isolate_id = iso->id;
    ++iso->requests;
    engine::CallOutcome out = iso->isolate->Call("fetch", &ctx);
    if (!ctx.stdout_line.empty()) ctx.Log(abi::LogLevel::kInfo, ctx.stdout_line);
    if (!ctx.stderr_line.empty()) ctx.Log(abi::LogLevel::kError, ctx.stderr_line);
    response = Outcome(out, ctx, isolate_id);
    if (out.ok()) {
      loop.pool.Release(std::move(iso));
    } else {
      loop.pool.Discard(std::move(iso));
    }
  }
  if (!log_->quiet()) {
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.1fms", (s.NowMicros() - start) / 1000.0);
    log_->Access(ctx.request.method + " " + std::string(PathOf(ctx.request.url)) + " " +
                 std::to_string(response.status) + " " + ms +
                 " isolate=" + std::to_string(isolate_id));
  }
  done(std::move(response));
}

abi::Response Runtime::Outcome(const engine::CallOutcome& out, abi::Context& ctx,
                               uint64_t isolate_id) {
  using K = engine::CallOutcome::Kind;
  std::string who = config_.name + " isolate=" + std::to_string(isolate_id);
  std::string where = out.function.empty() ? "" : " in " + GuestText(out.function);
  switch (out.kind) {
    case K::kOk:
      return std::move(ctx.response);
    case K::kExit:
      if (out.exit_code != 0 && !ctx.response.status_set) ctx.response.status = 500;
      return std::move(ctx.response);
    case K::kOutOfFuel:
      log_->Line("error: " + who +
                 ": exceeded CPU limit (cpu_ms=" + std::to_string(config_.cpu_ms) + ")" + where);
      return Failure(503, "worker exceeded CPU limit\n");
    case K::kOutOfMemory:
      log_->Line("error: " + who + ": exceeded memory limit (memory_mb=" +
                 std::to_string(config_.memory_mb) + ")" + where + ": " + out.message);
      return Failure(503, "worker exceeded memory limit\n");
    case K::kTrap:
      break;
  }
  log_->Line("error: " + who + ": trap" + where + ": " + out.message);
  return Failure(500, "worker trapped" + where + ": " + out.message + "\n");
}

}  // namespace edgelab::runtime
