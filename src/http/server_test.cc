// http/server_test.cc: the HTTP front over real sockets on 127.0.0.1: a
// Server on port 0 and a 2-loop LoopGroup, driven by blocking clients on the
// test thread. Tests wait on events (responses, EOF, promises), never on
// time; client sockets carry a receive timeout so a bug fails, not hangs.
#include "http/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "sched/real_scheduler.h"

namespace edgelab::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using BeastResponse = bhttp::response<bhttp::string_body>;

// Answers by target:
//   /echo   the request body back, with the method in X-Method
//   /later  "later", from a callback posted to the loop after Handle returns
//   /hold   nothing until the test completes the `done` it publishes in held()
//   /close  "bye" with "Connection: close"
//   other   "hello"
class TestHandler final : public Handler {
 public:
  explicit TestHandler(sched::LoopGroup* loops) : loops_(loops) {}

  void Handle(size_t loop_index, Request req, std::function<void(Response)> done) override {
    ++requests_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_target_ = req.target;
    }
    if (req.target == "/echo") {
      done(Response{200, {{"X-Method", req.method}}, std::move(req.body)});
    } else if (req.target == "/later") {
      asio::post(loops_->loop(loop_index).io(), [done] { done(Response{200, {}, "later"}); });
    } else if (req.target == "/hold") {
      held_.set_value({loop_index, std::move(done)});
    } else if (req.target == "/close") {
      done(Response{200, {{"Connection", "close"}}, "bye"});
    } else {
      done(Response{200, {{"Content-Type", "text/plain"}}, "hello"});
    }
  }

  struct Held {
    size_t loop_index;
    std::function<void(Response)> done;
  };
  std::future<Held> held() { return held_.get_future(); }
  int requests() const { return requests_; }
  std::string last_target() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_target_;
  }

 private:
  sched::LoopGroup* const loops_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::string last_target_;  // guarded by mu_
  std::promise<Held> held_;
};

// A blocking client on the test thread.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};  // a hung server fails the test instead of hanging it
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  void Send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Reads one response (`head_request`: it answers a HEAD, so has no body).
  BeastResponse Read(bool head_request = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (head_request) parser.skip(true);
    bhttp::read(socket_, buffer_, parser);
    return parser.release();
  }
  BeastResponse Get(const std::string& target) {
    Send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
    return Read();
  }
  // True when the server closed the connection (and sent nothing more).
  bool ReadsEof() {
    if (buffer_.size() > 0) return false;
    char c;
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() : loops_(2), handler_(&loops_) {}
  ~ServerTest() override {
    if (server_ != nullptr && !shut_down_) ShutdownAndWait();
    loops_.Stop();
  }

  void StartServer(ServerOptions opts = {}) {
    opts.port = 0;
    server_ = std::make_unique<Server>(opts, &handler_, &loops_);
    Status s = server_->Listen();
    ASSERT_TRUE(s.ok()) << s.ToString();
    loops_.Start();
  }
  std::future<void> Shutdown() {
    shut_down_ = true;
    auto drained = std::make_shared<std::promise<void>>();
    server_->Shutdown([drained] { drained->set_value(); });
    return drained->get_future();
  }
  void ShutdownAndWait() { Shutdown().wait(); }
  uint16_t port() const { return server_->port(); }

  sched::LoopGroup loops_;
  TestHandler handler_;
  std::unique_ptr<Server> server_;
  bool shut_down_ = false;
};

std::string Header(const BeastResponse& r, bhttp::field f) { return std::string(r[f]); }

TEST_F(ServerTest, AnswersAGetWithContentLengthAndServer) {
  StartServer();
  Client c(port());
  BeastResponse r = c.Get("/");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "hello");
  EXPECT_EQ(Header(r, bhttp::field::content_length), "5");
  EXPECT_EQ(Header(r, bhttp::field::server), "edgelab");
  EXPECT_EQ(Header(r, bhttp::field::content_type), "text/plain");
  EXPECT_TRUE(r.keep_alive());
}

TEST_F(ServerTest, PassesTheTargetThroughUnchanged) {
  StartServer();
  Client c(port());
  const std::string target = "/a/../b%2Fc?x=1&y=%20z#frag";
  EXPECT_EQ(c.Get(target).body(), "hello");
  EXPECT_EQ(handler_.last_target(), target);
}

TEST_F(ServerTest, KeepsOneConnectionAliveForAHundredRequests) {
  StartServer();
  Client c(port());
  for (int i = 0; i < 100; ++i) {
    BeastResponse r = c.Get("/");
    ASSERT_EQ(r.body(), "hello") << "request " << i;
    ASSERT_TRUE(r.keep_alive());
  }
  EXPECT_EQ(handler_.requests(), 100);
}

TEST_F(ServerTest, AnswersPipelinedRequestsInOrder) {
  StartServer();
  Client c(port());
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond");
  EXPECT_EQ(c.Read().body(), "first");
  EXPECT_EQ(c.Read().body(), "second");
}

TEST_F(ServerTest, DeliversAMebibyteBodyIntact) {
  StartServer();
  Client c(port());
  std::string body(1 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131 + i / 977) & 0xff);
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body);
  BeastResponse r = c.Read();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r["X-Method"], "POST");
  EXPECT_TRUE(r.body() == body) << "body of " << r.body().size() << " bytes differs";
}

TEST_F(ServerTest, DecodesAChunkedBody) {
  StartServer();
  Client c(port());
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_EQ(c.Read().body(), "abcdefg");
}

TEST_F(ServerTest, AnswersAMalformedRequestLineWith400AndCloses) {
  StartServer();
  Client c(port());
  c.Send("GARBAGE\r\n\r\n");
  BeastResponse r = c.Read();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(handler_.requests(), 0);
}

