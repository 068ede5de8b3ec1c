// http/server_bench.cc: the HTTP front alone, answering "hello" to every
// request, to measure the front's own ceiling with a load tool:
//
//   edgelab_http_bench [--port N] [--loops N] &
//   wrk -t2 -c64 -d10s http://127.0.0.1:N/
//
// Serves until SIGINT or SIGTERM, then drains and exits. Not a test: the
// number depends on the machine (see the http issue notes for this one's).
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "http/server.h"
#include "sched/real_scheduler.h"

namespace {

// Also counts requests per loop, to show how SO_REUSEPORT spread the
// connections. Each loop writes only its own slot (padded to a cache line).
class HelloHandler final : public edgelab::http::Handler {
 public:
  explicit HelloHandler(size_t loops) : counts_(loops) {}
  void Handle(size_t loop_index, edgelab::http::Request,
              std::function<void(edgelab::http::Response)> done) override {
    edgelab::http::Response r;
    r.headers.emplace_back("Content-Type", "text/plain");
    r.body = "hello";
    ++counts_[loop_index].n;
    done(std::move(r));
  }
  // Requires: every loop is stopped or drained.
  std::string Counts() const {
    std::string out;
    for (const Slot& s : counts_) out += (out.empty() ? "" : " / ") + std::to_string(s.n);
    return out;
  }

 private:
  struct alignas(64) Slot {
    uint64_t n = 0;
  };
  std::vector<Slot> counts_;
};

struct Flags {
  uint16_t port = 8787;
  size_t loops = 2;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) {
      flags->port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--loops") == 0) {
      flags->loops = static_cast<size_t>(std::atoi(argv[i + 1]));
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && flags->loops > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr, "usage: %s [--port N (8787; 0 = any)] [--loops N (2)]\n", argv[0]);
    return 2;
  }
  edgelab::sched::LoopGroup loops(flags.loops);
  HelloHandler handler(flags.loops);
  edgelab::http::ServerOptions opts;
  opts.port = flags.port;
  edgelab::http::Server server(opts, &handler, &loops);
  if (edgelab::Status s = server.Listen(); !s.ok()) {
    std::fprintf(stderr, "edgelab_http_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  std::promise<void> drained;
  boost::asio::signal_set signals(loops.loop(0).io(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Shutdown([&] { drained.set_value(); });
  });
  loops.Start();
  std::printf("listening on http://127.0.0.1:%u/ with %zu loops\n", server.port(), loops.size());
  std::fflush(stdout);
  drained.get_future().wait();
  loops.Stop();
  std::printf("requests per loop: %s\n", handler.Counts().c_str());
  return 0;
}
