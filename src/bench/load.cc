// bench/load.cc: the closed-loop load client on one loop's io_context.
//
// Shape: a Run owns `c` Conns and one sweep timer. Each Conn takes a ticket
// (one of the `n` requests), connects if it has no open socket, writes the
// request (serialized once per run, shared by all connections), reads the
// response through Beast's parser, records it, and takes the next ticket.
// When no ticket is left it closes; the last one to close (with the sweep
// stopped) wakes the fiber that called RunLoad. Like the server, each Conn
// has exactly one operation outstanding, so it never needs to be kept alive
// by its callbacks, and timeouts come from the sweep closing the socket (the
// outstanding operation then completes, aborted) rather than a timer per
// request.
#include "bench/load.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <charconv>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "sched/real_scheduler.h"

namespace edgelab::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;
using tcp = asio::ip::tcp;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;

namespace {

constexpr size_t kReadChunk = 16 * 1024;
// The sweep looks for timed-out requests this often (or 4 times per timeout
// when that is shorter): timeouts fire up to this late.
constexpr int64_t kMaxSweepMicros = 100 * 1000;

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if ((s[i] | 0x20) != (prefix[i] | 0x20)) return false;
  }
  return true;
}

// Beast's response parser, keeping only what a load run needs: the status,
// keep-alive (from the base), and the body when asked.
class ResponseParser final : public beast::http::basic_parser<false> {
 public:
  explicit ResponseParser(bool keep_body) : keep_body_(keep_body) {
    // Not boost::none: Beast 1.74 compares the Content-Length against the
    // optional limit, and any length is greater than none.
    body_limit(std::numeric_limits<uint64_t>::max());
    eager(true);
  }
  int status = 0;
  std::string body;

 private:
  void on_request_impl(beast::http::verb, beast::string_view, beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, error_code&) override { status = code; }
  void on_field_impl(beast::http::field, beast::string_view, beast::string_view,
                     error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<uint64_t>&, error_code&) override {}
  size_t on_body_impl(beast::string_view b, error_code&) override {
    if (keep_body_) body.append(b.data(), b.size());
    return b.size();
  }
  void on_chunk_header_impl(uint64_t, beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(uint64_t, beast::string_view b, error_code& ec) override {
    return on_body_impl(b, ec);
  }
  void on_finish_impl(error_code&) override {}

  const bool keep_body_;
};

class Run;

// One connection of a run (see the file comment).
class Conn {
 public:
  Conn(Run* run, Executor ex) : run_(run), socket_(ex) {}
  // Takes the next ticket, or closes for good when none is left.
  void Next();
  // Closes the socket when the request in flight is older than the timeout.
  void OnSweep(int64_t now_us, int64_t timeout_us);

 private:
  void Connect();
  void OnConnect(error_code ec);
  void Send();
  void OnSent(error_code ec);
  void Read();
  void OnRead(error_code ec, size_t n);
  void OnIoError(std::string_view op, error_code ec);
  void Complete();
  void Fail(std::string kind);
  void CloseSocket();

  Run* const run_;
  Socket socket_;
  beast::flat_buffer buffer_;
  std::optional<ResponseParser> parser_;
  bool in_flight_ = false;
  bool reused_ = false;     // the socket already carried a full exchange
  bool retried_ = false;    // this ticket was re-sent once already
  bool timed_out_ = false;  // the sweep closed the socket under this ticket
  int64_t ticket_us_ = 0;   // when this ticket was taken (timeout base)
  int64_t sent_us_ = 0;     // when its request was written (latency base)
};

// The state of one RunLoad/FetchOnce call, on the calling fiber's loop.
class Run {
 public:
  Run(sched::RealScheduler& loop, const LoadOptions& opts, tcp::resolver::results_type endpoints,
      std::string request, bool keep_body)
      : loop_(loop),
        endpoints_(std::move(endpoints)),
        request_(std::move(request)),
        keep_body_(keep_body),
        unissued_(opts.requests),
        timeout_us_(static_cast<int64_t>(opts.timeout_s * 1e6)),
        sweep_(loop.io().get_executor()) {
    uint64_t c = std::min<uint64_t>(opts.connections, opts.requests);
    conns_.reserve(c);
    for (uint64_t i = 0; i < c; ++i) {
      conns_.push_back(std::make_unique<Conn>(this, loop.io().get_executor()));
    }
  }

