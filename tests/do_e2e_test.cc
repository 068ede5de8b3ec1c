// Durable Object end-to-end tests: the real edgelab binary over real HTTP on 127.0.0.1, with
// tests/guests/do_probe.cc (a worker and a class exposing each rule of docs/abi.md "How an object
// runs") and the examples counter-do, lock and counter-lock, each on its own edge.toml.
//
// What each rule is checked with:
//   one instance, serial turns   1000 requests in flight at one object that counts the turns
//                                inside it (never above 1) and its entries (exactly 1000);
//   arrival order                requests queued behind a held object, each sent once the
//                                previous one is in the mailbox, are served in that order;
//   transactions, traps          a trap between or after the puts commits nothing; a trap (or
//                                the CPU limit) resets the instance (a member counter
//                                restarts), not storage;
//   output gate                  SIGKILL under load, 20 times: every count a client got back,
//                                from an increment or a read, is on disk;
//   alarms                       fire, retry with backoff after traps, give up, survive restart
//                                and eviction;
//   eviction                     an idle object comes back from storage, also under churn;
//   leases (examples/lock)       10,000 contended acquisitions never give two holders; a dead
//                                holder blocks the others for its lease only, eviction included;
//   cycles                       A->A, A->B->A, A->B->C->A, two objects calling each other at
//                                once, chains in every order: the inner call fails ECYCLE,
//                                nothing deadlocks;
//   the counters                 counter-do and counter-lock end at exactly 1000 after 1000
//                                requests, at 100 and at 1000 in flight, none failing.
// Timing: nothing sleeps to wait for an event; waits poll with generous deadlines, and only
// lower time bounds are asserted (a lease must last at least LEASE_MS). Eviction and a lease
// running out have no event to wait on: those polls wait out the interval.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/server_process.h"

namespace edgelab::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Deadlines for things that take milliseconds when healthy: generous, so a loaded machine or a
// sanitized build never fails a correct server; they only bound a hang.
constexpr auto kPatience = std::chrono::seconds(kSanitized ? 90 : 30);

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- A keep-alive HTTP/1.1 client with timeouts ----

// One connection reused for many GETs (10,000 lock calls must not cost 10,000 connections), with
// a receive timeout so that a deadlocked server fails the test instead of hanging it. Not
// thread-safe: one per thread.
class Client {
 public:
  explicit Client(uint16_t port) : port_(port) {}
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // status 0: no response (connection refused, closed, timed out). A request whose reused
  // connection was closed before any byte of the answer is sent again once on a new one (the
  // server drops idle keep-alive connections; such a request was never read).
  HttpResult Get(const std::string& target) {
    bool reused = fd_ >= 0;
    HttpResult r = Once(target);
    if (r.status == 0 && reused && !got_bytes_) r = Once(target);
    return r;
  }

