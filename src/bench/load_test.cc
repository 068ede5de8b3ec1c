// bench/load_test.cc: the load client against servers in the same process:
// edgelab's http::Server on a 2-loop LoopGroup (port 0), and a raw Asio
// server that drops every connection after one response without saying so.
// The client runs on its own RealScheduler on the test thread. Nothing
// sleeps: runs end when their requests end.
#include "bench/load.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "http/server.h"
#include "sched/real_scheduler.h"

namespace edgelab::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers by target:
//   /close  200 with "Connection: close"
//   /hang   never, until Release()
//   /404    404 "nope"
//   other   every 10th request (by arrival order across loops) 500, else
//           200 "v=<body>"
class CountingHandler final : public http::Handler {
 public:
  explicit CountingHandler(sched::LoopGroup* loops) : loops_(loops) {}

  void Handle(size_t loop, http::Request req, std::function<void(http::Response)> done) override {
    uint64_t k = ++requests_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_request_ = req.method + " " + req.body;
    }
    if (req.target == "/close") return done({200, {{"Connection", "close"}}, "bye"});
    if (req.target == "/404") return done({404, {}, "nope"});
    if (req.target == "/hang") {
      std::lock_guard<std::mutex> lock(mu_);
      hung_.emplace_back(loop, std::move(done));
      return;
    }
    done({k % 10 == 0 ? 500 : 200, {}, "v=" + req.body});
  }
  // Answers every hung request (so the server can drain).
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [loop, done] : hung_) {
      asio::post(loops_->loop(loop).io(), [d = std::move(done)] { d({200, {}, "late"}); });
    }
    hung_.clear();
  }
  uint64_t requests() const { return requests_; }
  std::string last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

 private:
  sched::LoopGroup* const loops_;
  std::atomic<uint64_t> requests_{0};
  std::mutex mu_;
  std::vector<std::pair<size_t, std::function<void(http::Response)>>> hung_;  // guarded by mu_
  std::string last_request_;  // "METHOD body"; guarded by mu_
};

std::string FirstError(const LoadReport& r) {
  return r.error_kinds.empty() ? "no errors" : r.error_kinds.begin()->first;
}

class LoadTest : public ::testing::Test {
 protected:
  LoadTest() : loops_(2), handler_(&loops_) {
    http::ServerOptions opts;
    opts.port = 0;
    server_ = std::make_unique<http::Server>(opts, &handler_, &loops_);
    Status s = server_->Listen();
    EXPECT_TRUE(s.ok()) << s.ToString();
    loops_.Start();
  }
  ~LoadTest() override {
    handler_.Release();
    std::promise<void> drained;
    server_->Shutdown([&] { drained.set_value(); });
    drained.get_future().wait();
    loops_.Stop();
  }

  std::string Url(const std::string& target) {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + target;
  }

  // Runs `fn` on a fiber of a fresh client loop driven by this thread.
  template <typename T>
  T OnClientFiber(std::function<T(sched::RealScheduler&)> fn) {
    sched::RealScheduler client;
    std::optional<T> out;
    client.Spawn([&] {
      out.emplace(fn(client));
      client.Stop();
    });
    client.Run();
    return std::move(*out);
  }
  Result<LoadReport> Load(LoadOptions opts) {
    return OnClientFiber<Result<LoadReport>>(
        [&](sched::RealScheduler& loop) { return RunLoad(opts, loop); });
  }
  Result<std::string> Fetch(const std::string& url, double timeout_s = 10) {
    return OnClientFiber<Result<std::string>>(
        [&](sched::RealScheduler& loop) { return FetchOnce(url, loop, timeout_s); });
  }

  sched::LoopGroup loops_;
  CountingHandler handler_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(LoadTest, SendsExactlyNRequestsAndCountsThe500sByStatus) {
  LoadOptions opts;
  opts.url = Url("/");
  opts.requests = 1000;
  opts.connections = 16;
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(handler_.requests(), 1000u);
  EXPECT_EQ(r->completed + r->failed, 1000u);
  EXPECT_EQ(r->completed, 900u);
  EXPECT_EQ(r->failed, 100u);
  EXPECT_EQ(r->by_status[200], 900u);
  EXPECT_EQ(r->by_status[500], 100u);
  EXPECT_EQ(r->errors, 0u);
  EXPECT_TRUE(r->error_kinds.empty());
  EXPECT_EQ(r->latency.Count(), 1000u);
  EXPECT_GT(r->seconds, 0);
  EXPECT_LE(r->latency.Percentile(50), r->latency.Max());
}

TEST_F(LoadTest, ReconnectsWhenTheServerClosesEveryConnection) {
  LoadOptions opts;
  opts.url = Url("/close");
  opts.requests = 300;
  opts.connections = 8;
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(handler_.requests(), 300u);
  EXPECT_EQ(r->completed, 300u);
  EXPECT_EQ(r->failed, 0u) << r->error_kinds.size();
}

TEST_F(LoadTest, OpensNoMoreConnectionsThanRequests) {
  LoadOptions opts;
  opts.url = Url("/");
  opts.requests = 5;
  opts.connections = 100;
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(handler_.requests(), 5u);
  EXPECT_EQ(r->completed, 5u) << FirstError(*r);
}

TEST_F(LoadTest, SendsTheBodyWithTheMethod) {
  LoadOptions opts;
  opts.url = Url("/");
  opts.requests = 3;
  opts.connections = 1;
  opts.method = "POST";
  opts.body = "payload";
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 3u);
  EXPECT_EQ(handler_.last_request(), "POST payload");
}

