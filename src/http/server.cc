// http/server.cc: the HTTP/1.1 front on Asio sockets and Beast's parser.
//
// Workload and the costs that matter: a keep-alive request of a few hundred
// bytes answered with a few bytes costs one epoll wake-up, one read, one
// writev and one speculative read that finds nothing. Everything else is kept
// off that path:
//   - each loop owns its listener (SO_REUSEPORT) and its connections, and its
//     io_context runs on one thread: no strand, no lock, no atomic;
//   - Beast's basic_parser feeds a Request directly (no beast::http::fields:
//     one allocation per header line would be wasted on a copy);
//   - the response head is printed into a per-connection string reused for
//     every response, sent with the body in one gather write (Beast's
//     serializer would go through a fields container again);
//   - timeouts come from one coarse sweep per loop, not one timer per request
//     (a timer per request re-arms the loop's timerfd on every request).
//
// Every connection state has a clock the sweep checks, so no client can hold
// a connection (and, during Shutdown, the drain) forever: waiting for a
// header or body bytes (idle), the request as a whole (request deadline),
// writing (kernel progress), lingering. Only kHandling has none: that time is
// the Handler's.
//
// A connection has exactly one thing outstanding at any time: a read, a
// write, or its request with the Handler. It is deleted only from the
// completion of its read or write, so no callback ever sees a dead
// connection, and the Handler's `done` may capture it as a plain pointer.
#include "http/server.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/intrusive/list.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "sched/real_scheduler.h"

namespace edgelab::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;
using tcp = asio::ip::tcp;
// Sockets and timers bound to the concrete io_context executor: the default
// any_io_executor would type-erase every completion dispatch.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
// Asio has no named option for SO_REUSEPORT; this is its generic int option.
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

namespace {

// Bytes asked of each read. Small requests fit in one; bodies stream through
// at this size. The buffer keeps its capacity for the connection's life, so
// this is also the resting memory of an idle connection.
constexpr size_t kReadChunk = 16 * 1024;
// Closing a socket that still holds unread input makes the kernel send RST,
// which can destroy the response in flight (a 413 while the client is still
// uploading, pipelined requests after a "Connection: close"). So when input
// may be pending the server half-closes and reads, discarding, until the
// peer closes or this long has passed; otherwise it closes at once.
constexpr double kLingerSeconds = 2;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// True when `list` (a comma-separated header value) holds `token`.
bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (IEquals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsValidHeader(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return IsTokenChar(static_cast<unsigned char>(c));
      })) {
    return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  out.append(buf, end);
}

// Statuses whose responses carry neither a body nor Content-Length
// (RFC 9110 8.6: 204 must not; 304 may only repeat the 200's length).
bool BodyForbidden(int status) { return status == 204 || status == 304; }

void AppendStatusLine(std::string& out, int status) {
  if (status == 200) {
    out.append("HTTP/1.1 200 OK\r\n");
    return;
  }
  out.append("HTTP/1.1 ");
  AppendNumber(out, static_cast<uint64_t>(status));
  out.push_back(' ');
  beast::string_view reason =
      beast::http::obsolete_reason(static_cast<beast::http::status>(status));
  if (reason != "<unknown-status>") out.append(reason.data(), reason.size());
  out.append("\r\n");
}

