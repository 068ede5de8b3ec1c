// bench/load_test.cc: the load client against servers in the same process:
// edgelab's http::Server on a 2-loop LoopGroup (port 0), and raw Asio
// servers on a loop of their own that misbehave on purpose (answer 500,
// close, never answer, answer garbage, drop idle connections, stall once).
// RunLoad runs on the test thread, which it blocks; its loops are its own.
// Nothing sleeps: runs end when their requests end. Times are asserted only
// where the design makes them certain (due times are fixed: an open-loop run
// cannot end before its last request is due) or with wide margins (CI has 2
// noisy cores and may run under ASan).
#include "bench/load.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "sched/real_scheduler.h"

namespace edgelab::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers by target:
//   /ok     200 "ok"
//   /close  200 with "Connection: close"
//   /hang   never, until Release()
//   /404    404 "nope"
//   /500    500 "no"
//   /302    302 "elsewhere"
//   other   every 10th request (by arrival order across loops) 500, else
//           200 "v=<body>"
// and counts the requests by target.
class CountingHandler final : public http::Handler {
 public:
  explicit CountingHandler(sched::LoopGroup* loops) : loops_(loops) {}

  void Handle(size_t loop, http::Request req, std::function<void(http::Response)> done) override {
    uint64_t k = ++requests_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++by_target_[req.target];
      last_request_ = req.method + " " + req.body;
      last_headers_ = req.headers;
    }
    if (req.target == "/ok") return done({200, {}, "ok"});
    if (req.target == "/close") return done({200, {{"Connection", "close"}}, "bye"});
    if (req.target == "/404") return done({404, {}, "nope"});
    if (req.target == "/500") return done({500, {}, "no"});
    if (req.target == "/302") return done({302, {{"Location", "/ok"}}, "elsewhere"});
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
  uint64_t requests_for(const std::string& target) {
    std::lock_guard<std::mutex> lock(mu_);
    return by_target_[target];
  }
  std::string last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }
  // The values of header `name` in the last request, in order.
  std::vector<std::string> last_header(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [n, v] : last_headers_) {
      if (n == name) out.push_back(v);
    }
    return out;
  }

 private:
  sched::LoopGroup* const loops_;
  std::atomic<uint64_t> requests_{0};
  std::mutex mu_;
  std::vector<std::pair<size_t, std::function<void(http::Response)>>> hung_;  // guarded by mu_
  std::map<std::string, uint64_t> by_target_;                                 // guarded by mu_
  std::string last_request_;    // "METHOD body"; guarded by mu_
  http::Headers last_headers_;  // guarded by mu_
};

std::string FirstError(const LoadReport& r) {
  return r.error_kinds.empty() ? "no errors" : r.error_kinds.begin()->first;
}

// What every report must satisfy, whatever happened in the run.
void ExpectConsistent(const LoadReport& r) {
  uint64_t failures = 0;
  for (const auto& [kind, n] : r.failures) failures += n;
  EXPECT_EQ(failures, r.failed);
  uint64_t kinds = 0;
  for (const auto& [kind, n] : r.error_kinds) kinds += n;
  EXPECT_EQ(kinds, r.errors);
  uint64_t completed = 0;
  uint64_t failed = 0;
  for (const Second& s : r.series) {
    completed += s.completed;
    failed += s.failed;
  }
  EXPECT_EQ(completed, r.completed);
  EXPECT_EQ(failed, r.failed);
  uint64_t statuses = 0;
  for (const auto& [status, n] : r.by_status) statuses += n;
  EXPECT_EQ(statuses + r.errors, r.requests());
  EXPECT_EQ(r.latency.Count(), statuses);
  EXPECT_EQ(r.service_latency.Count(), statuses);
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

  // FetchOnce on a fiber of a fresh client loop driven by this thread.
  Result<std::string> FetchOnFiber(const std::string& url, double timeout_s = 10) {
    sched::RealScheduler client;
    std::optional<Result<std::string>> out;
    client.Spawn([&] {
      out.emplace(FetchOnce(url, client, timeout_s));
      client.Stop();
    });
    client.Run();
    return std::move(*out);
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
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(handler_.requests(), 1000u);
  EXPECT_EQ(r->completed + r->failed, 1000u);
  EXPECT_EQ(r->completed, 900u);
  EXPECT_EQ(r->failed, 100u);
  EXPECT_EQ(r->by_status[200], 900u);
  EXPECT_EQ(r->by_status[500], 100u);
  EXPECT_EQ(r->failures["status 500"], 100u);
  EXPECT_EQ(r->errors, 0u);
  EXPECT_TRUE(r->error_kinds.empty());
  EXPECT_EQ(r->latency.Count(), 1000u);
  EXPECT_GT(r->seconds, 0);
  EXPECT_LE(r->latency.Percentile(50), r->latency.Max());
  EXPECT_EQ(r->target_rate, 0);
  EXPECT_EQ(r->late, 0u);
  EXPECT_EQ(r->unsent, 0u);
  EXPECT_EQ(r->ok_by_path, std::vector<uint64_t>{900});  // one entry: the URL's path
  // Closed loop: the last ticket was taken after some answers, before the
  // last answer.
  EXPECT_GT(r->send_seconds, 0);
  EXPECT_LE(r->send_seconds, r->seconds);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, SharesTheTicketsExactlyAcrossThreads) {
  LoadOptions opts;
  opts.url = Url("/ok");
  opts.requests = 1000;
  opts.connections = 7;
  opts.threads = 3;
  Progress progress;
  Result<LoadReport> r = RunLoad(opts, &progress);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 1000u) << FirstError(*r);
  EXPECT_EQ(r->failed, 0u);
  EXPECT_EQ(handler_.requests(), 1000u);
  EXPECT_EQ(progress.sent.load(), 1000u);
  EXPECT_EQ(progress.completed.load(), 1000u);
  EXPECT_EQ(progress.failed.load(), 0u);
  // Closed loop: the service latency is the latency.
  EXPECT_EQ(r->service_latency.Count(), 1000u);
  EXPECT_EQ(r->service_latency.Max(), r->latency.Max());
  ExpectConsistent(*r);
}

