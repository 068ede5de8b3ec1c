// Tests for the ABI v1 host functions, called directly on a fake guest
// memory: every result shape of docs/abi.md and the pointer rule.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "abi/context.h"
#include "abi/host.h"
#include "abi/usage.h"
#include "kv/locations.h"
#include "kv/memory_store.h"
#include "kv/namespace.h"
#include "sched/real_scheduler.h"
#include "testing/host_call.h"

namespace edgelab::abi {
namespace {

constexpr uint32_t kMemBytes = 64 * 1024;
constexpr uint32_t kBad = 0xFFFFFFF0u;  // far outside a 64 KiB memory

class AbiTest : public ::testing::Test {
 protected:
  AbiTest()
      : store_(sched::SystemClock()),
        ns_(&store_, "test", kv::Latency{}),
        bindings_{{"KV", &ns_}},
        ctx_(&sched_, &bindings_,
             [this](LogLevel level, std::string_view msg) {
               logs_.push_back(std::to_string(static_cast<int>(level)) + " " + std::string(msg));
             }),
        mem_(kMemBytes, 0) {
    ctx_.set_usage(&usage_);
  }

  // Calls module.name with `args`; returns the outcome and leaves results.
  HostOutcome Call(std::string_view name, std::vector<uint64_t> args,
                   std::string_view module = kModule) {
    test::HostCallResult r = test::CallHost(&ctx_, mem_, module, name, std::move(args));
    results_ = std::move(r.results);
    last_cost_ = r.cost;
    return r.outcome;
  }
  int32_t CallI32(std::string_view name, std::vector<uint64_t> args,
                  std::string_view module = kModule) {
    HostOutcome out = Call(name, std::move(args), module);
    EXPECT_EQ(out.kind, HostOutcome::Kind::kReturn) << out.message;
    return static_cast<int32_t>(results_.at(0));
  }
  // Places `s` in guest memory at `at`; returns `at`.
  uint32_t Put(uint32_t at, std::string_view s) {
    std::memcpy(mem_.data() + at, s.data(), s.size());
    return at;
  }
  std::string Get(uint32_t at, uint32_t len) {
    return std::string(reinterpret_cast<char*>(mem_.data() + at), len);
  }

