// bench/load.h: the HTTP/1.1 load generator behind `edgelab bench`: a closed
// loop of keep-alive connections against one URL, with the latency of every
// response in a Histogram.
//
// Threading: RunLoad and FetchOnce run on one RealScheduler and must be
// called on a fiber of it: they start Asio operations on its io_context,
// suspend the calling fiber until the run is over, and start no thread.
// Typical use from a command:
//   sched::RealScheduler loop;
//   Result<LoadReport> report = Status::Unavailable("not run");
//   loop.Spawn([&] { report = RunLoad(opts, loop); loop.Stop(); });
//   loop.Run();
// Workload: up to thousands of connections and millions of requests a run;
// the client must cost less per request than the server it measures (one
// write and usually one read per request, no allocation per request).
// Invariants:
//   (1) exactly `requests` requests are issued: each ends as completed or
//       failed, so completed + failed == requests. A request is re-sent only
//       when the server closed an idle keep-alive connection before reading
//       it (EOF or reset before any byte of the response), once, on a new
//       connection (RFC 9112 9.3.1: such a request was never processed);
//   (2) each connection has at most one request in flight (no pipelining);
//   (3) latency runs from the first byte written to the last byte of the
//       response; connecting is not part of it, but is part of the timeout.
// Failure: bad options or URL -> kInvalidArgument; a host that does not
// resolve -> kUnavailable. Failures of single requests (refused, reset,
// timeout, garbled response, non-2xx/3xx status) are counted in the report,
// never returned as errors.
#ifndef EDGELAB_BENCH_LOAD_H_
#define EDGELAB_BENCH_LOAD_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

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
// supported: the load client speaks plain HTTP/1.1), no host, a bad port.
Result<Url> ParseUrl(std::string_view url);

struct LoadOptions {
  std::string url;
  uint64_t requests = 1000;
  uint32_t connections = 100;  // more than `requests` opens only `requests`
  std::string method = "GET";
  std::string body;       // sent with Content-Length (also "0" for POST/PUT/PATCH)
  double timeout_s = 60;  // per request, connecting included
};

struct LoadReport {
  uint64_t completed = 0;             // answered with a 2xx or 3xx status
  uint64_t failed = 0;                // answered with another status, or not answered (errors)
  std::map<int, uint64_t> by_status;  // every status received, 2xx included
  uint64_t errors = 0;                // requests without a response: connect, write, read, timeout
  std::map<std::string, uint64_t> error_kinds;  // "connect: Connection refused", "timeout", ...
  double seconds = 0;                           // from the first request sent to the last one ended
  Histogram latency;                            // microseconds, of every response (any status)

  uint64_t requests() const { return completed + failed; }
  double RequestsPerSecond() const { return seconds > 0 ? requests() / seconds : 0; }
};

// Runs `opts.requests` requests over `opts.connections` connections, each
// sending its next request as soon as the previous response is in. The host
// is resolved once, on the loop (a name blocks it briefly, before any load).
// Requires: called on a fiber of `loop`.
Result<LoadReport> RunLoad(const LoadOptions& opts, sched::RealScheduler& loop);

// GETs `url` once and returns the body. Errors: kInvalidArgument (URL),
// kUnavailable (unresolvable host, connection failure, timeout, or a status
// other than 200 and 404), kNotFound (404); messages name the URL, and the
// status and the start of the body when there was one.
// Requires: called on a fiber of `loop`.
Result<std::string> FetchOnce(const std::string& url, sched::RealScheduler& loop,
                              double timeout_s = 10);

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_LOAD_H_