 private:
  HttpResult Once(const std::string& target) {
    got_bytes_ = false;
    if (fd_ < 0 && !Connect()) return {};
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (!SendAll(req)) return Fail();
    std::string buf;
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!Recv(&buf)) return Fail();
    }
    std::string head = buf.substr(0, head_end);
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    HttpResult r;
    if (head.rfind("HTTP/1.1 ", 0) != 0) return Fail();
    r.status = std::atoi(head.c_str() + 9);
    size_t cl = lower.find("\r\ncontent-length:");
    size_t length = cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 17, nullptr, 10);
    while (buf.size() < head_end + 4 + length) {
      if (!Recv(&buf)) return Fail();
    }
    r.body = buf.substr(head_end + 4, length);
    if (lower.find("\r\nconnection: close") != std::string::npos) Close();
    return r;
  }

  bool Connect() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{.tv_sec = kSanitized ? 180 : 60, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      Close();
      return false;
    }
    return true;
  }

  bool SendAll(const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  bool Recv(std::string* buf) {
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    got_bytes_ = true;
    buf->append(chunk, static_cast<size_t>(n));
    return true;
  }

  HttpResult Fail() {
    Close();
    return {};
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  const uint16_t port_;
  int fd_ = -1;
  bool got_bytes_ = false;
};

// One GET on a connection of its own.
HttpResult Fetch(uint16_t port, const std::string& target) { return Client(port).Get(target); }

// Calls `done` until it returns true or `patience` passes, `every` apart; returns what it last
// returned.
bool PollUntil(const std::function<bool()>& done, milliseconds every = milliseconds(5),
               Clock::duration patience = kPatience) {
  const auto deadline = Clock::now() + patience;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

// Waits, with a deadline, for a server log line containing `needle`.
bool WaitForLogLine(ServerProcess& s, const std::string& needle) {
  return PollUntil([&] { return s.err().find(needle) != std::string::npos; });
}

// ---- Configs ----

struct ProbeOptions {
  int idle_timeout_ms = 10'000;
  int alarm_retry_ms = 1'000;
  int alarm_max_retries = 6;
  int lease_ms = 50;  // the CounterLock objects of binding LOCK read it
  int cpu_ms = 1000;  // /hold polls KV for a while
  int isolates_max = 64;
};

// An edge.toml for tests/guests/do_probe.wasm with every binding its header asks for.
std::string ProbeConfig(const TempDir& dir, const ProbeOptions& o = {}) {
  std::ostringstream t;
  t << "name = \"do-probe\"\n"
    << "main = \"" << BuildPath("tests/guests/do_probe.wasm") << "\"\n"
    << "[vars]\nGREETING = \"hello from vars\"\nLEASE_MS = \"" << o.lease_ms << "\"\n"
    << "[[kv_namespaces]]\nbinding = \"KV\"\nid = \"kv\"\n"
    << "[limits]\ncpu_ms = " << o.cpu_ms << "\n"
    << "[isolates]\nmin = 1\nmax = " << o.isolates_max << "\n"
    << "[durable_objects]\nidle_timeout_ms = " << o.idle_timeout_ms
    << "\nalarm_retry_ms = " << o.alarm_retry_ms << "\nalarm_max_retries = " << o.alarm_max_retries
    << "\n"
    << "[[durable_objects.bindings]]\nname = \"PROBE\"\nclass_name = \"Probe\"\n"
    << "[[durable_objects.bindings]]\nname = \"PROBE2\"\nclass_name = \"Probe\"\n"
    << "[[durable_objects.bindings]]\nname = \"LOCK\"\nclass_name = \"CounterLock\"\nscript = \""
    << BuildPath("examples/lock.wasm") << "\"\n";
  return dir.Write("edge.toml", t.str());
}

std::pair<std::string, std::string> SetVar(const std::string& var, int value) {
  return {var + R"( = "\d+")", var + " = \"" + std::to_string(value) + "\""};
}

// Runs `edgelab bench URL -n N -c C [--verify PATH] --json -`; expects exit 0 and returns its one
// repetition.
nlohmann::json Bench(const std::string& url, int n, int c, const std::string& verify = "") {
  std::vector<std::string> args{"bench", url, "-n", std::to_string(n)};
  args.insert(args.end(), {"-c", std::to_string(c), "--json", "-"});
  if (!verify.empty()) args.insert(args.end(), {"--verify", verify});
  ProcessRun r = RunEdgelab(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j.is_discarded() ? j : j["targets"][0]["reps"][0];
}

// "--quiet --data :memory: --threads N": the default for probe servers.
std::vector<std::string> InMemory(int threads = 2) {
  return {"--quiet", "--data", ":memory:", "--threads", std::to_string(threads)};
}

// ---- One instance, serial turns, arrival order ----

TEST(DurableObjectsE2E, OneObjectRunsAThousandConcurrentRequestsOneAtATime) {
  TempDir dir;
  ServerProcess s;
  // 1000 worker isolates, so all 1000 requests wait at the object at once; four loops, so most
  // arrive from a loop other than the object's home.
  ASSERT_TRUE(s.Start(ProbeConfig(dir, {.isolates_max = 1000}), InMemory(4))) << s.err();
  auto j = Bench(s.url("/o/single/enter"), 1000, 1000);
  EXPECT_EQ(j["completed"], 1000) << j.dump();
  EXPECT_EQ(j["failed"], 0) << j.dump();
  EXPECT_EQ(Fetch(s.port(), "/o/single/max").body, "1") << "two requests ran inside the object";
  // Two live copies of the object would each count in their own cache: updates would be lost.
  EXPECT_EQ(Fetch(s.port(), "/o/single/entries").body, "1000");
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, RequestsRunInArrivalOrder) {
  TempDir dir;
  ServerProcess s;
  // One loop: the worker logs "forwarding" and enters the object's mailbox without yielding in
  // between, so once the line is out the request is queued, and the next one arrives after it.
  ASSERT_TRUE(s.Start(ProbeConfig(dir), InMemory(1))) << s.err();
  auto held = std::async(std::launch::async,
                         [&] { return Fetch(s.port(), "/o/fifo/hold?flag=go&announce=hold"); });
  ASSERT_TRUE(WaitForLogLine(s, "probe: forwarding hold;")) << s.err();
  constexpr int kRequests = 40;
  std::vector<std::future<HttpResult>> queued;
  std::string want;
  for (int i = 1; i <= kRequests; ++i) {
    std::string n = std::to_string(i);
    queued.push_back(std::async(std::launch::async, [&s, n] {
      return Fetch(s.port(), "/o/fifo/seq?n=" + n + "&announce=s" + n);
    }));
    ASSERT_TRUE(WaitForLogLine(s, "probe: forwarding s" + n + ";")) << s.err();
    want += n + ",";
    // Halfway, let the queue drain while later requests keep arriving: a turn must hand the
    // object to the oldest waiter, never to a newcomer.
    if (i == kRequests / 2) {
      ASSERT_EQ(Fetch(s.port(), "/kvput?k=go&v=1").status, 200);
    }
  }
  EXPECT_EQ(held.get().body, "released");
  for (auto& f : queued) EXPECT_EQ(f.get().status, 200);
  EXPECT_EQ(Fetch(s.port(), "/o/fifo/seqlog").body, want);
  ExpectCleanStop(s);
}

// ---- Storage: transactions, traps, list ----

TEST(DurableObjectsE2E, TransactionIsAllOrNothingEvenWhenTheObjectTrapsInside) {
  TempDir dir;
  std::string config = ProbeConfig(dir);
  std::vector<std::string> flags{"--quiet", "--data", dir.path() + "/data", "--threads", "2"};
  auto both = [](uint16_t port) {
    return Fetch(port, "/o/txn/get?k=a").body + "," + Fetch(port, "/o/txn/get?k=b").body;
  };
  {
    ServerProcess s;
    ASSERT_TRUE(s.Start(config, flags)) << s.err();
    EXPECT_EQ(Fetch(s.port(), "/o/txn/txn?v=1").body, "committed");
    EXPECT_EQ(both(s.port()), "1,1");
    HttpResult mid = Fetch(s.port(), "/o/txn/txn?v=2&fail=mid");  // traps between the puts
    EXPECT_EQ(mid.status, 500) << mid.body;
    EXPECT_EQ(both(s.port()), "1,1");
    EXPECT_EQ(Fetch(s.port(), "/o/txn/txn?v=3&fail=end").status, 500);  // after both, uncommitted
    EXPECT_EQ(both(s.port()), "1,1");
    EXPECT_EQ(Fetch(s.port(), "/o/txn/txn?v=4&fail=rollback").body, "rolled back");
    EXPECT_EQ(both(s.port()), "1,1");
    EXPECT_EQ(Fetch(s.port(), "/o/txn/txn?v=5").body, "committed");
    EXPECT_EQ(both(s.port()), "5,5");
    EXPECT_TRUE(WaitForLogLine(s, "trap in ")) << s.err();  // the log comes on its own pipe
    ExpectCleanStop(s);
  }
  // What the disk holds agrees with what the object saw.
  ServerProcess s;
  ASSERT_TRUE(s.Start(config, flags)) << s.err();
  EXPECT_EQ(both(s.port()), "5,5");
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, ATrapAnswers500AndResetsTheInstanceButKeepsStorage) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir), InMemory())) << s.err();
  uint16_t p = s.port();
  EXPECT_EQ(Fetch(p, "/o/t/member").body, "1");
  EXPECT_EQ(Fetch(p, "/o/t/member").body, "2");
  EXPECT_EQ(Fetch(p, "/o/other/member").body, "1");
  EXPECT_EQ(Fetch(p, "/o/t/put?k=x&v=kept").body, "stored");
  HttpResult trap = Fetch(p, "/o/t/trap");
  EXPECT_EQ(trap.status, 500) << trap.body;
  EXPECT_EQ(trap.body.find("stub error"), std::string::npos) << "the object did not answer";
  EXPECT_TRUE(WaitForLogLine(s, "trap in ")) << s.err();
  EXPECT_EQ(Fetch(p, "/o/t/member").body, "1") << "the trapped instance was kept";
  EXPECT_EQ(Fetch(p, "/o/t/get?k=x").body, "kept");
  EXPECT_EQ(Fetch(p, "/o/t/get?k=traps").body, "1") << "a write before the trap was lost";
  EXPECT_EQ(Fetch(p, "/o/other/member").body, "2") << "another object was reset too";
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, AnObjectOverItsCpuLimitAnswers503AndIsResetLikeATrap) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir, {.cpu_ms = 50}), InMemory())) << s.err();
  uint16_t p = s.port();
  EXPECT_EQ(Fetch(p, "/o/cpu/member").body, "1");
  HttpResult spin = Fetch(p, "/o/cpu/spin");
  EXPECT_EQ(spin.status, 503) << spin.body;
  EXPECT_TRUE(WaitForLogLine(s, "exceeded CPU limit")) << s.err();
  EXPECT_EQ(Fetch(p, "/o/cpu/member").body, "1");
  EXPECT_EQ(Fetch(p, "/o/cpu/get?k=spins").body, "1");
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, StorageListHonoursPrefixStartEndAndLimit) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir), InMemory())) << s.err();
  uint16_t p = s.port();
  for (const char* k : {"c", "b/2", "a", "b/10", "b/1", "bb"}) {
    ASSERT_EQ(Fetch(p, std::string("/o/l/put?k=") + Encode(k) + "&v=" + Encode(k)).body, "stored");
  }
  auto list = [&](const std::string& query) { return Fetch(p, "/o/l/list?" + query).body; };
  EXPECT_EQ(list(""), "a=a\nb/1=b/1\nb/10=b/10\nb/2=b/2\nbb=bb\nc=c\n");  // byte order
  EXPECT_EQ(list("prefix=b%2F"), "b/1=b/1\nb/10=b/10\nb/2=b/2\n");
  EXPECT_EQ(list("start=b%2F10"), "b/10=b/10\nb/2=b/2\nbb=bb\nc=c\n");
  EXPECT_EQ(list("end=b%2F10"), "a=a\nb/1=b/1\n");
  EXPECT_EQ(list("start=b%2F1&end=bb"), "b/1=b/1\nb/10=b/10\nb/2=b/2\n");
  EXPECT_EQ(list("limit=2"), "a=a\nb/1=b/1\n");
  EXPECT_EQ(list("prefix=b&start=b%2F10&limit=2"), "b/10=b/10\nb/2=b/2\n");
  EXPECT_EQ(list("prefix=b%2F&end=b%2F2"), "b/1=b/1\nb/10=b/10\n");
  EXPECT_EQ(list("prefix=zz"), "");
  EXPECT_EQ(list("start=c&end=a"), "");
  EXPECT_EQ(Fetch(p, "/o/l/del?k=b%2F10").body, "1");
  EXPECT_EQ(Fetch(p, "/o/l/del?k=b%2F10").body, "0");
  EXPECT_EQ(list("prefix=b%2F"), "b/1=b/1\nb/2=b/2\n");
  EXPECT_EQ(Fetch(p, "/o/l2/list").body, "") << "another object sees this one's keys";
  // Keys of up to 2048 bytes; a longer one is refused and nothing is stored.
  EXPECT_EQ(Fetch(p, "/o/l2/put?v=1&k=" + std::string(2048, 'k')).body, "stored");
  HttpResult too_long = Fetch(p, "/o/l2/put?v=1&k=" + std::string(2049, 'k'));
  EXPECT_EQ(too_long.status, 500);
  EXPECT_EQ(too_long.body, "storage error EINVAL");
  EXPECT_EQ(Fetch(p, "/o/l2/list").body, std::string(2048, 'k') + "=1\n");
  ExpectCleanStop(s);
}

