// runtime/runtime.cc: per-loop engines and pools, and the life of a request
// on its fiber: acquire an isolate, call fetch, map the outcome, log, answer.
#include "runtime/runtime.h"

#include <boost/algorithm/string/predicate.hpp>
#include <cstdio>
#include <optional>

#include "engine/engine.h"
#include "runtime/object_host.h"
#include "runtime/outcome.h"
#include "runtime/pool.h"

namespace edgelab::runtime {

class LoopState {
 public:
  LoopState(sched::Scheduler* s, std::shared_ptr<const engine::Module> module,
            engine::Limits limits, size_t max, std::function<uint64_t()> next_id)
      : sched(s), pool(&engine, std::move(module), limits, max, s, std::move(next_id)) {}

  sched::Scheduler* const sched;
  engine::Engine engine;
  IsolatePool pool;
};

namespace {

// Loop i's share of `total` split over `n` loops: the shares sum to `total`
// exactly (the first total % n loops get one more).
size_t ShareOf(size_t total, size_t n, size_t i) { return total / n + (i < total % n ? 1 : 0); }

// The path part of a request target, for the access log.
std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace

Runtime::Runtime(Config config, kv::Store* store, objects::Backend* objects, sched::Loops* loops,
                 Log* log)
    : config_(std::move(config)),
      store_(store),
      objects_backend_(objects),
      loops_(loops),
      log_(log) {
  kv::LocationOptions where;
  for (const auto& l : config_.locations) {
    where.names.push_back(l.name);
    total_weight_ += l.weight;
  }
  where.cache_ttl_ms = config_.kv_cache_ttl_ms;
  where.propagation = config_.kv_propagation;
  locations_ = std::make_unique<kv::Locations>(store_, std::move(where));
  for (const auto& kv : config_.kv_namespaces) {
    namespaces_.push_back(std::make_unique<kv::Namespace>(store_, kv.id, config_.kv_latency,
                                                          locations_.get(), kv.consistency));
    bindings_.push_back({kv.binding, namespaces_.back().get()});
  }
}

Runtime::~Runtime() {
  // Objects hold isolates of the loops' engines: drop them first.
  registry_.reset();
}

Status Runtime::Start() {
  // The worker's module must also be a class when a binding names it.
  std::vector<std::string> required = {"fetch"};
  for (const auto& b : config_.durable_objects) {
    if (b.script == config_.main && required.size() == 1) required.push_back("do_fetch");
  }
  EDGELAB_ASSIGN_OR_RETURN(auto module, LoadModule(config_.main, required));
  engine::Limits limits;
  limits.fuel = uint64_t{config_.cpu_ms} * engine::kFuelPerMs;
  limits.max_memory_pages = config_.memory_mb * (1024 * 1024 / engine::kPageBytes);
  // Pools on the first min(loops, max) loops only, so that `max` bounds the
  // worker's isolates in the process exactly (max = 1 serializes every
  // request). Durable Object instances are bounded apart, by
  // [durable_objects] max_live_objects.
  size_t n = std::min<size_t>(loops_->size(), config_.isolates_max);
  for (size_t i = 0; i < n; ++i) {
    states_.push_back(std::make_unique<LoopState>(&loops_->loop(i), module, limits,
                                                  ShareOf(config_.isolates_max, n, i),
                                                  [this] { return next_isolate_id_++; }));
  }
  // Durable Object bindings before prewarm, so _initialize sees them as every
  // later isolate will (and a class module's load error stops us early).
  EDGELAB_RETURN_IF_ERROR(StartObjects(module));
  // Prewarm on a fiber before the loops run, so an _initialize that waits
  // (or fails) does so here and its error reaches the caller. Engines are not
  // yet used by their loops' threads.
  Status status;
  loops_->RunToCompletion([&](sched::Scheduler& boot) {
    abi::Context ctx(&boot, &bindings_, [this](abi::LogLevel level, std::string_view msg) {
      log_->Line(config_.name + " init " + LevelName(level) + ": " + GuestText(msg));
    });
    ctx.set_objects(&object_bindings_);
    ctx.set_vars(&config_.vars);
    ctx.set_usage(&usage_);
    // At least one isolate per pool even with min = 0: a module whose
    // _initialize fails should fail `serve`, not its first request.
    for (size_t i = 0; i < states_.size() && status.ok(); ++i) {
      size_t min = ShareOf(config_.isolates_min, states_.size(), i);
      status = states_[i]->pool.Prewarm(std::max<size_t>(min, 1), &ctx);
    }
  });
  return status;
}

// Call sites are resolved at load only when an observer will ask for them
// (engine.h, LoadOptions): set_observer comes before Start.
engine::LoadOptions Runtime::ModuleLoadOptions() const {
  engine::LoadOptions options;
  options.call_sites = observer_ != nullptr;
  return options;
}

Result<std::shared_ptr<const engine::Module>> Runtime::LoadModule(
    const std::string& path, const std::vector<std::string>& required) const {
  if (module_loader_) return module_loader_(path, required, ModuleLoadOptions());
  return engine::Module::Load(path, required, ModuleLoadOptions());
}

Status Runtime::StartObjects(const std::shared_ptr<const engine::Module>& main) {
  if (config_.durable_objects.empty()) return Status::OK();
  auto s = std::make_unique<ClassServices>();
  for (auto& state : states_) {
    s->scheds.push_back(state->sched);
    s->engines.push_back(&state->engine);
  }
  objects::RegistryOptions opts;
  opts.idle_timeout_ms = config_.do_idle_timeout_ms;
  opts.alarm_retry_ms = config_.do_alarm_retry_ms;
  opts.alarm_max_retries = static_cast<int>(config_.do_alarm_max_retries);
  opts.max_live_objects = config_.do_max_live_objects;
  registry_ = std::make_unique<objects::Registry>(
      objects_backend_, s->scheds, opts, [this](const std::string& line) { log_->Line(line); });
  s->registry = registry_.get();
  s->limits.fuel = uint64_t{config_.cpu_ms} * engine::kFuelPerMs;
  s->limits.max_memory_pages = config_.memory_mb * (1024 * 1024 / engine::kPageBytes);
  s->limit_names = {config_.cpu_ms, config_.memory_mb};
  s->max_response_bytes = uint64_t{config_.memory_mb} * 1024 * 1024;
  s->kv = &bindings_;
  s->objects = &object_bindings_;
  s->vars = &config_.vars;
  s->usage = &usage_;
  s->worker = config_.name;
  s->log = log_;
  s->observer = observer_;
  s->next_request_id = &next_request_id_;
  s->next_isolate_id = &next_isolate_id_;
  class_services_ = std::move(s);
  for (const auto& b : config_.durable_objects) {
    ClassNamespace* ns = nullptr;
    for (auto& c : classes_) {
      if (c->class_name() == b.class_name) ns = c.get();
    }
    if (ns == nullptr) {
      std::shared_ptr<const engine::Module> module = main;
      if (b.script != config_.main) {
        EDGELAB_ASSIGN_OR_RETURN(module, LoadModule(b.script, {"do_fetch"}));
      }
      classes_.push_back(
          std::make_unique<ClassNamespace>(b.class_name, module, class_services_.get()));
      ns = classes_.back().get();
    }
    object_bindings_.push_back({b.name, ns});
  }
  return registry_->Start([this](objects::Object& object, int retry) {
    for (auto& c : classes_) {
      if (c->class_name() == object.key().ns) return c->RunAlarm(object, retry);
    }
    return Status::NotFound("no class " + object.key().ns + " in this worker's edge.toml");
  });
}

void Runtime::Shutdown() {
  if (registry_) registry_->Shutdown();
}

void Runtime::Handle(size_t loop_index, abi::Request req, std::function<void(abi::Response)> done) {
  sched::Scheduler& origin = loops_->loop(loop_index);
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

// The routing header's location when it names one; else by `spread`. With
// one location: it.
Result<size_t> Runtime::PickLocation(sched::Scheduler& s, const abi::Request& req) {
  if (config_.locations.size() == 1) return size_t{0};
  for (const auto& [name, value] : req.headers) {
    if (!boost::algorithm::iequals(name, config_.location_header)) continue;
    std::optional<size_t> at = locations_->Find(value);
    if (!at) {
      std::string known;
      for (const auto& l : config_.locations) known += (known.empty() ? "" : ", ") + l.name;
      return Status::InvalidArgument(config_.location_header + ": no location \"" +
                                     GuestText(value) + "\" (edge.toml has " + known + ")");
    }
    return *at;
  }
  if (config_.spread == Config::Spread::kRoundRobin) {
    return static_cast<size_t>(next_location_++ % config_.locations.size());
  }
  // Weighted: a point in [0, total) drawn through the scheduler (a seeded
  // simulation replays it).
  double at = s.Uniform01() * total_weight_;
  for (size_t i = 0; i < config_.locations.size(); ++i) {
    at -= config_.locations[i].weight;
    if (at < 0) return i;
  }
  return config_.locations.size() - 1;
}

void Runtime::Serve(LoopState& loop, int64_t start, abi::Request req,
                    std::function<void(abi::Response)>& done) {
  sched::Scheduler& s = *loop.sched;
  Result<size_t> location = PickLocation(s, req);
  if (!location.ok()) {
    abi::Usage::Add(usage_.requests);
    if (!log_->quiet()) {
      log_->Access(req.method + " " + std::string(PathOf(req.url)) + " 400 " +
                   Millis(s.NowMicros() - start) + " " + location.status().message());
    }
    done(Failure(400, location.status().message() + "\n"));
    return;
  }
  uint64_t isolate_id = 0;
  abi::Context ctx(&s, &bindings_, [this, &isolate_id](abi::LogLevel level, std::string_view msg) {
    log_->Line(config_.name + " isolate=" + std::to_string(isolate_id) + " " + LevelName(level) +
               ": " + GuestText(msg));
  });
  ctx.set_objects(&object_bindings_);
  ctx.set_vars(&config_.vars);
  ctx.set_usage(&usage_);
  ctx.request = std::move(req);
  ctx.location = *location;
  ctx.max_response_bytes = uint64_t{config_.memory_mb} * 1024 * 1024;
  if (observer_ != nullptr) {
    ctx.set_observer(observer_);
    ctx.info.id = next_request_id_++;
    ctx.info.worker = config_.name;
    ctx.info.method = ctx.request.method;
    ctx.info.path = std::string(PathOf(ctx.request.url));
    if (config_.locations.size() > 1) ctx.info.location = config_.locations[*location].name;
    observer_->Begin(ctx.info);
  }
  bool finished = false;
  abi::Response response;
  uint64_t fuel = 0;
  auto leased = loop.pool.Acquire(&ctx);
  if (!leased.ok()) {
    log_->Line("error: " + config_.name +
               ": cannot start an isolate: " + leased.status().ToString());
    response = Failure(500, "worker failed to start: " + leased.status().message() + "\n");
  } else {
    std::unique_ptr<PooledIsolate> iso = std::move(*leased);
    isolate_id = iso->id;
    ctx.info.isolate = isolate_id;
    ++iso->requests;
    engine::CallOutcome out = iso->isolate->Call("fetch", &ctx);
    fuel = out.fuel_used;
    finished = out.ok();
    response = OutcomeResponse(out, ctx, config_.name + " isolate=" + std::to_string(isolate_id),
                               {config_.cpu_ms, config_.memory_mb}, log_);
    if (out.ok()) {
      loop.pool.Release(std::move(iso));
    } else {
      loop.pool.Discard(std::move(iso));
    }
  }
  // Every request counts, whatever its outcome (a worker that cannot start
  // answers 500 and is still a request); its fuel is what the guest burnt.
  abi::Usage::Add(usage_.requests);
  abi::Usage::Add(usage_.cpu_fuel, fuel);
  if (observer_ != nullptr) {
    ctx.info.status = response.status;
    observer_->End(ctx.info, finished);
  }
  if (!log_->quiet()) {
    log_->Access(ctx.request.method + " " + std::string(PathOf(ctx.request.url)) + " " +
                 std::to_string(response.status) + " " + Millis(s.NowMicros() - start) +
                 " cpu=" + CpuMillis(fuel) + " isolate=" + std::to_string(isolate_id));
  }
  done(std::move(response));
}

}  // namespace edgelab::runtime
