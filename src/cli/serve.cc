// cli/serve.cc: `edgelab serve edge.toml`: runs one Instance and owns the
// process's life: SIGINT/SIGTERM stop accepting, in-flight requests finish,
// the store is flushed, exit 0.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include "cli/commands.h"
#include "instance/instance.h"
#include "sched/process.h"

namespace edgelab::cli {
namespace {

// Waits until `done()`; false when it did not happen in time: a second
// signal, or `deadline_ms` (MonotonicMillis) passed with requests still
// running (a guest sleeping for hours must not keep a stopping server alive).
bool WaitForDrain(const std::function<bool()>& done, int64_t deadline_ms, double timeout_s,
                  const instance::Instance& in) {
  while (!done()) {
    if (int sig = sched::WaitForSignalFor({SIGINT, SIGTERM}, 5); sig != 0) {
      std::fprintf(stderr, "edgelab: %s again: stopping now, %llu requests unanswered\n",
                   strsignal(sig), static_cast<unsigned long long>(in.in_flight()));
      return false;
    }
    if (sched::MonotonicMillis() >= deadline_ms) {
      std::fprintf(stderr,
                   "edgelab: drain timed out after %.0f s: stopping now, %llu requests "
                   "unanswered, %lld Durable Object calls unfinished (--drain-timeout)\n",
                   timeout_s, static_cast<unsigned long long>(in.in_flight()),
                   static_cast<long long>(in.objects_busy()));
      return false;
    }
  }
  return true;
}

}  // namespace

int Serve(const ServeOptions& opts) {
  sched::RaiseFileLimit();  // one descriptor per connection: 1000 in flight needs more than 1024
  sched::BlockSignals({SIGINT, SIGTERM});
  std::unique_ptr<Watch> watch;
  if (opts.watch.any()) {
    // Each new kind of race is printed the moment it is found, as TSan does.
    auto w = Watch::Open(opts.watch, [](const std::string& text) {
      std::fputs(text.c_str(), stderr);
      std::fflush(stderr);
    });
    if (!w.ok()) return Fail(w.status(), 2);
    watch = std::move(*w);
  }
  instance::InstanceOptions io;
  io.config = opts.config;
  io.host = opts.host;
  io.port = opts.port;
  io.data = opts.data;
  io.quiet = opts.quiet;
  io.threads = opts.threads;
  io.max_body_bytes = opts.max_body_bytes;
  io.observer = watch ? watch->observer() : nullptr;
  bool bad_input = false;
  auto started = instance::Instance::Start(io, &bad_input);
  if (!started.ok()) return Fail(started.status(), bad_input ? 2 : 1);
  instance::Instance& in = **started;
  std::fprintf(stderr, "edgelab: serving %s (%s) on %s with %zu threads\n",
               in.config().name.c_str(), in.config().main.c_str(), in.Url().c_str(), in.threads());

  int sig = sched::WaitForSignal({SIGINT, SIGTERM});
  std::fprintf(stderr, "edgelab: %s: finishing %llu in-flight requests (again to stop now)\n",
               strsignal(sig), static_cast<unsigned long long>(in.in_flight()));
  sched::Latch drained;
  in.BeginDrain([&drained] { drained.Set(); });
  // Then Durable Object calls and alarm turns: a turn waiting on a call to
  // another loop is no work that loop knows of, so the loops keep running
  // until none is left. Both phases share the drain timeout.
  const int64_t deadline =
      sched::MonotonicMillis() + static_cast<int64_t>(opts.drain_timeout_s * 1000);
  bool drained_all =
      WaitForDrain([&] { return drained.IsSet(); }, deadline, opts.drain_timeout_s, in);
  if (drained_all) {
    in.ShutdownObjects();
    drained_all =
        WaitForDrain([&] { return in.objects_busy() == 0; }, deadline, opts.drain_timeout_s, in);
  }
  if (!drained_all) {
    // Requests still run on the loops: flush what is stored and leave
    // without joining them. The stores are thread-safe; nothing stored is
    // lost (a Durable Object answer not yet sent was not yet promised).
    if (Status s = in.Flush(); !s.ok()) Fail(s, 1);
    // The history so far is kept too; unfinished operations end as info.
    if (watch) {
      if (Status s = watch->Finish(stderr, /*print_reports=*/false); !s.ok()) Fail(s, 1);
    }
    std::fflush(stderr);
    std::_Exit(1);
  }
  if (Status s = in.Finish(); !s.ok()) return Fail(s, 1);
  http::ServerStats st = in.server_stats();
  if (st.rejected_connections + st.request_timeouts + st.write_timeouts > 0) {
    std::fprintf(stderr,
                 "edgelab: connections refused over the cap: %llu; requests timed out (408): "
                 "%llu; clients that stopped reading: %llu\n",
                 static_cast<unsigned long long>(st.rejected_connections),
                 static_cast<unsigned long long>(st.request_timeouts),
                 static_cast<unsigned long long>(st.write_timeouts));
  }
  if (watch) {
    if (Status s = watch->Finish(stderr, /*print_reports=*/false); !s.ok()) return Fail(s, 1);
  }
  std::fprintf(stderr, "edgelab: stopped\n");
  return 0;
}

}  // namespace edgelab::cli
