// bench/load.h: the HTTP/1.1 load generator behind `edgelab bench`:
// keep-alive connections against one server, in a closed loop (each
// connection sends its next request when the previous answer is in) or an
// open loop at a constant rate (requests are due at fixed times, whatever the
// server does), with the latency of every response in a Histogram.
//
// Threading: RunLoad is called from a plain thread (not a loop): it starts
// `threads` RealSchedulers of its own (a LoopGroup), gives each an equal
// share of the connections and of the rate, and blocks until the run is
// over. Tickets (the `requests` to send) are shared, so the count is exact
// whatever the split. Progress is updated from the client threads with
// relaxed atomics and may be read from any thread while the run goes on.
// FetchOnce runs on a fiber of a loop the caller owns; Fetch is its blocking
// form for a plain thread.
// Workload: up to thousands of connections and millions of requests a run;
// the client must cost less per request than the server it measures (one
// write and usually one read per request, no allocation per request): it must
// reach at least 90% of wrk's requests/s with the same connections and threads.
// Invariants:
//   (1) with `requests` > 0 exactly that many requests are issued: each ends
//       as completed or failed, so completed + failed == requests. A request
//       is re-sent only when the server closed an idle keep-alive connection
//       before reading it (EOF or reset before any byte of the response),
//       once, on a new connection (RFC 9112 9.3.1: it was never processed);
//   (2) each connection has at most one request in flight (no pipelining);
//   (3) closed loop: latency runs from the first byte written to the last
//       byte of the response; connecting is not part of it, but is part of
//       the timeout;
//   (4) open loop (rate > 0): request k (k = 0, 1, ...) of a client thread is
//       due at start + k / (rate / threads). At its due time it goes to an
//       idle connection, or waits in order for the next one to become idle.
//       `latency` runs from the due time (coordinated omission corrected, as
//       wrk2 does: a server that stalls for S seconds shows the stall in the
//       latency of every request due during it), `service_latency` from the
//       first byte written (what an uncorrected tool would report); a request
//       written more than kLateMicros after its due time counts as `late`;
//   (5) with `duration_s` > 0 no request is issued after start + duration;
//       requests in flight then still finish (or time out) and count;
//   (6) the request for ticket i uses paths[j] in a smooth weighted round
//       robin over the weights (deterministic: over any run of sum(weights)
//       tickets each path is used exactly `weight` times).
// Failure: bad options or URL -> kInvalidArgument naming the option; a host
// that does not resolve -> kUnavailable. Failures of single requests are
// counted in the report by class, never returned as errors.
#ifndef EDGELAB_BENCH_LOAD_H_
#define EDGELAB_BENCH_LOAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "bench/histogram.h"

namespace edgelab::sched {
class RealScheduler;
}  // namespace edgelab::sched