TEST_F(LoadTest, ClampsThreadsToConnectionsAndRequests) {
  LoadOptions opts;
  opts.url = Url("/ok");
  opts.requests = 5;
  opts.connections = 3;
  opts.threads = 8;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 5u) << FirstError(*r);
  EXPECT_EQ(handler_.requests(), 5u);
}

TEST_F(LoadTest, ADurationRunEndsAndEveryRequestIssuedIsCounted) {
  LoadOptions opts;
  opts.url = Url("/");
  opts.requests = 0;
  opts.duration_s = 0.3;
  opts.connections = 4;
  opts.threads = 2;
  Progress progress;
  Result<LoadReport> r = RunLoad(opts, &progress);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->requests(), 0u);
  EXPECT_EQ(r->requests(), handler_.requests());
  EXPECT_EQ(r->errors, 0u) << FirstError(*r);
  EXPECT_EQ(progress.sent.load(), r->requests());
  EXPECT_EQ(progress.completed.load(), r->completed);
  EXPECT_EQ(progress.failed.load(), r->failed);
  // A connection stops only when it finds the deadline passed, after its
  // last answer: so the last answer came after the deadline.
  EXPECT_GE(r->seconds, 0.3);
  EXPECT_LT(r->seconds, 10.0);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, ACountEndsARunBeforeItsDuration) {
  LoadOptions opts;
  opts.url = Url("/ok");
  opts.requests = 50;
  opts.duration_s = 60;
  opts.connections = 2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 50u);
  EXPECT_LT(r->seconds, 30.0);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST_F(LoadTest, StopEndsAClosedLoopRunAfterTheRequestsInFlight) {
  LoadOptions opts;
  opts.url = Url("/ok");
  opts.requests = 100'000'000;  // hours of work at the speed of this server
  opts.connections = 4;
  opts.threads = 2;
  Progress progress;
  auto start = std::chrono::steady_clock::now();
  Result<LoadReport> r = RunLoad(opts, &progress, [&] { progress.stop = true; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(SecondsSince(start), 30.0);
  EXPECT_GT(r->requests(), 0u);
  EXPECT_LT(r->requests(), opts.requests);
  // Every request issued was answered and counted.
  EXPECT_EQ(r->errors, 0u) << FirstError(*r);
  EXPECT_EQ(r->completed, r->requests());
  EXPECT_EQ(handler_.requests(), r->requests());
  EXPECT_EQ(progress.sent.load(), r->requests());
  EXPECT_EQ(progress.completed.load(), r->completed);
  EXPECT_LE(r->send_seconds, r->seconds);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, StopEndsAnOpenLoopRunEvenBetweenDueTimes) {
  // At 2000/s the stop comes while requests fall due; at 0.5/s while the
  // loop sleeps for 2 s until request 1 is due: it must not wait for it.
  for (double rate : {2000.0, 0.5}) {
    LoadOptions opts;
    opts.url = Url("/ok");
    opts.requests = 100'000'000;
    opts.rate = rate;
    opts.connections = 4;
    opts.threads = 2;
    if (rate < 1) opts.connections = opts.threads = 1;
    Progress progress;
    uint64_t handled_before = handler_.requests();
    auto start = std::chrono::steady_clock::now();
    Result<LoadReport> r = RunLoad(opts, &progress, [&] { progress.stop = true; });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    double elapsed = SecondsSince(start);
    EXPECT_LT(elapsed, 30.0) << rate;
    if (rate < 1) {
      EXPECT_LT(elapsed, 1.9);  // the sweep saw the stop, not the due time
      EXPECT_EQ(r->requests(), 1u);
      EXPECT_EQ(r->send_seconds, 0);  // request 0 is due at the start
    } else {
      EXPECT_GT(r->requests(), 0u);
      EXPECT_LT(r->requests(), opts.requests);
    }
    EXPECT_EQ(r->errors, 0u) << FirstError(*r);
    EXPECT_EQ(r->unsent, 0u);
    EXPECT_EQ(handler_.requests() - handled_before, r->requests());
    EXPECT_EQ(progress.sent.load(), r->requests());
    ExpectConsistent(*r);
  }
}

TEST_F(LoadTest, CountsTheSuccessfulAnswersOfEachPath) {
  LoadOptions opts;
  opts.url = Url("/ignored");
  opts.paths = {{"/ok", 3}, {"/500", 1}, {"/302", 1}};
  opts.requests = 500;
  opts.connections = 5;
  opts.threads = 2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // 2xx only: a 302 is a completed request but not a success of its path.
  EXPECT_EQ(r->ok_by_path, (std::vector<uint64_t>{300, 0, 0}));
  EXPECT_EQ(r->completed, 400u) << FirstError(*r);
  EXPECT_EQ(r->by_status[500], 100u);
  EXPECT_EQ(r->by_status[302], 100u);
  ExpectConsistent(*r);
}

// The nginx algorithm, one step at a time: the model the client must match
// ticket for ticket.
std::vector<uint64_t> ModelCounts(const std::vector<uint32_t>& weights, uint64_t tickets) {
  std::vector<int64_t> current(weights.size(), 0);
  int64_t total = 0;
  for (uint32_t w : weights) total += w;
  std::vector<uint64_t> counts(weights.size(), 0);
  for (uint64_t t = 0; t < tickets; ++t) {
    size_t best = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    ++counts[best];
  }
  return counts;
}

TEST_F(LoadTest, SpreadsRequestsOverWeightedPaths) {
  LoadOptions opts;
  opts.url = Url("/ignored");
  opts.paths = {{"/a", 3}, {"/b", 1}};
  opts.requests = 400;
  opts.connections = 7;
  opts.threads = 3;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(handler_.requests_for("/a"), 300u);
  EXPECT_EQ(handler_.requests_for("/b"), 100u);
  EXPECT_EQ(handler_.requests_for("/ignored"), 0u);
}

TEST_F(LoadTest, WeightedPathsFollowTheModelForAnyCount) {
  // A short cycle (precomputed) over a count that is not a multiple of it,
  // and a cycle of two million (stepped under a lock).
  struct Case {
    std::vector<uint32_t> weights;
    uint64_t requests;
  };
  for (const Case& c : {Case{{5, 3, 2}, 37}, Case{{1000000, 999999, 7}, 301}}) {
    LoadOptions opts;
    opts.url = Url("/");
    std::vector<std::string> targets;
    for (size_t i = 0; i < c.weights.size(); ++i) {
      targets.push_back("/w" + std::to_string(c.requests) + "_" + std::to_string(i));
      opts.paths.push_back({targets.back(), c.weights[i]});
    }
    opts.requests = c.requests;
    opts.connections = 5;
    opts.threads = 2;
    Result<LoadReport> r = RunLoad(opts);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::vector<uint64_t> want = ModelCounts(c.weights, c.requests);
    for (size_t i = 0; i < targets.size(); ++i) {
      EXPECT_EQ(handler_.requests_for(targets[i]), want[i]) << targets[i];
    }
  }
}

TEST_F(LoadTest, SendsTheHeadersAndTheBodyWithTheMethod) {
  LoadOptions opts;
  opts.url = Url("/");
  opts.requests = 3;
  opts.connections = 1;
  opts.method = "PUT";
  opts.body = "payload";
  opts.headers = {{"X-Test", "yes"}, {"User-Agent", "mine"}, {"X-Empty", ""}};
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 3u) << FirstError(*r);
  EXPECT_EQ(handler_.last_request(), "PUT payload");
  EXPECT_EQ(handler_.last_header("X-Test"), std::vector<std::string>{"yes"});
  EXPECT_EQ(handler_.last_header("X-Empty"), std::vector<std::string>{""});
  // Given headers replace the defaults rather than repeat them.
  EXPECT_EQ(handler_.last_header("User-Agent"), std::vector<std::string>{"mine"});
}

TEST_F(LoadTest, ReconnectsWhenTheServerClosesEveryConnection) {
  LoadOptions opts;
  opts.url = Url("/close");
  opts.requests = 300;
  opts.connections = 8;
  opts.threads = 2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(handler_.requests(), 300u);
  EXPECT_EQ(r->completed, 300u);
  EXPECT_EQ(r->failed, 0u) << FirstError(*r);
}

TEST_F(LoadTest, OpensNoMoreConnectionsThanRequests) {
  LoadOptions opts;
  opts.url = Url("/");
  opts.requests = 5;
  opts.connections = 100;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(handler_.requests(), 5u);
  EXPECT_EQ(r->completed, 5u) << FirstError(*r);
}

TEST_F(LoadTest, CountsRefusedConnectionsAsConnectFailures) {
  asio::io_context io;
  tcp::socket bound(io);  // bound but not listening: connecting is refused
  bound.open(tcp::v4());
  bound.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  LoadOptions opts;
  opts.url = "http://127.0.0.1:" + std::to_string(bound.local_endpoint().port()) + "/";
  opts.requests = 20;
  opts.connections = 4;
  opts.threads = 2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 0u);
  EXPECT_EQ(r->failed, 20u);
  EXPECT_EQ(r->errors, 20u);
  EXPECT_EQ(r->failures["connect"], 20u);
  EXPECT_EQ(r->error_kinds["connect: Connection refused"], 20u);
  EXPECT_EQ(r->latency.Count(), 0u);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, TimesOutRequestsThatGetNoAnswer) {
  LoadOptions opts;
  opts.url = Url("/hang");
  opts.requests = 3;
  opts.connections = 3;
  opts.timeout_s = 0.05;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failed, 3u);
  EXPECT_EQ(r->failures["timeout"], 3u);
  EXPECT_EQ(r->error_kinds["timeout"], 3u);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, RejectsBadOptionsAndUrls) {
  LoadOptions good;
  good.url = Url("/");
  good.requests = 1;
  auto code = [](const LoadOptions& o) { return RunLoad(o).status().code(); };
  std::vector<std::pair<std::string, std::function<void(LoadOptions&)>>> bad = {
      {"https", [](LoadOptions& o) { o.url = "https://example.com/"; }},
      {"0 connections", [](LoadOptions& o) { o.connections = 0; }},
      {"0 threads", [](LoadOptions& o) { o.threads = 0; }},
      {"bad method", [](LoadOptions& o) { o.method = "GET /x"; }},
      {"no count, no duration", [](LoadOptions& o) { o.requests = 0; }},
      {"negative rate", [](LoadOptions& o) { o.rate = -1; }},
      {"negative duration", [](LoadOptions& o) { o.duration_s = -1; }},
      {"0 timeout", [](LoadOptions& o) { o.timeout_s = 0; }},
      {"relative path",
       [](LoadOptions& o) {
         o.paths = {{"a", 1}};
       }},
      {"path with a space",
       [](LoadOptions& o) {
         o.paths = {{"/a b", 1}};
       }},
      {"URL with a space", [this](LoadOptions& o) { o.url = Url("/a b"); }},
      {"URL with CRLF", [this](LoadOptions& o) { o.url = Url("/a\r\nX-Evil: 1"); }},
      {"weight 0",
       [](LoadOptions& o) {
         o.paths = {{"/a", 0}};
       }},
      {"weight too big",
       [](LoadOptions& o) {
         o.paths = {{"/a", 1000001}};
       }},
      {"empty header name",
       [](LoadOptions& o) {
         o.headers = {{"", "v"}};
       }},
      {"CRLF in a name",
       [](LoadOptions& o) {
         o.headers = {{"X\r\nY", "v"}};
       }},
      {"colon in a name",
       [](LoadOptions& o) {
         o.headers = {{"X:", "v"}};
       }},
      {"CR in a value",
       [](LoadOptions& o) {
         o.headers = {{"X", "a\rb"}};
       }},
      {"LF in a value",
       [](LoadOptions& o) {
         o.headers = {{"X", "a\nEvil: 1"}};
       }},
      {"Content-Length",
       [](LoadOptions& o) {
         o.headers = {{"content-length", "3"}};
       }},
  };
  for (auto& [what, spoil] : bad) {
    LoadOptions o = good;
    spoil(o);
    EXPECT_EQ(code(o), Code::kInvalidArgument) << what;
  }
  EXPECT_EQ(handler_.requests(), 0u);
  LoadOptions unresolvable = good;
  unresolvable.url = "http://no-such-host.invalid/";
  EXPECT_EQ(code(unresolvable), Code::kUnavailable);
  EXPECT_EQ(code(good), Code::kOk);
}

