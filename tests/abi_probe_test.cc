// tests/abi_probe_test.cc: guest ABI v1 (docs/abi.md) end to end. The real edgelab binary serves
// tests/guests/abi_probe.wasm over real HTTP; each request path runs one probe case (the
// probe's top comment lists them), so every host call, every error code and every bad pointer
// is exercised through the engine, the runtime and the HTTP front exactly as a worker sees them.
// tests/guests/abi_wasi_stubs.wat covers the WASI calls wasi-libc cannot be made to call raw.
//
// One server per test suite (CTest runs each test in its own process, so that is one per test
// there; a plain run of the binary shares it). It runs with one loop thread and
// `[isolates] max = 1`, so every request lands on the same isolate until one faults: the
// module global behind /global then tells, deterministically, whether an isolate was kept
// (the next number) or replaced (1). Tests share the server's KV, so each uses its own keys.
//
// Nothing here waits on a clock: log lines are awaited by a marker request (LogOf), and the
// only time checks compare against the server's own measurements or a one-minute margin.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "tests/server_process.h"

namespace edgelab::e2e {
namespace {

// ---- Helpers that need no server ----

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The lines of `log` that match `pattern` whole, in order.
std::vector<std::string> Matching(const std::string& log, const std::string& pattern) {
  std::regex re(pattern);
  std::vector<std::string> out;
  for (const auto& line : SplitLines(log)) {
    if (std::regex_match(line, re)) out.push_back(line);
  }
  return out;
}

// The etag of a probe "stored <etag>" answer ("" when it is not one).
std::string EtagOf(const HttpResult& put) {
  const std::string kStored = "stored ";
  if (put.status != 200 || put.body.rfind(kStored, 0) != 0) return "";
  return put.body.substr(kStored.size());
}

// The head of a raw HTTP response (status line and headers, CRLF-separated).
std::string HeadOf(const std::string& raw) { return raw.substr(0, raw.find("\r\n\r\n") + 2); }

// An edge.toml in `dir` for the build module `wasm`: binding "KV", one isolate in all.
std::string WriteConfig(const TempDir& dir, const std::string& wasm) {
  return dir.Write("edge.toml", "name = \"probe\"\nmain = \"" + BuildPath(wasm) + "\"\n" +
                                    "[[kv_namespaces]]\nbinding = \"KV\"\nid = \"kv\"\n" +
                                    "[isolates]\nmax = 1\n");
}

// ---- The shared server ----

// A suite's one server for `wasm`, started by SetUpTestSuite and stopped by
// TearDownTestSuite; fixtures reach it through the static helpers.
class Served {
 public:
  static void Start(const std::string& wasm) {
    dir_ = std::make_unique<TempDir>();
    server_ = std::make_unique<ServerProcess>();
    // One loop thread: [isolates] max is divided among loops, and one isolate is the point.
    started_ = server_->Start(WriteConfig(*dir_, wasm), {"--data", ":memory:", "--threads", "1"});
  }
  static void Stop() {
    if (server_ != nullptr && started_) ExpectCleanStop(*server_);
    server_.reset();
    dir_.reset();
  }
  static bool started() { return started_; }
  static ServerProcess& server() { return *server_; }
  static uint16_t port() { return server_->port(); }