// ---- The output gate ----

// Raises `max` to at least `n`.
void RaiseTo(std::atomic<int64_t>& max, int64_t n) {
  for (int64_t seen = max; n > seen && !max.compare_exchange_weak(seen, n);) {
  }
}

TEST(DurableObjectsE2E, NoCountAClientSawIsLostWhenTheServerIsKilledUnderLoad) {
  TempDir dir;
  std::string config = ExampleConfig(dir, "counter-do");
  std::vector<std::string> flags{"--quiet", "--data", dir.path() + "/data", "--threads", "2"};
  // The largest count any 200 carried over every round so far: the new count of an increment
  // (GET /), or the count a read (GET /value) saw, which may be a write of another turn whose
  // commit is still pending: the read's answer must wait for it too.
  int64_t acked = 0, read = 0;
  // Each kill lands in a window a broken gate leaves open with some chance, not always (a read
  // answered early is caught about one round in ten): many short rounds.
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    ServerProcess s;
    ASSERT_TRUE(s.Start(config, flags)) << s.err();
    HttpResult v = Fetch(s.port(), "/value");
    ASSERT_EQ(v.status, 200) << v.body;
    ASSERT_GE(std::stoll(v.body), acked) << "round " << round << ": an acknowledged count is lost";
    ASSERT_GE(std::stoll(v.body), read) << "round " << round << ": a count read was lost";
    std::atomic<int64_t> max_acked{acked}, max_read{read};
    std::atomic<int> answers{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 10; ++t) {
      bool reader = t % 2 == 1;
      clients.emplace_back([&, reader] {
        Client c(s.port());
        for (HttpResult r; (r = c.Get(reader ? "/value" : "/")).status == 200; ++answers) {
          RaiseTo(reader ? max_read : max_acked, std::stoll(r.body));
        }
      });
    }
    // Kill while requests are in flight, their writes somewhere between the object and the disk.
    EXPECT_TRUE(PollUntil([&] { return answers >= 300; })) << s.err();
    s.Signal(SIGKILL);
    for (auto& t : clients) t.join();
    EXPECT_EQ(s.Stop(), 128 + SIGKILL);
    acked = max_acked;
    read = max_read;
  }
  ServerProcess s;
  ASSERT_TRUE(s.Start(config, flags)) << s.err();
  int64_t stored = std::stoll(Fetch(s.port(), "/value").body);
  EXPECT_GE(stored, acked) << "an increment a client saw was not durable";
  EXPECT_GE(stored, read) << "a count a reader saw was not durable";
  EXPECT_GE(acked, 500) << "too few increments to prove anything";
  ExpectCleanStop(s);
}

