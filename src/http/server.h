// http/server.h: the HTTP/1.1 front. Accepts connections on every loop of a
// LoopGroup, parses requests (Boost.Beast's parser), hands each one to a
// Handler and writes its response back.
//
// Threading: construct, Listen(), port() and the destructor on one controlling
// thread; Shutdown() from any thread. Each connection lives on the loop that
// accepted it, for its whole life: all its I/O, its Handler::Handle call and
// its `done` callback run on that loop's thread, so nothing here locks.
// Workload: tens of thousands of small keep-alive requests a second per loop
// (wrk -c64 style), hundreds to thousands of open connections, bodies from
// empty to `max_body_bytes`.
// Invariants:
//   (1) a connection has at most one request at a time with the Handler:
//       pipelined requests are read, handled and answered in order;
//   (2) every response carries Content-Length (except 1xx/204/304, which must
//       not) and "Server: edgelab"; no Date; no chunked encoding;
//   (3) the request target reaches the Handler byte for byte as received;
//   (4) a connection never closes with a response half written, except when
//       the peer goes away, or stops reading it (see idle_timeout_s), or
//       Shutdown()'s drain finds it idle;
//   (5) with both timeouts of ServerOptions set (the default), no client can
//       keep a connection open indefinitely, whether it stalls or trickles,
//       sending or reading; only a Handler that never calls `done` can.
// Failure: bad input is answered on the wire, never returned: malformed HTTP,
// and HTTP/1.1 without a Host field or anything with two (RFC 9112 3.2)
// -> 400, header block over `max_header_bytes` -> 431, body over
// `max_body_bytes` -> 413 (from Content-Length before any body byte is read,
// or as the body streams in), request not whole within `request_timeout_s`
// -> 408; each of these then closes the connection. Connections beyond
// `max_connections` are closed as soon as they are accepted, unanswered.
// Server::stats() counts what was refused or timed out.
#ifndef EDGELAB_HTTP_SERVER_H_
#define EDGELAB_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace edgelab::sched {
class LoopGroup;
}  // namespace edgelab::sched

namespace edgelab::http {

namespace internal {
class Listener;  // one loop's listening socket and connections (server.cc)
}  // namespace internal

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // as sent: "GET", "POST", ... (extension methods too)
  std::string target;  // as sent: "/path?query", unchanged
  Headers headers;     // in arrival order, names as sent (compare case-insensitively)
  std::string body;    // de-chunked when the request used chunked encoding
};

struct Response {
  int status = 200;  // a final status, 200..999; anything else is sent as 500
  // Header lines to send. The server owns framing: Content-Length and
  // Transfer-Encoding given here are dropped; "Connection: close" is honoured
  // (the connection closes after this response); a "Server" here replaces the
  // default. Lines whose name is not an HTTP token or whose value holds
  // CR, LF or NUL are dropped.
  Headers headers;
  std::string body;  // not sent for HEAD requests and 1xx/204/304 statuses
};

// What the server calls for each request.
class Handler {
 public:
  virtual ~Handler() = default;
  // Called on the connection's loop thread, from a loop callback (not on a
  // fiber: spawn one on `loops->loop(loop_index)` to wait). Must call `done`
  // exactly once, on that same thread, either inside Handle or later (from a
  // posted callback or a fiber of that loop). Until it does, the connection
  // reads nothing more; a `done` never called keeps the connection open and
  // Shutdown() from draining.
  virtual void Handle(size_t loop_index, Request req, std::function<void(Response)> done) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // an address ("0.0.0.0", "::") or a name resolved once
  uint16_t port = 8787;            // 0: the kernel picks one; see Server::port()
  uint64_t max_body_bytes = 100 * 1024 * 1024;
  // Request line plus header fields. nginx allows 4 x 8 KiB; 64 KiB is the
  // usual upper bound of what proxies forward.
  uint32_t max_header_bytes = 64 * 1024;
  // A connection is closed when, for this long, it has been waiting for a
  // request header (idle keep-alive, or a client stalling mid-header), or a
  // body has made no progress, or the kernel has accepted no byte of the
  // response being written (the client stopped reading: the close is a
  // reset, as the response is lost anyway and an orphaned socket would keep
  // its send buffer). Once Shutdown() has begun, a write gets at most this
  // long in all, progress or not, so a slow reader cannot hold the drain.
  // 0 or less: never (and Shutdown() may then wait on a client forever).
  double idle_timeout_s = 60;
  // The whole request, header and body, must arrive within this long of its
  // first byte, however steadily it trickles in (the idle timeout alone
  // would let one byte a minute hold a connection and a 100 MiB buffer
  // forever). Past it the server answers 408 and closes. Not counted: the
  // wait before the first byte (idle_timeout_s) and the Handler's time.
  // 0 or less: no limit.
  double request_timeout_s = 60;
  // Both timeouts are checked by a coarse per-loop sweep every quarter of the
  // shorter one (10 ms .. 1 s), so a connection may live up to one sweep
  // longer.

