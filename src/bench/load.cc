// bench/load.cc: the load client: keep-alive connections driven by callbacks
// on the loops of a LoopGroup (see load.h for the contract).
//
// Shape: RunLoad resolves the host, serializes the request once per path,
// and gives each loop a ClientLoop with its share of the connections. The
// loops share one Tickets (an atomic count, the deadline and the weighted
// path order), so `requests` is exact whatever the split. A Conn carries one
// request at a time: it connects if it has no open socket, writes the
// request, reads the response through Beast's parser, reports the result to
// its ClientLoop and asks it for the next request:
//   closed loop: the ClientLoop takes the next ticket for it at once;
//   open loop:   a per-loop timer fires at the next due time and issues every
//                request whose due time has passed into a FIFO; idle
//                connections take from the FIFO (one timer per loop, not
//                one per request: at 100k req/s that would be 100k timers).
//                The FIFO is bounded (kMaxQueuedPerConnection per
//                connection); requests due beyond it are failed unsent in
//                one step, however many, so a rate far above the server's
//                costs neither memory nor a loop over every due request.
// Like the server, each Conn has exactly one operation outstanding, so it is
// never kept alive by its callbacks, and timeouts come from one sweep timer
// per loop closing the socket (the outstanding operation then completes,
// aborted) rather than from a timer per request. The sweep also fails the
// requests that waited in the FIFO past their timeout.
// Progress::stop ends the issuing as the deadline would: Tickets refuses
// tickets once it is set, and the sweep wakes an open loop that sleeps until
// its next due time.
// Hot path: no allocation per request. The request bytes are shared, the
// parser lives in the Conn, Asio's operations in memory of the Conn (or the
// timer), status and per-path counts are arrays, the FIFO is a bounded ring;
// failures (strings) are off the hot path, except unsent requests, which can
// be most of an overloaded run and are plain counters until the report.
#include "bench/load.h"

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <utility>

#include "sched/process.h"
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
constexpr uint32_t kMaxWeight = 1000 * 1000;
// The weighted order is precomputed as one cycle of sum(weights) entries up
// to this length (4 MB); longer cycles are stepped under a lock (see Tickets).
constexpr uint64_t kMaxCycle = 1000 * 1000;
constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();
// error_kinds detail of the open-loop requests failed because the FIFO of
// due requests was full (class "timeout": they were never answered in time).
constexpr std::string_view kQueueFullDetail = "not sent: queue full";

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if ((s[i] | 0x20) != (prefix[i] | 0x20)) return false;
  }
  return true;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && StartsWithNoCase(a, b);
}

// RFC 9110 5.6.2 tchar: what a header name (or a method) may hold.
bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// A space or a control character: what may not go on the request line (nor,
// for a host, in the Host header).
bool IsSpaceOrControl(char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }

// A path goes on the request line as is: no spaces or control characters.
bool IsPath(std::string_view s) {
  return !s.empty() && s.front() == '/' && std::none_of(s.begin(), s.end(), IsSpaceOrControl);
}

// `s` for a message: control characters as \r, \n, \t or \xNN.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || !IsSpaceOrControl(c)) {
      out += c;
    } else if (c == '\r' || c == '\n' || c == '\t') {
      out += c == '\r' ? "\\r" : c == '\n' ? "\\n" : "\\t";
    } else {
      constexpr std::string_view kHex = "0123456789abcdef";
      unsigned char u = static_cast<unsigned char>(c);
      out.append("\\x").append(1, kHex[u >> 4]).append(1, kHex[u & 15]);
    }
  }
  return out;
}