// ---- Alarms ----

TEST(DurableObjectsE2E, AlarmsFireAndRetryWithBackoffAfterTraps) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir, {.alarm_retry_ms = 50, .alarm_max_retries = 3}), InMemory()))
      << s.err();
  uint16_t p = s.port();
  // Deleted before it is due: never fires (checked once the others below have).
  ASSERT_EQ(Fetch(p, "/o/gone/alarm?in_ms=100").status, 200);
  EXPECT_EQ(Fetch(p, "/o/gone/alarm-delete").body, "deleted");
  EXPECT_EQ(Fetch(p, "/o/gone/alarm-get").body, "none");
  // Fires, traps twice, succeeds on the third attempt; the host tells each attempt its retry.
  int64_t at = std::stoll(Fetch(p, "/o/al/alarm?in_ms=100&traps=2").body);
  EXPECT_NE(Fetch(p, "/o/al/alarm-get").body, "none");
  EXPECT_TRUE(PollUntil([&] { return Fetch(p, "/o/al/alarms").body.size() >= 12; }));
  EXPECT_EQ(Fetch(p, "/o/al/alarms").body, "1:0;2:1;3:2;");
  EXPECT_GE(std::stoll(Fetch(p, "/o/al/alarm-fired").body), at + 50 + 100)
      << "a retry came before its backoff";
  EXPECT_EQ(Fetch(p, "/o/al/alarm-get").body, "none");
  EXPECT_TRUE(WaitForLogLine(s, "retry 1 in 50 ms")) << s.err();
  EXPECT_TRUE(WaitForLogLine(s, "retry 2 in 100 ms")) << s.err();
  // Always traps: the first attempt and 3 retries, then it is dropped with an error in the log.
  ASSERT_EQ(Fetch(p, "/o/al2/alarm?in_ms=10&traps=100").status, 200);
  EXPECT_TRUE(WaitForLogLine(s, "failed 4 times, giving up")) << s.err();
  EXPECT_EQ(Fetch(p, "/o/al2/alarms").body, "1:0;2:1;3:2;4:3;");
  EXPECT_EQ(Fetch(p, "/o/al2/alarm-get").body, "none");
  // Alarm calls are not part of any transaction: one set by a turn that then traps stays set.
  EXPECT_EQ(Fetch(p, "/o/al3/alarm?in_ms=10&trap=1").status, 500);
  EXPECT_TRUE(PollUntil([&] { return Fetch(p, "/o/al3/alarms").body == "1:0;"; })) << s.err();
  EXPECT_EQ(Fetch(p, "/o/gone/alarms").body, "") << "a deleted alarm fired";
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, AnAlarmSetWhileAnotherAwaitsItsRetryGetsRetriesOfItsOwn) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(
      s.Start(ProbeConfig(dir, {.alarm_retry_ms = 300, .alarm_max_retries = 1}), InMemory()))
      << s.err();
  uint16_t p = s.port();
  // The first alarm always fails: its attempt traps, and its one retry is 300 ms away ...
  ASSERT_EQ(Fetch(p, "/o/re/alarm?in_ms=10&traps=100").status, 200);
  ASSERT_TRUE(WaitForLogLine(s, "retry 1 in 300 ms")) << s.err();
  // ... when a request replaces it with a new alarm that fails once: being new, it is on its
  // first attempt (retry 0) and still has its one retry.
  ASSERT_EQ(Fetch(p, "/o/re/alarm?in_ms=10&traps=1").status, 200);
  EXPECT_TRUE(PollUntil([&] { return Fetch(p, "/o/re/alarm-get").body == "none"; }));
  EXPECT_TRUE(PollUntil([&] {
    return Fetch(p, "/o/re/alarms").body.size() >= 12 ||
           s.err().find("giving up") != std::string::npos;
  }));
  EXPECT_EQ(Fetch(p, "/o/re/alarms").body, "1:0;1:0;2:1;") << s.err();
  EXPECT_EQ(s.err().find("giving up"), std::string::npos) << s.err();
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, AlarmsSurviveGracefulAndHardRestarts) {
  TempDir dir;
  std::string config = ProbeConfig(dir);
  std::vector<std::string> flags{"--quiet", "--data", dir.path() + "/data", "--threads", "2"};
  std::map<std::string, int64_t> due;  // object -> the time its alarm was set for
  {
    ServerProcess s;
    ASSERT_TRUE(s.Start(config, flags)) << s.err();
    due["graceful"] = std::stoll(Fetch(s.port(), "/o/graceful/alarm?in_ms=1500").body);
    ExpectCleanStop(s);
  }
  {
    ServerProcess s;
    ASSERT_TRUE(s.Start(config, flags)) << s.err();
    due["killed"] = std::stoll(Fetch(s.port(), "/o/killed/alarm?in_ms=1500").body);
    due["while-down"] = std::stoll(Fetch(s.port(), "/o/while-down/alarm?in_ms=100").body);
    EXPECT_EQ(s.Stop(SIGKILL), 128 + SIGKILL);
  }
  // Down past "while-down"'s time: it must fire as soon as the server is back. (No event to wait
  // on while no server runs.)
  while (WallMs() <= due["while-down"]) std::this_thread::sleep_for(milliseconds(10));
  ServerProcess s;
  ASSERT_TRUE(s.Start(config, flags)) << s.err();
  for (const auto& [name, at] : due) {
    EXPECT_TRUE(PollUntil([&] { return Fetch(s.port(), "/o/" + name + "/alarms").body == "1:0;"; },
                          milliseconds(20)))
        << name << ": " << Fetch(s.port(), "/o/" + name + "/alarms").body << "\n"
        << s.err();
    EXPECT_GE(std::stoll(Fetch(s.port(), "/o/" + name + "/alarm-fired").body), at) << name;
  }
  ExpectCleanStop(s);
}