std::string HostPort(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

namespace internal {

// Beast's HTTP/1.1 request parser, writing straight into a Request. One per
// request (Beast parsers are single-use); it lives in an optional inside the
// connection, so making one allocates nothing.
class RequestParser final : public beast::http::basic_parser<true> {
 public:
  RequestParser(uint64_t max_body, uint32_t max_header) {
    body_limit(max_body);
    header_limit(max_header);
    eager(true);
  }

  Request req;
  int version = 11;
  bool expect_continue = false;
  // Why the header was refused, when on_header_impl refused it (answered 400).
  const char* refusal = nullptr;

 private:
  void on_request_impl(beast::http::verb, beast::string_view method, beast::string_view target,
                       int v, error_code&) override {
    req.method.assign(method.data(), method.size());
    req.target.assign(target.data(), target.size());
    version = v;
  }
  void on_response_impl(int, beast::string_view, int, error_code&) override {}
  void on_field_impl(beast::http::field f, beast::string_view name, beast::string_view value,
                     error_code&) override {
    std::string_view n(name.data(), name.size());
    std::string_view v(value.data(), value.size());
    if (req.headers.empty()) req.headers.reserve(8);  // browsers send ~10; wrk 1
    if (version >= 11 && f == beast::http::field::expect && IEquals(v, "100-continue")) {
      expect_continue = true;
    }
    if (f == beast::http::field::host) ++host_fields_;
    req.headers.emplace_back(n, v);
  }
  void on_header_impl(error_code& ec) override {
    // RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without
    // Host, and to any request with more than one (they would let a proxy
    // and the Handler disagree on which site is meant). An empty Host is
    // allowed: it is what a client sends for a target without authority.
    if (host_fields_ > 1) {
      refusal = "more than one Host header field\n";
    } else if (host_fields_ == 0 && version >= 11) {
      refusal = "HTTP/1.1 request without a Host header field\n";
    }
    if (refusal != nullptr) ec = beast::http::error::bad_field;  // stops the parse here
  }
  void on_body_init_impl(const boost::optional<uint64_t>& length, error_code&) override {
    // Content-Length was checked against body_limit before this call. Up to
    // 1 MiB is reserved on its word alone; beyond that the body pays for its
    // memory as it arrives (a header is cheaper to send than 100 MiB).
    if (length) req.body.reserve(static_cast<size_t>(std::min<uint64_t>(*length, 1 << 20)));
  }
  size_t on_body_impl(beast::string_view body, error_code&) override {
    req.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(uint64_t, beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(uint64_t, beast::string_view body, error_code&) override {
    req.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  int host_fields_ = 0;
};

class Listener;

// One accepted connection: read a request, hand it over, write the response,
// repeat. States follow the one outstanding thing (see the file comment).
class Connection : public boost::intrusive::list_base_hook<> {
 public:
  Connection(Listener* listener, Socket socket) : listener_(listener), socket_(std::move(socket)) {}

  void Start();
  // Closes the connection now unless a request is with the Handler or its
  // response is being written (shutdown drain).
  void CloseIfIdle();
  // Enforces the timeouts: closes a connection that waited for its request,
  // stalled a write, or lingered too long; answers 408 to a request that
  // took too long.
  void OnTick(uint64_t tick);

 private:
  enum class State { kReading, kContinue, kHandling, kWriting, kLingering };

  void NextRequest();
  void Read();
  void OnRead(error_code ec, size_t n);
  void Parse();
  void SendContinue();
  void Dispatch();
  void OnResponse(Response response);
  void Reject(int status, std::string_view message);
  void PrintHead(const Response& r);
  void Write(bool with_body);
  void WriteSome();
  void OnWriteSome(error_code ec, size_t n);
  void OnWritten();
  void Close();
  void Linger();
  void OnLingerRead(error_code ec);

  Listener* const listener_;
  Socket socket_;
  State state_ = State::kReading;
  beast::flat_buffer buffer_;  // bytes read and not yet parsed
  std::optional<RequestParser> parser_;
  // When the current wait (request header, body progress, write progress,
  // linger) began.
  uint64_t since_tick_ = 0;
  // The request being read: whether its first byte has arrived, and when.
  bool request_begun_ = false;
  uint64_t request_tick_ = 0;
  // The sweep cancelled the pending read because the request is overdue:
  // its completion answers 408.
  bool request_overdue_ = false;
  // The request with the Handler, and its response while it is written.
  int version_ = 11;
  bool keep_alive_ = true;
  bool is_head_ = false;
  bool close_after_ = false;  // this response is the connection's last
  bool rejected_ = false;     // it answers a request we could not read whole
  Response response_;
  std::string head_;  // reused: keeps its capacity across responses
  // What is left to write of head_ and response_.body.
  std::array<asio::const_buffer, 2> unwritten_;
};

// One loop's share of the server: its listening socket, its connections and
// the sweep that times them out. Every method except Bind() and the
// destructor runs on the loop's thread.
class Listener {
 public:
  // `max_conns`: this loop's share of opts.max_connections (0: no cap).
  Listener(Server* server, const ServerOptions& opts, Handler* handler, sched::RealScheduler& loop,
           size_t index, uint64_t max_conns);
  ~Listener();

  // Opens, binds and listens. Controlling thread, before Start().
  error_code Bind(const tcp::endpoint& endpoint);
  uint16_t BoundPort() const;
  // Posts: start accepting and sweeping / begin the drain.
  void Start();
  void Shutdown();

  // For connections.
  void Remove(Connection* c);
  uint64_t tick() const { return tick_; }
  uint64_t idle_ticks() const { return idle_ticks_; }
  uint64_t request_ticks() const { return request_ticks_; }
  uint64_t linger_ticks() const { return linger_ticks_; }
  bool shutting_down() const { return shutting_down_; }
  const ServerOptions& opts() const { return opts_; }
  Handler* handler() const { return handler_; }
  size_t index() const { return index_; }
  void CountRequestTimeout() { Bump(request_timeouts_, 1); }
  void CountWriteTimeout() { Bump(write_timeouts_, 1); }

  // Any thread.
  void AddStats(ServerStats& s) const;

 private:
  void Accept();
  void OnAccept(error_code ec, Socket socket);
  void ArmSweep();
  void OnSweep(error_code ec);
  void MaybeDrained();
  // Counters have one writer, this loop, so a load and a store do (no
  // locked read-modify-write); stats() reads them from any thread.
  static void Bump(std::atomic<uint64_t>& counter, int64_t delta) {
    counter.store(counter.load(std::memory_order_relaxed) + static_cast<uint64_t>(delta),
                  std::memory_order_relaxed);
  }

  // Fixed after construction.
  Server* const server_;
  const ServerOptions& opts_;
  Handler* const handler_;
  const size_t index_;
  const uint64_t max_conns_;
  std::chrono::microseconds sweep_interval_;
  uint64_t idle_ticks_;
  uint64_t request_ticks_;
  uint64_t linger_ticks_;
  // Loop thread only (after Start()).
  Acceptor acceptor_;
  Timer sweep_;
  // Owns its elements: linked by Accept(), unlinked and deleted by Remove()
  // or the destructor.
  boost::intrusive::list<Connection, boost::intrusive::constant_time_size<false>> conns_;
  uint64_t tick_ = 0;
  bool accept_pending_ = false;
  bool accept_paused_ = false;  // out of file descriptors: retried by the sweep
  bool sweep_pending_ = false;
  bool shutting_down_ = false;
  bool drained_ = false;
  // Written by the loop thread only; read by AddStats() from any thread.
  std::atomic<uint64_t> open_{0};  // the size of conns_
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> request_timeouts_{0};
  std::atomic<uint64_t> write_timeouts_{0};
};

// --- Connection -------------------------------------------------------------

void Connection::Start() {
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  NextRequest();
}

void Connection::NextRequest() {
  state_ = State::kReading;
  since_tick_ = listener_->tick();
  // A pipelined request has begun already; its deadline counts from now, as
  // it could not be read sooner.
  request_begun_ = buffer_.size() > 0;
  request_tick_ = since_tick_;
  const ServerOptions& o = listener_->opts();
  parser_.emplace(o.max_body_bytes, o.max_header_bytes);
  Parse();  // a pipelined request may already be buffered
}

void Connection::Read() {
  socket_.async_read_some(buffer_.prepare(kReadChunk),
                          [this](error_code ec, size_t n) { OnRead(ec, n); });
}

void Connection::OnRead(error_code ec, size_t n) {
  if (request_overdue_ && socket_.is_open() && (!ec || ec == asio::error::operation_aborted)) {
    // OnTick cancelled this read (bytes it may have brought are dropped: the
    // request is refused either way).
    return Reject(408, "request not received in time\n");
  }
  if (ec) {
    // The peer closed or reset, or we closed it (timeout, shutdown). There
    // is nobody to answer.
    listener_->Remove(this);
    return;
  }
  buffer_.commit(n);
  if (!request_begun_) {
    request_begun_ = true;
    request_tick_ = listener_->tick();
  }
  // The header must arrive within the idle timeout of the connection
  // becoming ready for it; a body only needs to keep moving (and to finish
  // by the request deadline, which this does not move).
  if (parser_->is_header_done()) since_tick_ = listener_->tick();
  Parse();
}

void Connection::Parse() {
  while (buffer_.size() > 0 && !parser_->is_done()) {
    error_code ec;
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == beast::http::error::need_more) break;
    if (ec == beast::http::error::body_limit) return Reject(413, "request body too large\n");
    if (ec == beast::http::error::header_limit) return Reject(431, "request header too large\n");
    if (ec && parser_->refusal != nullptr) return Reject(400, parser_->refusal);
    if (ec) return Reject(400, "malformed request: " + ec.message() + "\n");
    if (used == 0) break;
  }
  if (parser_->is_done()) return Dispatch();
  if (parser_->is_header_done() && parser_->expect_continue) return SendContinue();
  Read();
}

// The client asked to hear that its body is welcome before sending it
// (curl does this for bodies over 1 KiB, and otherwise waits a second).
void Connection::SendContinue() {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  parser_->expect_continue = false;
  state_ = State::kContinue;
  asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                    [this](error_code ec, size_t) {
                      if (ec) return listener_->Remove(this);
                      state_ = State::kReading;
                      Read();
                    });
}

void Connection::Dispatch() {
  state_ = State::kHandling;
  version_ = parser_->version;
  keep_alive_ = parser_->keep_alive();
  Request req = std::move(parser_->req);
  parser_.reset();
  is_head_ = req.method == "HEAD";
  // `this` outlives `done`: nothing deletes a connection in kHandling.
  listener_->handler()->Handle(listener_->index(), std::move(req),
                               [this](Response r) { OnResponse(std::move(r)); });
}

void Connection::OnResponse(Response response) {
  // A second call, or one after the connection moved on, is a Handler bug.
  EDGELAB_CHECK(state_ == State::kHandling);
  response_ = std::move(response);
  if (response_.status < 200 || response_.status > 999) {
    response_ = Response{500, {}, "handler returned an invalid status\n"};
  }
  close_after_ = !keep_alive_ || listener_->shutting_down();
  PrintHead(response_);  // a HEAD answer keeps the length of the body it omits
  Write(!is_head_ && !BodyForbidden(response_.status));
}

// Answers a request we could not read, then closes.
void Connection::Reject(int status, std::string_view message) {
  parser_.reset();
  response_ = Response{status, {{"Content-Type", "text/plain"}}, std::string(message)};
  close_after_ = true;
  rejected_ = true;
  version_ = 11;
  PrintHead(response_);
  Write(true);
}

// Prints the status line and headers of `r` into head_; decides close_after_
// from r's Connection header.
void Connection::PrintHead(const Response& r) {
  head_.clear();
  AppendStatusLine(head_, r.status);
  bool has_server = false;
  for (const auto& [name, value] : r.headers) {
    if (!IsValidHeader(name, value) || IEquals(name, "content-length") ||
        IEquals(name, "transfer-encoding")) {
      continue;
    }
    if (IEquals(name, "connection")) {
      if (HasToken(value, "close")) close_after_ = true;
      continue;
    }
    has_server = has_server || IEquals(name, "server");
    head_.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_server) head_.append("Server: edgelab\r\n");
  if (!BodyForbidden(r.status)) {
    head_.append("Content-Length: ");
    AppendNumber(head_, r.body.size());
    head_.append("\r\n");
  }
  if (close_after_) {
    head_.append("Connection: close\r\n");
  } else if (version_ == 10) {
    head_.append("Connection: keep-alive\r\n");  // HTTP/1.0 closes by default
  }
  head_.append("\r\n");
}

// Writes with async_write_some rather than asio::async_write: every partial
// write is the progress the write timeout watches (a client that stops
// reading stops it), and async_write would also cut a large body into 64 KiB
// writes where one writev can hand the kernel all its buffer will take.
void Connection::Write(bool with_body) {
  state_ = State::kWriting;
  since_tick_ = listener_->tick();
  unwritten_ = {asio::buffer(head_),
                with_body ? asio::buffer(response_.body) : asio::const_buffer()};
  WriteSome();
}

void Connection::WriteSome() {
  socket_.async_write_some(unwritten_, [this](error_code ec, size_t n) { OnWriteSome(ec, n); });
}

void Connection::OnWriteSome(error_code ec, size_t n) {
  if (ec) return listener_->Remove(this);
  // During the drain progress buys no more time: a client reading a byte a
  // second would otherwise hold Shutdown for as long as the body lasts.
  if (!listener_->shutting_down()) since_tick_ = listener_->tick();
  for (asio::const_buffer& b : unwritten_) {
    size_t taken = std::min(n, b.size());
    b += taken;
    n -= taken;
  }
  if (unwritten_[0].size() + unwritten_[1].size() > 0) return WriteSome();
  OnWritten();
}

void Connection::OnWritten() {
  response_.body.clear();
  response_.headers.clear();
  if (close_after_ || listener_->shutting_down()) return Close();
  NextRequest();
}

void Connection::Close() {
  error_code ec;
  if (!rejected_ && buffer_.size() == 0 && socket_.available(ec) == 0 && !ec) {
    socket_.shutdown(asio::socket_base::shutdown_both, ec);
    return listener_->Remove(this);  // nothing unread: the close is a plain FIN
  }
  Linger();
}

void Connection::Linger() {
  state_ = State::kLingering;
  since_tick_ = listener_->tick();
  error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
  buffer_.clear();
  socket_.async_read_some(buffer_.prepare(kReadChunk),
                          [this](error_code ec, size_t) { OnLingerRead(ec); });
}

void Connection::OnLingerRead(error_code ec) {
  if (ec) return listener_->Remove(this);  // the peer closed too: done
  buffer_.clear();
  socket_.async_read_some(buffer_.prepare(kReadChunk),
                          [this](error_code ec, size_t) { OnLingerRead(ec); });
}

void Connection::CloseIfIdle() {
  if (state_ == State::kReading || state_ == State::kContinue) {
    error_code ignored;
    socket_.close(ignored);  // the pending read or write completes, aborted
  }
}

void Connection::OnTick(uint64_t tick) {
  // Strictly more than `limit` ticks: the wait began somewhere inside its
  // first tick, so only then has a full `limit` intervals surely passed.
  auto overdue = [tick](uint64_t since, uint64_t limit) {
    return limit > 0 && tick - since > limit;
  };
  error_code ignored;
  switch (state_) {
    case State::kReading:
      // The request deadline first: a request that is late is answered, not
      // just dropped. In kReading a read is always pending; cancelling it
      // hands over to OnRead, which writes the 408 (one operation at a time).
      if (request_begun_ && !request_overdue_ &&
          overdue(request_tick_, listener_->request_ticks())) {
        request_overdue_ = true;
        listener_->CountRequestTimeout();
        socket_.cancel(ignored);
        return;
      }
      [[fallthrough]];
    case State::kContinue:
      if (overdue(since_tick_, listener_->idle_ticks())) socket_.close(ignored);
      return;
    case State::kWriting:
      if (overdue(since_tick_, listener_->idle_ticks())) {
        // The client stopped reading. Reset rather than close: a close would
        // leave the kernel an orphaned socket holding a full send buffer
        // until its own retries give up, and the response is lost either way.
        listener_->CountWriteTimeout();
        socket_.set_option(asio::socket_base::linger(true, 0), ignored);
        socket_.close(ignored);  // the pending write completes, aborted
      }
      return;
    case State::kLingering:
      if (overdue(since_tick_, listener_->linger_ticks())) socket_.close(ignored);
      return;
    case State::kHandling:
      return;  // the Handler's time, not the client's
  }
}

// --- Listener ---------------------------------------------------------------

Listener::Listener(Server* server, const ServerOptions& opts, Handler* handler,
                   sched::RealScheduler& loop, size_t index, uint64_t max_conns)
    : server_(server),
      opts_(opts),
      handler_(handler),
      index_(index),
      max_conns_(max_conns),
      acceptor_(loop.io().get_executor()),
      sweep_(loop.io().get_executor()) {
  // A quarter of the shorter timeout, between 10 ms and 1 s: timeouts land
  // up to 25% late, and an idle server wakes at most once a second.
  double shortest_us = std::numeric_limits<double>::infinity();
  for (double s : {opts.idle_timeout_s, opts.request_timeout_s}) {
    if (s > 0) shortest_us = std::min(shortest_us, s * 1e6);
  }
  double interval_us = std::clamp(shortest_us / 4, 1e4, 1e6);
  sweep_interval_ = std::chrono::microseconds(static_cast<int64_t>(interval_us));
  auto ticks = [interval_us](double s) -> uint64_t {
    return s > 0 ? static_cast<uint64_t>(std::ceil(s * 1e6 / interval_us)) : 0;
  };
  idle_ticks_ = ticks(opts.idle_timeout_s);
  request_ticks_ = ticks(opts.request_timeout_s);
  linger_ticks_ = ticks(kLingerSeconds);
}

Listener::~Listener() {
  conns_.clear_and_dispose([](Connection* c) { delete c; });
}

error_code Listener::Bind(const tcp::endpoint& endpoint) {
  error_code ec;
  if (acceptor_.open(endpoint.protocol(), ec)) return ec;
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec)) return ec;
  if (acceptor_.set_option(ReusePort(true), ec)) return ec;
  if (acceptor_.bind(endpoint, ec)) return ec;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

uint16_t Listener::BoundPort() const {
  error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Listener::Start() {
  asio::post(acceptor_.get_executor(), [this] {
    if (shutting_down_) return;
    Accept();
    ArmSweep();
  });
}

void Listener::Shutdown() {
  asio::post(acceptor_.get_executor(), [this] {
    shutting_down_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    for (Connection& c : conns_) c.CloseIfIdle();
    if (conns_.empty()) sweep_.cancel();
    MaybeDrained();
  });
}

void Listener::Accept() {
  accept_pending_ = true;
  acceptor_.async_accept([this](error_code ec, Socket socket) { OnAccept(ec, std::move(socket)); });
}

void Listener::OnAccept(error_code ec, Socket socket) {
  accept_pending_ = false;
  if (shutting_down_) return MaybeDrained();  // `socket`, if any, closes here
  if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
      ec == asio::error::no_memory || ec.value() == ENFILE) {
    accept_paused_ = true;  // retrying now would spin; the sweep retries
    return;
  }
  if (!ec && max_conns_ > 0 && open_.load(std::memory_order_relaxed) >= max_conns_) {
    // Over the cap: accepted only to be closed, so the client learns at once
    // instead of waiting in the backlog. No 503: that would mean reading the
    // request first, i.e. holding the descriptor the cap is there to save.
    Bump(rejected_, 1);
    error_code ignored;
    socket.close(ignored);
  } else if (!ec) {
    auto* c = new Connection(this, std::move(socket));
    conns_.push_back(*c);
    Bump(open_, 1);
    c->Start();
  }
  Accept();
}

void Listener::ArmSweep() {
  sweep_pending_ = true;
  sweep_.expires_after(sweep_interval_);
  sweep_.async_wait([this](error_code ec) { OnSweep(ec); });
}

void Listener::OnSweep(error_code) {
  sweep_pending_ = false;
  if (shutting_down_ && conns_.empty()) return MaybeDrained();
  ++tick_;
  if (accept_paused_ && !shutting_down_) {
    accept_paused_ = false;
    Accept();
  }
  // OnTick only closes sockets; connections leave the list later, from their
  // own completions, so this iteration stays valid.
  for (Connection& c : conns_) c.OnTick(tick_);
  ArmSweep();
}

void Listener::Remove(Connection* c) {
  conns_.erase_and_dispose(conns_.iterator_to(*c), [](Connection* p) { delete p; });
  Bump(open_, -1);
  if (shutting_down_ && conns_.empty()) {
    sweep_.cancel();
    MaybeDrained();
  }
}

void Listener::AddStats(ServerStats& s) const {
  s.open_connections += open_.load(std::memory_order_relaxed);
  s.rejected_connections += rejected_.load(std::memory_order_relaxed);
  s.request_timeouts += request_timeouts_.load(std::memory_order_relaxed);
  s.write_timeouts += write_timeouts_.load(std::memory_order_relaxed);
}

void Listener::MaybeDrained() {
  if (drained_ || !shutting_down_ || accept_pending_ || sweep_pending_ || !conns_.empty()) return;
  drained_ = true;
  server_->OnLoopDrained();
}

}  // namespace internal

// --- Server -----------------------------------------------------------------

namespace {

// Resolves opts.host once (a literal address needs no lookup; a name blocks
// the controlling thread briefly, before any loop serves).
Result<tcp::endpoint> ResolveListenAddress(const std::string& host, uint16_t port) {
  error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(addr, port);
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("cannot listen on " + HostPort(host, port) +
                                   ": host does not resolve (" + ec.message() + ")");
  }
  return results.begin()->endpoint();
}

Status BindError(const std::string& host, uint16_t port, const error_code& ec) {
  std::string where = "cannot listen on " + HostPort(host, port) + ": " + ec.message();
  if (ec == asio::error::address_in_use) {
    return Status::Unavailable(where + " (another server holds the port: stop it or pick another)");
  }
  return Status::IOError(where);
}

// SO_REUSEPORT lets any socket of the same user that also sets it share the
// port, so a second server would silently split the traffic with the first.
// A plain bind (SO_REUSEADDR only) fails if anyone listens there.
error_code ProbePortFree(const tcp::endpoint& endpoint) {
  asio::io_context io;
  tcp::acceptor probe(io);
  error_code ec;
  if (probe.open(endpoint.protocol(), ec)) return ec;
  if (probe.set_option(asio::socket_base::reuse_address(true), ec)) return ec;
  probe.bind(endpoint, ec);
  return ec;
}

}  // namespace