  static HttpResult Get(const std::string& target) { return HttpGet(port(), target); }
  static HttpResult Request(const std::string& method, const std::string& target,
                            const std::string& body = "",
                            const std::vector<std::string>& headers = {}) {
    return HttpRequest(port(), method, target, body, headers);
  }
  // The whole raw response to a GET of `target`, head included.
  static std::string Raw(const std::string& target) {
    return RawExchange(
        port(), "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  }

  // The server log lines written while `requests` ran. The server writes a request's log
  // lines before it answers and the access line of a later request after, so once the access
  // line of a marker request sent afterwards has been read, every line `requests` caused has
  // been too: no waiting on a clock, and no hang when a line is missing.
  static std::string LogOf(const std::function<void()>& requests) {
    size_t mark = server_->err().size();
    requests();
    // A path no probe case knows (abi_probe answers 404, abi_wasi_stubs "?"), without a fault.
    std::string marker = "/log-marker/" + std::to_string(++markers_);
    HttpResult r = Get(marker);
    EXPECT_NE(r.status, 0) << "the server is gone";
    EXPECT_TRUE(server_->WaitForLog("GET " + marker + " ")) << server_->err();
    return server_->err().substr(mark);
  }

 private:
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<ServerProcess> server_;
  static inline bool started_ = false;
  static inline int markers_ = 0;
};

// Tests against abi_probe.wasm.
class AbiProbe : public ::testing::Test, public Served {
 protected:
  static void SetUpTestSuite() { Start("tests/guests/abi_probe.wasm"); }
  static void TearDownTestSuite() { Stop(); }
  void SetUp() override { ASSERT_TRUE(started()) << server().err(); }

  // The probe's module global: with one isolate, the isolate's request count since it started
  // serving /global. The next request after a fault gets a fresh isolate, so this answers "1".
  static int NextGlobal() {
    HttpResult r = Get("/global");
    EXPECT_EQ(r.status, 200) << r.body;
    return std::atoi(r.body.c_str());
  }
  static HttpResult Put(const std::string& key, const std::string& value,
                        const std::string& extra = "") {
    return Get("/kv/put?key=" + Encode(key) + "&value=" + Encode(value) + extra);
  }
  static HttpResult KvGet(const std::string& key) { return Get("/kv/get?key=" + Encode(key)); }
};

// ---- Request ----

TEST_F(AbiProbe, MethodEchoesGetPostAndAnyCustomMethod) {
  for (const std::string method : {"GET", "POST", "DELETE", "PURGE"}) {
    HttpResult r = Request(method, "/method");
    EXPECT_EQ(r.status, 200) << method;
    EXPECT_EQ(r.body, method);
  }
}

TEST_F(AbiProbe, UrlEchoesTheTargetAsSentWithItsQuery) {
  HttpResult r = Get("/url?a=1&b=x%20y&c");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/url?a=1&b=x%20y&c");
  EXPECT_EQ(Get("/url").body, "/url");
}

TEST_F(AbiProbe, HeaderFindsTheFirstValueWithTheNameComparedCaseInsensitively) {
  std::vector<std::string> headers{"X-Probe-In: some value", "X-Dup: first", "X-Dup: second",
                                   "X-Empty:"};
  HttpResult r = Request("GET", "/header?name=X-Probe-In", "", headers);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "some value");
  EXPECT_EQ(Request("GET", "/header?name=x-PROBE-in", "", headers).body, "some value");
  EXPECT_EQ(Request("GET", "/header?name=x-dup", "", headers).body, "first");
  r = Request("GET", "/header?name=X-Empty", "", headers);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST_F(AbiProbe, AbsentHeaderIsEnotfound) {
  HttpResult r = Request("GET", "/header?name=X-Absent", "", {"X-Absent-Not: 1"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "ENOTFOUND -1");
}

TEST_F(AbiProbe, HeadersListsEveryHeaderAsSentInOrder) {
  HttpResult r = Request("GET", "/headers", "", {"X-First: 1", "x-lower: two words"});
  EXPECT_EQ(r.status, 200);
  // HttpRequest sends Host and Connection first and Content-Length last.
  EXPECT_EQ(r.body,
            "Host: 127.0.0.1\nConnection: close\nX-First: 1\nx-lower: two words\n"
            "Content-Length: 0\n");
}

TEST_F(AbiProbe, BodyEchoesA100KiBBinaryBodyByteExact) {
  std::string body(100 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131 + i / 256) & 255);
  HttpResult r = Request("POST", "/body", body);
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_TRUE(r.body == body) << "the echo differs from the body sent";
}

TEST_F(AbiProbe, EmptyBodyEchoesEmpty) {
  HttpResult r = Request("POST", "/body");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

// ---- Response ----

TEST_F(AbiProbe, StatusSetsTheResponseStatus) {
  HttpResult r = Get("/status/418");
  EXPECT_EQ(r.status, 418);
  EXPECT_EQ(r.body, "status 418");
  r = Get("/status/599");
  EXPECT_EQ(r.status, 599);
  EXPECT_EQ(r.body, "status 599");
  r = Get("/status/200");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "status 200");
}

TEST_F(AbiProbe, StatusWithoutABodySendsNoBody) {
  for (const std::string code : {"204", "304"}) {
    std::string raw = Raw("/status/" + code);
    EXPECT_EQ(raw.substr(0, 13), "HTTP/1.1 " + code + " ") << raw;
    EXPECT_EQ(raw.substr(raw.find("\r\n\r\n") + 4), "") << raw;
  }
}

TEST_F(AbiProbe, StatusOutOfRangeTrapsAnd500sAndTheIsolateIsReplaced) {
  for (const std::string code : {"99", "100", "199", "600", "0", "-1"}) {
    SCOPED_TRACE("status " + code);
    NextGlobal();  // the isolate exists and has served
    std::string why = "edgelab.resp_status: status " + code + " not in 200-599";
    HttpResult r;
    std::string log = LogOf([&] { r = Get("/status/" + code); });
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body.rfind("worker trapped in ", 0), 0u) << r.body;
    EXPECT_NE(r.body.find(why + "\n"), std::string::npos) << r.body;
    EXPECT_EQ(Matching(log, "error: probe isolate=\\d+: trap in \\S+: " + why).size(), 1u) << log;
    EXPECT_EQ(NextGlobal(), 1) << "the trapped isolate was kept";
  }
}

// No 1xx can be a final response (resp_status traps it): the access log must say what the
// client got. Once, the guest's 150 reached the HTTP front, which sent 500 while the log said 150.
TEST_F(AbiProbe, InformationalStatusIsLoggedAsTheStatusActuallySent) {
  HttpResult r;
  std::string log = LogOf([&] { r = Get("/status/150"); });
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(Matching(log, "GET /status/150 " + std::to_string(r.status) + " .*").size(), 1u)
      << "the access log does not say what the client got (" << r.status << "):\n"
      << log;
}

TEST_F(AbiProbe, HeaderOutAddsTheResponseHeaders) {
  std::string raw = Raw("/header-out?name=X-Custom&value=" + Encode("v 1; x=2"));
  EXPECT_EQ(raw.substr(0, 15), "HTTP/1.1 200 OK") << raw;
  std::string head = HeadOf(raw);
  EXPECT_NE(head.find("\r\nX-Probe: yes\r\n"), std::string::npos) << raw;
  EXPECT_NE(head.find("\r\nX-Custom: v 1; x=2\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(raw.find("\r\n\r\n") + 4), "headers set");
}

TEST_F(AbiProbe, HeaderOutCannotSetContentLength) {
  for (const std::string name : {"Content-Length", "content-length"}) {
    std::string raw = Raw("/header-out?name=" + name + "&value=999");
    std::string head = HeadOf(raw);
    EXPECT_NE(head.find("\r\nContent-Length: 11\r\n"), std::string::npos) << raw;
    EXPECT_EQ(head.find("999"), std::string::npos) << raw;
    EXPECT_EQ(raw.substr(raw.find("\r\n\r\n") + 4), "headers set");
  }
}

TEST_F(AbiProbe, HeaderOutWithCrLfOrAColonInTheNameTraps) {
  const std::string why = "edgelab.resp_header: invalid header name or value";
  for (const std::string target : {"/header-out/crlf", "/header-out?name=Bad%3AName&value=x"}) {
    SCOPED_TRACE(target);
    std::string raw;
    std::string log = LogOf([&] { raw = Raw(target); });
    EXPECT_EQ(raw.substr(0, 12), "HTTP/1.1 500") << raw;
    EXPECT_EQ(raw.find("Injected"), std::string::npos) << raw;
    EXPECT_EQ(raw.find("X-Probe"), std::string::npos) << "a trapped response kept its headers";
    EXPECT_NE(raw.find(why), std::string::npos) << raw;
    EXPECT_EQ(Matching(log, "error: probe isolate=\\d+: trap in \\S+: " + why + ".*").size(), 1u)
        << log;
    EXPECT_EQ(NextGlobal(), 1);
  }
}

// ---- KV ----

TEST_F(AbiProbe, KvPutThenGetRoundTripsTheValueAndItsEtag) {
  HttpResult put = Put("rt/key", "hello world");
  std::string etag = EtagOf(put);
  ASSERT_FALSE(etag.empty()) << put.status << " " << put.body;
  EXPECT_LE(etag.size(), 64u);
  EXPECT_EQ(etag.find_first_of(std::string("\0\n ", 3)), std::string::npos) << etag;
  HttpResult get = KvGet("rt/key");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "hello world\n" + etag);
}

TEST_F(AbiProbe, KvValuesAreBytesNotStrings) {
  const std::string value("a\0b\r\n\xff", 6);
  std::string etag = EtagOf(Put("rt/binary", value));
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(KvGet("rt/binary").body, value + "\n" + etag);
  etag = EtagOf(Put("rt/empty", ""));
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(KvGet("rt/empty").body, "\n" + etag);
}

TEST_F(AbiProbe, KvEveryWriteGivesTheKeyANewEtag) {
  std::set<std::string> etags;
  std::string last;
  for (int i = 0; i < 5; ++i) {
    last = EtagOf(Put("etag/key", "v" + std::to_string(i)));
    ASSERT_FALSE(last.empty());
    etags.insert(last);
  }
  EXPECT_EQ(etags.size(), 5u);
  EXPECT_EQ(KvGet("etag/key").body, "v4\n" + last);
}

TEST_F(AbiProbe, KvCasStoresWithTheCurrentEtagAndIs412WithAStaleOne) {
  std::string first = EtagOf(Put("cas/key", "one"));
  ASSERT_FALSE(first.empty());
  HttpResult cas = Get("/kv/cas?key=cas%2Fkey&value=two&etag=" + Encode(first));
  std::string second = EtagOf(cas);
  ASSERT_FALSE(second.empty()) << cas.status << " " << cas.body;
  EXPECT_NE(second, first);
  HttpResult stale = Get("/kv/cas?key=cas%2Fkey&value=three&etag=" + Encode(first));
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(stale.body, "precondition failed");
  EXPECT_EQ(KvGet("cas/key").body, "two\n" + second) << "a failed CAS wrote";
  HttpResult missing = Get("/kv/cas?key=cas%2Fmissing&value=x&etag=" + Encode(second));
  EXPECT_EQ(missing.status, 412);
  EXPECT_EQ(missing.body, "precondition failed");
  EXPECT_EQ(KvGet("cas/missing").body, "ENOTFOUND -1");
}

TEST_F(AbiProbe, KvCreateTwiceIs412TheSecondTime) {
  HttpResult first = Get("/kv/create?key=create%2Fkey&value=first");
  std::string etag = EtagOf(first);
  ASSERT_FALSE(etag.empty()) << first.status << " " << first.body;
  HttpResult second = Get("/kv/create?key=create%2Fkey&value=second");
  EXPECT_EQ(second.status, 412);
  EXPECT_EQ(second.body, "precondition failed");
  EXPECT_EQ(KvGet("create/key").body, "first\n" + etag);
}

TEST_F(AbiProbe, KvGetStrongReadsWhatKvGetReadsAtOneLocation) {
  HttpResult put = Put("strong/key", "hello");
  std::string etag = EtagOf(put);
  ASSERT_FALSE(etag.empty()) << put.status << " " << put.body;
  HttpResult get = Get("/kv/get?key=strong%2Fkey&strong=1");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "hello\n" + etag);
  HttpResult missing = Get("/kv/get?key=strong%2Fnever-written&strong=1");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "ENOTFOUND -1");
}

TEST_F(AbiProbe, KvDeleteThenGetIsNotFound) {
  ASSERT_FALSE(EtagOf(Put("del/key", "v", "&meta=m")).empty());
  HttpResult del = Get("/kv/delete?key=del%2Fkey");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(del.body, "deleted");
  HttpResult get = KvGet("del/key");
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(get.body, "ENOTFOUND -1");
  HttpResult meta = Get("/kv/meta?key=del%2Fkey");
  EXPECT_EQ(meta.status, 404);
  EXPECT_EQ(meta.body, "ENOTFOUND -1");
  // Deleting a missing key succeeds too.
  del = Get("/kv/delete?key=del%2Fnever-written");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(del.body, "deleted");
  // A deleted key can be created again.
  EXPECT_FALSE(EtagOf(Get("/kv/create?key=del%2Fkey&value=again")).empty());
}

TEST_F(AbiProbe, KvListPagesThroughAPrefixReturningEveryKeyOnceInOrder) {
  std::vector<std::string> want;
  for (int i = 0; i < 25; ++i) {
    char key[16];
    std::snprintf(key, sizeof(key), "list/%02d", i);
    want.push_back(key);
  }
  // Written out of order, with neighbours just outside the prefix on both sides.
  for (int i = 24; i >= 0; --i) ASSERT_FALSE(EtagOf(Put(want[i], "v")).empty());
  for (const std::string key : {"list", "list.", "list0", "lisz/00", "lisa/00"}) {
    ASSERT_FALSE(EtagOf(Put(key, "outside")).empty());
  }
  std::vector<std::string> got;
  std::string cursor;
  int pages = 0;
  do {
    ASSERT_LT(++pages, 10) << "the listing does not end";
    HttpResult r = Get("/kv/list?prefix=list%2F&limit=10&cursor=" + Encode(cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    std::vector<std::string> lines = SplitLines(r.body);
    ASSERT_FALSE(lines.empty());
    const std::string kCursor = "cursor: ";
    ASSERT_EQ(lines.back().rfind(kCursor, 0), 0u) << r.body;
    cursor = lines.back().substr(kCursor.size());
    lines.pop_back();
    EXPECT_EQ(lines.size(), pages < 3 ? 10u : 5u) << r.body;
    got.insert(got.end(), lines.begin(), lines.end());
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(got, want);
}

TEST_F(AbiProbe, KvListWithoutLimitReturnsAllAndLimitOver1000IsEinval) {
  for (const std::string key : {"all/b", "all/a", "all/c"})
    ASSERT_FALSE(EtagOf(Put(key, "")).empty());
  HttpResult r = Get("/kv/list?prefix=all%2F");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "all/a\nall/b\nall/c\ncursor: ");
  r = Get("/kv/list?prefix=all%2F&limit=1000");
  EXPECT_EQ(r.body, "all/a\nall/b\nall/c\ncursor: ");
  r = Get("/kv/list?prefix=none%2F");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "cursor: ");
  r = Get("/kv/list?prefix=all%2F&limit=1001");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "EINVAL -3");
}

TEST_F(AbiProbe, KvMetaReturnsTheMetadataOfTheLastWrite) {
  ASSERT_FALSE(EtagOf(Put("meta/key", "v", "&meta=" + Encode("{\"a\": 1}"))).empty());
  HttpResult r = Get("/kv/meta?key=meta%2Fkey");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\": 1}");
  // A put without metadata leaves none (0 length).
  ASSERT_FALSE(EtagOf(Put("meta/key", "v2")).empty());
  r = Get("/kv/meta?key=meta%2Fkey");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  r = Get("/kv/meta?key=meta%2Fmissing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "ENOTFOUND -1");
}

TEST_F(AbiProbe, KvMetadataOf1024BytesIsStoredAnd1025IsEinval) {
  std::string meta(1024, 'm');
  ASSERT_FALSE(EtagOf(Put("meta/max", "v", "&meta=" + meta)).empty());
  EXPECT_EQ(Get("/kv/meta?key=meta%2Fmax").body, meta);
  HttpResult r = Get("/kv/bigmeta");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "EINVAL -3");
  EXPECT_EQ(KvGet("bigmeta").body, "ENOTFOUND -1");
}

TEST_F(AbiProbe, KvTtlPutIsStoredAndReadable) {
  HttpResult put = Get("/kv/ttl?key=ttl%2Fkey&ttl=3600&value=lives");
  std::string etag = EtagOf(put);
  ASSERT_FALSE(etag.empty()) << put.status << " " << put.body;
  EXPECT_EQ(KvGet("ttl/key").body, "lives\n" + etag);
  put = Get("/kv/put?key=ttl%2Fabsolute&value=later&expiration=4102444800");  // 2100-01-01
  etag = EtagOf(put);
  ASSERT_FALSE(etag.empty()) << put.status << " " << put.body;
  EXPECT_EQ(KvGet("ttl/absolute").body, "later\n" + etag);
}

// An expiration already past needs no waiting: the entry is expired when written.
TEST_F(AbiProbe, KvExpiredEntryIsInvisibleAndCreatableAgain) {
  ASSERT_FALSE(EtagOf(Put("exp/key", "gone", "&expiration=1")).empty());
  EXPECT_EQ(KvGet("exp/key").body, "ENOTFOUND -1");
  EXPECT_EQ(Get("/kv/meta?key=exp%2Fkey").body, "ENOTFOUND -1");
  EXPECT_EQ(Get("/kv/list?prefix=exp%2F").body, "cursor: ");
  HttpResult created = Get("/kv/create?key=exp%2Fkey&value=new");
  std::string etag = EtagOf(created);
  ASSERT_FALSE(etag.empty()) << created.status << " " << created.body;
  EXPECT_EQ(KvGet("exp/key").body, "new\n" + etag);
}

TEST_F(AbiProbe, KvExpirationWinsOverTtl) {
  ASSERT_FALSE(EtagOf(Put("exp/both", "v", "&ttl=3600&expiration=1")).empty());
  EXPECT_EQ(KvGet("exp/both").body, "ENOTFOUND -1");
}

TEST_F(AbiProbe, KvNegativeTtlOrExpirationIsEinval) {
  for (const std::string target :
       {"/kv/ttl?key=neg%2Fttl&ttl=-1", "/kv/put?key=neg%2Fexp&expiration=-5"}) {
    HttpResult r = Get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body, "EINVAL -3") << target;
  }
  EXPECT_EQ(KvGet("neg/ttl").body, "ENOTFOUND -1");
  EXPECT_EQ(KvGet("neg/exp").body, "ENOTFOUND -1");
}

