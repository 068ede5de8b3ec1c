// kv/memory_store_test.cc: what is particular to MemoryStore; the Store
// contract itself is in store_conformance_test.cc.
#include "kv/memory_store.h"

#include <gtest/gtest.h>

#include "testing/fake_clock.h"

namespace edgelab::kv {
namespace {

TEST(MemoryStoreTest, EtagsAreTheEpochThenASixteenDigitHexSequence) {
  test::FakeClock clock;
  MemoryStore store(&clock, 0x3fa2c91b);
  EXPECT_EQ(store.Put("ns", "a", "v", {})->etag, "3fa2c91b-0000000000000001");
  EXPECT_EQ(store.Put("ns", "b", "v", {})->etag, "3fa2c91b-0000000000000002");
  EXPECT_EQ(store.Put("other", "a", "v", {})->etag, "3fa2c91b-0000000000000003");
}

TEST(MemoryStoreTest, AnEtagFromAnotherInstanceNeverMatches) {
  test::FakeClock clock;
  MemoryStore before(&clock, 1);
  MemoryStore after(&clock, 2);
  const std::string old_etag = before.Put("ns", "k", "v", {})->etag;
  ASSERT_TRUE(after.Put("ns", "k", "v", {}).ok());
  PutOptions opts;
  opts.condition = PutOptions::Condition::kIfMatch;
  opts.if_match = old_etag;
  EXPECT_EQ(after.Put("ns", "k", "w", opts)->outcome, PutResult::Outcome::kPreconditionFailed);
}

TEST(MemoryStoreTest, RandomEpochsDifferBetweenInstances) {
  test::FakeClock clock;
  MemoryStore a(&clock), b(&clock);
  // Equal with probability 2^-32.
  EXPECT_NE(a.Put("ns", "k", "v", {})->etag, b.Put("ns", "k", "v", {})->etag);
}

}  // namespace
}  // namespace edgelab::kv