Server::Server(ServerOptions opts, Handler* handler, sched::LoopGroup* loops)
    : opts_(std::move(opts)), handler_(handler), loops_(loops) {}

Server::~Server() = default;

Status Server::Listen() {
  EDGELAB_CHECK(listeners_.empty());
  EDGELAB_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ResolveListenAddress(opts_.host, opts_.port));
  if (endpoint.port() != 0) {
    if (error_code ec = ProbePortFree(endpoint)) return BindError(opts_.host, opts_.port, ec);
  }
  // Rounded down, so the loops together never pass the cap (unless it is
  // below one per loop).
  uint64_t per_loop = opts_.max_connections == 0
                          ? 0
                          : std::max<uint64_t>(1, opts_.max_connections / loops_->size());
  std::vector<std::unique_ptr<internal::Listener>> listeners;
  for (size_t i = 0; i < loops_->size(); ++i) {
    listeners.push_back(
        std::make_unique<internal::Listener>(this, opts_, handler_, loops_->loop(i), i, per_loop));
    if (error_code ec = listeners.back()->Bind(endpoint)) {
      return BindError(opts_.host, endpoint.port(), ec);
    }
    endpoint.port(listeners.back()->BoundPort());  // the first one fixes port 0
  }
  port_ = endpoint.port();
  listeners_ = std::move(listeners);
  loops_left_ = listeners_.size();
  for (auto& l : listeners_) l->Start();
  return Status::OK();
}

ServerStats Server::stats() const {
  ServerStats s;
  for (const auto& l : listeners_) l->AddStats(s);
  return s;
}

void Server::Shutdown(std::function<void()> drained) {
  drained_ = std::move(drained);
  if (listeners_.empty()) {
    if (drained_) drained_();
    return;
  }
  for (auto& l : listeners_) l->Shutdown();
}

void Server::OnLoopDrained() {
  if (loops_left_.fetch_sub(1) == 1 && drained_) drained_();
}

}  // namespace edgelab::http