// ---- Leases: examples/lock ----

TEST(DurableObjectsE2E, LockNeverHasTwoHoldersOverTenThousandContendedAcquisitions) {
  constexpr int kLeaseMs = 10'000;  // far above any hold: only a broken lock lets two in
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ExampleConfig(dir, "lock", {SetVar("LEASE_MS", kLeaseMs)}),
                      {"--quiet", "--data", dir.path() + "/data", "--threads", "2"}))
      << s.err();
  constexpr int kAcquisitions = 10'000, kThreads = 16;
  std::atomic<int> next{0}, holders{0}, overlaps{0}, grants{0}, refusals{0}, errors{0};
  std::atomic<int64_t> longest_hold_ms{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(s.port());
      for (int i; (i = next++) < kAcquisitions;) {
        std::string owner = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto asked = Clock::now();
        HttpResult r = c.Get("/acquire?key=hot&owner=" + owner);
        if (r.status != 200 || (r.body != "true" && r.body != "false")) {
          ++errors;
          continue;
        }
        if (r.body == "false") {
          ++refusals;
          continue;
        }
        // Hold for a moment, so that a second holder would be caught here, not only if it
        // happened to arrive within the few instructions between the two atomics.
        if (holders.fetch_add(1) != 0) ++overlaps;
        ++grants;
        std::this_thread::sleep_for(std::chrono::microseconds(i % 200));
        if (holders.fetch_sub(1) != 1) ++overlaps;
        if (c.Get("/release?key=hot&owner=" + owner).body != "true") ++errors;
        RaiseTo(longest_hold_ms,
                std::chrono::duration_cast<milliseconds>(Clock::now() - asked).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(overlaps, 0) << "two owners held the lock at once";
  EXPECT_EQ(errors, 0) << s.err();
  EXPECT_GT(refusals, 0) << "no contention: the test proves nothing";
  EXPECT_GT(grants, 0);
  // Holders released well within the lease, so no overlap could have been an expiry.
  EXPECT_LT(longest_hold_ms, kLeaseMs / 2);
  EXPECT_EQ(Fetch(s.port(), "/value?key=hot").body, std::to_string(grants.load()))
      << "the lock granted leases no client saw";
  ExpectCleanStop(s);
}

// Acquires `lock` for a new owner every 10 ms until granted; returns when that answer arrived
// (steady clock), and counts the refusals before it. Any other answer fails the test.
Clock::time_point AcquireWhenFree(Client& c, const std::string& acquire_url, int* refusals) {
  Clock::time_point granted{};
  EXPECT_TRUE(PollUntil(
      [&] {
        HttpResult r = c.Get(acquire_url);
        EXPECT_EQ(r.status, 200) << r.body;
        if (r.body == "true") granted = Clock::now();
        if (r.body == "false") ++*refusals;
        return r.body == "true" || r.status != 200;
      },
      milliseconds(10)));
  return granted;
}

TEST(DurableObjectsE2E, ALockHolderThatNeverReleasesBlocksOthersOnlyForItsLease) {
  constexpr int kLeaseMs = 600;
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ExampleConfig(dir, "lock", {SetVar("LEASE_MS", kLeaseMs)}),
                      {"--quiet", "--data", dir.path() + "/data", "--threads", "2"}))
      << s.err();
  Client c(s.port());
  auto asked = Clock::now();
  ASSERT_EQ(c.Get("/acquire?key=dead&owner=dead").body, "true");
  int refusals = 0;
  auto granted = AcquireWhenFree(c, "/acquire?key=dead&owner=next", &refusals);
  EXPECT_GT(refusals, 0);
  EXPECT_GE(granted - asked, milliseconds(kLeaseMs)) << "granted again before the lease ended";
  EXPECT_EQ(c.Get("/release?key=dead&owner=dead").body, "false") << "the dead holder still holds";
  EXPECT_EQ(c.Get("/release?key=dead&owner=next").body, "true");
  EXPECT_EQ(c.Get("/value?key=dead").body, "2");
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, ALockHolderThatTrapsWhileHoldingBlocksOthersOnlyForItsLease) {
  constexpr int kLeaseMs = 600;
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir, {.lease_ms = kLeaseMs}), InMemory())) << s.err();
  Client c(s.port());
  auto asked = Clock::now();
  HttpResult died = c.Get("/holdtrap?lock=L&owner=dead");
  EXPECT_EQ(died.status, 500) << died.body;
  EXPECT_TRUE(WaitForLogLine(s, "probe: holding the lock, trapping")) << s.err();
  int refusals = 0;
  auto granted = AcquireWhenFree(c, "/lock/L/acquire?owner=next", &refusals);
  EXPECT_GT(refusals, 0);
  EXPECT_GE(granted - asked, milliseconds(kLeaseMs)) << "granted again before the lease ended";
  EXPECT_EQ(c.Get("/lock/L/release?owner=next").body, "true");
  ExpectCleanStop(s);
}