TEST_F(ServerTest, AnswersAnOversizedContentLengthWith413BeforeReadingTheBody) {
  ServerOptions opts;
  opts.max_body_bytes = 1000;
  StartServer(opts);
  Client c(port());
  // Only the header is sent: the 413 must come from Content-Length alone.
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
  BeastResponse r = c.Read();
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(handler_.requests(), 0);
}

TEST_F(ServerTest, AnswersAnOversizedChunkedBodyWith413) {
  ServerOptions opts;
  opts.max_body_bytes = 1000;
  StartServer(opts);
  Client c(port());
  std::string chunk(800, 'x');
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk +
         "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(c.Read().result_int(), 413);
  EXPECT_TRUE(c.ReadsEof());
}

TEST_F(ServerTest, AnswersAnOversizedHeaderWith431) {
  ServerOptions opts;
  opts.max_header_bytes = 1024;
  StartServer(opts);
  Client c(port());
  c.Send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  EXPECT_EQ(c.Read().result_int(), 431);
  EXPECT_TRUE(c.ReadsEof());
}

TEST_F(ServerTest, WorksWhenTheHandlerAnswersLater) {
  StartServer();
  Client c(port());
  EXPECT_EQ(c.Get("/later").body(), "later");
  EXPECT_EQ(c.Get("/later").body(), "later");
}

TEST_F(ServerTest, ClosesAfterAConnectionCloseRequest) {
  StartServer();
  Client c(port());
  c.Send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  BeastResponse r = c.Read();
  EXPECT_EQ(r.body(), "hello");
  EXPECT_EQ(Header(r, bhttp::field::connection), "close");
  EXPECT_TRUE(c.ReadsEof());
}

TEST_F(ServerTest, ClosesWhenTheHandlerSaysConnectionClose) {
  StartServer();
  Client c(port());
  BeastResponse r = c.Get("/close");
  EXPECT_EQ(r.body(), "bye");
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.ReadsEof());
}

TEST_F(ServerTest, ClosesAfterAnHttp10RequestUnlessItAsksForKeepAlive) {
  StartServer();
  Client keep(port());
  keep.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  BeastResponse r = keep.Read();
  EXPECT_EQ(Header(r, bhttp::field::connection), "keep-alive");
  keep.Send("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(keep.Read().body(), "hello");
  EXPECT_TRUE(keep.ReadsEof());
}

TEST_F(ServerTest, AnswersHeadWithTheLengthButNoBody) {
  StartServer();
  Client c(port());
  c.Send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
  BeastResponse head = c.Read(/*head_request=*/true);
  EXPECT_EQ(Header(head, bhttp::field::content_length), "5");
  EXPECT_EQ(head.body(), "");
  EXPECT_EQ(c.Read().body(), "hello");  // no stray body bytes in between
}

TEST_F(ServerTest, SendsContinueWhenTheClientExpectsIt) {
  StartServer();
  Client c(port());
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(c.Read().result_int(), 100);
  c.Send("data");
  EXPECT_EQ(c.Read().body(), "data");
}

TEST_F(ServerTest, ClosesAnIdleConnectionAfterTheIdleTimeout) {
  ServerOptions opts;
  opts.idle_timeout_s = 0.05;
  StartServer(opts);
  Client c(port());
  EXPECT_EQ(c.Get("/").body(), "hello");
  EXPECT_TRUE(c.ReadsEof());
}

TEST_F(ServerTest, ShutdownFinishesTheInFlightRequestThenClosesAndDrains) {
  StartServer();
  Client idle(port());
  EXPECT_EQ(idle.Get("/").body(), "hello");
  Client busy(port());
  std::future<TestHandler::Held> held = handler_.held();
  busy.Send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  TestHandler::Held h = held.get();

  std::future<void> drained = Shutdown();
  EXPECT_TRUE(idle.ReadsEof());  // idle keep-alive connections close at once
  EXPECT_NE(drained.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  asio::post(loops_.loop(h.loop_index).io(), [done = h.done] { done(Response{200, {}, "held"}); });

  BeastResponse r = busy.Read();
  EXPECT_EQ(r.body(), "held");
  EXPECT_EQ(Header(r, bhttp::field::connection), "close");
  EXPECT_TRUE(busy.ReadsEof());
  drained.wait();
}

TEST_F(ServerTest, RefusesNewConnectionsAfterShutdown) {
  StartServer();
  uint16_t p = port();
  ShutdownAndWait();
  asio::io_context io;
  tcp::socket s(io);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), p), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST_F(ServerTest, ListenNamesThePortWhenAnotherServerHoldsIt) {
  StartServer();
  ServerOptions opts;
  opts.port = port();
  sched::LoopGroup other_loops(1);
  Server other(opts, &handler_, &other_loops);
  Status s = other.Listen();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(port())), std::string::npos)
      << s.ToString();
}

TEST_F(ServerTest, ListenNamesThePortWhenAPlainSocketHoldsIt) {
  asio::io_context io;
  tcp::acceptor holder(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  uint16_t taken = holder.local_endpoint().port();
  ServerOptions opts;
  opts.port = taken;
  Server other(opts, &handler_, &loops_);
  Status s = other.Listen();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(":" + std::to_string(taken)), std::string::npos) << s.ToString();
}

TEST_F(ServerTest, ShutdownBeforeListenDrainsAtOnce) {
  Server never(ServerOptions{}, &handler_, &loops_);
  bool drained = false;
  never.Shutdown([&] { drained = true; });
  EXPECT_TRUE(drained);
}

}  // namespace
}  // namespace edgelab::http