TEST_F(AbiProbe, KvKeyOf512BytesWorks) {
  HttpResult put = Get("/kv/maxkey");
  std::string etag = EtagOf(put);
  ASSERT_FALSE(etag.empty()) << put.status << " " << put.body;
  EXPECT_EQ(KvGet(std::string(512, 'k')).body, "max\n" + etag);
}

TEST_F(AbiProbe, KvKeyOf513BytesIsEinvalForEveryOperation) {
  for (const std::string op : {"get", "put", "delete", "meta"}) {
    HttpResult r = Get("/kv/bigkey?op=" + op);
    EXPECT_EQ(r.status, 400) << op << ": " << r.body;
    EXPECT_EQ(r.body, "EINVAL -3") << op;
  }
  HttpResult r = Get("/kv/list?prefix=" + std::string(513, 'k'));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "EINVAL -3");
}

TEST_F(AbiProbe, KvBadHandleIsEinval) {
  HttpResult r = Get("/kv/badhandle");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "EINVAL -3");
}

TEST_F(AbiProbe, KvPutOptionsWithUnknownConditionOrNonZeroReservedAreEinval) {
  for (const std::string target : {"/kv/badopts", "/kv/badreserved"}) {
    HttpResult r = Get(target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    EXPECT_EQ(r.body, "EINVAL -3") << target;
  }
  EXPECT_EQ(KvGet("badopts").body, "ENOTFOUND -1") << "refused options wrote";
}

TEST_F(AbiProbe, KvOpenOfAMissingBindingIsEnotfound) {
  HttpResult r = Get("/kv/nobinding");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "ENOTFOUND -1");
}