// Beast's response parser, keeping only what a load run needs: the status,
// keep-alive (from the base), and the body when asked.
class ResponseParser final : public beast::http::basic_parser<false> {
 public:
  ResponseParser(bool keep_body, bool head) : keep_body_(keep_body) {
    // Not boost::none: Beast 1.74 compares the Content-Length against the
    // optional limit, and any length is greater than none.
    body_limit(std::numeric_limits<uint64_t>::max());
    eager(true);
    skip(head);  // the answer to HEAD has a Content-Length but no body
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

// Smooth weighted round robin as nginx does it: each step adds every
// weight to its path's current value, picks the largest (the first on a
// tie) and takes the sum of the weights off it. Over any sum(weights)
// consecutive steps each path is picked exactly `weight` times, spread out.
class Swrr {
 public:
  explicit Swrr(const std::vector<uint32_t>& weights)
      : weights_(weights.begin(), weights.end()), current_(weights.size(), 0) {
    for (int64_t w : weights_) total_ += w;
  }
  uint32_t Next() {
    size_t best = 0;
    for (size_t i = 0; i < weights_.size(); ++i) {
      current_[i] += weights_[i];
      if (current_[i] > current_[best]) best = i;
    }
    current_[best] -= total_;
    return static_cast<uint32_t>(best);
  }

 private:
  std::vector<int64_t> weights_;
  std::vector<int64_t> current_;
  int64_t total_ = 0;
};

// The tickets of a run, shared by its loops: whether one more request may
// be issued (load.h invariants (1) and (5)) and which path it uses (6).
// Ticket i uses entry i of the weighted order: with a precomputed cycle the
// ticket is one relaxed fetch_add and the path a table look-up, whatever
// thread takes it. A cycle longer than kMaxCycle (weights whose sum, after
// dividing by their gcd, passes a million) is stepped under mu_ together
// with the count, which keeps ticket i on entry i at the price of a lock
// per request, for a mix no one is likely to ask for.
// `stop` (Progress::stop, or null) only ever goes from false to true: once
// seen it refuses every ticket, like a deadline that has passed.
class Tickets {
 public:
  Tickets(uint64_t limit, std::vector<uint32_t> weights, const std::atomic<bool>* stop)
      : limit_(limit), stop_(stop) {
    uint32_t g = 0;
    for (uint32_t w : weights) g = std::gcd(g, w);
    uint64_t total = 0;
    for (uint32_t& w : weights) total += w /= g;
    Swrr order(weights);
    if (total <= kMaxCycle && total * weights.size() <= 100 * kMaxCycle) {
      cycle_.resize(total);
      for (uint32_t& p : cycle_) p = order.Next();
    } else {
      stepped_.emplace(std::move(order));
    }
  }

  // Set once, before any loop starts (the post to the loops publishes it).
  void SetDeadline(int64_t deadline_us) { deadline_us_ = deadline_us; }
  int64_t deadline_us() const { return deadline_us_; }
  bool Stopped() const { return stop_ != nullptr && stop_->load(std::memory_order_relaxed); }
  // Every ticket of the count is taken: Take will refuse from now on (false
  // does not promise a ticket: other loops may take the last ones first).
  bool Exhausted() {
    if (limit_ == 0) return false;
    if (!stepped_) return next_.load(std::memory_order_relaxed) >= limit_;
    std::lock_guard<std::mutex> lock(mu_);
    return taken_ >= limit_;
  }

  // Issues a ticket for a request starting (closed loop) or due (open loop)
  // at `at_us`; returns the index of its path, or -1 when no request may be
  // issued any more (then never again: the count, the clock and stop only
  // grow).
  int64_t Take(int64_t at_us) {
    if (at_us >= deadline_us_ || Stopped()) return -1;
    if (stepped_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (limit_ != 0 && taken_ >= limit_) return -1;
      ++taken_;
      return stepped_->Next();
    }
    uint64_t t = next_.fetch_add(1, std::memory_order_relaxed);
    if (limit_ != 0 && t >= limit_) return -1;
    return cycle_[t % cycle_.size()];
  }

  // Open loop: issues up to `n` tickets at once for requests that will never
  // be sent (the caller has checked that they are due before the deadline);
  // returns how many, fewer than `n` only when no ticket is left. Their paths
  // are not looked up. A stepped order is not stepped for them (that would
  // cost a step per request, and the rate can be 1e8/s), so it is the sent
  // requests that follow it there.
  uint64_t TakeUnsent(uint64_t n) {
    if (n == 0 || Stopped()) return 0;
    if (stepped_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (limit_ != 0) n = std::min(n, limit_ - std::min(limit_, taken_));
      taken_ += n;
      return n;
    }
    uint64_t t = next_.fetch_add(n, std::memory_order_relaxed);
    if (limit_ == 0) return n;
    return t >= limit_ ? 0 : std::min(n, limit_ - t);
  }

 private:
  const uint64_t limit_;  // 0: no limit
  const std::atomic<bool>* const stop_;
  int64_t deadline_us_ = kNoDeadline;
  std::vector<uint32_t> cycle_;  // the path of ticket i is cycle_[i % size]
  std::atomic<uint64_t> next_{0};
  std::mutex mu_;
  std::optional<Swrr> stepped_;  // guarded by mu_ once the run starts
  uint64_t taken_ = 0;           // guarded by mu_
};

// What every loop of a run reads and nobody writes once it starts.
struct Plan {
  std::vector<tcp::endpoint> endpoints;
  std::vector<std::string> requests;  // serialized, one per path
  int64_t timeout_us = 0;
  bool head = false;       // responses carry no body
  bool keep_body = false;  // FetchOnce: keep the last response's body
  Progress* progress = nullptr;
};

// Open loop: requests due but not yet on a connection, oldest first. A ring
// that only grows, so no allocation per request once it has reached the
// deepest backlog of the run; its owner bounds that backlog (ClientLoop::
// max_queued_), and so its memory.
class DueQueue {
 public:
  struct Entry {
    int64_t due_us;
    uint32_t path;
  };
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  const Entry& front() const { return ring_[head_]; }
  void pop() {
    head_ = (head_ + 1) & (ring_.size() - 1);
    --size_;
  }
  void push(Entry e) {
    if (size_ == ring_.size()) Grow();
    ring_[(head_ + size_) & (ring_.size() - 1)] = e;
    ++size_;
  }

 private:
  void Grow() {
    std::vector<Entry> bigger(std::max<size_t>(256, ring_.size() * 2));  // a power of two
    for (size_t i = 0; i < size_; ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_.swap(bigger);
    head_ = 0;
  }

  std::vector<Entry> ring_;
  size_t head_ = 0;
  size_t size_ = 0;
};

// Memory for the one Asio operation a Conn or a timer has outstanding.
// Asio allocates each operation (with its handler) through the handler's
// associated allocator and frees it before calling the handler, so one
// block serves every operation in turn. Asio's own fallback caches one block
// per thread: enough for the closed loop, where each handler starts the next
// operation, but not for the open loop, whose timer starts writes on idle
// connections and re-arms itself (an allocation per request without this).
class HandlerMemory {
 public:
  void* Allocate(size_t n) {
    if (in_use_ || n > sizeof(storage_)) return ::operator new(n);
    in_use_ = true;
    return storage_;
  }
  void Deallocate(void* p) {
    if (p != storage_) return ::operator delete(p);
    in_use_ = false;
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[512];  // Asio 1.74 ops: 64-152 bytes
  bool in_use_ = false;
};

template <typename T>
struct HandlerAllocator {
  using value_type = T;
  explicit HandlerAllocator(HandlerMemory* m) : memory(m) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& other) : memory(other.memory) {}
  T* allocate(size_t n) { return static_cast<T*>(memory->Allocate(sizeof(T) * n)); }
  void deallocate(T* p, size_t) { memory->Deallocate(p); }
  bool operator==(const HandlerAllocator& other) const { return memory == other.memory; }
  bool operator!=(const HandlerAllocator& other) const { return memory != other.memory; }
  HandlerMemory* memory;
};

// `handler`, allocating its operation in `memory` (Asio reads allocator_type).
template <typename Handler>
class WithMemory {
 public:
  using allocator_type = HandlerAllocator<Handler>;
  WithMemory(HandlerMemory* memory, Handler handler)
      : memory_(memory), handler_(std::move(handler)) {}
  allocator_type get_allocator() const noexcept { return allocator_type(memory_); }
  template <typename... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

 private:
  HandlerMemory* memory_;
  Handler handler_;
};

template <typename Handler>
WithMemory<Handler> Bind(HandlerMemory* memory, Handler handler) {
  return WithMemory<Handler>(memory, std::move(handler));
}

class ClientLoop;

// One connection of a run (see the file comment).
class Conn {
 public:
  Conn(ClientLoop* loop, Executor ex) : loop_(loop), socket_(ex) {}
  // Starts the request for path `path`; `base_us` is when it was issued
  // (closed loop) or due (open loop): its timeout counts from there.
  void Start(uint32_t path, int64_t base_us);
  // Closes the socket when the request in flight is past its timeout.
  void OnSweep(int64_t now_us);
  void CloseSocket();

 private:
  void Connect();
  void ConnectFrom(size_t endpoint);
  void OnConnect(size_t endpoint, error_code ec);
  void Send();
  void OnSent(error_code ec);
  void Read();
  void OnReadable(error_code ec);
  void OnRead(error_code ec, size_t n);
  void OnIoError(std::string_view op, error_code ec);
  void Complete();
  void Fail(std::string_view failure, std::string detail);

  ClientLoop* const loop_;
  Socket socket_;
  HandlerMemory memory_;  // for the one operation outstanding
  beast::flat_buffer buffer_;
  std::optional<ResponseParser> parser_;
  uint32_t path_ = 0;
  bool in_flight_ = false;
  bool reused_ = false;     // the socket already carried a full exchange
  bool retried_ = false;    // this request was re-sent once already
  bool written_ = false;    // this request was written once already
  bool timed_out_ = false;  // the sweep closed the socket under this request
  int64_t base_us_ = 0;     // issued (closed loop) or due (open loop)
  int64_t sent_us_ = 0;     // the latest write of the request
};

// One loop's share of a run: its connections, its timers and its report.
// Everything here runs on that loop's thread, except construction (before
// the loop runs) and TakeReport (after it has stopped).
class ClientLoop {
 public:
  // `rate`: this loop's requests per second; 0 for a closed loop.
  // `on_finish` runs once on the loop, when every request it issued has
  // ended and no handler of it is pending (the object may then be freed).
  ClientLoop(sched::RealScheduler& loop, const Plan& plan, Tickets& tickets, size_t conns,
             double rate, std::function<void()> on_finish)
      : loop_(loop),
        plan_(plan),
        tickets_(tickets),
        open_(rate > 0),
        interval_us_(open_ ? 1e6 / rate : 0),
        max_queued_(kMaxQueuedPerConnection * conns),
        on_finish_(std::move(on_finish)),
        sweep_(loop.io().get_executor()),
        rate_timer_(loop.io().get_executor()) {
    conns_.reserve(conns);
    for (size_t i = 0; i < conns; ++i) {
      conns_.push_back(std::make_unique<Conn>(this, loop.io().get_executor()));
    }
    idle_.reserve(conns);
    report_.ok_by_path.assign(plan.requests.size(), 0);
  }

  // Starts the run; `start_us` is the run's start, shared by all loops.
  void Begin(int64_t start_us);
  // The loop's results; `service_latency` is empty for a closed loop.
  LoadReport TakeReport();
  int64_t last_end_us() const { return last_end_us_; }
  int64_t last_issued_us() const { return last_issued_us_; }
  std::string& body() { return body_; }

  // For Conns.
  sched::RealScheduler& loop() { return loop_; }
  const Plan& plan() const { return plan_; }
  void OnWrite(int64_t base_us, int64_t sent_us);
  void RecordResponse(uint32_t path, int status, int64_t base_us, int64_t sent_us, int64_t now_us);
  void RecordFailure(std::string_view failure, std::string detail, int64_t now_us);
  // `conn` has ended its request: give it the next one, or park or close it.
  void OnIdle(Conn* conn, int64_t now_us);

 private:
  void Dispatch(Conn* conn, int64_t now_us);
  void StartOn(Conn* conn, uint32_t path, int64_t base_us);
  void Ended(bool ok, int64_t now_us, uint64_t n = 1);
  void FailUnsent(uint64_t n, bool queue_full, int64_t now_us);
  void IssueDue();
  bool SkipDue(int64_t now_us);
  int64_t DueAt(uint64_t k) const;
  void ArmRateTimer(int64_t now_us);
  void ArmSweep();
  void OnSweep();
  void StopIssuing();
  void MaybeFinish();
  void MaybeNotify();

  // Fixed after construction.
  sched::RealScheduler& loop_;
  const Plan& plan_;
  Tickets& tickets_;
  const bool open_;
  const double interval_us_;  // open loop: between two due times of this loop
  const size_t max_queued_;   // open loop: the most due_ holds
  const std::function<void()> on_finish_;

  // Loop thread only.
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> idle_;  // open loop: connections waiting for a due request
  DueQueue due_;             // open loop: due requests waiting for a connection
  Timer sweep_;
  Timer rate_timer_;
  HandlerMemory sweep_memory_;
  HandlerMemory rate_memory_;
  size_t busy_ = 0;  // connections with a request
  bool issuing_done_ = false;
  bool finished_ = false;
  bool notified_ = false;
  bool sweep_pending_ = false;
  bool rate_pending_ = false;
  uint64_t issued_ = 0;  // open loop: requests issued by this loop (k in load.h (4))
  int64_t next_due_us_ = 0;
  int64_t start_us_ = 0;
  int64_t last_end_us_ = 0;
  int64_t last_issued_us_ = 0;                  // taken (closed loop) or due (open loop)
  std::array<uint64_t, 1000> status_counts_{};  // Beast reads three digits
  // Open loop: unsent requests, by cause; into the report's maps at the end.
  uint64_t queue_timeouts_ = 0;  // waited in due_ past their timeout
  uint64_t queue_full_ = 0;      // did not fit in due_
  LoadReport report_;
  std::string body_;  // of the last response, when plan_.keep_body
};

// --- Conn -------------------------------------------------------------------

void Conn::Start(uint32_t path, int64_t base_us) {
  path_ = path;
  base_us_ = base_us;
  in_flight_ = true;
  retried_ = false;
  written_ = false;
  timed_out_ = false;
  if (socket_.is_open()) return Send();
  Connect();
}

void Conn::Connect() {
  reused_ = false;
  buffer_.clear();
  ConnectFrom(0);
}

// Tries the endpoints from `first` on, in order, as the ranged
// asio::async_connect does, but opens the socket itself: the ranged form
// reports a socket it could not open (EMFILE: too many open files) as
// "Operation canceled", and stops at an address family the host lacks.
void Conn::ConnectFrom(size_t first) {
  const std::vector<tcp::endpoint>& endpoints = loop_->plan().endpoints;
  error_code ec;
  for (size_t i = first; i < endpoints.size(); ++i) {
    socket_.close(ec);
    socket_.open(endpoints[i].protocol(), ec);
    if (!ec) {
      return socket_.async_connect(endpoints[i],
                                   Bind(&memory_, [this, i](error_code e) { OnConnect(i, e); }));
    }
  }
  // Posted, not called: failing ends the request, and the next one would
  // start (and fail) inside this call, as deep as there are requests.
  asio::post(socket_.get_executor(), Bind(&memory_, [this, ec] { OnIoError("connect", ec); }));
}

void Conn::OnConnect(size_t endpoint, error_code ec) {
  if (ec && !timed_out_ && endpoint + 1 < loop_->plan().endpoints.size()) {
    return ConnectFrom(endpoint + 1);
  }
  if (ec) return OnIoError("connect", ec);
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);  // for read_some in OnReadable
  Send();
}

void Conn::Send() {
  parser_.emplace(loop_->plan().keep_body, loop_->plan().head);
  sent_us_ = loop_->loop().NowMicros();
  if (!written_) {
    written_ = true;
    loop_->OnWrite(base_us_, sent_us_);
  }
  asio::async_write(socket_, asio::buffer(loop_->plan().requests[path_]),
                    Bind(&memory_, [this](error_code ec, size_t) { OnSent(ec); }));
}

void Conn::OnSent(error_code ec) {
  if (ec) return OnIoError("write", ec);
  Read();
}

// Waits until the socket is readable, then reads what is there. Not
// async_read_some: it tries a read at once, which right after a write finds
// nothing about half the time, a wasted system call per request.
void Conn::Read() {
  socket_.async_wait(tcp::socket::wait_read,
                     Bind(&memory_, [this](error_code ec) { OnReadable(ec); }));
}

void Conn::OnReadable(error_code ec) {
  if (ec) return OnRead(ec, 0);
  size_t n = socket_.read_some(buffer_.prepare(kReadChunk), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return Read();
  OnRead(ec, n);
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
    if (perr) return Fail("bad response", "bad response: " + perr.message());
    if (used == 0) break;
  }
  if (parser_->is_done()) return Complete();
  Read();
}

// A connection-level failure under the current request: re-send once when
// the server had closed an idle keep-alive connection (invariant (1) of
// load.h), count it by class otherwise.
void Conn::OnIoError(std::string_view op, error_code ec) {
  if (timed_out_) return Fail("timeout", "timeout");
  bool nothing_back = !parser_ || !parser_->got_some();
  bool closed_by_peer = ec == asio::error::eof || ec == asio::error::connection_reset ||
                        ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
  if (reused_ && !retried_ && nothing_back && closed_by_peer && op != "connect") {
    retried_ = true;
    CloseSocket();
    return Connect();
  }
  // Beast's name for it: Asio's "End of file" reads oddly for a socket.
  std::string detail =
      std::string(op) + ": " + (ec == asio::error::eof ? "end of stream" : ec.message());
  if (op == "connect") return Fail("connect", std::move(detail));
  if (op == "write" && !closed_by_peer) return Fail("write", std::move(detail));
  Fail("closed", std::move(detail));  // any read error: the connection went away
}

void Conn::Complete() {
  int64_t now = loop_->loop().NowMicros();
  loop_->RecordResponse(path_, parser_->status, base_us_, sent_us_, now);
  if (loop_->plan().keep_body) loop_->body() = std::move(parser_->body);
  in_flight_ = false;
  reused_ = true;
  if (!parser_->keep_alive()) CloseSocket();
  loop_->OnIdle(this, now);
}

void Conn::Fail(std::string_view failure, std::string detail) {
  int64_t now = loop_->loop().NowMicros();
  loop_->RecordFailure(failure, std::move(detail), now);
  in_flight_ = false;
  CloseSocket();
  loop_->OnIdle(this, now);
}

void Conn::CloseSocket() {
  error_code ignored;
  socket_.close(ignored);
  buffer_.clear();
}

void Conn::OnSweep(int64_t now_us) {
  if (in_flight_ && !timed_out_ && now_us - base_us_ >= loop_->plan().timeout_us) {
    timed_out_ = true;
    error_code ignored;
    socket_.close(ignored);  // the outstanding operation completes, aborted
  }
}

// --- ClientLoop: results ----------------------------------------------------

void ClientLoop::OnWrite(int64_t base_us, int64_t sent_us) {
  if (open_ && sent_us - base_us > kLateMicros) ++report_.late;
  if (plan_.progress != nullptr) plan_.progress->sent.fetch_add(1, std::memory_order_relaxed);
}

void ClientLoop::RecordResponse(uint32_t path, int status, int64_t base_us, int64_t sent_us,
                                int64_t now_us) {
  if (status >= 0 && static_cast<size_t>(status) < status_counts_.size()) {
    ++status_counts_[status];
  } else {
    ++report_.by_status[status];
  }
  bool ok = status >= 200 && status < 400;
  ++(ok ? report_.completed : report_.failed);
  if (status >= 200 && status < 300) ++report_.ok_by_path[path];
  if (open_) {
    report_.latency.Record(now_us - base_us);
    report_.service_latency.Record(now_us - sent_us);
  } else {
    report_.latency.Record(now_us - sent_us);  // copied to service_latency at the end
  }
  Ended(ok, now_us);
}

void ClientLoop::RecordFailure(std::string_view failure, std::string detail, int64_t now_us) {
  ++report_.failed;
  ++report_.errors;
  ++report_.failures[std::string(failure)];
  ++report_.error_kinds[std::move(detail)];
  Ended(false, now_us);
}

// `n` requests ended at `now_us`, all answered with success or all not.
void ClientLoop::Ended(bool ok, int64_t now_us, uint64_t n) {
  size_t bin = static_cast<size_t>(std::max<int64_t>(0, now_us - start_us_) / kSeriesBinMicros);
  // Grows geometrically: a few allocations a run, not one per bin.
  if (bin >= report_.series.size()) report_.series.resize(bin + 1);
  (ok ? report_.series[bin].completed : report_.series[bin].failed) += n;
  last_end_us_ = std::max(last_end_us_, now_us);
  if (plan_.progress != nullptr) {
    (ok ? plan_.progress->completed : plan_.progress->failed)
        .fetch_add(n, std::memory_order_relaxed);
  }
}

// Open loop: `n` due requests that will never be written, failed as
// "timeout" in one step. Counted, not put in the maps one by one: at a rate
// far above the server's they are most of the run (load.h: `unsent`).
void ClientLoop::FailUnsent(uint64_t n, bool queue_full, int64_t now_us) {
  report_.failed += n;
  report_.errors += n;
  report_.unsent += n;
  (queue_full ? queue_full_ : queue_timeouts_) += n;
  Ended(false, now_us, n);
}

LoadReport ClientLoop::TakeReport() {
  for (size_t s = 0; s < status_counts_.size(); ++s) {
    if (status_counts_[s] > 0) report_.by_status[static_cast<int>(s)] += status_counts_[s];
  }
  status_counts_ = {};
  if (queue_timeouts_ > 0) {
    report_.failures["timeout"] += queue_timeouts_;
    report_.error_kinds["timeout"] += queue_timeouts_;
  }
  if (queue_full_ > 0) {
    report_.failures["timeout"] += queue_full_;
    report_.error_kinds[std::string(kQueueFullDetail)] += queue_full_;
  }
  queue_timeouts_ = queue_full_ = 0;
  return std::move(report_);
}

// --- ClientLoop: the run ----------------------------------------------------

void ClientLoop::Begin(int64_t start_us) {
  start_us_ = start_us;
  last_end_us_ = start_us;
  last_issued_us_ = start_us;
  next_due_us_ = start_us;
  // Armed first: a loop whose tickets are all gone finishes inside the
  // dispatch below, and the finish waits for the sweep's handler.
  ArmSweep();
  if (open_) {
    for (auto& c : conns_) idle_.push_back(c.get());
    return IssueDue();
  }
  int64_t now = loop_.NowMicros();
  for (auto& c : conns_) Dispatch(c.get(), now);
}

void ClientLoop::OnIdle(Conn* conn, int64_t now_us) {
  --busy_;
  Dispatch(conn, now_us);
}

// Closed loop: the next ticket, now. Open loop: the oldest due request, or
// the idle list.
void ClientLoop::Dispatch(Conn* conn, int64_t now_us) {
  if (!open_ && !issuing_done_) {
    int64_t path = tickets_.Take(now_us);
    if (path >= 0) {
      last_issued_us_ = now_us;
      return StartOn(conn, static_cast<uint32_t>(path), now_us);
    }
    issuing_done_ = true;
  }
  if (!due_.empty()) {
    DueQueue::Entry e = due_.front();
    due_.pop();
    return StartOn(conn, e.path, e.due_us);
  }
  if (!issuing_done_) return idle_.push_back(conn);
  conn->CloseSocket();
  MaybeFinish();
}

void ClientLoop::StartOn(Conn* conn, uint32_t path, int64_t base_us) {
  ++busy_;
  conn->Start(path, base_us);
}

// Open loop: issues every request due by now (load.h invariant (4)), hands
// them to idle connections in order, and sleeps until the next due time.
// No connection becomes idle during the call, so once due_ is full every
// other request due by now is beyond it: SkipDue fails them all at once.
void ClientLoop::IssueDue() {
  if (tickets_.Stopped()) return StopIssuing();
  int64_t now = loop_.NowMicros();
  while (next_due_us_ <= now) {
    if (due_.size() >= max_queued_) {
      if (!SkipDue(now)) return StopIssuing();
      break;
    }
    int64_t path = tickets_.Take(next_due_us_);
    if (path < 0) return StopIssuing();
    last_issued_us_ = next_due_us_;
    due_.push({next_due_us_, static_cast<uint32_t>(path)});
    next_due_us_ = DueAt(++issued_);
    while (!due_.empty() && !idle_.empty()) {
      Conn* conn = idle_.back();  // the most recently used: its socket is warm
      idle_.pop_back();
      DueQueue::Entry e = due_.front();
      due_.pop();
      StartOn(conn, e.path, e.due_us);
    }
  }
  // Not sleeping until the next due time only to learn that no ticket is
  // left (at 1/s that is a second added to the run).
  if (next_due_us_ >= tickets_.deadline_us() || tickets_.Exhausted()) return StopIssuing();
  ArmRateTimer(now);
}

// When request k of this loop is due (load.h (4)); kNoDeadline when that is
// out of range (a rate so low that the request is never due).
int64_t ClientLoop::DueAt(uint64_t k) const {
  constexpr double kNever = 4e18;  // microseconds: 127,000 years
  double offset = static_cast<double>(k) * interval_us_;
  if (!(offset < kNever)) return kNoDeadline;
  return start_us_ + static_cast<int64_t>(offset);
}

// Issues, unsent, every request due by `now_us` (and before the deadline)
// from issued_ on, in O(1) whatever the rate. Returns false when tickets ran
// out (count or stop) on the way.
bool ClientLoop::SkipDue(int64_t now_us) {
  int64_t until = std::min(now_us, tickets_.deadline_us() - 1);
  // The first k due after `until`: estimated, then corrected for rounding.
  // Capped where a double stops counting exactly (2^53 requests a loop).
  constexpr uint64_t kMaxK = uint64_t{1} << 53;
  double estimate =
      std::ceil(std::max(0.0, static_cast<double>(until - start_us_ + 1) / interval_us_));
  uint64_t k = estimate >= static_cast<double>(kMaxK) ? kMaxK : static_cast<uint64_t>(estimate);
  k = std::max(k, issued_);
  while (k > issued_ && DueAt(k - 1) > until) --k;
  while (k < kMaxK && DueAt(k) <= until) ++k;
  uint64_t due = k - issued_;
  uint64_t taken = tickets_.TakeUnsent(due);
  if (taken > 0) {
    last_issued_us_ = DueAt(issued_ + taken - 1);
    issued_ += taken;
    next_due_us_ = DueAt(issued_);
    FailUnsent(taken, /*queue_full=*/true, now_us);
  }
  return taken == due;
}

void ClientLoop::ArmRateTimer(int64_t now_us) {
  rate_pending_ = true;
  rate_timer_.expires_after(std::chrono::microseconds(next_due_us_ - now_us));
  rate_timer_.async_wait(Bind(&rate_memory_, [this](error_code) {
    rate_pending_ = false;
    IssueDue();
  }));
}

void ClientLoop::StopIssuing() {
  issuing_done_ = true;
  for (Conn* c : idle_) c->CloseSocket();
  idle_.clear();
  MaybeFinish();
}

void ClientLoop::ArmSweep() {
  sweep_pending_ = true;
  int64_t every = std::clamp<int64_t>(plan_.timeout_us / 4, 1000, kMaxSweepMicros);
  sweep_.expires_after(std::chrono::microseconds(every));
  sweep_.async_wait(Bind(&sweep_memory_, [this](error_code) { OnSweep(); }));
}

void ClientLoop::OnSweep() {
  sweep_pending_ = false;
  if (finished_) return MaybeNotify();
  int64_t now = loop_.NowMicros();
  for (auto& c : conns_) c->OnSweep(now);
  // Requests that waited for a connection past their timeout never went out.
  uint64_t expired = 0;
  for (; !due_.empty() && now - due_.front().due_us >= plan_.timeout_us; ++expired) due_.pop();
  if (expired > 0) FailUnsent(expired, /*queue_full=*/false, now);
  // Stopped while asleep until the next due time (which may be far off at a
  // low rate): the timer's handler sees the stop and ends the issuing.
  if (rate_pending_ && tickets_.Stopped()) rate_timer_.cancel();
  ArmSweep();
  MaybeFinish();
}

void ClientLoop::MaybeFinish() {
  if (finished_ || !issuing_done_ || busy_ > 0 || !due_.empty()) return;
  finished_ = true;
  sweep_.cancel();
  MaybeNotify();
}

// The rate timer is never pending once issuing is done, so only the sweep's
// handler can still be queued.
void ClientLoop::MaybeNotify() {
  if (!finished_ || notified_ || sweep_pending_ || rate_pending_) return;
  notified_ = true;
  on_finish_();
}

// --- Setup ------------------------------------------------------------------

Status CheckHeader(const std::string& name, const std::string& value) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bench: header \"" + name + "\": " + why);
  };
  if (!IsToken(name)) return bad("the name must be a non-empty HTTP token (no space, ':', CR, LF)");
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return bad("the value must not hold CR, LF or NUL");
  }
  if (EqualsNoCase(name, "Content-Length") || EqualsNoCase(name, "Transfer-Encoding")) {
    return bad("set from the body; give the body instead");
  }
  return Status::OK();
}