// ---- Eviction ----

// Polls /o/<witness>/member, each time after waiting out the idle timeout, until it answers 1:
// the witness was evicted and recreated. Every object idle since before the witness's first
// call went in that sweep or an earlier one (one loop: one sweeper sees them all).
bool WaitForEviction(uint16_t port, const std::string& witness, int idle_timeout_ms) {
  if (Fetch(port, "/o/" + witness + "/member").body != "1") return false;
  return PollUntil([&] { return Fetch(port, "/o/" + witness + "/member").body == "1"; },
                   milliseconds(3 * idle_timeout_ms));
}

TEST(DurableObjectsE2E, AnIdleObjectIsEvictedAndRecreatedFromStorage) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir, {.idle_timeout_ms = 100}), InMemory(1))) << s.err();
  uint16_t p = s.port();
  EXPECT_EQ(Fetch(p, "/o/idle/put?k=x&v=kept").body, "stored");
  // An object evicted with its alarm pending: the alarm still fires (and recreates it).
  int64_t at = std::stoll(Fetch(p, "/o/sleeper/alarm?in_ms=2500").body);
  EXPECT_TRUE(WaitForEviction(p, "idle", 100)) << s.err();
  EXPECT_EQ(Fetch(p, "/o/idle/get?k=x").body, "kept");
  EXPECT_LT(WallMs(), at) << "slow machine: the alarm did not fire on an evicted object";
  EXPECT_TRUE(WaitForLogLine(s, "probe: alarm attempt 1")) << s.err();
  EXPECT_EQ(Fetch(p, "/o/sleeper/alarms").body, "1:0;");
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, ObjectsEvictedAndRecreatedUnderLoadLoseNothing) {
  TempDir dir;
  ServerProcess s;
  // Evicted after 5 ms idle: requests with random gaps of 0-20 ms meet their object live, being
  // evicted, or gone, over and over; each recreation reads its storage back from SQLite.
  ASSERT_TRUE(s.Start(ProbeConfig(dir, {.idle_timeout_ms = 5}),
                      {"--quiet", "--data", dir.path() + "/data", "--threads", "2"}))
      << s.err();
  constexpr int kObjects = 4, kThreadsPerObject = 2, kEach = 40;
  std::atomic<int> failures{0}, recreations{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kObjects * kThreadsPerObject; ++t) {
    threads.emplace_back([&, t] {
      Client c(s.port());
      std::string url = "/o/churn" + std::to_string(t % kObjects) + "/enter";
      for (int i = 0; i < kEach; ++i) {
        HttpResult r = c.Get(url);
        if (r.status != 200) ++failures;
        if (r.body.substr(r.body.find(' ') + 1) == "1" && i > 0) ++recreations;
        std::this_thread::sleep_for(milliseconds((t * 7 + i * 13) % 21));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0) << s.err();
  EXPECT_GT(recreations, 0) << "no object was evicted: the test proves nothing";
  for (int o = 0; o < kObjects; ++o) {
    std::string name = "/o/churn" + std::to_string(o);
    EXPECT_EQ(Fetch(s.port(), name + "/entries").body, std::to_string(kThreadsPerObject * kEach));
    EXPECT_EQ(Fetch(s.port(), name + "/max").body, "1");
  }
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, ALeaseSurvivesTheEvictionOfItsLock) {
  constexpr int kLeaseMs = 5'000, kIdleMs = 100;
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(
      s.Start(ProbeConfig(dir, {.idle_timeout_ms = kIdleMs, .lease_ms = kLeaseMs}), InMemory(1)))
      << s.err();
  uint16_t p = s.port();
  auto asked = Clock::now();
  ASSERT_EQ(Fetch(p, "/lock/ev/acquire?owner=A").body, "true");
  ASSERT_TRUE(WaitForEviction(p, "witness", kIdleMs)) << s.err();
  HttpResult other = Fetch(p, "/lock/ev/acquire?owner=B");
  if (Clock::now() - asked < milliseconds(kLeaseMs)) {
    EXPECT_EQ(other.body, "false") << "the evicted lock forgot its holder";
  }
  EXPECT_EQ(Fetch(p, "/lock/ev/release?owner=A").body, "true") << "A no longer holds the lock";
  EXPECT_EQ(Fetch(p, "/lock/ev/acquire?owner=B").body, "true");
  ExpectCleanStop(s);
}

// ---- Calls between objects, cycles ----

TEST(DurableObjectsE2E, ObjectsCallEachOtherAndACycleFailsTheInnerCallWithECycle) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir), InMemory())) << s.err();
  uint16_t p = s.port();
  // A call from a to b; the second binding of the class reaches the same objects.
  EXPECT_EQ(Fetch(p, "/o/a/call?to=b&path=" + Encode("/put?k=x&v=1")).body, "ok 200 stored");
  EXPECT_EQ(Fetch(p, "/o/b/get?k=x").body, "1");
  EXPECT_EQ(Fetch(p, "/o/a/call?via=2&to=b&path=" + Encode("/get?k=x")).body, "ok 200 1");
  EXPECT_EQ(Fetch(p, "/o/b/get?k=x&via=2").body, "1");
  // An object of another class, in another module: the lock.
  EXPECT_EQ(Fetch(p, "/o/a/lock?name=cl&op=acquire&owner=a").body, "ok 200 true");
  EXPECT_EQ(Fetch(p, "/lock/cl/acquire?owner=w").body, "false");
  EXPECT_EQ(Fetch(p, "/o/a/lock?name=cl&op=release&owner=a").body, "ok 200 true");
  // A stub carries the method, the body and headers.
  EXPECT_EQ(HttpRequest(p, "POST", "/o/b/echo", "payload", {"X-Probe: hi"}).body,
            "POST payload hi");

  std::string a = "Probe/" + Fetch(p, "/o/a/id").body, b = "Probe/" + Fetch(p, "/o/b/id").body;
  ASSERT_EQ(a.size(), 6u + 64u);
  // a -> a
  EXPECT_EQ(Fetch(p, "/o/a/call?to=a&path=/member").body, "error ECYCLE");
  EXPECT_TRUE(WaitForLogLine(s, "call cycle: " + a + " -> " + a)) << s.err();
  // a -> b -> a: b's call fails; b answers a.
  std::string b_calls_a = "/call?to=a&path=" + Encode("/member");
  EXPECT_EQ(Fetch(p, "/o/a/call?to=b&path=" + Encode(b_calls_a)).body, "ok 200 error ECYCLE");
  EXPECT_TRUE(WaitForLogLine(s, "call cycle: " + b + " -> " + a + " -> " + b)) << s.err();
  // a -> b -> c -> a
  std::string c_calls_a = "/call?to=a&path=" + Encode("/member");
  std::string b_calls_c = "/call?to=c&path=" + Encode(c_calls_a);
  EXPECT_EQ(Fetch(p, "/o/a/call?to=b&path=" + Encode(b_calls_c)).body,
            "ok 200 ok 200 error ECYCLE");
  // A call to itself through the class's other binding is the same object: a cycle too.
  EXPECT_EQ(Fetch(p, "/o/a/call?via=2&to=a&path=/member").body, "error ECYCLE");
  // Nothing is stuck: each object still answers, its instance intact (no trap, no reset).
  EXPECT_EQ(Fetch(p, "/o/a/member").body, "1");
  EXPECT_EQ(Fetch(p, "/o/b/member").body, "1");
  EXPECT_EQ(Fetch(p, "/o/c/member").body, "1");
  // A trap in the callee is its answer to the caller, and resets the callee only.
  EXPECT_EQ(Fetch(p, "/o/a/call?to=b&path=/trap").body.substr(0, 7), "ok 500 ");
  EXPECT_EQ(Fetch(p, "/o/a/member").body, "2");
  EXPECT_EQ(Fetch(p, "/o/b/member").body, "1");
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, ConcurrentCallChainsAmongThreeObjectsNeverDeadlock) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir), InMemory())) << s.err();
  // Chains a -> b -> c over three objects in every order at once, each hop sleeping 1 ms so that
  // turns overlap: a chain closes a cycle when it repeats an object, or through other chains in
  // flight (p -> q -> r meets r -> p: r waits on p, p on q, q calls r), and must then fail at
  // once; the rest complete. Under this much overlap nearly every chain meets a cycle. A
  // deadlock shows as a timeout (status 0).
  const std::string names[] = {"p", "q", "r"};
  constexpr int kThreads = 24, kEach = 10;
  std::atomic<int> completed{0}, cycles{0};
  std::mutex mu;
  std::vector<std::string> unexpected;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(s.port());
      for (int i = 0; i < kEach; ++i) {
        const std::string &a = names[(t + i) % 3], &b = names[(t / 3 + 2 * i + 1) % 3],
                          &last = names[(t * 7 + i) % 3];
        std::string inner = "/call?sleep=1&to=" + last + "&path=" + Encode("/member");
        HttpResult r = c.Get("/o/" + a + "/call?sleep=1&to=" + b + "&path=" + Encode(inner));
        if (r.status == 200 && r.body.rfind("ok 200 ok 200 ", 0) == 0) {
          ++completed;
        } else if (r.status == 200 && r.body.find("error ECYCLE") != std::string::npos) {
          ++cycles;
        } else {
          std::lock_guard<std::mutex> lock(mu);
          unexpected.push_back(std::to_string(r.status) + " " + r.body);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " unexpected, first: " << unexpected[0];
  EXPECT_EQ(completed + cycles, kThreads * kEach);
  EXPECT_GT(cycles, 0);
  // Nothing is left waiting on anything: each chain without a repeat now completes.
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) {
      if (a == b) continue;
      const std::string& last = names[3 - a - b];
      std::string inner = "/call?to=" + last + "&path=" + Encode("/member");
      std::string got =
          Fetch(s.port(), "/o/" + names[a] + "/call?to=" + names[b] + "&path=" + Encode(inner))
              .body;
      EXPECT_EQ(got.rfind("ok 200 ok 200 ", 0), 0u) << names[a] << names[b] << last << ": " << got;
    }
  }
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, TwoObjectsCallingEachOtherAtOnceDoNotDeadlock) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir), InMemory())) << s.err();
  uint16_t p = s.port();
  // x and y each hold their own turn until "cross" is set, then call the other: the first call
  // queues behind the other's turn, the second would wait on the first: ECYCLE.
  auto x = std::async(std::launch::async, [p] {
    return Fetch(p, "/o/x/call?to=y&path=/member&hold=cross&tag=x").body;
  });
  auto y = std::async(std::launch::async, [p] {
    return Fetch(p, "/o/y/call?to=x&path=/member&hold=cross&tag=y").body;
  });
  ASSERT_TRUE(WaitForLogLine(s, "probe: holding x;")) << s.err();
  ASSERT_TRUE(WaitForLogLine(s, "probe: holding y;")) << s.err();
  ASSERT_EQ(Fetch(p, "/kvput?k=cross&v=1").status, 200);
  std::multiset<std::string> answers{x.get(), y.get()};
  EXPECT_EQ(answers, (std::multiset<std::string>{"error ECYCLE", "ok 200 1"}));
  EXPECT_TRUE(WaitForLogLine(s, "call cycle: ")) << s.err();
  ExpectCleanStop(s);
}

