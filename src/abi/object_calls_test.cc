// Tests for the vars and Durable Object host functions, called directly on a
// fake guest memory as abi_test.cc does: stubs against a fake
// ObjectNamespace that records what it was sent, and the calls inside an
// object against objects::Storage over objects::MemoryBackend (or a backend
// that fails every call).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <memory>

#include "abi/context.h"
#include "abi/host.h"
#include "abi/usage.h"
#include "objects/backend.h"
#include "objects/storage.h"
#include "sched/real_scheduler.h"
#include "testing/host_call.h"

namespace edgelab::abi {
namespace {

constexpr uint32_t kMemBytes = 512 * 1024;  // room for a value over the 128 KiB limit
constexpr uint32_t kBad = 0xFFFFFFF0u;      // far outside the memory
constexpr int32_t kENotFound = -1, kEInval = -3, kEIO = -4, kEUnavailable = -5;

// 64 lower-case hex characters from `x`: the form of an object id.
std::string HexId(uint64_t x) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 64; ++i) id.push_back(kDigits[(x >> (4 * (i % 16))) & 15]);
  return id;
}

// An ObjectNamespace that records every request it is sent and answers
// `response`, or `error` when that is set.
class FakeNamespace final : public ObjectNamespace {
 public:
  std::string IdFromName(std::string_view name) const override {
    return HexId(std::hash<std::string_view>{}(name));
  }
  std::string NewUniqueId(Context& caller) const override { return HexId(caller.sched().Random()); }
  bool ValidId(std::string_view id) const override {
    return id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  }
  Result<Response> Fetch(Context&, std::string_view id, Request req) override {
    ids.emplace_back(id);
    requests.push_back(std::move(req));
    if (!error.ok()) return error;
    return response;
  }

  std::vector<std::string> ids;
  std::vector<Request> requests;
  Response response;
  Status error;  // answered instead of `response` when not OK
};

// A backend whose every call fails, as a dead disk would.
class FailingBackend final : public objects::Backend {
 public:
  Result<std::optional<std::string>> Get(const objects::ObjectKey&, std::string_view) override {
    return Fail();
  }
  Result<objects::KeyValues> List(const objects::ObjectKey&, const objects::ListOptions&) override {
    return Fail();
  }
  Result<std::optional<int64_t>> GetAlarm(const objects::ObjectKey&) override { return Fail(); }
  Result<std::vector<objects::StoredAlarm>> Alarms() override { return Fail(); }
  Status Commit(const std::vector<objects::ObjectBatch>&) override { return Fail(); }
  Status Flush() override { return Fail(); }

 private:
  static Status Fail() { return Status::IOError("test.db: disk failed"); }
};

class ObjectCallsTest : public ::testing::Test {
 protected:
  ObjectCallsTest()
      : bindings_{{"COUNTER", &ns_}, {"OTHER", &other_}},
        ctx_(&sched_, &no_kv_,
             [this](LogLevel level, std::string_view msg) {
               logs_.push_back(std::to_string(static_cast<int>(level)) + " " + std::string(msg));
             }),
        key_{"Counter", HexId(42)},
        storage_(&backend_, key_),
        mem_(kMemBytes, 0) {
    ctx_.set_objects(&bindings_);
    ctx_.set_vars(&vars_);
    ctx_.set_usage(&usage_);
  }

  // From now on the calls run inside object key_ (as during its do_fetch),
  // over `storage` (default: storage_).
  void EnterObject(objects::Storage* storage = nullptr) {
    ctx_.set_object({&key_, storage != nullptr ? storage : &storage_});
  }

  // Calls edgelab.name with `args`; returns the outcome and leaves results.
  HostOutcome Call(std::string_view name, std::vector<uint64_t> args) {
    test::HostCallResult r = test::CallHost(&ctx_, mem_, kModule, name, std::move(args));
    results_ = std::move(r.results);
    last_cost_ = r.cost;
    return r.outcome;
  }
  int32_t CallI32(std::string_view name, std::vector<uint64_t> args) {
    HostOutcome out = Call(name, std::move(args));
    EXPECT_EQ(out.kind, HostOutcome::Kind::kReturn) << name << ": " << out.message;
    return static_cast<int32_t>(results_.at(0));
  }
  int64_t CallI64(std::string_view name, std::vector<uint64_t> args) {
    HostOutcome out = Call(name, std::move(args));
    EXPECT_EQ(out.kind, HostOutcome::Kind::kReturn) << name << ": " << out.message;
    return static_cast<int64_t>(results_.at(0));
  }