TEST(ParsePathWeightTest, ReadsPathAndWeight) {
  Result<PathWeight> p = ParsePathWeight("/inc@9");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->path, "/inc");
  EXPECT_EQ(p->weight, 9u);
  p = ParsePathWeight("/get?k=1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->path, "/get?k=1");
  EXPECT_EQ(p->weight, 1u);
  p = ParsePathWeight("/u@x@1000000");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->path, "/u@x");
  EXPECT_EQ(p->weight, 1000000u);
}

TEST(ParsePathWeightTest, RejectsBadPathsAndWeights) {
  for (const char* bad : {"", "inc", "inc@2", "/inc@", "/inc@0", "/inc@1000001", "/inc@x",
                          "/inc@-1", "/inc@2.5", "/inc@ 2", "/a b", "/u@x"}) {
    Result<PathWeight> p = ParsePathWeight(bad);
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(p.status().message().find(bad), std::string::npos) << p.status().ToString();
  }
}

TEST_F(LoadTest, FetchReturnsTheBodyOrNamesTheStatus) {
  EXPECT_EQ(Fetch(Url("/close")).value(), "bye");
  EXPECT_EQ(FetchOnFiber(Url("/ok")).value(), "ok");
  Result<std::string> missing = Fetch(Url("/404"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("status 404: nope"), std::string::npos);
  Result<std::string> hung = FetchOnFiber(Url("/hang"), 0.05);
  EXPECT_EQ(hung.status().code(), Code::kUnavailable);
  EXPECT_NE(hung.status().message().find("timeout"), std::string::npos);
  EXPECT_EQ(Fetch("https://x/").status().code(), Code::kInvalidArgument);
}

// A raw HTTP/1.1 server on 127.0.0.1 (port 0), on a loop of its own, that
// misbehaves on purpose. It reads requests up to the blank line (no bodies).
class RawServer {
 public:
  enum class Mode {
    kAnswer500,        // 500 to every request, keep-alive
    kCloseAtOnce,      // accepts and closes without reading
    kSilent,           // accepts and never reads nor answers
    kGarbage,          // answers every request with bytes that are not HTTP
    kDropAfterAnswer,  // answers 200 keep-alive, then closes without a word
    kStallOnce,        // answers 200 at once, except request `stall_at` (0-based)
  };
  explicit RawServer(Mode mode, uint64_t stall_at = 0,
                     std::chrono::milliseconds stall = std::chrono::milliseconds(0))
      : mode_(mode),
        stall_at_(stall_at),
        stall_(stall),
        loop_(1),
        acceptor_(loop_.loop(0).io(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    loop_.Start();
  }
  ~RawServer() {
    asio::post(loop_.loop(0).io(), [this] {
      acceptor_.close();
      for (auto& s : sessions_) {
        boost::system::error_code ignored;
        s->socket.close(ignored);
        s->timer.cancel();
      }
      sessions_.clear();
    });
    loop_.Stop();
  }
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/";
  }
  uint64_t requests() const { return requests_; }
  uint64_t accepted() const { return accepted_; }

 private:
  struct Session {
    explicit Session(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    tcp::socket socket;
    asio::steady_timer timer;
    std::string in;
  };

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted_;
      if (mode_ == Mode::kCloseAtOnce) {
        s.close();
      } else {
        auto session = std::make_shared<Session>(std::move(s));
        sessions_.push_back(session);
        if (mode_ != Mode::kSilent) Read(session);
      }
      Accept();
    });
  }
  void Read(std::shared_ptr<Session> s) {
    asio::async_read_until(s->socket, asio::dynamic_buffer(s->in), "\r\n\r\n",
                           [this, s](boost::system::error_code ec, size_t n) {
                             if (ec) return;
                             s->in.erase(0, n);
                             Answer(s, requests_++);
                           });
  }
  void Answer(std::shared_ptr<Session> s, uint64_t k) {
    static const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static const std::string k500 =
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
    static const std::string kGarbage = "SMTP READY\r\n\r\n";
    const std::string& out = mode_ == Mode::kAnswer500 ? k500
                             : mode_ == Mode::kGarbage ? kGarbage
                                                       : kOk;
    auto write = [this, s, &out] {
      asio::async_write(s->socket, asio::buffer(out),
                        [this, s](boost::system::error_code ec, size_t) {
                          if (ec) return;
                          if (mode_ == Mode::kDropAfterAnswer) return s->socket.close();
                          Read(s);
                        });
    };
    if (mode_ == Mode::kStallOnce && k == stall_at_) {
      s->timer.expires_after(stall_);
      s->timer.async_wait([write](boost::system::error_code ec) {
        if (!ec) write();
      });
      return;
    }
    write();
  }

  const Mode mode_;
  const uint64_t stall_at_;
  const std::chrono::milliseconds stall_;
  sched::LoopGroup loop_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Session>> sessions_;  // loop thread only
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> accepted_{0};
};