TEST_F(LoadTest, CountsRefusedConnectionsAsFailedByKind) {
  asio::io_context io;
  tcp::socket bound(io);  // bound but not listening: connecting is refused
  bound.open(tcp::v4());
  bound.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  LoadOptions opts;
  opts.url = "http://127.0.0.1:" + std::to_string(bound.local_endpoint().port()) + "/";
  opts.requests = 20;
  opts.connections = 4;
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 0u);
  EXPECT_EQ(r->failed, 20u);
  EXPECT_EQ(r->errors, 20u);
  EXPECT_EQ(r->error_kinds["connect: Connection refused"], 20u);
  EXPECT_EQ(r->latency.Count(), 0u);
}

TEST_F(LoadTest, TimesOutRequestsThatGetNoAnswer) {
  LoadOptions opts;
  opts.url = Url("/hang");
  opts.requests = 3;
  opts.connections = 3;
  opts.timeout_s = 0.05;
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failed, 3u);
  EXPECT_EQ(r->error_kinds["timeout"], 3u);
}

TEST_F(LoadTest, RejectsBadOptionsAndUrls) {
  LoadOptions opts;
  opts.url = "https://example.com/";
  EXPECT_EQ(Load(opts).status().code(), Code::kInvalidArgument);
  opts.url = Url("/");
  opts.connections = 0;
  EXPECT_EQ(Load(opts).status().code(), Code::kInvalidArgument);
  opts.connections = 1;
  opts.method = "GET /x";
  EXPECT_EQ(Load(opts).status().code(), Code::kInvalidArgument);
  opts.method = "GET";
  opts.url = "http://no-such-host.invalid/";
  EXPECT_EQ(Load(opts).status().code(), Code::kUnavailable);
}

TEST_F(LoadTest, RunsNothingForZeroRequests) {
  LoadOptions opts;
  opts.url = Url("/");
  opts.requests = 0;
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requests(), 0u);
  EXPECT_EQ(handler_.requests(), 0u);
}

TEST_F(LoadTest, FetchOnceReturnsTheBodyOrNamesTheStatus) {
  EXPECT_EQ(Fetch(Url("/close")).value(), "bye");
  Result<std::string> missing = Fetch(Url("/404"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("status 404: nope"), std::string::npos);
  Result<std::string> hung = Fetch(Url("/hang"), 0.05);
  EXPECT_EQ(hung.status().code(), Code::kUnavailable);
  EXPECT_NE(hung.status().message().find("timeout"), std::string::npos);
  EXPECT_EQ(Fetch("https://x/").status().code(), Code::kInvalidArgument);
}

// A server that answers one request per connection as keep-alive, then
// drops the connection without a word: every reuse of a connection finds it
// closed before the request is read.
class DroppingServer {
 public:
  explicit DroppingServer(asio::io_context& io)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  uint64_t requests() const { return requests_; }
  void Stop() { acceptor_.close(); }

 private:
  struct Exchange {
    explicit Exchange(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::string in;
  };
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto x = std::make_shared<Exchange>(std::move(s));
      asio::async_read_until(
          x->socket, asio::dynamic_buffer(x->in), "\r\n\r\n",
          [this, x](boost::system::error_code ec, size_t) {
            if (ec) return;
            ++requests_;
            static const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            asio::async_write(x->socket, asio::buffer(kOk),
                              [x](boost::system::error_code, size_t) { x->socket.close(); });
          });
      Accept();
    });
  }

  tcp::acceptor acceptor_;
  std::atomic<uint64_t> requests_{0};
};

TEST_F(LoadTest, ResendsOnceWhenTheServerDroppedAnIdleConnection) {
  sched::LoopGroup raw_loop(1);
  DroppingServer raw(raw_loop.loop(0).io());
  raw_loop.Start();
  LoadOptions opts;
  opts.url = "http://127.0.0.1:" + std::to_string(raw.port()) + "/";
  opts.requests = 50;
  opts.connections = 2;
  Result<LoadReport> r = Load(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 50u);
  EXPECT_EQ(r->errors, 0u);
  EXPECT_EQ(raw.requests(), 50u);
  asio::post(raw_loop.loop(0).io(), [&raw] { raw.Stop(); });
  raw_loop.Stop();
}

TEST(ParseUrlTest, SplitsHostPortAndTarget) {
  Result<Url> u = ParseUrl("http://127.0.0.1:8787/counter?x=1#frag");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8787);
  EXPECT_EQ(u->target, "/counter?x=1");
  EXPECT_EQ(u->HostHeader(), "127.0.0.1:8787");

  u = ParseUrl("HTTP://example.com");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->HostHeader(), "example.com");

  u = ParseUrl("http://[::1]:9000?q");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/?q");
  EXPECT_EQ(u->HostHeader(), "[::1]:9000");
}

TEST(ParseUrlTest, RejectsWhatItCannotLoad) {
  for (const char* bad :
       {"https://example.com/", "ftp://x/", "example.com", "http://", "http://:80/", "http://h:0/",
        "http://h:65536/", "http://h:8x/", "http://u@h/", "http://[::1/", "http://h:"}) {
    Result<Url> u = ParseUrl(bad);
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(u.status().message().find(bad), std::string::npos) << u.status().ToString();
  }
  EXPECT_NE(ParseUrl("https://x/").status().message().find("https is not supported"),
            std::string::npos);
}

}  // namespace
}  // namespace edgelab::bench