Status CheckOptions(const LoadOptions& opts) {
  auto bad = [](const std::string& why) { return Status::InvalidArgument("bench: " + why); };
  if (opts.connections == 0) return bad("connections must be at least 1");
  if (opts.threads == 0) return bad("threads must be at least 1");
  if (!(opts.timeout_s > 0) || !std::isfinite(opts.timeout_s)) {
    return bad("timeout must be a positive number of seconds");
  }
  if (!(opts.rate >= 0) || !std::isfinite(opts.rate)) return bad("rate must be 0 or positive");
  if (!(opts.duration_s >= 0) || !std::isfinite(opts.duration_s)) {
    return bad("duration must be 0 or a positive number of seconds");
  }
  if (opts.requests == 0 && opts.duration_s == 0) {
    return bad("requests is 0 and no duration is set: the run would never end");
  }
  if (!IsToken(opts.method)) return bad("bad method \"" + opts.method + "\"");
  for (const PathWeight& p : opts.paths) {
    if (!IsPath(p.path)) return bad("path \"" + p.path + "\" must start with '/', no spaces");
    if (p.weight == 0 || p.weight > kMaxWeight) {
      return bad("weight of \"" + p.path + "\" must be 1.." + std::to_string(kMaxWeight));
    }
  }
  for (const auto& [name, value] : opts.headers) EDGELAB_RETURN_IF_ERROR(CheckHeader(name, value));
  return Status::OK();
}