  // Starts every connection and suspends the calling fiber until all ended.
  LoadReport RunToEnd();

  // For connections.
  sched::RealScheduler& loop() { return loop_; }
  const tcp::resolver::results_type& endpoints() const { return endpoints_; }
  const std::string& request() const { return request_; }
  bool keep_body() const { return keep_body_; }
  LoadReport& report() { return report_; }
  std::string& body() { return body_; }
  bool TakeTicket() {
    if (unissued_ == 0) return false;
    --unissued_;
    return true;
  }
  void ConnFinished();

 private:
  void ArmSweep();
  void MaybeWake();

  sched::RealScheduler& loop_;
  const tcp::resolver::results_type endpoints_;
  const std::string request_;
  const bool keep_body_;
  uint64_t unissued_;
  const int64_t timeout_us_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Timer sweep_;
  size_t live_ = 0;  // connections not finished
  bool sweep_pending_ = false;
  sched::Fiber* waiter_ = nullptr;
  int64_t start_us_ = 0;
  LoadReport report_;
  std::string body_;  // of the last response, when keep_body_
};

// --- Conn -------------------------------------------------------------------

void Conn::Next() {
  if (!run_->TakeTicket()) {
    CloseSocket();
    run_->ConnFinished();
    return;
  }
  in_flight_ = true;
  retried_ = false;
  timed_out_ = false;
  ticket_us_ = run_->loop().NowMicros();
  if (socket_.is_open()) return Send();
  Connect();
}

void Conn::Connect() {
  reused_ = false;
  buffer_.clear();
  asio::async_connect(socket_, run_->endpoints(),
                      [this](error_code ec, const tcp::endpoint&) { OnConnect(ec); });
}

void Conn::OnConnect(error_code ec) {
  if (ec) return OnIoError("connect", ec);
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  Send();
}

void Conn::Send() {
  parser_.emplace(run_->keep_body());
  sent_us_ = run_->loop().NowMicros();
  asio::async_write(socket_, asio::buffer(run_->request()),
                    [this](error_code ec, size_t) { OnSent(ec); });
}

void Conn::OnSent(error_code ec) {
  if (ec) return OnIoError("write", ec);
  Read();
}

void Conn::Read() {
  socket_.async_read_some(buffer_.prepare(kReadChunk),
                          [this](error_code ec, size_t n) { OnRead(ec, n); });
}

void Conn::OnRead(error_code ec, size_t n) {
  if (ec == asio::error::eof && parser_->is_header_done() && parser_->need_eof()) {
    error_code eof_ec;
    parser_->put_eof(eof_ec);  // a body delimited by the close is complete
    if (!eof_ec) return Complete();
  }
  if (ec) return OnIoError("read", ec);
  buffer_.commit(n);
  while (buffer_.size() > 0 && !parser_->is_done()) {
    error_code perr;
    size_t used = parser_->put(buffer_.data(), perr);
    buffer_.consume(used);
    if (perr == beast::http::error::need_more) break;
    if (perr) return Fail("bad response: " + perr.message());
    if (used == 0) break;
  }
  if (parser_->is_done()) return Complete();
  Read();
}

// A connection-level failure under the current ticket: re-send once when the
// server had closed an idle keep-alive connection (invariant (1) of load.h),
// count it otherwise.
void Conn::OnIoError(std::string_view op, error_code ec) {
  if (timed_out_) return Fail("timeout");
  bool nothing_back = !parser_ || !parser_->got_some();
  bool closed_by_peer = ec == asio::error::eof || ec == asio::error::connection_reset ||
                        ec == asio::error::broken_pipe;
  if (reused_ && !retried_ && nothing_back && closed_by_peer && op != "connect") {
    retried_ = true;
    CloseSocket();
    return Connect();
  }
  Fail(std::string(op) + ": " + ec.message());
}

void Conn::Complete() {
  LoadReport& r = run_->report();
  int status = parser_->status;
  r.latency.Record(run_->loop().NowMicros() - sent_us_);
  ++r.by_status[status];
  ++(status >= 200 && status < 400 ? r.completed : r.failed);
  if (run_->keep_body()) run_->body() = std::move(parser_->body);
  in_flight_ = false;
  reused_ = true;
  if (!parser_->keep_alive()) CloseSocket();
  Next();
}

void Conn::Fail(std::string kind) {
  LoadReport& r = run_->report();
  ++r.failed;
  ++r.errors;
  ++r.error_kinds[std::move(kind)];
  in_flight_ = false;
  CloseSocket();
  Next();
}

void Conn::CloseSocket() {
  error_code ignored;
  socket_.close(ignored);
  buffer_.clear();
}

void Conn::OnSweep(int64_t now_us, int64_t timeout_us) {
  if (in_flight_ && !timed_out_ && now_us - ticket_us_ >= timeout_us) {
    timed_out_ = true;
    error_code ignored;
    socket_.close(ignored);  // the outstanding operation completes, aborted
  }
}

// --- Run --------------------------------------------------------------------

LoadReport Run::RunToEnd() {
  waiter_ = loop_.Current();
  EDGELAB_CHECK(waiter_ != nullptr);  // RunLoad/FetchOnce must run on a fiber
  start_us_ = loop_.NowMicros();
  live_ = conns_.size();
  if (live_ > 0) ArmSweep();
  // Copy: Next() may finish a connection and touch conns_ (no reallocation).
  for (size_t i = 0; i < conns_.size(); ++i) conns_[i]->Next();
  // Every completion runs from the loop after this fiber suspends, so the
  // wake-up cannot come before the Suspend.
  if (live_ > 0 || sweep_pending_) loop_.Suspend();
  report_.seconds = static_cast<double>(loop_.NowMicros() - start_us_) / 1e6;
  return std::move(report_);
}

void Run::ArmSweep() {
  sweep_pending_ = true;
  int64_t every = std::clamp<int64_t>(timeout_us_ / 4, 1000, kMaxSweepMicros);
  sweep_.expires_after(std::chrono::microseconds(every));
  sweep_.async_wait([this](error_code) {
    sweep_pending_ = false;
    if (live_ == 0) return MaybeWake();
    int64_t now = loop_.NowMicros();
    for (auto& c : conns_) c->OnSweep(now, timeout_us_);
    ArmSweep();
  });
}

void Run::ConnFinished() {
  if (--live_ > 0) return;
  sweep_.cancel();
  MaybeWake();
}

void Run::MaybeWake() {
  if (live_ == 0 && !sweep_pending_) loop_.Wake(waiter_);
}

// --- Setup ------------------------------------------------------------------

std::string SerializeRequest(const LoadOptions& opts, const Url& url) {
  std::string r;
  r.reserve(128 + opts.body.size());
  r.append(opts.method).append(" ").append(url.target).append(" HTTP/1.1\r\n");
  r.append("Host: ").append(url.HostHeader()).append("\r\n");
  r.append("User-Agent: edgelab-bench\r\nAccept: */*\r\n");
  bool body_method = opts.method == "POST" || opts.method == "PUT" || opts.method == "PATCH";
  if (!opts.body.empty() || body_method) {
    r.append("Content-Length: ").append(std::to_string(opts.body.size())).append("\r\n");
  }
  r.append("\r\n").append(opts.body);
  return r;
}

Status CheckOptions(const LoadOptions& opts) {
  if (opts.connections == 0) {
    return Status::InvalidArgument("bench: connections must be at least 1");
  }
  if (!(opts.timeout_s > 0)) return Status::InvalidArgument("bench: timeout must be positive");
  bool token = !opts.method.empty() &&
               std::all_of(opts.method.begin(), opts.method.end(),
                           [](char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; });
  if (!token) return Status::InvalidArgument("bench: bad method \"" + opts.method + "\"");
  return Status::OK();
}

// Resolves once, blocking the loop briefly: async_resolve would run
// getaddrinfo on a hidden Asio thread, and nothing is in flight yet anyway.
Result<tcp::resolver::results_type> Resolve(sched::RealScheduler& loop, const Url& url) {
  tcp::resolver resolver(loop.io());
  error_code ec;
  auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec || results.empty()) {
    return Status::Unavailable("bench: cannot resolve host \"" + url.host + "\": " + ec.message());
  }
  return results;
}

