// http/server_test.cc: the HTTP front over real sockets on 127.0.0.1: a
// Server on port 0 and a 2-loop LoopGroup, driven by blocking clients on the
// test thread. Tests wait on events (responses, EOF, resets, promises), never
// on time; every client read gives up after a generous bound, so a bug fails
// the test instead of hanging it.
#include "http/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

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
//   /big    a 50 MiB body, after fulfilling big_started()
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
    } else if (req.target == "/big") {
      big_started_.set_value();
      done(Response{200, {}, std::string(kBigBody, 'b')});
    } else {
      done(Response{200, {{"Content-Type", "text/plain"}}, "hello"});
    }
  }

  struct Held {
    size_t loop_index;
    std::function<void(Response)> done;
  };
  std::future<Held> held() { return held_.get_future(); }
  // Ready once the /big response is handed to the server (which then writes
  // it before it runs anything else posted to that loop).
  std::future<void> big_started() { return big_started_.get_future(); }
  // Far more than the kernel's socket buffers on both ends can hold.
  static constexpr size_t kBigBody = 50 << 20;
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
  std::promise<void> big_started_;
};

// Makes a socket's blocking reads fail with timed_out after a bound. Asio's
// own blocking reads cannot: on the EAGAIN that SO_RCVTIMEO produces they
// poll() with no timeout, so they hang all the same.
class BoundedReads {
 public:
  explicit BoundedReads(tcp::socket& s) : s_(s) {}
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    pollfd p{s_.native_handle(), POLLIN, 0};  // also wakes for EOF and errors
    if (::poll(&p, 1, 5'000) != 1) {
      ec = asio::error::timed_out;
      return 0;
    }
    return s_.read_some(buffers, ec);
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  tcp::socket& s_;
};

// A blocking client on the test thread.
class Client {
 public:
  // `receive_buffer` > 0: SO_RCVBUF, set before connecting so that the TCP
  // window is that small too.
  explicit Client(uint16_t port, int receive_buffer = 0) : socket_(io_), reads_(socket_) {
    socket_.open(tcp::v4());
    if (receive_buffer > 0) {
      setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                 sizeof(receive_buffer));
    }
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void Send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Sends one byte; false when the send failed.
  bool SendByte(char c) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(&c, 1), ec);
    return !ec;
  }
  // True when a response byte is waiting to be read (does not wait).
  bool Readable() {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    return buffer_.size() > 0 || (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0);
  }
  // Waits, without reading, for the server to reset the connection: true
  // when it did (within a generous bound that only keeps a bug from hanging
  // the test).
  bool WaitsForReset() {
    pollfd p{socket_.native_handle(), 0, 0};  // POLLERR and POLLHUP need no asking
    return ::poll(&p, 1, 10'000) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
  }
  // Reads one response (`head_request`: it answers a HEAD, so has no body).
  BeastResponse Read(bool head_request = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (head_request) parser.skip(true);
    bhttp::read(reads_, buffer_, parser);
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
    reads_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  BoundedReads reads_;
  boost::beast::flat_buffer buffer_;
};

class ServerTest : public ::testing::Test {
 protected:
  explicit ServerTest(size_t loops = 2) : loops_(loops), handler_(&loops_) {}
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

// --- Timeouts that no client behaviour can dodge --------------------------

// The client sends its request and then never reads: the response fills the
// kernel's buffers and the write stops making progress.
TEST_F(ServerTest, ResetsAConnectionWhoseClientStopsReading) {
  ServerOptions opts;
  opts.idle_timeout_s = 0.05;
  StartServer(opts);
  Client c(port(), /*receive_buffer=*/4096);
  c.Send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(c.WaitsForReset());
  EXPECT_EQ(server_->stats().write_timeouts, 1u);
}

TEST_F(ServerTest, ShutdownDrainsPastAClientThatStopsReading) {
  ServerOptions opts;
  opts.idle_timeout_s = 0.05;
  StartServer(opts);
  Client c(port(), /*receive_buffer=*/4096);
  std::future<void> big = handler_.big_started();
  c.Send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  big.wait();  // the response is being written when Shutdown reaches the loop

  std::future<void> drained = Shutdown();
  // A generous bound, not a timing claim: without it a regression would hang.
  ASSERT_EQ(drained.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(c.WaitsForReset());
  EXPECT_EQ(server_->stats().write_timeouts, 1u);
}

TEST_F(ServerTest, AnswersABodyThatStopsArrivingWith408) {
  ServerOptions opts;
  opts.request_timeout_s = 0.05;  // the idle timeout stays at 60 s
  StartServer(opts);
  Client c(port());
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
  BeastResponse r = c.Read();
  EXPECT_EQ(r.result_int(), 408);
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(handler_.requests(), 0);
  EXPECT_EQ(server_->stats().request_timeouts, 1u);
}

TEST_F(ServerTest, AnswersAHeaderThatStopsArrivingWith408) {
  ServerOptions opts;
  opts.request_timeout_s = 0.05;
  StartServer(opts);
  Client c(port());
  c.Send("GET / HTTP/1.1\r\nHost: t\r\n");  // no blank line: the header never ends
  EXPECT_EQ(c.Read().result_int(), 408);
  EXPECT_TRUE(c.ReadsEof());
}

// Every byte is progress, which resets the idle clock; the request deadline
// must not move. The client sends as fast as it can until the answer comes:
// if the deadline moved with each byte, the 50 MB body would complete (and
// be echoed with a 200) instead.
TEST_F(ServerTest, AnswersABodyThatKeepsTricklingWith408) {
  ServerOptions opts;
  opts.request_timeout_s = 0.05;
  StartServer(opts);
  Client c(port());
  const size_t length = 10'000'000;  // sent whole, a byte at a time, only by a bug
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n");
  size_t sent = 0;
  while (sent < length && !c.Readable() && c.SendByte('x')) ++sent;
  ASSERT_LT(sent, length);
  EXPECT_EQ(c.Read().result_int(), 408);
  EXPECT_EQ(handler_.requests(), 0);
}

// The deadline counts from a request's first byte: a keep-alive connection
// waiting for its next request is the idle timeout's, and closes silently.
TEST_F(ServerTest, DoesNotAnswer408ToAnIdleKeepAliveConnection) {
  ServerOptions opts;
  opts.request_timeout_s = 0.05;
  opts.idle_timeout_s = 0.1;  // twice the deadline: a wrong 408 would come first
  StartServer(opts);
  Client c(port());
  EXPECT_EQ(c.Get("/").body(), "hello");
  EXPECT_TRUE(c.ReadsEof());  // false if a 408 arrived instead
  EXPECT_EQ(server_->stats().request_timeouts, 0u);
}

// --- Host (RFC 9112 3.2) ------------------------------------------------------

TEST_F(ServerTest, AnswersAnHttp11RequestWithoutHostWith400) {
  StartServer();
  Client c(port());
  c.Send("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
  BeastResponse r = c.Read();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_NE(r.body().find("Host"), std::string::npos) << r.body();
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(handler_.requests(), 0);
}

TEST_F(ServerTest, AnswersARequestWithTwoHostsWith400) {
  StartServer();
  Client c(port());
  c.Send("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_EQ(c.Read().result_int(), 400);
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(handler_.requests(), 0);
}

TEST_F(ServerTest, AcceptsAnHttp10RequestWithoutHostAndAnEmptyHost) {
  StartServer();
  Client old(port());
  old.Send("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.Read().result_int(), 200);
  Client empty(port());
  empty.Send("GET / HTTP/1.1\r\nHost:\r\n\r\n");
  EXPECT_EQ(empty.Read().result_int(), 200);
}

// --- Connection cap -------------------------------------------------------------

// One loop, so the cap is not split by SO_REUSEPORT's hash.
class OneLoopServerTest : public ServerTest {
 protected:
  OneLoopServerTest() : ServerTest(1) {}
};

TEST_F(OneLoopServerTest, ClosesConnectionsBeyondMaxConnections) {
  ServerOptions opts;
  opts.max_connections = 1;
  StartServer(opts);
  Client first(port());
  EXPECT_EQ(first.Get("/").body(), "hello");  // accepted: holds the one place
  Client second(port());
  EXPECT_TRUE(second.ReadsEof());
  ServerStats stats = server_->stats();
  EXPECT_EQ(stats.rejected_connections, 1u);
  EXPECT_EQ(stats.open_connections, 1u);

  // The server closes `first` and forgets it in one loop callback, so by the
  // EOF the place is free for the next connection.
  EXPECT_EQ(first.Get("/close").body(), "bye");
  EXPECT_TRUE(first.ReadsEof());
  Client third(port());
  EXPECT_EQ(third.Get("/").body(), "hello");
  EXPECT_EQ(server_->stats().rejected_connections, 1u);
}

}  // namespace
}  // namespace edgelab::http
