// cli/serve.cc: `edgelab serve edge.toml`: wires config, store, runtime and
// the HTTP front together, and owns the process's life: SIGINT/SIGTERM stop
// accepting, in-flight requests finish, the store is flushed, exit 0.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include "cli/commands.h"
#include "http/server.h"
#include "kv/memory_store.h"
#include "kv/sqlite_store.h"
#include "objects/backend.h"
#include "runtime/runtime.h"
#include "sched/process.h"

namespace edgelab::cli {
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

// The durable state named by --data (default: .edgelab/ beside edge.toml):
// KV in kv.sqlite3, Durable Object storage in objects.sqlite3; both in
// memory for ":memory:".
struct Data {
  std::unique_ptr<kv::Store> kv;
  std::unique_ptr<objects::Backend> objects;
};

Result<Data> OpenData(const ServeOptions& opts, const runtime::Config& config) {
  Data d;
  if (opts.data == ":memory:") {
    d.kv = std::make_unique<kv::MemoryStore>(sched::SystemClock());
    d.objects = std::make_unique<objects::MemoryBackend>();
    return d;
  }
  fs::path dir = opts.data.empty() ? fs::path(config.dir) / ".edgelab" : fs::path(opts.data);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(dir.string() + ": cannot create data folder: " + ec.message());
  auto store = kv::SqliteStore::Open((dir / "kv.sqlite3").string(), sched::SystemClock());
  if (!store.ok()) return store.status();
  d.kv = std::move(*store);
  auto backend = objects::SqliteBackend::Open((dir / "objects.sqlite3").string());
  if (!backend.ok()) return backend.status();
  d.objects = std::move(*backend);
  return d;
}

// Flushes both stores; reports each failure.
bool FlushData(Data& d) {
  bool ok = true;
  for (Status s : {d.kv->Flush(), d.objects->Flush()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "edgelab: %s\n", s.message().c_str());
      ok = false;
    }
  }
  return ok;
}

int Fail(const Status& s, int code) {
  std::fprintf(stderr, "edgelab: %s\n", s.message().c_str());
  return code;
}

// Waits until `done()`; false when it did not happen in time: a second
// signal, or `deadline_ms` (MonotonicMillis) passed with requests still
// running (a guest sleeping for hours must not keep a stopping server alive).
bool WaitForDrain(const std::function<bool()>& done, int64_t deadline_ms, double timeout_s,
                  const runtime::Runtime& rt) {
  while (!done()) {
    if (int sig = sched::WaitForSignalFor({SIGINT, SIGTERM}, 5); sig != 0) {
      std::fprintf(stderr, "edgelab: %s again: stopping now, %llu requests unanswered\n",
                   strsignal(sig), static_cast<unsigned long long>(rt.in_flight()));
      return false;
    }
    if (sched::MonotonicMillis() >= deadline_ms) {
      std::fprintf(stderr,
                   "edgelab: drain timed out after %.0f s: stopping now, %llu requests "
                   "unanswered, %lld Durable Object calls unfinished (--drain-timeout)\n",
                   timeout_s, static_cast<unsigned long long>(rt.in_flight()),
                   static_cast<long long>(rt.objects_busy()));
      return false;
    }
  }
  return true;
}

// "host:port" for a URL, with brackets around an IPv6 address.
std::string HostPort(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

int Serve(const ServeOptions& opts) {
  auto config = runtime::LoadConfig(opts.config);
  if (!config.ok()) return Fail(config.status(), 2);
  auto data = OpenData(opts, *config);
  if (!data.ok()) return Fail(data.status(), 1);
  sched::RaiseFileLimit();  // one descriptor per connection: 1000 in flight needs more than 1024

  sched::BlockSignals({SIGINT, SIGTERM});
  sched::LoopGroup loops(opts.threads);  // 0: one per core
  size_t threads = loops.size();
  runtime::Log log(stderr, opts.quiet);
  runtime::Runtime rt(*config, data->kv.get(), data->objects.get(), &loops, &log);
  if (Status s = rt.Start(); !s.ok()) return Fail(s, 2);

  RuntimeHandler handler(&rt);
  http::ServerOptions sopts;
  sopts.host = opts.host;
  sopts.port = opts.port;
  sopts.max_body_bytes = opts.max_body_bytes;
  http::Server server(sopts, &handler, &loops);
  if (Status s = server.Listen(); !s.ok()) return Fail(s, 1);
  loops.Start();
  std::fprintf(stderr, "edgelab: serving %s (%s) on http://%s with %zu threads\n",
               config->name.c_str(), config->main.c_str(),
               HostPort(opts.host, server.port()).c_str(), threads);

  int sig = sched::WaitForSignal({SIGINT, SIGTERM});
  std::fprintf(stderr, "edgelab: %s: finishing %llu in-flight requests (again to stop now)\n",
               strsignal(sig), static_cast<unsigned long long>(rt.in_flight()));
  sched::Latch drained;
  server.Shutdown([&drained] { drained.Set(); });
  // Then Durable Object calls and alarm turns: a turn waiting on a call to
  // another loop is no work that loop knows of, so the loops keep running
  // until none is left. Both phases share the drain timeout.
  const int64_t deadline =
      sched::MonotonicMillis() + static_cast<int64_t>(opts.drain_timeout_s * 1000);
  bool drained_all =
      WaitForDrain([&] { return drained.IsSet(); }, deadline, opts.drain_timeout_s, rt);
  if (drained_all) {
    rt.Shutdown();
    drained_all =
        WaitForDrain([&] { return rt.objects_busy() == 0; }, deadline, opts.drain_timeout_s, rt);
  }
  if (!drained_all) {
    // Requests still run on the loops: flush what is stored and leave
    // without joining them. The stores are thread-safe; nothing stored is
    // lost (a Durable Object answer not yet sent was not yet promised).
    FlushData(*data);
    std::fflush(stderr);
    std::_Exit(1);
  }
  loops.Stop();
  if (!FlushData(*data)) return 1;
  http::ServerStats st = server.stats();
  if (st.rejected_connections + st.request_timeouts + st.write_timeouts > 0) {
    std::fprintf(stderr,
                 "edgelab: connections refused over the cap: %llu; requests timed out (408): "
                 "%llu; clients that stopped reading: %llu\n",
                 static_cast<unsigned long long>(st.rejected_connections),
                 static_cast<unsigned long long>(st.request_timeouts),
                 static_cast<unsigned long long>(st.write_timeouts));
  }
  std::fprintf(stderr, "edgelab: stopped\n");
  return 0;
}

}  // namespace edgelab::cli