TEST(LoadFailureTest, CountsEachStatusAsAFailureClass) {
  RawServer server(RawServer::Mode::kAnswer500);
  LoadOptions opts;
  opts.url = server.Url();
  opts.requests = 20;
  opts.connections = 2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failed, 20u);
  EXPECT_EQ(r->by_status[500], 20u);
  EXPECT_EQ(r->failures, (std::map<std::string, uint64_t>{{"status 500", 20}}));
  EXPECT_EQ(r->errors, 0u);
  EXPECT_EQ(server.requests(), 20u);
  ExpectConsistent(*r);
}

TEST(LoadFailureTest, CountsConnectionsClosedUnderARequestAsClosed) {
  RawServer server(RawServer::Mode::kCloseAtOnce);
  LoadOptions opts;
  opts.url = server.Url();
  opts.requests = 20;
  opts.connections = 4;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failed, 20u);
  EXPECT_EQ(r->failures, (std::map<std::string, uint64_t>{{"closed", 20}})) << FirstError(*r);
  EXPECT_EQ(server.accepted(), 20u);  // never re-sent: the connections were new
  ExpectConsistent(*r);
}

TEST(LoadFailureTest, CountsSilenceAsTimeout) {
  RawServer server(RawServer::Mode::kSilent);
  LoadOptions opts;
  opts.url = server.Url();
  opts.requests = 4;
  opts.connections = 2;
  opts.timeout_s = 0.2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failures, (std::map<std::string, uint64_t>{{"timeout", 4}})) << FirstError(*r);
  EXPECT_EQ(r->error_kinds["timeout"], 4u);
  ExpectConsistent(*r);
}