// ---- Time, randomness, logging, exit, globals ----

TEST_F(AbiProbe, SleepAnswersAfterSleepingAtLeastThatLong) {
  HttpResult r;
  std::string log = LogOf([&] { r = Get("/sleep/30"); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slept 30");
  EXPECT_EQ(Matching(log, "probe isolate=\\d+ info: sleeping 30 ms").size(), 1u) << log;
  // The server's own measure of the request (its access line) is a lower bound.
  std::vector<std::string> access =
      Matching(log, "GET /sleep/30 200 [0-9.]+ms cpu=[0-9.]+ms isolate=\\d+");
  ASSERT_EQ(access.size(), 1u) << log;
  double ms = std::atof(access[0].c_str() + std::string("GET /sleep/30 200 ").size());
  EXPECT_GE(ms, 30.0) << access[0];
}

TEST_F(AbiProbe, NowIsTheWallClockInMilliseconds) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  int64_t before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  HttpResult r = Get("/now");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(std::regex_match(r.body, std::regex("[0-9]{13}"))) << r.body;
  int64_t now = std::stoll(r.body);
  EXPECT_LE(std::llabs(now - before), 60'000) << "guest " << now << ", test " << before;
}

TEST_F(AbiProbe, WasiClocksGiveRealtimeMonotonicAndAMicrosecondResolution) {
  using std::chrono::duration_cast;
  using std::chrono::nanoseconds;
  using std::chrono::system_clock;
  std::regex re("realtime ([0-9]+)\nmonotonic ([0-9]+)\nres ([0-9]+)");
  int64_t test_ns = duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
  std::smatch first, second;
  HttpResult a = Get("/clock");
  HttpResult b = Get("/clock");
  ASSERT_TRUE(std::regex_match(a.body, first, re)) << a.body;
  ASSERT_TRUE(std::regex_match(b.body, second, re)) << b.body;
  EXPECT_LE(std::llabs(std::stoll(first[1]) - test_ns), 60'000'000'000LL) << a.body;
  EXPECT_GE(std::stoll(second[2]), std::stoll(first[2])) << "monotonic went back";
  EXPECT_EQ(first[3], "1000");
}

TEST_F(AbiProbe, RandomGivesDifferentBytesEachCall) {
  for (const std::string target : {"/random", "/random-wasi"}) {
    HttpResult a = Get(target), b = Get(target);
    EXPECT_EQ(a.status, 200) << target;
    EXPECT_TRUE(std::regex_match(a.body, std::regex("[0-9a-f]{32}"))) << a.body;
    EXPECT_TRUE(std::regex_match(b.body, std::regex("[0-9a-f]{32}"))) << b.body;
    EXPECT_NE(a.body, b.body) << target;
  }
}

TEST_F(AbiProbe, LogWritesOneServerLineAtEachLevel) {
  HttpResult r;
  std::string log = LogOf([&] { r = Get("/log"); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "logged");
  std::vector<std::string> lines =
      Matching(log, "probe isolate=\\d+ (debug|info|warn|error): abi_probe log .*");
  ASSERT_EQ(lines.size(), 4u) << log;
  const char* levels[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; ++i) {
    std::string want = std::string(levels[i]) + ": abi_probe log " + levels[i];
    EXPECT_EQ(lines[i].substr(lines[i].size() - want.size()), want) << lines[i];
  }
}

TEST_F(AbiProbe, PrintfStdoutLinesAreInfoAndStderrLinesAreError) {
  HttpResult r;
  std::string log = LogOf([&] { r = Get("/printf"); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "printed");
  std::vector<std::string> lines = Matching(log, "probe isolate=\\d+ \\w+: abi_probe .*");
  ASSERT_EQ(lines.size(), 3u) << log;
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(".* info: abi_probe stdout"))) << lines[0];
  // Written in two pieces, logged as one line.
  EXPECT_TRUE(std::regex_match(lines[1], std::regex(".* info: abi_probe partial line")))
      << lines[1];
  EXPECT_TRUE(std::regex_match(lines[2], std::regex(".* error: abi_probe stderr"))) << lines[2];
}

TEST_F(AbiProbe, ExitZeroSendsTheResponseSoFarAndDiscardsTheIsolate) {
  NextGlobal();
  HttpResult r = Get("/exit/0");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "exiting 0");
  EXPECT_EQ(NextGlobal(), 1) << "the exited isolate was kept";
  EXPECT_EQ(Get("/method").body, "GET");
}

TEST_F(AbiProbe, ExitNonZeroWithoutAStatusIs500WithTheResponseSoFar) {
  NextGlobal();
  HttpResult r = Get("/exit/3");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "exiting 3");
  EXPECT_EQ(NextGlobal(), 1) << "the exited isolate was kept";
  EXPECT_EQ(Get("/method").body, "GET");
}

TEST_F(AbiProbe, ModuleGlobalPersistsAcrossRequestsWithinAnIsolate) {
  int first = NextGlobal();
  EXPECT_GE(first, 1);
  EXPECT_EQ(NextGlobal(), first + 1);
  EXPECT_EQ(Get("/method").body, "GET");
  EXPECT_EQ(NextGlobal(), first + 2);
}

// A kv_put that traps on a bad pointer checked every range before touching the store.
TEST_F(AbiProbe, KvPutThatTrapsOnABadPointerWritesNothing) {
  std::string etag = EtagOf(Put("badptr", "before"));
  ASSERT_FALSE(etag.empty());
  for (const std::string fn : {"kv_put_value", "kv_put_opts", "kv_put_opts_etag",
                               "kv_put_opts_metadata", "kv_put_opts_out_etag"}) {
    for (const std::string at : {"high", "end", "past"}) {
      HttpResult r = Get("/badptr/" + fn + "?at=" + at);
      EXPECT_EQ(r.status, 500) << fn << " " << at << ": " << r.body;
      EXPECT_EQ(KvGet("badptr").body, "before\n" + etag) << fn << " " << at << " wrote";
    }
  }
}

// ---- Bad pointers: every (ptr, len) of every import the probe can reach ----

struct BadPtrCase {
  const char* name;    // the probe's case: /badptr/<name>
  const char* module;  // the import's module ...
  const char* fn;      // ... and name: the one the trap must name
};

// Every case of CallWithBadPtr in tests/guests/abi_probe.c.
constexpr BadPtrCase kBadPtrCases[] = {
    {"req_method", "edgelab", "req_method"},
    {"req_url", "edgelab", "req_url"},
    {"req_header", "edgelab", "req_header"},
    {"req_header_buf", "edgelab", "req_header"},
    {"req_headers", "edgelab", "req_headers"},
    {"req_body", "edgelab", "req_body"},
    {"resp_header", "edgelab", "resp_header"},
    {"resp_header_value", "edgelab", "resp_header"},
    {"resp_write", "edgelab", "resp_write"},
    {"kv_open", "edgelab", "kv_open"},
    {"kv_get", "edgelab", "kv_get"},
    {"kv_get_buf", "edgelab", "kv_get"},
    {"kv_get_etag", "edgelab", "kv_get"},
    {"kv_get_strong", "edgelab", "kv_get_strong"},
    {"kv_get_strong_buf", "edgelab", "kv_get_strong"},
    {"kv_get_strong_etag", "edgelab", "kv_get_strong"},
    {"kv_get_metadata", "edgelab", "kv_get_metadata"},
    {"kv_get_metadata_buf", "edgelab", "kv_get_metadata"},
    {"kv_put", "edgelab", "kv_put"},
    {"kv_put_value", "edgelab", "kv_put"},
    {"kv_put_opts", "edgelab", "kv_put"},
    {"kv_put_opts_etag", "edgelab", "kv_put"},
    {"kv_put_opts_metadata", "edgelab", "kv_put"},
    {"kv_put_opts_out_etag", "edgelab", "kv_put"},
    {"kv_delete", "edgelab", "kv_delete"},
    {"kv_list", "edgelab", "kv_list"},
    {"kv_list_cursor", "edgelab", "kv_list"},
    {"kv_list_buf", "edgelab", "kv_list"},
    {"random", "edgelab", "random"},
    {"log", "edgelab", "log"},
    {"fd_write", "wasi_snapshot_preview1", "fd_write"},
    {"fd_write_buf", "wasi_snapshot_preview1", "fd_write"},
    {"fd_write_nwritten", "wasi_snapshot_preview1", "fd_write"},
    {"random_get", "wasi_snapshot_preview1", "random_get"},
    {"clock_time_get", "wasi_snapshot_preview1", "clock_time_get"},
    {"clock_res_get", "wasi_snapshot_preview1", "clock_res_get"},
    {"fd_fdstat_get", "wasi_snapshot_preview1", "fd_fdstat_get"},
    {"args_sizes_get", "wasi_snapshot_preview1", "args_sizes_get"},
    {"environ_sizes_get", "wasi_snapshot_preview1", "environ_sizes_get"},
};

// Where the probe puts the bad pointer (its BadPtr()): memory.size is the memory's bytes.
enum class At { kHigh, kEnd, kPast };
const char* AtName(At at) { return at == At::kHigh ? "high" : at == At::kEnd ? "end" : "past"; }

// The pointer the probe passes for `at`, given the memory size the host reported.
uint64_t ExpectedPtr(At at, uint64_t memory) {
  return at == At::kHigh ? 0xFFFFFFF0u : at == At::kEnd ? memory - 2 : memory;
}

// The trap message the host must give, for `c`, as a regex capturing (ptr, memory). docs/abi.md
// names edgelab's functions "edgelab.<fn>"; a WASI function may carry either module's name, but
// its own.
std::string TrapPattern(const BadPtrCase& c) {
  std::string module(c.module);
  if (module != "edgelab") module = "(?:edgelab|" + module + ")";
  return module + "\\." + c.fn +
         ": pointer out of bounds \\(ptr=(\\d+), len=\\d+, memory=(\\d+)\\)";
}

void PrintTo(const BadPtrCase& c, std::ostream* os) { *os << c.name; }
void PrintTo(At at, std::ostream* os) { *os << AtName(at); }

class AbiProbeBadPtr : public AbiProbe,
                       public ::testing::WithParamInterface<std::tuple<BadPtrCase, At>> {};

TEST_P(AbiProbeBadPtr, TrapsWith500NamesTheFunctionAndTheIsolateIsReplaced) {
  const auto& [c, at] = GetParam();
  NextGlobal();  // an isolate exists and has served
  HttpResult r;
  std::string target = std::string("/badptr/") + c.name + "?at=" + AtName(at);
  std::string log = LogOf([&] { r = Get(target); });
  EXPECT_EQ(r.status, 500) << r.body;

  std::regex trap(TrapPattern(c));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.body, m, trap)) << "answer: " << r.body;
  EXPECT_EQ(r.body.rfind("worker trapped in ", 0), 0u) << r.body;
  uint64_t memory = std::stoull(m[2]);
  EXPECT_EQ(memory % 65536, 0u) << r.body;
  EXPECT_EQ(std::stoull(m[1]), ExpectedPtr(at, memory)) << r.body;

  std::vector<std::string> lines =
      Matching(log, "error: probe isolate=\\d+: trap in \\S+: " + TrapPattern(c));
  EXPECT_EQ(lines.size(), 1u) << "server log:\n" << log;

  // The faulted isolate is gone: the next request runs on a fresh one, and succeeds.
  EXPECT_EQ(NextGlobal(), 1) << "the faulted isolate was kept";
  EXPECT_EQ(Get("/method").body, "GET");
}