bool HasHeader(const LoadOptions& opts, std::string_view name) {
  return std::any_of(opts.headers.begin(), opts.headers.end(),
                     [&](const auto& h) { return EqualsNoCase(h.first, name); });
}

// Host, User-Agent and Accept given in opts.headers replace the defaults.
std::string SerializeRequest(const LoadOptions& opts, const Url& url, const std::string& target) {
  std::string r;
  r.reserve(128 + target.size() + opts.body.size());
  r.append(opts.method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!HasHeader(opts, "Host")) r.append("Host: ").append(url.HostHeader()).append("\r\n");
  if (!HasHeader(opts, "User-Agent")) r.append("User-Agent: edgelab-bench\r\n");
  if (!HasHeader(opts, "Accept")) r.append("Accept: */*\r\n");
  for (const auto& [name, value] : opts.headers) {
    r.append(name).append(": ").append(value).append("\r\n");
  }
  bool body_method = opts.method == "POST" || opts.method == "PUT" || opts.method == "PATCH";
  if (!opts.body.empty() || body_method) {
    r.append("Content-Length: ").append(std::to_string(opts.body.size())).append("\r\n");
  }
  r.append("\r\n").append(opts.body);
  return r;
}

// Resolves once, blocking the caller: async_resolve would run getaddrinfo on
// a hidden Asio thread, and nothing is in flight yet anyway.
Result<std::vector<tcp::endpoint>> Resolve(asio::io_context& io, const Url& url) {
  tcp::resolver resolver(io);
  error_code ec;
  auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec || results.empty()) {
    return Status::Unavailable("bench: cannot resolve host \"" + url.host + "\": " + ec.message());
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& r : results) endpoints.push_back(r.endpoint());
  return endpoints;
}