TEST(LoadFailureTest, CountsGarbageAsABadResponse) {
  RawServer server(RawServer::Mode::kGarbage);
  LoadOptions opts;
  opts.url = server.Url();
  opts.requests = 6;
  opts.connections = 2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failures, (std::map<std::string, uint64_t>{{"bad response", 6}})) << FirstError(*r);
  ExpectConsistent(*r);
}

TEST(LoadFailureTest, ResendsOnceWhenTheServerDroppedAnIdleConnection) {
  RawServer server(RawServer::Mode::kDropAfterAnswer);
  LoadOptions opts;
  opts.url = server.Url();
  opts.requests = 50;
  opts.connections = 2;
  Progress progress;
  Result<LoadReport> r = RunLoad(opts, &progress);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 50u);
  EXPECT_EQ(r->errors, 0u) << FirstError(*r);
  EXPECT_EQ(server.requests(), 50u);
  EXPECT_EQ(progress.sent.load(), 50u);  // re-sends are not counted
}

// The child of the test below: two requests at 1/s to a refused port. Once
// the first has failed (due at 0), the tick uses up every file descriptor,
// so the second (due at 1 s) cannot open its socket. Writes the error kinds
// as "detail=n;..." to `out` and returns the exit code.
int RunOutOfDescriptors(int out) {
  asio::io_context io;
  tcp::socket bound(io);  // bound but not listening: connecting is refused
  bound.open(tcp::v4());
  bound.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 2;
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_cur, 256);  // few to use up
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 3;
  LoadOptions opts;
  opts.url = "http://127.0.0.1:" + std::to_string(bound.local_endpoint().port()) + "/";
  opts.requests = 2;
  opts.rate = 1;
  opts.connections = 1;
  opts.timeout_s = 10;
  Progress progress;
  std::vector<int> held;
  bool full = false;
  Result<LoadReport> r = RunLoad(opts, &progress, [&] {
    if (full || progress.failed.load() == 0) return;
    for (int fd; (fd = dup(out)) >= 0;) held.push_back(fd);
    full = true;
  });
  for (int fd : held) close(fd);
  std::string text = r.ok() ? "" : r.status().ToString();
  if (r.ok()) {
    for (const auto& [kind, n] : r->error_kinds) text += kind + "=" + std::to_string(n) + ";";
  }
  return write(out, text.data(), text.size()) == static_cast<ssize_t>(text.size()) ? 0 : 4;
}