INSTANTIATE_TEST_SUITE_P(EveryPointer, AbiProbeBadPtr,
                         ::testing::Combine(::testing::ValuesIn(kBadPtrCases),
                                            ::testing::Values(At::kHigh, At::kEnd, At::kPast)),
                         [](const ::testing::TestParamInfo<std::tuple<BadPtrCase, At>>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  AtName(std::get<1>(info.param));
                         });

TEST_F(AbiProbe, UnknownBadPointerCaseIs404) {
  HttpResult r = Get("/badptr/no_such_fn");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no bad-pointer case no_such_fn");
}

// ---- Expiry arithmetic at the edge of i64: each on a server of its own, since a sanitized
// host may abort on signed overflow ----

// A put that answers "stored" must be readable; one the host cannot honour must be EINVAL.
void ExpectStoredAndReadableOrEinval(const std::string& query) {
  TempDir dir;
  ServerProcess s;
  ASSERT_TRUE(s.Start(WriteConfig(dir, "tests/guests/abi_probe.wasm"),
                      {"--data", ":memory:", "--threads", "1"}))
      << s.err();
  HttpResult put = HttpGet(s.port(), "/kv/put?key=far&value=v&" + query);
  if (put.status == 400) {
    EXPECT_EQ(put.body, "EINVAL -3");
  } else {
    std::string etag = EtagOf(put);
    ASSERT_FALSE(etag.empty()) << put.status << " " << put.body << "\n" << s.err();
    HttpResult get = HttpGet(s.port(), "/kv/get?key=far");
    EXPECT_EQ(get.status, 200) << "put answered \"" << put.body << "\" but the key is gone";
    EXPECT_EQ(get.body, "v\n" + etag);
  }
  ExpectCleanStop(s);
}

