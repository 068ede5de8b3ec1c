// instance/instance.cc: the wiring `edgelab serve` used to do inline: config,
// stores, runtime, HTTP front, loops; and their stop in order.
#include "instance/instance.h"

#include <filesystem>

#include "kv/memory_store.h"
#include "kv/sqlite_store.h"
#include "objects/backend.h"
#include "runtime/runtime.h"
#include "sched/process.h"
#include "sched/real_scheduler.h"

namespace edgelab::instance {
namespace {

namespace fs = std::filesystem;

// Adapts the runtime to the HTTP front; the two share no types.
class RuntimeHandler final : public http::Handler {
 public:
  explicit RuntimeHandler(runtime::Runtime* rt) : rt_(rt) {}
  void Handle(size_t loop, http::Request req, std::function<void(http::Response)> done) override {
    abi::Request r;
    r.method = std::move(req.method);
    r.url = std::move(req.target);
    r.headers = std::move(req.headers);
    r.body = std::move(req.body);
    rt_->Handle(loop, std::move(r), [done = std::move(done)](abi::Response a) {
      http::Response h;
      h.status = a.status;
      h.headers = std::move(a.headers);
      h.body = std::move(a.body);
      done(std::move(h));
    });
  }

 private:
  runtime::Runtime* const rt_;
};

// "host:port" for a URL, with brackets around an IPv6 address.
std::string HostPort(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

// Declared in the order they must be built; destroyed in reverse.
struct Instance::Parts {
  InstanceOptions opts;
  runtime::Config config;
  std::unique_ptr<kv::Store> kv;
  std::unique_ptr<objects::Backend> objects;
  std::unique_ptr<sched::LoopGroup> loops;
  std::unique_ptr<runtime::Log> log;
  std::unique_ptr<runtime::Runtime> rt;
  std::unique_ptr<RuntimeHandler> handler;
  std::unique_ptr<http::Server> server;
  bool finished = false;

  // The durable state named by opts.data: KV in kv.sqlite3, Durable Object
  // storage in objects.sqlite3; both in memory for ":memory:".
  Status OpenData() {
    if (opts.data == ":memory:") {
      kv = std::make_unique<kv::MemoryStore>(sched::SystemClock());
      objects = std::make_unique<objects::MemoryBackend>();
      return Status::OK();
    }
    fs::path dir = opts.data.empty() ? fs::path(config.dir) / ".edgelab" : fs::path(opts.data);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError(dir.string() + ": cannot create data folder: " + ec.message());
    auto store = kv::SqliteStore::Open((dir / "kv.sqlite3").string(), sched::SystemClock());
    if (!store.ok()) return store.status();
    kv = std::move(*store);
    auto backend = objects::SqliteBackend::Open((dir / "objects.sqlite3").string());
    if (!backend.ok()) return backend.status();
    objects = std::move(*backend);
    return Status::OK();
  }
};

Instance::Instance(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Instance::~Instance() {
  if (!parts_ || !parts_->loops || parts_->finished) return;
  // Destroyed without Finish (an early return): stop accepting and close
  // idle connections, stop alarms and sweeps, so that the loops run out of
  // work and Stop can join them; loops still running would call into parts
  // being destroyed. A request still running keeps its loop (the contract:
  // Finish first, or leave the process as invariant (2) says).
  if (parts_->server) parts_->server->Shutdown([] {});
  if (parts_->rt) parts_->rt->Shutdown();
  parts_->loops->Stop();
}

Result<std::unique_ptr<Instance>> Instance::Start(const InstanceOptions& opts, bool* bad_input,
                                                  FILE* log) {
  *bad_input = false;
  auto p = std::make_unique<Parts>();
  p->opts = opts;
  auto config = runtime::LoadConfig(opts.config);
  if (!config.ok()) {
    *bad_input = true;
    return config.status();
  }
  p->config = std::move(*config);
  EDGELAB_RETURN_IF_ERROR(p->OpenData());
  p->loops = std::make_unique<sched::LoopGroup>(opts.threads);  // 0: one per core
  p->log = std::make_unique<runtime::Log>(log, opts.quiet);
  p->rt = std::make_unique<runtime::Runtime>(p->config, p->kv.get(), p->objects.get(),
                                             p->loops.get(), p->log.get());
  p->rt->set_observer(opts.observer);
  if (Status s = p->rt->Start(); !s.ok()) {
    *bad_input = true;
    return s;
  }
  p->handler = std::make_unique<RuntimeHandler>(p->rt.get());
  http::ServerOptions sopts;
  sopts.host = opts.host;
  sopts.port = opts.port;
  sopts.max_body_bytes = opts.max_body_bytes;
  p->server = std::make_unique<http::Server>(sopts, p->handler.get(), p->loops.get());
  EDGELAB_RETURN_IF_ERROR(p->server->Listen());
  p->loops->Start();
  return std::unique_ptr<Instance>(new Instance(std::move(p)));
}

const runtime::Config& Instance::config() const { return parts_->config; }
uint16_t Instance::port() const { return parts_->server->port(); }
size_t Instance::threads() const { return parts_->loops->size(); }
std::string Instance::Url() const { return "http://" + HostPort(parts_->opts.host, port()); }
abi::UsageCounts Instance::usage() const { return parts_->rt->usage(); }
uint64_t Instance::in_flight() const { return parts_->rt->in_flight(); }
int64_t Instance::objects_busy() const { return parts_->rt->objects_busy(); }
http::ServerStats Instance::server_stats() const { return parts_->server->stats(); }

void Instance::BeginDrain(std::function<void()> http_drained) {
  parts_->server->Shutdown(std::move(http_drained));
}

void Instance::ShutdownObjects() { parts_->rt->Shutdown(); }

Status Instance::Flush() {
  Status first;
  for (Status s : {parts_->kv->Flush(), parts_->objects->Flush()}) {
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status Instance::Finish() {
  parts_->loops->Stop();
  parts_->finished = true;
  return Flush();
}

Status Instance::Stop(double timeout_s) {
  const int64_t deadline = sched::MonotonicMillis() + static_cast<int64_t>(timeout_s * 1000);
  auto drained = std::make_shared<sched::Latch>();
  BeginDrain([drained] { drained->Set(); });
  if (!drained->WaitFor(std::max<int64_t>(0, deadline - sched::MonotonicMillis()))) {
    return Status::Timeout("stopping " + parts_->config.name + ": " + std::to_string(in_flight()) +
                           " requests still running");
  }
  ShutdownObjects();
  while (objects_busy() != 0) {
    if (sched::MonotonicMillis() >= deadline) {
      return Status::Timeout("stopping " + parts_->config.name + ": " +
                             std::to_string(objects_busy()) +
                             " Durable Object calls still running");
    }
    sched::SleepMillis(2);
  }
  return Finish();
}

}  // namespace edgelab::instance