  sched::RealScheduler sched_;
  kv::MemoryStore store_;
  kv::Namespace ns_;
  std::vector<KvBinding> bindings_;
  Context ctx_;
  std::vector<uint8_t> mem_;
  std::vector<uint64_t> results_;
  std::vector<std::string> logs_;
  uint64_t last_cost_ = 0;  // HostCall::bytes of the last call
  Usage usage_;             // what the calls counted (set on ctx_)
};

// The counts of `u` as one comparable tuple, in UsageCounts order.
std::vector<uint64_t> Counts(const UsageCounts& u) {
  return {u.requests,    u.cpu_fuel,      u.kv_reads,      u.kv_writes,
          u.kv_deletes,  u.kv_lists,      u.do_requests,   u.do_wall_micros,
          u.do_cpu_fuel, u.do_read_units, u.do_write_units};
}

TEST_F(AbiTest, RequestPartsAreCopiedWithTheirFullLength) {
  ctx_.request.method = "POST";
  ctx_.request.url = "/path?q=1";
  ctx_.request.body = "body bytes";
  ctx_.request.headers = {{"Host", "x"}, {"X-Test", "yes"}};
  EXPECT_EQ(CallI32("req_method", {100, 64}), 4);
  EXPECT_EQ(Get(100, 4), "POST");
  EXPECT_EQ(CallI32("req_url", {100, 64}), 9);
  EXPECT_EQ(Get(100, 9), "/path?q=1");
  EXPECT_EQ(CallI32("req_body", {100, 64}), 10);
  EXPECT_EQ(CallI32("req_headers", {100, 64}), 20);
  EXPECT_EQ(Get(100, 20), "Host: x\nX-Test: yes\n");
  uint32_t name = Put(0, "x-test");
  EXPECT_EQ(CallI32("req_header", {name, 6, 100, 64}), 3);
  EXPECT_EQ(Get(100, 3), "yes");
  uint32_t missing = Put(0, "nope");
  EXPECT_EQ(CallI32("req_header", {missing, 4, 100, 64}), -1);
}

TEST_F(AbiTest, ASmallBufferGetsATruncatedCopyAndTheFullLength) {
  ctx_.request.url = "/a/long/path";
  Put(100, "??????");
  EXPECT_EQ(CallI32("req_url", {100, 3}), 12);
  EXPECT_EQ(Get(100, 6), "/a/???");
}

TEST_F(AbiTest, ResponseStatusHeadersAndBodyAreRecorded) {
  ASSERT_EQ(Call("resp_status", {418}).kind, HostOutcome::Kind::kReturn);
  Put(0, "X-Ok");
  Put(10, "1");
  ASSERT_EQ(Call("resp_header", {0, 4, 10, 1}).kind, HostOutcome::Kind::kReturn);
  Put(20, "hello");
  ASSERT_EQ(Call("resp_write", {20, 5}).kind, HostOutcome::Kind::kReturn);
  ASSERT_EQ(Call("resp_write", {20, 5}).kind, HostOutcome::Kind::kReturn);
  EXPECT_EQ(ctx_.response.status, 418);
  ASSERT_EQ(ctx_.response.headers.size(), 1u);
  EXPECT_EQ(ctx_.response.body, "hellohello");
}

TEST_F(AbiTest, InvalidStatusOrHeaderTrapsTheGuest) {
  EXPECT_EQ(Call("resp_status", {99}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Call("resp_status", {600}).kind, HostOutcome::Kind::kTrap);
  Put(0, "X-Bad");
  Put(10, "a\r\nInjected: 1");
  HostOutcome out = Call("resp_header", {0, 5, 10, 14});
  EXPECT_EQ(out.kind, HostOutcome::Kind::kTrap);
  EXPECT_NE(out.message.find("edgelab.resp_header"), std::string::npos);
}

TEST_F(AbiTest, KvPutGetAndCompareAndSwapByEtag) {
  int32_t h = CallI32("kv_open", {Put(0, "KV"), 2});
  EXPECT_EQ(h, 0);
  EXPECT_EQ(CallI32("kv_open", {Put(0, "NOPE"), 4}), -1);
  uint32_t key = Put(0, "counter");
  EXPECT_EQ(CallI32("kv_get", {0, key, 7, 200, 64, 300, 65}), -1);
  EXPECT_EQ(CallI32("kv_put", {0, key, 7, Put(100, "41"), 2, 0}), 0);
  EXPECT_EQ(CallI32("kv_get", {0, key, 7, 200, 64, 300, 65}), 2);
  EXPECT_EQ(Get(200, 2), "41");
  std::string etag(reinterpret_cast<char*>(mem_.data() + 300));
  ASSERT_FALSE(etag.empty());

  // if_match with the etag just read: stored, new etag written out.
  uint32_t opts = 1000;
  uint32_t fields[8] = {1, Put(400, etag), static_cast<uint32_t>(etag.size()), 0, 0, 500, 65, 0};
  std::memcpy(mem_.data() + opts, fields, sizeof(fields));
  std::memset(mem_.data() + opts + 32, 0, 16);
  EXPECT_EQ(CallI32("kv_put", {0, key, 7, Put(100, "42"), 2, opts}), 0);
  std::string new_etag(reinterpret_cast<char*>(mem_.data() + 500));
  EXPECT_NE(new_etag, etag);
  // The same (now stale) etag again: precondition failed, nothing written.
  EXPECT_EQ(CallI32("kv_put", {0, key, 7, Put(100, "99"), 2, opts}), -2);
  EXPECT_EQ(CallI32("kv_get", {0, key, 7, 200, 64, 300, 65}), 2);
  EXPECT_EQ(Get(200, 2), "42");
  // if_none_match on an existing key fails; on a new key it creates it.
  fields[0] = 2;
  std::memcpy(mem_.data() + opts, fields, sizeof(fields));
  EXPECT_EQ(CallI32("kv_put", {0, key, 7, Put(100, "1"), 1, opts}), -2);
  EXPECT_EQ(CallI32("kv_put", {0, Put(0, "fresh"), 5, Put(100, "1"), 1, opts}), 0);
}

TEST_F(AbiTest, KvOverLimitKeyIsEinvalAndLogged) {
  std::string big(513, 'k');
  EXPECT_EQ(CallI32("kv_put", {0, Put(0, big), 513, Put(1000, "v"), 1, 0}), -3);
  ASSERT_FALSE(logs_.empty());
  EXPECT_NE(logs_.back().find("512"), std::string::npos) << logs_.back();
}

TEST_F(AbiTest, KvListPagesWithACursor) {
  for (std::string k : {"a1", "a2", "a3", "b1"}) {
    ASSERT_EQ(CallI32("kv_put", {0, Put(0, k), 2, Put(100, "v"), 1, 0}), 0);
  }
  int32_t len = CallI32("kv_list", {0, Put(0, "a"), 1, 0, 0, 2, 2000, 4096});
  ASSERT_GT(len, 8);
  uint32_t count, cursor_len;
  std::memcpy(&count, mem_.data() + 2000, 4);
  std::memcpy(&cursor_len, mem_.data() + 2004, 4);
  EXPECT_EQ(count, 2u);
  ASSERT_GT(cursor_len, 0u);
  std::string cursor = Get(2008, cursor_len);
  len = CallI32("kv_list", {0, Put(0, "a"), 1, Put(10, cursor), cursor_len, 2, 2000, 4096});
  std::memcpy(&count, mem_.data() + 2000, 4);
  std::memcpy(&cursor_len, mem_.data() + 2004, 4);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(cursor_len, 0u);
  EXPECT_EQ(Get(2012, 2), "a3");
}

TEST_F(AbiTest, EveryPointerTakingCallTrapsOnABadPointer) {
  // name, args with one out-of-bounds pointer each.
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> cases = {
      {"req_method", {kBad, 64}},
      {"req_url", {kBad, 64}},
      {"req_header", {kBad, 4, 0, 0}},
      {"req_header", {0, 1, kBad, 64}},
      {"req_headers", {kBad, 64}},
      {"req_body", {kBad, 64}},
      {"resp_header", {kBad, 4, 0, 1}},
      {"resp_header", {0, 1, kBad, 4}},
      {"resp_write", {kBad, 64}},
      {"resp_write", {kMemBytes - 10, 11}},
      {"kv_open", {kBad, 2}},
      {"kv_get", {0, kBad, 3, 0, 0, 0, 0}},
      {"kv_get", {0, 0, 3, kBad, 64, 0, 0}},
      {"kv_get", {0, 0, 3, 0, 0, kBad, 65}},
      {"kv_get_strong", {0, kBad, 3, 0, 0, 0, 0}},
      {"kv_get_strong", {0, 0, 3, kBad, 64, 0, 0}},
      {"kv_get_strong", {0, 0, 3, 0, 0, kBad, 65}},
      {"kv_get_metadata", {0, 0, 3, kBad, 64}},
      {"kv_put", {0, kBad, 3, 0, 1, 0}},
      {"kv_put", {0, 0, 3, kBad, 1, 0}},
      {"kv_put", {0, 0, 3, 0, 1, kBad}},
      {"kv_delete", {0, kBad, 3}},
      {"kv_list", {0, kBad, 1, 0, 0, 10, 0, 64}},
      {"kv_list", {0, 0, 1, kBad, 4, 10, 0, 64}},
      {"kv_list", {0, 0, 1, 0, 0, 10, kBad, 64}},
      {"random", {kBad, 64}},
      {"log", {1, kBad, 64}},
  };
  for (const auto& [name, args] : cases) {
    HostOutcome out = Call(name, args);
    EXPECT_EQ(out.kind, HostOutcome::Kind::kTrap) << name;
    EXPECT_NE(out.message.find("edgelab." + name + ": pointer out of bounds"), std::string::npos)
        << out.message;
  }
  const std::vector<std::pair<std::string, std::vector<uint64_t>>> wasi = {
      {"fd_write", {1, kBad, 1, 0}},    {"fd_fdstat_get", {1, kBad}},
      {"args_sizes_get", {kBad, 0}},    {"environ_sizes_get", {0, kBad}},
      {"clock_time_get", {0, 1, kBad}}, {"clock_res_get", {0, kBad}},
      {"random_get", {kBad, 8}},
  };
  for (const auto& [name, args] : wasi) {
    EXPECT_EQ(Call(name, args, kWasiModule).kind, HostOutcome::Kind::kTrap) << name;
  }
}

TEST_F(AbiTest, KvPutWithABadPointerWritesNothing) {
  uint32_t key = Put(0, "k");
  EXPECT_EQ(Call("kv_put", {0, key, 1, 10, 1, kBad}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(CallI32("kv_get", {0, key, 1, 200, 64, 300, 65}), -1);
}

TEST_F(AbiTest, FdWriteBecomesLogLinesPerFd) {
  Put(100, "hello\nwor");
  Put(200, "ld\n");
  uint32_t iov[4] = {100, 9, 200, 3};
  std::memcpy(mem_.data() + 16, iov, sizeof(iov));
  EXPECT_EQ(CallI32("fd_write", {1, 16, 2, 40}, kWasiModule), 0);
  uint32_t written;
  std::memcpy(&written, mem_.data() + 40, 4);
  EXPECT_EQ(written, 12u);
  EXPECT_EQ(logs_, (std::vector<std::string>{"1 hello", "1 world"}));
  EXPECT_EQ(CallI32("fd_write", {5, 16, 2, 40}, kWasiModule), 8);  // EBADF
}

TEST_F(AbiTest, ResponseBodyPastTheLimitTrapsInsteadOfGrowingTheHost) {
  ctx_.max_response_bytes = 10;
  Put(0, "0123456789A");
  EXPECT_EQ(Call("resp_write", {0, 10}).kind, HostOutcome::Kind::kReturn);
  HostOutcome out = Call("resp_write", {0, 1});
  EXPECT_EQ(out.kind, HostOutcome::Kind::kTrap);
  EXPECT_NE(out.message.find("response body over 10 bytes"), std::string::npos) << out.message;
}

TEST_F(AbiTest, FdWriteIovecArrayThatWrapsTrapsInsteadOfReadingAddressZero) {
  // Two iovecs starting 8 bytes below 4 GiB: the second would wrap to 0.
  HostOutcome out = Call("fd_write", {1, 0xFFFFFFF8u, 2, 40}, kWasiModule);
  EXPECT_EQ(out.kind, HostOutcome::Kind::kTrap);
  EXPECT_TRUE(logs_.empty());
}

TEST_F(AbiTest, EachLoggedLineIsChargedNotJustTheBytesPassed) {
  // 4 bytes of newlines cost four log lines, not 4 bytes.
  Put(100, "\n\n\n\n");
  uint32_t iov[2] = {100, 4};
  std::memcpy(mem_.data() + 16, iov, sizeof(iov));
  EXPECT_EQ(CallI32("fd_write", {1, 16, 1, 40}, kWasiModule), 0);
  EXPECT_EQ(logs_.size(), 4u);
  EXPECT_GE(last_cost_, 4 * 8 * 300u);
  Put(0, "x");
  ASSERT_EQ(Call("log", {1, 0, 1}).kind, HostOutcome::Kind::kReturn);
  EXPECT_GE(last_cost_, 8 * 300u);
}

TEST_F(AbiTest, KvCallsChargeTheStoreWorkBehindThem) {
  EXPECT_EQ(CallI32("kv_put", {0, Put(0, "k"), 1, Put(100, "v"), 1, 0}), 0);
  EXPECT_GE(last_cost_, 8 * 4000u);
  EXPECT_EQ(CallI32("kv_get", {0, Put(0, "k"), 1, 200, 64, 300, 65}), 1);
  EXPECT_GE(last_cost_, 8 * 400u);
}

TEST_F(AbiTest, KvCallsCountEachCallThatReachedTheStoreWhateverItAnswered) {
  uint32_t key = Put(0, "k");
  EXPECT_EQ(CallI32("kv_get", {0, key, 1, 200, 64, 300, 65}), -1);  // a miss is a read
  EXPECT_EQ(CallI32("kv_put", {0, key, 1, Put(100, "v"), 1, 0}), 0);
  EXPECT_EQ(CallI32("kv_get", {0, key, 1, 200, 64, 300, 65}), 1);
  EXPECT_EQ(CallI32("kv_get_strong", {0, key, 1, 200, 64, 300, 65}), 1);
  EXPECT_EQ(CallI32("kv_get_metadata", {0, key, 1, 200, 64}), 0);
  // A conditional put that fails its condition is still a write.
  uint32_t fields[12] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // if_none_match
  std::memcpy(mem_.data() + 1000, fields, sizeof(fields));
  EXPECT_EQ(CallI32("kv_put", {0, key, 1, Put(100, "w"), 1, 1000}), -2);
  EXPECT_EQ(CallI32("kv_delete", {0, key, 1}), 0);
  EXPECT_EQ(CallI32("kv_delete", {0, key, 1}), 0);  // deleting nothing too
  EXPECT_GE(CallI32("kv_list", {0, 0, 0, 0, 0, 0, 2000, 4096}), 8);
  UsageCounts u = usage_.Snapshot();
  EXPECT_EQ(u.kv_reads, 4u);
  EXPECT_EQ(u.kv_writes, 2u);
  EXPECT_EQ(u.kv_deletes, 2u);
  EXPECT_EQ(u.kv_lists, 1u);
  EXPECT_EQ(u.requests + u.cpu_fuel + u.do_requests + u.do_read_units + u.do_write_units, 0u)
      << "KV calls count only KV";
}

TEST_F(AbiTest, KvCallsRefusedForTheirArgumentsOrTrappedCountNothing) {
  std::string big(513, 'k');
  uint32_t key = Put(0, "k"), over = Put(2000, big), val = Put(100, "v");
  // No such binding.
  EXPECT_EQ(CallI32("kv_get", {7, key, 1, 200, 64, 300, 65}), -3);
  EXPECT_EQ(CallI32("kv_get_strong", {7, key, 1, 200, 64, 300, 65}), -3);
  EXPECT_EQ(CallI32("kv_get_metadata", {7, key, 1, 200, 64}), -3);
  EXPECT_EQ(CallI32("kv_put", {7, key, 1, val, 1, 0}), -3);
  EXPECT_EQ(CallI32("kv_delete", {7, key, 1}), -3);
  EXPECT_EQ(CallI32("kv_list", {7, 0, 0, 0, 0, 0, 3000, 64}), -3);
  // Over the Workers limits: the store refuses them.
  EXPECT_EQ(CallI32("kv_get", {0, over, 513, 200, 64, 300, 65}), -3);
  EXPECT_EQ(CallI32("kv_get_strong", {0, over, 513, 200, 64, 300, 65}), -3);
  EXPECT_EQ(CallI32("kv_get_metadata", {0, over, 513, 200, 64}), -3);
  EXPECT_EQ(CallI32("kv_put", {0, over, 513, val, 1, 0}), -3);
  EXPECT_EQ(CallI32("kv_delete", {0, over, 513}), -3);
  EXPECT_EQ(CallI32("kv_list", {0, 0, 0, 0, 0, 1001, 3000, 64}), -3);
  EXPECT_EQ(CallI32("kv_list", {0, over, 513, 0, 0, 10, 3000, 64}), -3);
  uint32_t fields[12] = {3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // no condition 3
  std::memcpy(mem_.data() + 1000, fields, sizeof(fields));
  EXPECT_EQ(CallI32("kv_put", {0, key, 1, val, 1, 1000}), -3);
  // Bad pointers trap before anything is sent.
  EXPECT_EQ(Call("kv_get", {0, kBad, 1, 200, 64, 300, 65}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Call("kv_put", {0, key, 1, kBad, 1, 0}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Call("kv_delete", {0, kBad, 1}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Call("kv_list", {0, 0, 0, 0, 0, 10, kBad, 64}).kind, HostOutcome::Kind::kTrap);
  EXPECT_EQ(Counts(usage_.Snapshot()), Counts(UsageCounts{}));
}

TEST_F(AbiTest, WithoutUsageTheCallsWorkAndCountNowhere) {
  ctx_.set_usage(nullptr);
  EXPECT_EQ(CallI32("kv_put", {0, Put(0, "k"), 1, Put(100, "v"), 1, 0}), 0);
  EXPECT_EQ(CallI32("kv_get", {0, Put(0, "k"), 1, 200, 64, 300, 65}), 1);
  EXPECT_EQ(Counts(usage_.Snapshot()), Counts(UsageCounts{}));
}

// The KV calls at the edge's locations: two of them, "a" and "b", whose
// caches keep an entry 60 s and learn of another's write only after an hour,
// so within a test a read at b of what a wrote is stale for sure (the
// fixture's scheduler runs on real time).
class AbiLocationsTest : public AbiTest {
 protected:
  static constexpr size_t kA = 0, kB = 1;

  explicit AbiLocationsTest(kv::Consistency binding = kv::Consistency::kEventual)
      : locations_(&store_, MakeOptions()),
        edge_ns_(&store_, "test", kv::Latency{}, &locations_, binding) {
    bindings_[0].ns = &edge_ns_;
  }
  static kv::LocationOptions MakeOptions() {
    kv::LocationOptions o;
    o.names = {"a", "b"};
    o.cache_ttl_ms = 60'000;
    o.propagation.dist = kv::Latency::Dist::kFixed;
    o.propagation.ms = 3'600'000;
    return o;
  }
  // What the guest reads of "k" at `location` with `fn`: the value, or the code.
  std::string ReadAt(size_t location, std::string_view fn = "kv_get") {
    ctx_.location = location;
    int32_t n = CallI32(fn, {0, Put(0, "k"), 1, 200, 64, 300, 65});
    return n < 0 ? std::to_string(n) : Get(200, static_cast<uint32_t>(n));
  }
  int32_t WriteAt(size_t location, std::string_view value) {
    ctx_.location = location;
    return CallI32("kv_put",
                   {0, Put(0, "k"), 1, Put(100, value), static_cast<uint32_t>(value.size()), 0});
  }

  kv::Locations locations_;
  kv::Namespace edge_ns_;
};

TEST_F(AbiLocationsTest, KvCallsReadAndWriteAtTheRequestsLocation) {
  ASSERT_EQ(ReadAt(kB), "-1");  // b caches the key's absence
  ASSERT_EQ(WriteAt(kA, "v1"), 0);
  EXPECT_EQ(ReadAt(kA), "v1");  // a sees its own write at once
  EXPECT_EQ(ReadAt(kB), "-1");  // b's cached answer is stale
  EXPECT_EQ(locations_.cached(kB), 1u);
  ctx_.location = kB;
  EXPECT_EQ(CallI32("kv_delete", {0, Put(0, "k"), 1}), 0);
  EXPECT_EQ(ReadAt(kB), "-1");
  ASSERT_EQ(WriteAt(kB, "v2"), 0);
  EXPECT_EQ(ReadAt(kB), "v2");
  // Lists read the origin wherever they are made.
  ctx_.location = kA;
  EXPECT_GE(CallI32("kv_list", {0, 0, 0, 0, 0, 0, 2000, 4096}), 8);
  uint32_t count;
  std::memcpy(&count, mem_.data() + 2000, 4);
  EXPECT_EQ(count, 1u);
}

TEST_F(AbiLocationsTest, KvGetStrongReadsTheOriginAndLeavesTheCacheStale) {
  ASSERT_EQ(ReadAt(kB), "-1");
  ASSERT_EQ(WriteAt(kA, "v1"), 0);
  EXPECT_EQ(ReadAt(kB, "kv_get_strong"), "v1");
  std::string strong_etag(reinterpret_cast<char*>(mem_.data() + 300));
  EXPECT_EQ(ReadAt(kB), "-1");
  // The etag a strong read gives makes a correct if_match at a stale location.
  uint32_t fields[8] = {
      1, Put(400, strong_etag), static_cast<uint32_t>(strong_etag.size()), 0, 0, 0, 0, 0};
  std::memcpy(mem_.data() + 1000, fields, sizeof(fields));
  std::memset(mem_.data() + 1000 + 32, 0, 16);
  ctx_.location = kB;
  EXPECT_EQ(CallI32("kv_put", {0, Put(0, "k"), 1, Put(100, "v2"), 2, 1000}), 0);
  EXPECT_EQ(ReadAt(kB), "v2");
}

TEST_F(AbiLocationsTest, AStaleEtagFailsIfMatchAtTheOrigin) {
  ASSERT_EQ(WriteAt(kA, "v1"), 0);
  ASSERT_EQ(ReadAt(kB), "v1");
  std::string stale_etag(reinterpret_cast<char*>(mem_.data() + 300));
  ASSERT_EQ(WriteAt(kA, "v2"), 0);
  ASSERT_EQ(ReadAt(kB), "v1");
  ASSERT_EQ(std::string(reinterpret_cast<char*>(mem_.data() + 300)), stale_etag);
  uint32_t fields[8] = {
      1, Put(400, stale_etag), static_cast<uint32_t>(stale_etag.size()), 0, 0, 0, 0, 0};
  std::memcpy(mem_.data() + 1000, fields, sizeof(fields));
  std::memset(mem_.data() + 1000 + 32, 0, 16);
  ctx_.location = kB;
  EXPECT_EQ(CallI32("kv_put", {0, Put(0, "k"), 1, Put(100, "v3"), 2, 1000}), -2);
  EXPECT_EQ(ReadAt(kA, "kv_get_strong"), "v2");
}

class AbiStrongBindingTest : public AbiLocationsTest {
 protected:
  AbiStrongBindingTest() : AbiLocationsTest(kv::Consistency::kStrong) {}
};

TEST_F(AbiStrongBindingTest, AStrongBindingReadsTheOriginOnEveryGet) {
  ASSERT_EQ(ReadAt(kB), "-1");
  ASSERT_EQ(WriteAt(kA, "v1"), 0);
  EXPECT_EQ(ReadAt(kB), "v1");
  ctx_.location = kB;
  EXPECT_EQ(CallI32("kv_get_metadata", {0, Put(0, "k"), 1, 200, 64}), 0);
  EXPECT_EQ(locations_.cached(kB), 0u);
}

TEST_F(AbiTest, InitializationRunsAtTheLocationOfTheRequestThatStartedIt) {
  ctx_.location = 3;
  EXPECT_EQ(ctx_.ForInit().location, 3u);
}

TEST(UsageTest, StorageUnitsAreOnePer4KBBegunAndAtLeastOne) {
  EXPECT_EQ(StorageUnits(0), 1u);
  EXPECT_EQ(StorageUnits(1), 1u);
  EXPECT_EQ(StorageUnits(4096), 1u);
  EXPECT_EQ(StorageUnits(4097), 2u);
  EXPECT_EQ(StorageUnits(9 * 1024), 3u);  // Cloudflare's example: a 9 KB write is 3
  EXPECT_EQ(StorageUnits(80 * 1024), 20u);
}

TEST(UsageTest, SnapshotCopiesEveryCounter) {
  Usage u;
  Usage::Add(u.requests, 1);
  Usage::Add(u.cpu_fuel, 2);
  Usage::Add(u.kv_reads, 3);
  Usage::Add(u.kv_writes, 4);
  Usage::Add(u.kv_deletes, 5);
  Usage::Add(u.kv_lists, 6);
  Usage::Add(u.do_requests, 7);
  Usage::Add(u.do_wall_micros, 11);
  Usage::Add(u.do_cpu_fuel, 13);
  Usage::Add(u.do_read_units, 8);
  Usage::Add(u.do_write_units, 9);
  Usage::Add(u.do_write_units);
  EXPECT_EQ(Counts(u.Snapshot()), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 11, 13, 8, 10}));
}

TEST_F(AbiTest, HeaderNamesCompareEveryByteIncludingNul) {
  ctx_.request.headers = {{std::string("a\0b", 3), "1"}};
  EXPECT_EQ(CallI32("req_header", {Put(0, std::string("a\0c", 3)), 3, 100, 64}), -1);
  EXPECT_EQ(CallI32("req_header", {Put(0, std::string("A\0B", 3)), 3, 100, 64}), 1);
}

TEST_F(AbiTest, ProcExitEndsTheRequestWithItsCode) {
  HostOutcome out = Call("proc_exit", {3}, kWasiModule);
  EXPECT_EQ(out.kind, HostOutcome::Kind::kExit);
  EXPECT_EQ(out.exit_code, 3);
}

TEST_F(AbiTest, UnknownImportsAreNotFound) {
  EXPECT_EQ(FindHostFunction(kModule, "nope"), nullptr);
  EXPECT_EQ(FindHostFunction("env", "fd_write"), nullptr);
}

}  // namespace
}  // namespace edgelab::abi