TEST(AbiProbeKvExpiryLimits, HugeTtlIsStoredAndReadableOrEinval) {
  ExpectStoredAndReadableOrEinval("ttl=9223372036854775807");
}

TEST(AbiProbeKvExpiryLimits, TtlWhoseDeadlineOverflowsIsStoredAndReadableOrEinval) {
  ExpectStoredAndReadableOrEinval("ttl=9223372036854775");
}

TEST(AbiProbeKvExpiryLimits, HugeExpirationIsStoredAndReadableOrEinval) {
  ExpectStoredAndReadableOrEinval("expiration=9223372036854775807");
}

// ---- WASI calls wasi-libc does not reach raw: tests/guests/abi_wasi_stubs.wat ----

class AbiWasiStubs : public ::testing::Test, public Served {
 protected:
  static void SetUpTestSuite() { Start("tests/guests/abi_wasi_stubs.wasm"); }
  static void TearDownTestSuite() { Stop(); }
  void SetUp() override { ASSERT_TRUE(started()) << server().err(); }
};

TEST_F(AbiWasiStubs, CallsWithoutFilesAnswerAsDocumentedAndWriteNothing) {
  struct Case {
    const char* path;
    const char* answer;
  };
  // fd_read, fd_seek, fd_prestat_get, fd_prestat_dir_name, fd_close: EBADF (8); sched_yield,
  // args_get, environ_get: success (0); path_open is not in the subset: ENOSYS (52).
  const Case kCases[] = {{"/ao", "8"}, {"/bo", "8"}, {"/co", "8"}, {"/do", "8"}, {"/eo", "8"},
                         {"/fo", "0"}, {"/go", "0"}, {"/ho", "0"}, {"/io", "52"}};
  for (const Case& c : kCases) {
    HttpResult r = Get(c.path);
    EXPECT_EQ(r.status, 200) << c.path << ": " << r.body;
    EXPECT_EQ(r.body, c.answer) << c.path;
  }
  EXPECT_EQ(Get("/zo").body, "?");
}