Result<LoadReport> RunInternal(const LoadOptions& opts, sched::RealScheduler& loop,
                               std::string* body) {
  EDGELAB_RETURN_IF_ERROR(CheckOptions(opts));
  EDGELAB_ASSIGN_OR_RETURN(Url url, ParseUrl(opts.url));
  if (opts.requests == 0) return LoadReport{};
  EDGELAB_ASSIGN_OR_RETURN(auto endpoints, Resolve(loop, url));
  Run run(loop, opts, std::move(endpoints), SerializeRequest(opts, url), body != nullptr);
  LoadReport report = run.RunToEnd();
  if (body != nullptr) *body = std::move(run.body());
  return report;
}

}  // namespace

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != 80) h += ":" + std::to_string(port);
  return h;
}

namespace {

// Fills out->host and out->port from "host[:port]" or "[v6][:port]"; returns
// what is wrong, or "" when nothing is.
std::string ParseAuthority(std::string_view authority, Url* out) {
  if (authority.find('@') != std::string_view::npos) return "user@ is not supported";
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return "unclosed [ in the host";
    out->host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return "junk after the IPv6 address";
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else {
    size_t colon = authority.rfind(':');
    out->host = std::string(authority.substr(0, colon));
    has_port = colon != std::string_view::npos;
    if (has_port) port = authority.substr(colon + 1);
  }
  if (out->host.empty()) return "no host";
  if (!has_port) return "";
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return "bad port \"" + std::string(port) + "\"";
  }
  out->port = static_cast<uint16_t>(value);
  return "";
}

}  // namespace