TEST(LoadFailureTest, SaysTooManyOpenFilesWhenNoSocketCanBeOpened) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizers' runtime opens files of its own (UBSan's type checks
  // did, in the child with no descriptor left, and failed): the property is
  // the client's, and the release build checks it.
  GTEST_SKIP() << "needs free descriptors under the sanitizers";
#endif
  // In a child process: its descriptor limit and table are its own. This
  // test runs no fixture, so no other thread is alive to fork in the middle.
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(pipe_fds[0]);
    alarm(60);  // a stuck child dies rather than hang the test
    _exit(RunOutOfDescriptors(pipe_fds[1]));
  }
  close(pipe_fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  // Not "connect: Operation canceled", which says nothing of the cause.
  EXPECT_EQ(out, "connect: Connection refused=1;connect: Too many open files=1;");
}

TEST(OpenLoopTest, CorrectsForCoordinatedOmission) {
  // 400 requests due at 400/s over one connection; the server holds the
  // answer to request 120 (due at 0.3 s) for 300 ms. About 120 requests
  // fall due during the stall and wait: from their due times they took up
  // to 300 ms, so the corrected p90 (the 40th slowest) is near 200 ms. From
  // their writes only the stalled one was slow.
  RawServer server(RawServer::Mode::kStallOnce, 120, std::chrono::milliseconds(300));
  LoadOptions opts;
  opts.url = server.Url();
  opts.requests = 400;
  opts.rate = 400;
  opts.connections = 1;
  opts.timeout_s = 10;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 400u) << FirstError(*r);
  EXPECT_EQ(r->target_rate, 400);
  EXPECT_GE(r->latency.Percentile(90), 100 * 1000);
  EXPECT_LT(r->service_latency.Percentile(90), 50 * 1000);
  EXPECT_GE(r->service_latency.Max(), 300 * 1000);
  EXPECT_GE(r->latency.Max(), 300 * 1000);
  EXPECT_GT(r->late, 0u);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, OpenLoopKeepsToTheRate) {
  LoadOptions opts;
  opts.url = Url("/ok");
  opts.requests = 100;
  opts.rate = 200;
  opts.connections = 4;
  opts.threads = 2;
  Progress progress;
  int ticks = 0;
  std::thread::id caller = std::this_thread::get_id();
  bool ticked_elsewhere = false;
  Result<LoadReport> r = RunLoad(opts, &progress, [&] {
    ++ticks;
    ticked_elsewhere |= std::this_thread::get_id() != caller;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->completed, 100u) << FirstError(*r);
  EXPECT_EQ(handler_.requests(), 100u);
  EXPECT_EQ(progress.sent.load(), 100u);
  // Each loop's last request is due at 49 / 100 s: the run cannot be
  // shorter, so it ends in bin 49 or later, after at least one tick.
  EXPECT_GE(r->seconds, 0.49);
  EXPECT_GE(r->series.size(), 50u);
  EXPECT_GE(ticks, 1);
  EXPECT_FALSE(ticked_elsewhere);
  // How many are late or how fast the run went depends on how busy the
  // machine is (CI runs this under ASan beside other tests): not asserted.
  EXPECT_LE(r->late, r->requests());
  // The last due time is 0.49 s or, when one loop fell behind and the other
  // took its tickets, later; never after the last answer.
  EXPECT_GE(r->send_seconds, 0.49);
  EXPECT_LE(r->send_seconds, r->seconds);
  EXPECT_EQ(r->unsent, 0u);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, OpenLoopIssuesExactlyTheRequestsDueBeforeTheDeadline) {
  LoadOptions opts;
  opts.url = Url("/ok");
  opts.requests = 0;
  opts.duration_s = 0.5;
  opts.rate = 200;
  opts.connections = 4;
  opts.threads = 2;
  Result<LoadReport> r = RunLoad(opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Each loop: due at 0, 10, ..., 490 ms; 500 ms is the deadline.
  EXPECT_EQ(r->requests(), 100u) << FirstError(*r);
  EXPECT_EQ(handler_.requests(), 100u);
  EXPECT_DOUBLE_EQ(r->send_seconds, 0.49);
  EXPECT_DOUBLE_EQ(r->SendRate(), 100 / 0.49);
  ExpectConsistent(*r);
}

TEST_F(LoadTest, OpenLoopFailsRequestsBeyondTheQueueUnsentWithoutGrowing) {
  // 1e8/s for 0.3 s: 3e7 requests due, a few thousand answered. Queued one
  // by one they would take ~500 MB and a loop over each; beyond the bounded
  // queue they are failed in one step per wake-up.
  LoadOptions opts;
  opts.url = Url("/ok");
  opts.requests = 0;
  opts.duration_s = 0.3;
  opts.rate = 1e8;
  opts.connections = 2;
  opts.threads = 2;
  Progress progress;
  auto start = std::chrono::steady_clock::now();
  Result<LoadReport> r = RunLoad(opts, &progress);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(SecondsSince(start), 30.0);
  // Each loop issues every request due before the deadline: 5e7/s x 0.3 s
  // (give or take the rounding of the last due time).
  EXPECT_NEAR(static_cast<double>(r->requests()), 3e7, 2);
  EXPECT_GT(r->completed, 0u);
  EXPECT_GT(r->unsent, 0u);
  // Nothing else failed: a request was answered, or never written.
  EXPECT_EQ(r->errors, r->unsent);
  EXPECT_EQ(r->completed + r->unsent, r->requests()) << FirstError(*r);
  EXPECT_EQ(r->failures["timeout"], r->unsent);
  EXPECT_EQ(r->error_kinds["not sent: queue full"], r->unsent);
  EXPECT_EQ(progress.sent.load(), r->completed);
  EXPECT_EQ(handler_.requests(), r->completed);
  EXPECT_EQ(progress.completed.load() + progress.failed.load(), r->requests());
  EXPECT_LE(r->late, r->completed);
  EXPECT_GT(r->send_seconds, 0.29);
  EXPECT_LT(r->send_seconds, 0.3);
  EXPECT_GT(r->SendRate(), 0.9e8);
  ExpectConsistent(*r);
}

TEST(OpenLoopFailureTest, TimesOutRequestsWaitingForAConnection) {
  RawServer server(RawServer::Mode::kSilent);
  LoadOptions opts;
  opts.url = server.Url();
  opts.requests = 20;
  opts.rate = 100;
  opts.connections = 1;
  opts.timeout_s = 0.2;
  Progress progress;
  Result<LoadReport> r = RunLoad(opts, &progress);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->failures, (std::map<std::string, uint64_t>{{"timeout", 20}})) << FirstError(*r);
  EXPECT_EQ(progress.failed.load(), 20u);
  // The one connection times out under its first request, reconnects and
  // takes the oldest waiting request, which may have timed out already
  // too: between 1 and 20 were written, never more.
  EXPECT_GE(progress.sent.load(), 1u);
  EXPECT_LE(progress.sent.load(), 20u);
  // Those that timed out in the queue were never written: unsent, not late.
  EXPECT_EQ(progress.sent.load() + r->unsent, 20u);
  EXPECT_GE(r->unsent, 1u);
  ExpectConsistent(*r);
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

TEST(ParseUrlTest, RejectsSpacesAndControlCharactersNamingTheUrl) {
  // The URL as given, and as the message shows it (control characters escaped).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://h/a b", "http://h/a b"},
      {"http://h/?q=a b", "http://h/?q=a b"},
      {"http://h/a\r\nX-Evil: 1", "http://h/a\\r\\nX-Evil: 1"},
      {"http://h/a\tb", "http://h/a\\tb"},
      {std::string("http://h/\0x", 11), "http://h/\\x00x"},
      {"http://h/\x01", "http://h/\\x01"},
      {"http://h/\x7f", "http://h/\\x7f"},
      {"http://h\r\n/", "http://h\\r\\n/"},  // it would reach the Host header
      {"http://h /", "http://h /"},
  };
  for (const auto& [url, shown] : cases) {
    Result<Url> u = ParseUrl(url);
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << shown;
    EXPECT_NE(u.status().message().find("\"" + shown + "\""), std::string::npos)
        << u.status().ToString();
    EXPECT_NE(u.status().message().find("control characters"), std::string::npos)
        << u.status().ToString();
  }
  // Percent-encoded, and bytes above ASCII, are the server's business.
  EXPECT_EQ(ParseUrl("http://h/a%20b").value().target, "/a%20b");
  EXPECT_EQ(ParseUrl("http://h/caf\xc3\xa9").value().target, "/caf\xc3\xa9");
}

}  // namespace
}  // namespace edgelab::bench