namespace edgelab::bench {

// A parsed "http://host[:port][/path][?query]" (no userinfo, no fragment).
struct Url {
  std::string host;  // a name or an address; IPv6 without the brackets
  uint16_t port = 80;
  std::string target = "/";  // path and query, as sent on the request line
  // "host" or "host:port" (brackets around IPv6), for the Host header.
  std::string HostHeader() const;
};

// kInvalidArgument naming the URL and the problem: not http:// (https is not
// supported: the load client speaks plain HTTP/1.1), no host, a bad port, a
// path with spaces or control characters (they would break the request line).
Result<Url> ParseUrl(std::string_view url);

// One request target of a mixed workload.
struct PathWeight {
  std::string path;  // path and query, starting with '/'
  uint32_t weight = 1;
};

// "PATH" or "PATH@WEIGHT" (weight 1..1000000), e.g. "/inc@9".
// kInvalidArgument naming the text when it does not start with '/' or the
// weight is not a whole number in range.
Result<PathWeight> ParsePathWeight(std::string_view text);

struct LoadOptions {
  std::string url;                // http://host[:port][/path]: the server
  std::vector<PathWeight> paths;  // empty: the URL's own path and query
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;  // added to every request
  std::string body;            // sent with Content-Length (also "0" for POST/PUT/PATCH)
  uint64_t requests = 1000;    // 0: no count (then duration_s must be > 0)
  double duration_s = 0;       // 0: no time limit
  double rate = 0;             // requests per second in all; 0: closed loop
  uint32_t connections = 100;  // more than `requests` opens only `requests`
  uint32_t threads = 1;        // client loops; at most `connections`
  double timeout_s = 60;       // per request, connecting (and, open loop, waiting) included
};

// A request written this long after its due time is late (open loop).
inline constexpr int64_t kLateMicros = 1000;
// Open loop: due requests a client loop holds, per connection of it, waiting
// for a connection; more are counted unsent at once (a rate far above what
// the server answers must not grow memory without bound).
inline constexpr size_t kMaxQueuedPerConnection = 1024;

// Live counters of a run; updated by the client threads, readable anywhere.
struct Progress {
  // Set from any thread to end the run early (Ctrl-C): no request is issued
  // after the loops see it, as if the duration had run out (invariant (5));
  // requests in flight finish or time out and count.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};       // requests written (re-sends not counted)
  std::atomic<uint64_t> completed{0};  // see LoadReport
  std::atomic<uint64_t> failed{0};
};

// The series of a run is kept in bins this wide (reports add them up into
// seconds, or show them finer for short runs).
inline constexpr int64_t kSeriesBinMicros = 10'000;

// One bin of a run's series: responses (and failures) that ended in it.
struct Second {
  uint64_t completed = 0;
  uint64_t failed = 0;
};

struct LoadReport {
  uint64_t completed = 0;             // answered with a 2xx or 3xx status
  uint64_t failed = 0;                // answered with another status, or not answered
  std::map<int, uint64_t> by_status;  // every status received, 2xx included
  uint64_t errors = 0;                // requests without a response
  // Failures by class, the keys: "connect" (refused, unreachable),
  // "timeout", "closed" (the server closed or reset the connection under a
  // request), "bad response" (not HTTP/1.1 the parser accepts), "write", and
  // "status NNN" for each non-2xx/3xx status. Sums to `failed`.
  std::map<std::string, uint64_t> failures;
  // Requests without a response, by detail: "connect: Connection refused",
  // "timeout", "read: end of stream", ... Sums to `errors`.
  std::map<std::string, uint64_t> error_kinds;
  double seconds = 0;       // from the start of the run to the last request ended
  double send_seconds = 0;  // from the start to the last request issued (due, open loop)
  double target_rate = 0;   // the asked rate (0: closed loop)
  uint64_t late = 0;        // open loop: requests written > kLateMicros after due
  // Open loop: requests that were due but never written: they timed out
  // waiting for a connection, or did not fit the queue of due requests
  // (kMaxQueuedPerConnection per connection; counted as "timeout" failures
  // too). Not in `late`.
  uint64_t unsent = 0;
  // 2xx answers per entry of LoadOptions::paths (one entry, the URL's path,
  // when paths is empty): what --verify counts as increments.
  std::vector<uint64_t> ok_by_path;
  Histogram latency;           // microseconds, of every response (any status); (3), (4)
  Histogram service_latency;   // open loop: from the write; closed loop: same as latency
  std::vector<Second> series;  // [i]: [i, i+1) x kSeriesBinMicros from the start

  uint64_t requests() const { return completed + failed; }
  // Every request issued, answered or not, per second of the run.
  double RequestsPerSecond() const { return seconds > 0 ? requests() / seconds : 0; }
  // Throughput: successful (2xx/3xx) answers per second of the run.
  double CompletedPerSecond() const { return seconds > 0 ? completed / seconds : 0; }
  // Open loop: the rate requests were issued at (compare with target_rate).
  double SendRate() const { return send_seconds > 0 ? requests() / send_seconds : 0; }
};

// Runs the load described by `opts` and blocks until every request issued
// has ended. `progress`, when given, is updated as the run goes; `tick`, when
// given, is called on the calling thread about every kTickMillis meanwhile
// (for a live progress line).
// Requires: called from a thread that is not a loop of a RealScheduler.
inline constexpr int64_t kTickMillis = 250;
Result<LoadReport> RunLoad(const LoadOptions& opts, Progress* progress = nullptr,
                           const std::function<void()>& tick = nullptr);

// GETs `url` once and returns the body. Errors: kInvalidArgument (URL),
// kUnavailable (unresolvable host, connection failure, timeout, or a status
// other than 200 and 404), kNotFound (404); messages name the URL, and the
// status and the start of the body when there was one.
// Requires: called on a fiber of `loop`.
Result<std::string> FetchOnce(const std::string& url, sched::RealScheduler& loop,
                              double timeout_s = 10);
// FetchOnce on a loop of its own, from a plain thread.
Result<std::string> Fetch(const std::string& url, double timeout_s = 10);

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_LOAD_H_