Result<Url> ParseUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("URL \"" + std::string(url) + "\": " + why);
  };
  if (StartsWithNoCase(url, "https://")) {
    return bad("https is not supported (the load client speaks plain HTTP/1.1); use http://");
  }
  if (!StartsWithNoCase(url, "http://")) return bad("expected http://host[:port][/path]");
  std::string_view rest = url.substr(7);
  size_t end = rest.find_first_of("/?#");
  std::string_view tail = end == std::string_view::npos ? "" : rest.substr(end);
  tail = tail.substr(0, tail.find('#'));  // fragments never go on the wire
  Url out;
  if (std::string why = ParseAuthority(rest.substr(0, end), &out); !why.empty()) return bad(why);
  out.target = tail.empty()          ? "/"
               : tail.front() == '?' ? "/" + std::string(tail)
                                     : std::string(tail);
  return out;
}

Result<LoadReport> RunLoad(const LoadOptions& opts, sched::RealScheduler& loop) {
  return RunInternal(opts, loop, nullptr);
}

Result<std::string> FetchOnce(const std::string& url, sched::RealScheduler& loop,
                              double timeout_s) {
  LoadOptions opts;
  opts.url = url;
  opts.requests = 1;
  opts.connections = 1;
  opts.timeout_s = timeout_s;
  std::string body;
  EDGELAB_ASSIGN_OR_RETURN(LoadReport r, RunInternal(opts, loop, &body));
  if (r.errors > 0) {
    return Status::Unavailable("GET " + url + ": " + r.error_kinds.begin()->first);
  }
  int status = r.by_status.begin()->first;
  if (status == 200) return body;
  std::string what =
      "GET " + url + ": status " + std::to_string(status) + ": " + body.substr(0, 200);
  if (status == 404) return Status::NotFound(what);
  return Status::Unavailable(what);
}

}  // namespace edgelab::bench