  // Open connections allowed, for the whole server: each loop takes an equal
  // share (max_connections / loops, at least 1), as SO_REUSEPORT spreads
  // connections by address hash, not by load; a loop at its share closes
  // each new connection as soon as it accepts it (counted in
  // ServerStats::rejected_connections). It guards the file descriptor limit:
  // keep it under `ulimit -n`. 0: no cap.
  uint32_t max_connections = 10'000;
};

// Counters since Listen(), summed over the loops.
struct ServerStats {
  uint64_t open_connections = 0;      // open now
  uint64_t rejected_connections = 0;  // closed at accept: over max_connections
  uint64_t request_timeouts = 0;      // answered 408 (request_timeout_s)
  uint64_t write_timeouts = 0;        // reset: the client stopped reading
};

class Server {
 public:
  // `handler` and `loops` are not owned and must outlive the Server.
  Server(ServerOptions opts, Handler* handler, sched::LoopGroup* loops);
  // Requires: `drained` has fired, or Listen() was never called or failed, or
  // every loop of the group has stopped (no loop runs again).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds one listening socket per loop on host:port with SO_REUSEPORT (the
  // kernel spreads new connections across the loops) and starts accepting as
  // soon as the loops run. Returns kUnavailable naming host:port when the
  // port is taken (also by another process using SO_REUSEPORT), kIOError
  // naming host:port for other socket failures, kInvalidArgument when `host`
  // does not resolve. Requires: called once.
  Status Listen();
  // The bound port (the kernel's choice when opts.port was 0).
  // Requires: Listen() succeeded.
  uint16_t port() const { return port_; }
  // Any thread, once Listen() has returned. Each loop's counters are read at
  // a slightly different moment, so the sum is not one instant's snapshot.
  ServerStats stats() const;

  // Stops accepting; closes connections waiting for a request (idle
  // keep-alive, or a request only partly received); lets requests already
  // with the Handler finish: their response is written with
  // "Connection: close" and the connection then closes. A response still
  // being written, now or later, gets at most idle_timeout_s from the later
  // of this call and its write's start. Calls `drained` once
  // no connection is left, on one of the loop threads (or inside this call if
  // Listen() never succeeded). Requires: called at most once, and before
  // LoopGroup::Stop() (a loop with an open listener never runs out of work).
  void Shutdown(std::function<void()> drained);

 private:
  friend class internal::Listener;
  // Called once by each loop's Listener when it has nothing left.
  void OnLoopDrained();

  // Fixed after construction.
  const ServerOptions opts_;
  Handler* const handler_;
  sched::LoopGroup* const loops_;
  // Set by Listen(), read-only afterwards.
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<internal::Listener>> listeners_;  // one per loop
  // Set by Shutdown() before it posts to any loop; called by the loop that
  // brings `loops_left_` to zero.
  std::function<void()> drained_;
  std::atomic<size_t> loops_left_{0};
};

}  // namespace edgelab::http

#endif  // EDGELAB_HTTP_SERVER_H_