// ---- KV and vars ----

TEST(DurableObjectsE2E, ObjectsUseKvAndVarsReachWorkersAndObjects) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ProbeConfig(dir), InMemory())) << s.err();
  uint16_t p = s.port();
  EXPECT_EQ(Fetch(p, "/o/k/kvput?k=from-object&v=1").body, "stored");
  EXPECT_EQ(Fetch(p, "/kvget?k=from-object").body, "1");
  EXPECT_EQ(Fetch(p, "/kvput?k=from-worker&v=2").body, "stored");
  EXPECT_EQ(Fetch(p, "/o/k/kvget?k=from-worker").body, "2");
  EXPECT_EQ(Fetch(p, "/var?name=GREETING").body, "hello from vars");
  EXPECT_EQ(Fetch(p, "/o/k/var?name=GREETING").body, "hello from vars");
  HttpResult missing = Fetch(p, "/o/k/var?name=NOPE");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "no var NOPE");
  // Object storage from a worker is refused, with the reason in the log.
  EXPECT_EQ(Fetch(p, "/storage").body, "EINVAL");
  EXPECT_TRUE(WaitForLogLine(s, "only inside a Durable Object")) << s.err();
  ExpectCleanStop(s);
}

// ---- The examples' counters: exact at 100 and 1000 in flight, no request failing ----