// Checks `opts`, resolves, and serializes the requests; the weights of the
// paths, in order, go to `weights`.
Result<Plan> MakePlan(const LoadOptions& opts, asio::io_context& io,
                      std::vector<uint32_t>* weights) {
  EDGELAB_RETURN_IF_ERROR(CheckOptions(opts));
  EDGELAB_ASSIGN_OR_RETURN(Url url, ParseUrl(opts.url));
  Plan plan;
  EDGELAB_ASSIGN_OR_RETURN(plan.endpoints, Resolve(io, url));
  std::vector<PathWeight> paths = opts.paths;
  if (paths.empty()) paths.push_back({url.target, 1});
  for (const PathWeight& p : paths) {
    plan.requests.push_back(SerializeRequest(opts, url, p.path));
    weights->push_back(p.weight);
  }
  plan.timeout_us = static_cast<int64_t>(std::min(opts.timeout_s, 1e9) * 1e6);
  plan.head = opts.method == "HEAD";
  return plan;
}

// Sums the loops' reports (load.h: failures by class, series by bin, 2xx by
// path); the times are the latest of any loop.
LoadReport Merge(std::vector<std::unique_ptr<ClientLoop>>& loops, int64_t start_us, double rate) {
  LoadReport out;
  int64_t last_end = start_us;
  int64_t last_issued = start_us;
  for (auto& loop : loops) {
    LoadReport r = loop->TakeReport();
    last_end = std::max(last_end, loop->last_end_us());
    last_issued = std::max(last_issued, loop->last_issued_us());
    out.completed += r.completed;
    out.failed += r.failed;
    out.errors += r.errors;
    out.late += r.late;
    out.unsent += r.unsent;
    if (r.ok_by_path.size() > out.ok_by_path.size()) out.ok_by_path.resize(r.ok_by_path.size());
    for (size_t i = 0; i < r.ok_by_path.size(); ++i) out.ok_by_path[i] += r.ok_by_path[i];
    for (const auto& [status, n] : r.by_status) out.by_status[status] += n;
    for (const auto& [kind, n] : r.failures) out.failures[kind] += n;
    for (const auto& [kind, n] : r.error_kinds) out.error_kinds[kind] += n;
    out.latency.Merge(r.latency);
    out.service_latency.Merge(r.service_latency);
    if (r.series.size() > out.series.size()) out.series.resize(r.series.size());
    for (size_t i = 0; i < r.series.size(); ++i) {
      out.series[i].completed += r.series[i].completed;
      out.series[i].failed += r.series[i].failed;
    }
  }
  for (const auto& [status, n] : out.by_status) {
    if (status < 200 || status >= 400) out.failures["status " + std::to_string(status)] += n;
  }
  if (rate == 0) out.service_latency = out.latency;
  out.target_rate = rate;
  out.seconds = static_cast<double>(last_end - start_us) / 1e6;
  out.send_seconds = static_cast<double>(last_issued - start_us) / 1e6;
  return out;
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
    return Status::InvalidArgument("URL \"" + Printable(url) + "\": " + why);
  };
  if (StartsWithNoCase(url, "https://")) {
    return bad("https is not supported (the load client speaks plain HTTP/1.1); use http://");
  }
  if (!StartsWithNoCase(url, "http://")) return bad("expected http://host[:port][/path]");
  // Checked over the whole URL: in the host it would reach the Host header.
  if (std::any_of(url.begin(), url.end(), IsSpaceOrControl)) {
    return bad("spaces and control characters are not allowed (percent-encode them: %20)");
  }
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