struct StubBadPtrCase {
  const char* path;  // "/<call><where>" of abi_wasi_stubs.wat
  const char* fn;
};

// The calls with a pointer the host could check even though it answers EBADF without using
// it. args_get and environ_get are left out: with no arguments their ranges are empty.
constexpr StubBadPtrCase kStubBadPtrCases[] = {
    {"/ah", "fd_read"},
    {"/ap", "fd_read"},
    {"/bh", "fd_seek"},
    {"/bp", "fd_seek"},
    {"/ch", "fd_prestat_get"},
    {"/cp", "fd_prestat_get"},
    {"/dh", "fd_prestat_dir_name"},
    {"/dp", "fd_prestat_dir_name"},
};

void PrintTo(const StubBadPtrCase& c, std::ostream* os) { *os << c.path; }

class AbiWasiStubsBadPtr : public AbiWasiStubs,
                           public ::testing::WithParamInterface<StubBadPtrCase> {};

// docs/abi.md: "Every pointer is bounds-checked. A (ptr, len) that does not lie inside the
// guest's memory traps the guest" -- also when the call fails anyway (as req_header does for
// its buffer when the header is missing).
TEST_P(AbiWasiStubsBadPtr, Traps) {
  const StubBadPtrCase& c = GetParam();
  HttpResult r;
  std::string log = LogOf([&] { r = Get(c.path); });
  EXPECT_EQ(r.status, 500) << "answered: " << r.body;
  std::string why =
      std::string("(?:edgelab|wasi_snapshot_preview1)\\.") + c.fn + ": pointer out of bounds .*";
  EXPECT_EQ(Matching(log, "error: probe isolate=\\d+: trap in \\S+: " + why).size(), 1u) << log;
  EXPECT_EQ(Get("/fo").body, "0") << "the server stopped serving";
}

INSTANTIATE_TEST_SUITE_P(PointerImports, AbiWasiStubsBadPtr, ::testing::ValuesIn(kStubBadPtrCases),
                         [](const ::testing::TestParamInfo<StubBadPtrCase>& info) {
                           return std::string(info.param.fn) + "_" +
                                  (info.param.path[2] == 'h' ? "high" : "past");
                         });

}  // namespace
}  // namespace edgelab::e2e