void ExpectExactCount(const std::string& example, int in_flight) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(ExampleConfig(dir, example),
                      {"--quiet", "--data", dir.path() + "/data", "--threads", "2"}))
      << s.err();
  auto j = Bench(s.url("/"), 1000, in_flight, "/value");
  EXPECT_EQ(j["completed"], 1000) << j.dump();
  EXPECT_EQ(j["failed"], 0) << j.dump() << s.err();
  EXPECT_EQ(j["verify"]["before"], 0) << j.dump();
  EXPECT_EQ(j["verify"]["after"], 1000) << j.dump();
  EXPECT_EQ(Fetch(s.port(), "/value").body, "1000");
  ExpectCleanStop(s);
}

TEST(DurableObjectsE2E, CounterDoIsExactAtAHundredInFlight) { ExpectExactCount("counter-do", 100); }
TEST(DurableObjectsE2E, CounterDoIsExactAtAThousandInFlight) {
  ExpectExactCount("counter-do", 1000);
}
TEST(DurableObjectsE2E, CounterLockIsExactAtAHundredInFlight) {
  ExpectExactCount("counter-lock", 100);
}
TEST(DurableObjectsE2E, CounterLockIsExactAtAThousandInFlight) {
  ExpectExactCount("counter-lock", 1000);
}

}  // namespace
}  // namespace edgelab::e2e