// The weight follows the last '@', so a path may hold '@' only when a
// weight is given ("/u@x@1").
Result<PathWeight> ParsePathWeight(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("path \"" + std::string(text) + "\": " + why);
  };
  size_t at = text.rfind('@');
  PathWeight out;
  out.path = std::string(text.substr(0, at));
  if (!IsPath(out.path)) return bad("expected /PATH or /PATH@WEIGHT (no spaces)");
  if (at == std::string_view::npos) return out;
  std::string_view w = text.substr(at + 1);
  uint64_t value = 0;
  auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), value);
  if (w.empty() || ec != std::errc() || p != w.data() + w.size() || value == 0 ||
      value > kMaxWeight) {
    return bad("the weight must be a whole number from 1 to " + std::to_string(kMaxWeight));
  }
  out.weight = static_cast<uint32_t>(value);
  return out;
}

Result<LoadReport> RunLoad(const LoadOptions& opts, Progress* progress,
                           const std::function<void()>& tick) {
  std::vector<uint32_t> weights;
  asio::io_context resolver_io;
  EDGELAB_ASSIGN_OR_RETURN(Plan plan, MakePlan(opts, resolver_io, &weights));
  plan.progress = progress;
  uint64_t conns = opts.connections;
  if (opts.requests > 0) conns = std::min(conns, opts.requests);
  size_t threads = static_cast<size_t>(std::min<uint64_t>(opts.threads, conns));
  Tickets tickets(opts.requests, std::move(weights),
                  progress != nullptr ? &progress->stop : nullptr);

  sched::LoopGroup group(threads);
  // After `group`, so destroyed before it: sockets before their io_context.
  std::vector<std::unique_ptr<ClientLoop>> loops;
  std::atomic<size_t> running{threads};
  sched::Latch done;
  for (size_t i = 0; i < threads; ++i) {
    size_t share = conns / threads + (i < conns % threads ? 1 : 0);
    loops.push_back(std::make_unique<ClientLoop>(
        group.loop(i), plan, tickets, share, opts.rate / static_cast<double>(threads), [&] {
          if (running.fetch_sub(1, std::memory_order_acq_rel) == 1) done.Set();
        }));
  }
  group.Start();
  // Read after the threads are up, so that their start is not in the run.
  int64_t start = group.loop(0).NowMicros();
  tickets.SetDeadline(opts.duration_s > 0
                          ? start + static_cast<int64_t>(std::min(opts.duration_s, 1e9) * 1e6)
                          : kNoDeadline);
  for (size_t i = 0; i < threads; ++i) {
    asio::post(group.loop(i).io(), [l = loops[i].get(), start] { l->Begin(start); });
  }
  if (tick) {
    while (!done.WaitFor(kTickMillis)) tick();
  } else {
    done.Wait();
  }
  group.Stop();  // joins: every loop's reports are ours now
  return Merge(loops, start, opts.rate);
}