  // Places `s` in guest memory after everything placed before; returns its
  // address. Output buffers live below kData.
  uint32_t Place(std::string_view s) {
    EDGELAB_CHECK(next_ + s.size() <= kMemBytes);
    std::memcpy(mem_.data() + next_, s.data(), s.size());
    uint32_t at = next_;
    next_ += static_cast<uint32_t>(s.size());
    return at;
  }
  uint32_t PlaceU32s(std::vector<uint32_t> v) {
    return Place(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  }
  std::string Get(uint32_t at, uint32_t len) {
    return std::string(reinterpret_cast<char*>(mem_.data() + at), len);
  }
  uint32_t U32At(uint32_t at) {
    uint32_t v;
    std::memcpy(&v, mem_.data() + at, 4);
    return v;
  }

  // An edgelab_do_request pointing at copies of its arguments.
  uint32_t PlaceRequest(std::string_view method, std::string_view url, std::string_view headers,
                        std::string_view body) {
    auto len = [](std::string_view s) { return static_cast<uint32_t>(s.size()); };
    return PlaceU32s({Place(method), len(method), Place(url), len(url), Place(headers),
                      len(headers), Place(body), len(body)});
  }
  // An edgelab_storage_list_options pointing at copies of its arguments.
  uint32_t PlaceListOptions(std::string_view prefix, std::string_view start, std::string_view end,
                            uint32_t limit) {
    auto len = [](std::string_view s) { return static_cast<uint32_t>(s.size()); };
    return PlaceU32s(
        {Place(prefix), len(prefix), Place(start), len(start), Place(end), len(end), limit});
  }
  // Sends a GET for object "a" through COUNTER; returns do_fetch's answer.
  int32_t FetchA() {
    uint32_t id = Place(ns_.IdFromName("a"));
    return CallI32("do_fetch", {0, id, 64, PlaceRequest("", "", "", "")});
  }

  int32_t StoragePut(std::string_view key, std::string_view value) {
    return CallI32("storage_put", {Place(key), key.size(), Place(value), value.size()});
  }
  // storage_get's value of `key`, or its error code as a string.
  std::string StorageGet(std::string_view key) {
    int32_t n = CallI32("storage_get", {Place(key), key.size(), kOut, kOutCap});
    return n < 0 ? std::to_string(n) : Get(kOut, std::min(static_cast<uint32_t>(n), kOutCap));
  }
  // Lists with `opts` and decodes the listing (count, then key_len, key,
  // value_len, value each), checking its length is the one returned.
  objects::KeyValues List(uint32_t opts) {
    int32_t n = CallI32("storage_list", {opts, kOut, kOutCap});
    EXPECT_GE(n, 4);
    objects::KeyValues pairs;
    uint32_t at = kOut + 4;
    for (uint32_t i = 0, count = U32At(kOut); i < count; ++i) {
      std::string key = Get(at + 4, U32At(at));
      at += 4 + static_cast<uint32_t>(key.size());
      std::string value = Get(at + 4, U32At(at));
      at += 4 + static_cast<uint32_t>(value.size());
      pairs.emplace_back(std::move(key), std::move(value));
    }
    EXPECT_EQ(at - kOut, static_cast<uint32_t>(n));
    return pairs;
  }
  bool Logged(std::string_view needle) const {
    for (const auto& line : logs_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  static constexpr uint32_t kOut = 1024, kOutCap = 8192, kData = kOut + kOutCap;

  sched::RealScheduler sched_;
  FakeNamespace ns_, other_;
  std::vector<ObjectBinding> bindings_;
  std::vector<KvBinding> no_kv_;
  Vars vars_;
  std::vector<std::string> logs_;
  Context ctx_;
  objects::MemoryBackend backend_;
  objects::ObjectKey key_;
  objects::Storage storage_;
  std::vector<uint8_t> mem_;
  uint32_t next_ = kData;
  std::vector<uint64_t> results_;
  uint64_t last_cost_ = 0;  // HostCall::bytes of the last call
  Usage usage_;             // what the calls counted (set on ctx_)
};

// ---- the import table ----

TEST_F(ObjectCallsTest, NewImportsHaveTheSignaturesDocsAbiMdGives) {
  constexpr ValType I32 = ValType::kI32, I64 = ValType::kI64;
  struct Sig {
    std::string_view name;
    std::vector<ValType> params, results;
  };
  const std::vector<Sig> sigs = {
      {"var_get", {I32, I32, I32, I32}, {I32}},
      {"do_namespace", {I32, I32}, {I32}},
      {"do_id_from_name", {I32, I32, I32, I32, I32}, {I32}},
      {"do_new_unique_id", {I32, I32, I32}, {I32}},
      {"do_fetch", {I32, I32, I32, I32}, {I32}},
      {"do_response_status", {I32}, {I32}},
      {"do_response_headers", {I32, I32, I32}, {I32}},
      {"do_response_body", {I32, I32, I32}, {I32}},
      {"do_response_close", {I32}, {I32}},
      {"do_self_id", {I32, I32}, {I32}},
      {"storage_get", {I32, I32, I32, I32}, {I32}},
      {"storage_put", {I32, I32, I32, I32}, {I32}},
      {"storage_delete", {I32, I32}, {I32}},
      {"storage_list", {I32, I32, I32}, {I32}},
      {"storage_txn_begin", {}, {I32}},
      {"storage_txn_commit", {}, {I32}},
      {"storage_txn_rollback", {}, {I32}},
      {"alarm_set", {I64}, {I32}},
      {"alarm_get", {}, {I64}},
      {"alarm_delete", {}, {I32}},
  };
  for (const Sig& s : sigs) {
    const HostFunction* f = FindHostFunction(kModule, s.name);
    ASSERT_NE(f, nullptr) << s.name;
    EXPECT_EQ(f->params, s.params) << s.name;
    EXPECT_EQ(f->results, s.results) << s.name;
  }
}

// ---- vars ----

TEST_F(ObjectCallsTest, VarGetCopiesTheValueAndReturnsItsFullLength) {
  vars_ = {{"GREETING", "hello"}, {"EMPTY", ""}};
  EXPECT_EQ(CallI32("var_get", {Place("GREETING"), 8, kOut, 64}), 5);
  EXPECT_EQ(Get(kOut, 5), "hello");
  EXPECT_EQ(CallI32("var_get", {Place("EMPTY"), 5, kOut, 64}), 0);
}

TEST_F(ObjectCallsTest, VarGetWithASmallBufferGetsATruncatedCopyAndTheFullLength) {
  vars_ = {{"GREETING", "hello"}};
  std::memcpy(mem_.data() + kOut, "??????", 6);
  EXPECT_EQ(CallI32("var_get", {Place("GREETING"), 8, kOut, 2}), 5);
  EXPECT_EQ(Get(kOut, 6), "he????");
  EXPECT_EQ(CallI32("var_get", {Place("GREETING"), 8, 0, 0}), 5);
}

TEST_F(ObjectCallsTest, VarGetOfAMissingVarIsNotFoundButItsBufferIsStillChecked) {
  vars_ = {{"GREETING", "hello"}};
  EXPECT_EQ(CallI32("var_get", {Place("greeting"), 8, kOut, 64}), kENotFound);
  EXPECT_EQ(Call("var_get", {Place("NOPE"), 4, kBad, 64}).kind, HostOutcome::Kind::kTrap);
}

// ---- stubs ----

TEST_F(ObjectCallsTest, DoNamespaceFindsABindingByName) {
  EXPECT_EQ(CallI32("do_namespace", {Place("COUNTER"), 7}), 0);
  EXPECT_EQ(CallI32("do_namespace", {Place("OTHER"), 5}), 1);
  EXPECT_EQ(CallI32("do_namespace", {Place("counter"), 7}), kENotFound);
}

TEST_F(ObjectCallsTest, IdFromNameIsTheSameForTheSameNameAndNeedsAHandle) {
  uint32_t alice = Place("alice");
  EXPECT_EQ(CallI32("do_id_from_name", {0, alice, 5, kOut, 64}), 64);
  std::string id = Get(kOut, 64);
  EXPECT_EQ(id, ns_.IdFromName("alice"));
  EXPECT_EQ(CallI32("do_id_from_name", {0, alice, 5, kOut + 100, 64}), 64);
  EXPECT_EQ(Get(kOut + 100, 64), id);
  EXPECT_EQ(CallI32("do_id_from_name", {0, Place("bob"), 3, kOut, 64}), 64);
  EXPECT_NE(Get(kOut, 64), id);
  EXPECT_EQ(CallI32("do_id_from_name", {0, alice, 5, kOut + 200, 10}), 64);
  EXPECT_EQ(Get(kOut + 200, 10), id.substr(0, 10));
  EXPECT_EQ(CallI32("do_id_from_name", {2, alice, 5, kOut, 64}), kEInval);
}

TEST_F(ObjectCallsTest, NewUniqueIdIsDifferentEachTimeAndNeedsAHandle) {
  EXPECT_EQ(CallI32("do_new_unique_id", {0, kOut, 64}), 64);
  EXPECT_EQ(CallI32("do_new_unique_id", {0, kOut + 64, 64}), 64);
  EXPECT_TRUE(ns_.ValidId(Get(kOut, 64)));
  EXPECT_NE(Get(kOut, 64), Get(kOut + 64, 64));
  EXPECT_EQ(CallI32("do_new_unique_id", {7, kOut, 64}), kEInval);
}

TEST_F(ObjectCallsTest, DoFetchSendsTheRequestTheGuestDescribed) {
  std::string id = ns_.IdFromName("a");
  uint32_t req = PlaceRequest("POST", "/acquire?owner=x", "X-One: 1\nX-Two: a: b\n", "payload");
  EXPECT_EQ(CallI32("do_fetch", {1, Place(id), 64, req}), 0);
  ASSERT_EQ(other_.requests.size(), 1u);
  EXPECT_TRUE(ns_.requests.empty());
  EXPECT_EQ(other_.ids[0], id);
  const Request& got = other_.requests[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.url, "/acquire?owner=x");
  EXPECT_EQ(got.headers, (Headers{{"X-One", "1"}, {"X-Two", "a: b"}}));
  EXPECT_EQ(got.body, "payload");
}

TEST_F(ObjectCallsTest, DoFetchDefaultsToGetSlashAndTakesALastLineWithoutNewline) {
  ASSERT_EQ(FetchA(), 0);
  ASSERT_EQ(ns_.requests.size(), 1u);
  EXPECT_EQ(ns_.requests[0].method, "GET");
  EXPECT_EQ(ns_.requests[0].url, "/");
  EXPECT_TRUE(ns_.requests[0].headers.empty());
  EXPECT_TRUE(ns_.requests[0].body.empty());
  uint32_t id = Place(ns_.IdFromName("a"));
  ASSERT_EQ(CallI32("do_fetch", {0, id, 64, PlaceRequest("DELETE", "", "A: 1\nB: 2", "")}), 1);
  EXPECT_EQ(ns_.requests[1].method, "DELETE");
  EXPECT_EQ(ns_.requests[1].headers, (Headers{{"A", "1"}, {"B", "2"}}));
}

TEST_F(ObjectCallsTest, DoFetchRefusesBadRequestValuesAndSendsNothing) {
  uint32_t id = Place(ns_.IdFromName("a"));
  struct Case {
    std::string method, url, headers;
  };
  const std::vector<Case> cases = {
      {"get", "", ""},
      {"GE T", "", ""},
      {std::string(17, 'G'), "", ""},
      {"", "/a\r\nX-Forged: 1", ""},
      {"", "", "NoSeparator\n"},
      {"", "", "X:1\n"},
      {"", "", "A: 1\n\nB: 2\n"},
      {"", "", ": no name\n"},
      {"", "", "A:b: c\n"},
      {"", "", "X-Bad\r: v\n"},
      {"", "", "X-Bad: v\r\n"},
  };
  for (const Case& k : cases) {
    logs_.clear();
    uint32_t req = PlaceRequest(k.method, k.url, k.headers, "");
    EXPECT_EQ(CallI32("do_fetch", {0, id, 64, req}), kEInval) << k.method << k.url << k.headers;
    EXPECT_TRUE(Logged("2 edgelab.do_fetch: ")) << k.method << k.url << k.headers;
  }
  EXPECT_EQ(CallI32("do_fetch", {0, id, 64, PlaceRequest(std::string(16, 'G'), "", "", "")}), 0);
  ns_.requests.clear();
  uint32_t req = PlaceRequest("", "", "", "");
  std::string upper = ns_.IdFromName("a");
  for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
  EXPECT_EQ(CallI32("do_fetch", {0, Place(upper), 64, req}), kEInval);
  EXPECT_EQ(CallI32("do_fetch", {0, Place("abc"), 3, req}), kEInval);
  EXPECT_TRUE(Logged("malformed id"));
  EXPECT_EQ(CallI32("do_fetch", {2, id, 64, req}), kEInval);  // no such handle
  EXPECT_TRUE(ns_.requests.empty());
  EXPECT_EQ(ctx_.fetched.open(), 1u);  // the 16-byte method's
}

TEST_F(ObjectCallsTest, DoFetchMapsEachErrorToItsCode) {
  const std::vector<std::pair<Status, int32_t>> cases = {
      {Status::InvalidArgument("malformed id"), -3},
      {Status::PreconditionFailed("call cycle: Counter/a -> Counter/b -> Counter/a"), -6},
      {Status::IOError("objects.db: disk full"), -4},
      {Status::Unavailable("shutting down"), -5},
      {Status::Corruption("objects.db: bad page"), -4},
  };
  for (const auto& [error, code] : cases) {
    ns_.error = error;
    EXPECT_EQ(FetchA(), code) << error.ToString();
  }
  EXPECT_TRUE(Logged("2 edgelab.do_fetch: call cycle: Counter/a -> Counter/b -> Counter/a"));
  EXPECT_TRUE(Logged("3 edgelab.do_fetch: "));
  EXPECT_TRUE(Logged("objects.db: disk full"));
  EXPECT_TRUE(Logged("objects.db: bad page"));
  EXPECT_EQ(ctx_.fetched.open(), 0u);
}

TEST_F(ObjectCallsTest, AResponseHandleReadsStatusHeadersAndBody) {
  ns_.response.status = 201;
  ns_.response.headers = {{"X-A", "1"}, {"X-B", "two"}};
  ns_.response.body = "made it";
  ASSERT_EQ(FetchA(), 0);
  EXPECT_EQ(CallI32("do_response_status", {0}), 201);
  EXPECT_EQ(CallI32("do_response_headers", {0, kOut, 64}), 16);
  EXPECT_EQ(Get(kOut, 16), "X-A: 1\nX-B: two\n");
  EXPECT_EQ(CallI32("do_response_body", {0, kOut, 64}), 7);
  EXPECT_EQ(Get(kOut, 7), "made it");
  EXPECT_EQ(CallI32("do_response_body", {0, kOut + 100, 4}), 7);
  EXPECT_EQ(Get(kOut + 100, 4), "made");
  ns_.response.status = 500;  // a trap inside the object is a response, not an error
  EXPECT_EQ(FetchA(), 1);
  EXPECT_EQ(CallI32("do_response_status", {1}), 500);
  EXPECT_EQ(CallI32("do_response_status", {0}), 201);
}

TEST_F(ObjectCallsTest, AClosedOrUnknownResponseHandleIsEinval) {
  ASSERT_EQ(FetchA(), 0);
  EXPECT_EQ(CallI32("do_response_close", {0}), 0);
  EXPECT_EQ(ctx_.fetched.open(), 0u);
  for (uint64_t r : {uint64_t{0}, uint64_t{1}, uint64_t{64}, uint64_t{0xFFFFFFFF}}) {
    EXPECT_EQ(CallI32("do_response_status", {r}), kEInval);
    EXPECT_EQ(CallI32("do_response_headers", {r, kOut, 64}), kEInval);
    EXPECT_EQ(CallI32("do_response_body", {r, kOut, 64}), kEInval);
    EXPECT_EQ(CallI32("do_response_close", {r}), kEInval);
  }
  // The slot is reused under a new number: the stale handle stays invalid.
  const int32_t h = FetchA();
  EXPECT_GT(h, 0);
  EXPECT_EQ(CallI32("do_response_status", {static_cast<uint64_t>(h)}), 200);
  EXPECT_EQ(CallI32("do_response_status", {0}), kEInval);
  EXPECT_EQ(CallI32("do_response_close", {0}), kEInval);
  EXPECT_EQ(ctx_.fetched.open(), 1u);  // the failed close closed nothing
}

TEST_F(ObjectCallsTest, AFetchTakesTheLowestFreeSlotAndEveryHandleNamesOnlyItsResponse) {
  for (int i = 0; i < 3; ++i) {
    ns_.response.body = "r" + std::to_string(i);
    ASSERT_EQ(FetchA(), i);
  }
  EXPECT_EQ(CallI32("do_response_close", {1}), 0);
  EXPECT_EQ(CallI32("do_response_close", {0}), 0);
  ns_.response.body = "again";
  const int32_t h = FetchA();
  ASSERT_GE(h, 0);
  EXPECT_EQ(static_cast<uint32_t>(h) % OpenResponses::kMaxOpen, 0u);  // slot 0
  EXPECT_EQ(CallI32("do_response_body", {static_cast<uint64_t>(h), kOut, 64}), 5);
  EXPECT_EQ(Get(kOut, 5), "again");
  EXPECT_EQ(CallI32("do_response_body", {2, kOut, 64}), 2);
  EXPECT_EQ(Get(kOut, 2), "r2");
  EXPECT_EQ(ctx_.fetched.slots(), 3u);
  EXPECT_EQ(ctx_.fetched.held_bytes(), 7u);
}

TEST_F(ObjectCallsTest, AtMost64ResponsesAreOpenAtOnceAndTheNextFetchSendsNothing) {
  std::vector<int32_t> handles;
  for (int i = 0; i < 64; ++i) handles.push_back(FetchA());
  for (int32_t h : handles) ASSERT_GE(h, 0);
  logs_.clear();
  EXPECT_EQ(FetchA(), kEUnavailable);
  EXPECT_EQ(ns_.requests.size(), 64u);  // the 65th was not sent
  EXPECT_TRUE(Logged("2 edgelab.do_fetch: 64 responses are open"));
  EXPECT_EQ(CallI32("do_response_close", {static_cast<uint64_t>(handles[5])}), 0);
  EXPECT_GE(FetchA(), 0);
  EXPECT_EQ(FetchA(), kEUnavailable);
}

TEST_F(ObjectCallsTest, OpenResponsesHeadersAndBodiesCountAgainstTheMemoryLimit) {
  ctx_.max_response_bytes = 1000;
  ns_.response.headers = {{"X-A", "1234567"}};  // "X-A: 1234567\n": 13 bytes
  ns_.response.body = std::string(387, 'b');    // 400 bytes a response
  const int32_t first = FetchA();
  ASSERT_GE(first, 0);
  ASSERT_GE(FetchA(), 0);
  // A third would hold 1200 bytes: the object ran the request, but its
  // response is dropped.
  logs_.clear();
  EXPECT_EQ(FetchA(), kEUnavailable);
  EXPECT_EQ(ns_.requests.size(), 3u);
  EXPECT_TRUE(Logged("2 edgelab.do_fetch: "));
  EXPECT_TRUE(Logged("1000 bytes"));
  ns_.response.body = std::string(187, 'b');  // 200 bytes: exactly at the limit
  ASSERT_GE(FetchA(), 0);
  // At the limit nothing more is sent.
  EXPECT_EQ(FetchA(), kEUnavailable);
  EXPECT_EQ(ns_.requests.size(), 4u);
  // Closing gives the bytes back.
  EXPECT_EQ(CallI32("do_response_close", {static_cast<uint64_t>(first)}), 0);
  EXPECT_GE(FetchA(), 0);
  EXPECT_EQ(ns_.requests.size(), 5u);
}

TEST_F(ObjectCallsTest, AFetchAndCloseLoopNeverRunsIntoEitherLimit) {
  ctx_.max_response_bytes = 1000;
  ns_.response.body = std::string(900, 'b');
  for (int i = 0; i < 1000; ++i) {
    const int32_t h = FetchA();
    ASSERT_GE(h, 0) << "fetch " << i;
    ASSERT_EQ(CallI32("do_response_body", {static_cast<uint64_t>(h), kOut, kOutCap}), 900);
    ASSERT_EQ(CallI32("do_response_close", {static_cast<uint64_t>(h)}), 0);
  }
  EXPECT_EQ(ctx_.fetched.slots(), 1u);
  EXPECT_EQ(ctx_.fetched.held_bytes(), 0u);
}

TEST_F(ObjectCallsTest, DoFetchIsChargedAsACallAcrossLoops) {
  ASSERT_EQ(FetchA(), 0);
  EXPECT_GE(last_cost_, 8 * 4000u);
}

// ---- the pointer rule ----

TEST_F(ObjectCallsTest, EveryNewPointerTakingCallTrapsOnABadPointer) {
  EnterObject();
  vars_ = {{"V", "value"}};
  uint32_t id = Place(ns_.IdFromName("a"));
  uint32_t good_req = PlaceRequest("", "", "", "");
  uint32_t near_end = kMemBytes - 4;
  auto bad_req = [&](int field) {  // a request whose field `field` (a ptr) is out of bounds
    std::vector<uint32_t> raw = {0, 0, 0, 0, 0, 0, 0, 0};
    raw[field] = near_end;
    raw[field + 1] = 8;
    return PlaceU32s(raw);
  };
  auto bad_opts = [&](int field) {
    std::vector<uint32_t> raw = {0, 0, 0, 0, 0, 0, 0};
    raw[field] = kBad;
    raw[field + 1] = 1;
    return PlaceU32s(raw);
  };
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> cases = {
      {"var_get", {kBad, 1, kOut, 64}},
      {"var_get", {Place("V"), 1, kBad, 64}},
      {"do_namespace", {kBad, 7}},
      {"do_id_from_name", {0, kBad, 5, kOut, 64}},
      {"do_id_from_name", {0, id, 5, kBad, 64}},
      {"do_new_unique_id", {0, kBad, 64}},
      {"do_fetch", {0, kBad, 64, good_req}},
      {"do_fetch", {0, id, 64, kBad}},
      {"do_fetch", {0, id, 64, near_end}},
      {"do_fetch", {0, id, 64, bad_req(0)}},
      {"do_fetch", {0, id, 64, bad_req(2)}},
      {"do_fetch", {0, id, 64, bad_req(4)}},
      {"do_fetch", {0, id, 64, bad_req(6)}},
      {"do_response_headers", {0, kBad, 64}},
      {"do_response_body", {0, kBad, 64}},
      {"do_self_id", {kBad, 64}},
      {"storage_get", {kBad, 1, kOut, 64}},
      {"storage_get", {Place("k"), 1, kBad, 64}},
      {"storage_put", {kBad, 1, Place("v"), 1}},
      {"storage_put", {Place("k"), 1, kBad, 1}},
      {"storage_delete", {kBad, 1}},
      {"storage_list", {kBad, kOut, 64}},
      {"storage_list", {bad_opts(0), kOut, 64}},
      {"storage_list", {bad_opts(2), kOut, 64}},
      {"storage_list", {bad_opts(4), kOut, 64}},
      {"storage_list", {0, kBad, 64}},
  };
  for (const auto& [name, args] : cases) {
    HostOutcome out = Call(name, args);
    EXPECT_EQ(out.kind, HostOutcome::Kind::kTrap) << name;
    EXPECT_NE(out.message.find("edgelab." + name + ": pointer out of bounds"), std::string::npos)
        << out.message;
  }
  EXPECT_TRUE(ns_.requests.empty());  // nothing was sent
  EXPECT_EQ(StorageGet("k"), "-1");   // nothing was written
}

TEST_F(ObjectCallsTest, AResponseReadWithABadBufferTrapsForAnOpenHandleToo) {
  ASSERT_EQ(FetchA(), 0);
  EXPECT_EQ(Call("do_response_headers", {0, kBad, 64}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Call("do_response_body", {0, kBad, 64}).kind, HostOutcome::Kind::kTrap);
}

TEST_F(ObjectCallsTest, OutsideAnObjectBadPointersStillTrap) {
  for (const auto& [name, args] : std::vector<std::pair<std::string, std::vector<uint64_t>>>{
           {"do_self_id", {kBad, 64}},
           {"storage_get", {kBad, 1, kOut, 64}},
           {"storage_put", {0, 1, kBad, 1}},
           {"storage_delete", {kBad, 1}},
           {"storage_list", {0, kBad, 64}},
       }) {
    EXPECT_EQ(Call(name, args).kind, HostOutcome::Kind::kTrap) << name;
  }
}

// ---- inside an object ----

TEST_F(ObjectCallsTest, OutsideAnObjectEveryInsideCallIsEinvalAndLogged) {
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> cases = {
      {"do_self_id", {kOut, 64}},
      {"storage_get", {Place("k"), 1, kOut, 64}},
      {"storage_put", {Place("k"), 1, Place("v"), 1}},
      {"storage_delete", {Place("k"), 1}},
      {"storage_list", {0, kOut, 64}},
      {"storage_txn_begin", {}},
      {"storage_txn_commit", {}},
      {"storage_txn_rollback", {}},
      {"alarm_set", {1000}},
      {"alarm_delete", {}},
  };
  for (const auto& [name, args] : cases) {
    logs_.clear();
    EXPECT_EQ(CallI32(name, args), kEInval) << name;
    EXPECT_TRUE(Logged("2 edgelab." + name + ": only inside a Durable Object")) << name;
  }
  EXPECT_EQ(CallI64("alarm_get", {}), -3);
  EXPECT_TRUE(Logged("2 edgelab.alarm_get: only inside a Durable Object"));
}

TEST_F(ObjectCallsTest, DoSelfIdIsTheObjectsId) {
  EnterObject();
  EXPECT_EQ(CallI32("do_self_id", {kOut, 64}), 64);
  EXPECT_EQ(Get(kOut, 64), key_.id);
  EXPECT_EQ(CallI32("do_self_id", {kOut, 0}), 64);
}

TEST_F(ObjectCallsTest, StoragePutGetAndDelete) {
  EnterObject();
  EXPECT_EQ(StorageGet("k"), "-1");
  EXPECT_EQ(StoragePut("k", "v1"), 0);
  EXPECT_EQ(StorageGet("k"), "v1");
  std::string binary("a\0b\xff", 4);
  EXPECT_EQ(StoragePut("k", binary), 0);
  EXPECT_EQ(StorageGet("k"), binary);
  EXPECT_EQ(CallI32("storage_get", {Place("k"), 1, kOut + 500, 2}), 4);
  EXPECT_EQ(Get(kOut + 500, 2), binary.substr(0, 2));
  EXPECT_EQ(CallI32("storage_delete", {Place("k"), 1}), 1);
  EXPECT_EQ(CallI32("storage_delete", {Place("k"), 1}), 0);
  EXPECT_EQ(StorageGet("k"), "-1");
}

TEST_F(ObjectCallsTest, StorageLimitsAreEinvalAndLogged) {
  EnterObject();
  std::string key_at_limit(2048, 'k'), key_over(2049, 'k');
  std::string value_at_limit(128 * 1024, 'v'), value_over(128 * 1024 + 1, 'v');
  EXPECT_EQ(StoragePut(key_at_limit, "v"), 0);
  EXPECT_EQ(StoragePut("k", value_at_limit), 0);
  logs_.clear();
  EXPECT_EQ(StoragePut(key_over, "v"), kEInval);
  EXPECT_TRUE(Logged("2 edgelab.storage_put: "));
  EXPECT_EQ(StoragePut("", "v"), kEInval);
  EXPECT_EQ(StoragePut("k", value_over), kEInval);
  EXPECT_EQ(StorageGet(key_over), "-3");
  EXPECT_EQ(StorageGet(""), "-3");
  EXPECT_TRUE(Logged("2 edgelab.storage_get: "));
  EXPECT_EQ(CallI32("storage_delete", {Place(key_over), key_over.size()}), kEInval);
  // The refused put wrote nothing.
  EXPECT_EQ(CallI32("storage_get", {Place("k"), 1, kOut, 0}), 128 * 1024);
}

TEST_F(ObjectCallsTest, StorageListEncodesEveryPairInKeyOrder) {
  EnterObject();
  for (auto [k, v] : {std::pair{"b", "2"}, {"a", "1"}, {"ab", "xyz"}, {"c", ""}}) {
    ASSERT_EQ(StoragePut(k, v), 0);
  }
  EXPECT_EQ(List(0), (objects::KeyValues{{"a", "1"}, {"ab", "xyz"}, {"b", "2"}, {"c", ""}}));
  // count + 4 × (key_len + value_len) + the bytes: 4 + 32 + 5 + 5.
  std::memset(mem_.data() + kOut, '?', 16);
  EXPECT_EQ(CallI32("storage_list", {0, kOut, 6}), 46);
  EXPECT_EQ(U32At(kOut), 4u);
  EXPECT_EQ(Get(kOut + 4, 4), std::string("\x01\0??", 4));
}

TEST_F(ObjectCallsTest, StorageListTakesPrefixStartEndAndLimit) {
  EnterObject();
  for (std::string k : {"a", "ab", "abc", "b", "c"}) ASSERT_EQ(StoragePut(k, "v" + k), 0);
  auto keys = [](const objects::KeyValues& pairs) {
    std::vector<std::string> out;
    for (const auto& p : pairs) out.push_back(p.first);
    return out;
  };
  using Keys = std::vector<std::string>;
  EXPECT_EQ(keys(List(PlaceListOptions("ab", "", "", 0))), (Keys{"ab", "abc"}));
  EXPECT_EQ(keys(List(PlaceListOptions("", "ab", "b", 0))), (Keys{"ab", "abc"}));
  EXPECT_EQ(keys(List(PlaceListOptions("", "b", "", 0))), (Keys{"b", "c"}));
  EXPECT_EQ(keys(List(PlaceListOptions("", "", "", 2))), (Keys{"a", "ab"}));
  EXPECT_EQ(keys(List(PlaceListOptions("x", "", "", 0))), Keys{});
  EXPECT_EQ(List(PlaceListOptions("abc", "", "", 0)), (objects::KeyValues{{"abc", "vabc"}}));
}

TEST_F(ObjectCallsTest, ATransactionsWritesAreSeenInsideItAndAppliedByCommit) {
  EnterObject();
  ASSERT_EQ(StoragePut("gone", "x"), 0);
  EXPECT_EQ(CallI32("storage_txn_begin", {}), 0);
  EXPECT_EQ(StoragePut("k", "1"), 0);
  EXPECT_EQ(CallI32("storage_delete", {Place("gone"), 4}), 1);
  EXPECT_EQ(StorageGet("k"), "1");
  EXPECT_EQ(StorageGet("gone"), "-1");
  EXPECT_EQ(CallI32("storage_txn_commit", {}), 0);
  EXPECT_FALSE(storage_.in_transaction());
  EXPECT_EQ(StorageGet("k"), "1");
  EXPECT_EQ(StorageGet("gone"), "-1");
}

TEST_F(ObjectCallsTest, RollbackDropsTheTransactionsWrites) {
  EnterObject();
  ASSERT_EQ(StoragePut("k", "old"), 0);
  EXPECT_EQ(CallI32("storage_txn_begin", {}), 0);
  EXPECT_EQ(StoragePut("k", "new"), 0);
  EXPECT_EQ(StoragePut("fresh", "1"), 0);
  EXPECT_EQ(List(0).size(), 2u);
  EXPECT_EQ(CallI32("storage_txn_rollback", {}), 0);
  EXPECT_EQ(StorageGet("k"), "old");
  EXPECT_EQ(StorageGet("fresh"), "-1");
}

TEST_F(ObjectCallsTest, TransactionsDoNotNestAndNeedOneOpen) {
  EnterObject();
  EXPECT_EQ(CallI32("storage_txn_commit", {}), kEInval);
  EXPECT_TRUE(Logged("2 edgelab.storage_txn_commit: "));
  EXPECT_EQ(CallI32("storage_txn_rollback", {}), kEInval);
  EXPECT_TRUE(Logged("2 edgelab.storage_txn_rollback: "));
  EXPECT_EQ(CallI32("storage_txn_begin", {}), 0);
  EXPECT_EQ(CallI32("storage_txn_begin", {}), kEInval);
  EXPECT_TRUE(Logged("2 edgelab.storage_txn_begin: "));
  EXPECT_TRUE(storage_.in_transaction());  // the refused begin left the open one alone
  EXPECT_EQ(CallI32("storage_txn_rollback", {}), 0);
  EXPECT_EQ(CallI32("storage_txn_rollback", {}), kEInval);
}

TEST_F(ObjectCallsTest, TheAlarmIsSetReplacedAndDeleted) {
  EnterObject();
  EXPECT_EQ(CallI64("alarm_get", {}), -1);
  constexpr int64_t kJan2026 = 1'767'225'600'000;  // needs all 64 bits of the i64
  EXPECT_EQ(CallI32("alarm_set", {static_cast<uint64_t>(kJan2026)}), 0);
  EXPECT_EQ(CallI64("alarm_get", {}), kJan2026);
  EXPECT_EQ(CallI32("alarm_set", {1000}), 0);
  EXPECT_EQ(CallI64("alarm_get", {}), 1000);
  EXPECT_EQ(CallI32("alarm_delete", {}), 0);
  EXPECT_EQ(CallI64("alarm_get", {}), -1);
  EXPECT_EQ(CallI32("alarm_delete", {}), 0);
}

TEST_F(ObjectCallsTest, AnAlarmAtOrBeforeTheEpochIsEinval) {
  EnterObject();
  EXPECT_EQ(CallI32("alarm_set", {0}), kEInval);
  EXPECT_EQ(CallI32("alarm_set", {static_cast<uint64_t>(int64_t{-5})}), kEInval);
  EXPECT_TRUE(Logged("2 edgelab.alarm_set: "));
  EXPECT_EQ(CallI64("alarm_get", {}), -1);
}

TEST_F(ObjectCallsTest, AListingLargerThanTheMemoryLimitIsEinvalNamingTheLimitAndIsCharged) {
  EnterObject();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(StoragePut("k" + std::to_string(i), "0123456789"), 0);  // 20 bytes listed
  }
  ctx_.max_response_bytes = 100;  // the listing is 204 bytes
  logs_.clear();
  EXPECT_EQ(CallI32("storage_list", {0, kOut, kOutCap}), kEInval);
  EXPECT_TRUE(Logged("2 edgelab.storage_list: listing larger than 100 bytes: use limit/start"));
  // The scan the guest asked for is paid for although it got nothing.
  EXPECT_GE(last_cost_, 8 * 4000u + 100);
  EXPECT_EQ(List(PlaceListOptions("", "", "", 4)).size(), 4u);    // 84 bytes
  EXPECT_EQ(List(PlaceListOptions("", "k6", "", 0)).size(), 4u);  // from k6: 84 bytes
  ctx_.max_response_bytes = 204;
  EXPECT_EQ(List(0).size(), 10u);
}

TEST_F(ObjectCallsTest, StorageFailuresAreEioAndLogged) {
  FailingBackend failing;
  objects::Storage broken(&failing, key_);
  EnterObject(&broken);
  EXPECT_EQ(StorageGet("k"), "-4");
  EXPECT_TRUE(Logged("3 edgelab.storage_get: "));
  EXPECT_TRUE(Logged("test.db: disk failed"));
  EXPECT_EQ(CallI32("storage_delete", {Place("k"), 1}), kEIO);
  EXPECT_EQ(CallI32("storage_list", {0, kOut, 64}), kEIO);
  EXPECT_EQ(CallI64("alarm_get", {}), -4);
  EXPECT_TRUE(Logged("3 edgelab.alarm_get: "));
}

TEST_F(ObjectCallsTest, StorageCallsChargeTheWorkBehindThem) {
  EnterObject();
  EXPECT_EQ(StoragePut("k", "v"), 0);
  EXPECT_GE(last_cost_, 8 * 4000u);
  EXPECT_EQ(StorageGet("k"), "v");
  EXPECT_GE(last_cost_, 8 * 400u);
  List(0);
  EXPECT_GE(last_cost_, 8 * 4000u);
  ASSERT_EQ(CallI32("storage_txn_begin", {}), 0);
  EXPECT_EQ(CallI32("storage_txn_commit", {}), 0);
  EXPECT_GE(last_cost_, 8 * 4000u);
  EXPECT_EQ(CallI32("alarm_set", {1000}), 0);
  EXPECT_GE(last_cost_, 8 * 4000u);
}

// ---- usage: what a Cloudflare bill would count ----

TEST_F(ObjectCallsTest, DoFetchCountsARequestOnlyWhenTheObjectRanIt) {
  EXPECT_GE(FetchA(), 0);
  EXPECT_EQ(usage_.Snapshot().do_requests, 1u);
  // The object ran but its commit failed: billed. Refused before any turn
  // (cycle, shutdown or too deep, a bad id): not.
  ns_.error = Status::IOError("objects.db: disk full");
  EXPECT_EQ(FetchA(), kEIO);
  EXPECT_EQ(usage_.Snapshot().do_requests, 2u);
  for (const Status& refused :
       {Status::PreconditionFailed("call cycle"), Status::Unavailable("shutting down"),
        Status::InvalidArgument("malformed id")}) {
    ns_.error = refused;
    FetchA();
  }
  ns_.error = Status::OK();
  EXPECT_EQ(CallI32("do_fetch", {0, Place(std::string(64, 'G')), 64, PlaceRequest("", "", "", "")}),
            kEInval);
  EXPECT_EQ(CallI32("do_fetch", {9, Place(ns_.IdFromName("a")), 64, PlaceRequest("", "", "", "")}),
            kEInval);
  EXPECT_EQ(Call("do_fetch", {0, kBad, 64, PlaceRequest("", "", "", "")}).kind,
            HostOutcome::Kind::kTrap);
  EXPECT_EQ(ns_.requests.size(), 5u);
  UsageCounts u = usage_.Snapshot();
  EXPECT_EQ(u.do_requests, 2u);
  EXPECT_EQ(u.do_read_units + u.do_write_units + u.kv_reads + u.requests, 0u);
}

TEST_F(ObjectCallsTest, StorageGetsPutsAndDeletesCountOneUnitPer4KBAndAtLeastOne) {
  EnterObject();
  auto units = [this] {
    UsageCounts u = usage_.Snapshot();
    return std::pair{u.do_read_units, u.do_write_units};
  };
  using Units = std::pair<uint64_t, uint64_t>;  // (read, write)
  EXPECT_EQ(StoragePut("a", "v"), 0);
  EXPECT_EQ(units(), (Units{0, 1}));
  EXPECT_EQ(StoragePut("b", std::string(4096, 'v')), 0);
  EXPECT_EQ(units(), (Units{0, 2}));
  EXPECT_EQ(StoragePut("c", std::string(4097, 'v')), 0);
  EXPECT_EQ(units(), (Units{0, 4}));
  EXPECT_EQ(StoragePut("d", std::string(9 * 1024, 'v')), 0);  // Cloudflare's 9 KB: 3 units
  EXPECT_EQ(units(), (Units{0, 7}));
  EXPECT_EQ(StoragePut("e", ""), 0);
  EXPECT_EQ(units(), (Units{0, 8}));
  EXPECT_EQ(StorageGet("a"), "v");
  EXPECT_EQ(units(), (Units{1, 8}));
  EXPECT_EQ(CallI32("storage_get", {Place("d"), 1, kOut, 16}), 9 * 1024);  // by the value
  EXPECT_EQ(units(), (Units{4, 8}));
  EXPECT_EQ(StorageGet("e"), "");
  EXPECT_EQ(StorageGet("missing"), "-1");  // a miss is still a read
  EXPECT_EQ(units(), (Units{6, 8}));
  EXPECT_EQ(CallI32("storage_delete", {Place("d"), 1}), 1);  // unmetered: 1 whatever its size
  EXPECT_EQ(CallI32("storage_delete", {Place("d"), 1}), 0);
  EXPECT_EQ(units(), (Units{6, 10}));
  EXPECT_EQ(CallI32("alarm_set", {1000}), 0);  // Cloudflare: each setAlarm is a write unit
  EXPECT_EQ(units(), (Units{6, 11}));
  EXPECT_EQ(CallI64("alarm_get", {}), 1000);
  EXPECT_EQ(CallI32("alarm_delete", {}), 0);
  EXPECT_EQ(CallI32("storage_txn_begin", {}), 0);
  EXPECT_EQ(CallI32("storage_txn_commit", {}), 0);
  EXPECT_EQ(units(), (Units{6, 11}));
  UsageCounts u = usage_.Snapshot();
  EXPECT_EQ(u.do_requests + u.kv_reads + u.kv_writes + u.requests, 0u);
}

TEST_F(ObjectCallsTest, AListingCountsReadUnitsForItsKeysAndValuesTogether) {
  EnterObject();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(StoragePut("k" + std::to_string(i), std::string(2000, 'v')), 0);
  }
  auto reads = [this] { return usage_.Snapshot().do_read_units; };
  // 10 × (2 + 2000) = 20,020 bytes of keys and values: 5 units, not 10.
  EXPECT_EQ(CallI32("storage_list", {0, kOut, 16}), 4 + 10 * (8 + 2002));
  EXPECT_EQ(reads(), 5u);
  EXPECT_EQ(CallI32("storage_list", {PlaceListOptions("", "", "", 1), kOut, kOutCap}),
            4 + 8 + 2002);
  EXPECT_EQ(reads(), 6u);
  EXPECT_EQ(List(PlaceListOptions("x", "", "", 0)).size(), 0u);  // returns nothing: 1
  EXPECT_EQ(reads(), 7u);
  // Refused past the memory limit after examining at least the cap, 10,000
  // bytes: 3 units.
  ctx_.max_response_bytes = 10'000;
  EXPECT_EQ(CallI32("storage_list", {0, kOut, kOutCap}), kEInval);
  EXPECT_EQ(reads(), 10u);
  EXPECT_EQ(usage_.Snapshot().do_write_units, 10u);  // the puts
}

TEST_F(ObjectCallsTest, StorageCallsRefusedForTheirArgumentsOrOutsideAnObjectCountNothing) {
  std::string key_over(2049, 'k');
  EXPECT_EQ(StoragePut("k", "v"), kEInval);  // outside an object
  EXPECT_EQ(StorageGet("k"), "-3");
  EXPECT_EQ(CallI32("storage_delete", {Place("k"), 1}), kEInval);
  EXPECT_EQ(CallI32("storage_list", {0, kOut, kOutCap}), kEInval);
  EXPECT_EQ(CallI32("alarm_set", {1000}), kEInval);
  EnterObject();
  EXPECT_EQ(StoragePut(key_over, "v"), kEInval);
  EXPECT_EQ(StoragePut("", "v"), kEInval);
  EXPECT_EQ(StoragePut("k", std::string(128 * 1024 + 1, 'v')), kEInval);
  EXPECT_EQ(StorageGet(key_over), "-3");
  EXPECT_EQ(CallI32("storage_delete", {Place(key_over), key_over.size()}), kEInval);
  EXPECT_EQ(CallI32("alarm_set", {0}), kEInval);
  EXPECT_EQ(Call("storage_put", {Place("k"), 1, kBad, 1}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Call("storage_get", {kBad, 1, kOut, 8}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Call("storage_list", {kBad, kOut, 8}).kind, HostOutcome::Kind::kTrap);
  UsageCounts u = usage_.Snapshot();
  EXPECT_EQ(u.do_read_units, 0u);
  EXPECT_EQ(u.do_write_units, 0u);
}

TEST_F(ObjectCallsTest, StorageCallsThatFailInTheBackendAreStillCounted) {
  FailingBackend failing;
  objects::Storage broken(&failing, key_);
  EnterObject(&broken);
  EXPECT_EQ(StorageGet("k"), "-4");
  EXPECT_EQ(CallI32("storage_delete", {Place("k"), 1}), kEIO);
  EXPECT_EQ(CallI32("storage_list", {0, kOut, 64}), kEIO);
  UsageCounts u = usage_.Snapshot();
  EXPECT_EQ(u.do_read_units, 2u);
  EXPECT_EQ(u.do_write_units, 1u);
}

}  // namespace
}  // namespace edgelab::abi