Result<std::string> FetchOnce(const std::string& url, sched::RealScheduler& loop,
                              double timeout_s) {
  LoadOptions opts;
  opts.url = url;
  opts.requests = 1;
  opts.connections = 1;
  opts.timeout_s = timeout_s;
  std::vector<uint32_t> weights;
  EDGELAB_ASSIGN_OR_RETURN(Plan plan, MakePlan(opts, loop.io(), &weights));
  plan.keep_body = true;
  Tickets tickets(1, std::move(weights), nullptr);
  sched::Fiber* waiter = loop.Current();
  EDGELAB_CHECK(waiter != nullptr);  // FetchOnce must run on a fiber
  std::vector<std::unique_ptr<ClientLoop>> loops;
  loops.push_back(std::make_unique<ClientLoop>(loop, plan, tickets, 1, 0.0,
                                               [&loop, waiter] { loop.Wake(waiter); }));
  int64_t start = loop.NowMicros();
  loops[0]->Begin(start);
  // on_finish runs from a loop callback, and Wake posts the resume: it
  // cannot come before this Suspend.
  loop.Suspend();
  std::string body = std::move(loops[0]->body());
  LoadReport r = Merge(loops, start, 0);
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

Result<std::string> Fetch(const std::string& url, double timeout_s) {
  sched::RealScheduler loop;
  Result<std::string> out = Status::Unavailable("GET " + url + ": not run");
  loop.Spawn([&] {
    out = FetchOnce(url, loop, timeout_s);
    loop.Stop();
  });
  loop.Run();
  return out;
}

}  // namespace edgelab::bench
