// Tests for the cost model (cost.h) with examples computed by hand, two of
// them Cloudflare's own (Workers pricing page, "Example 1": 15 million
// requests at 7 ms of CPU each cost $8.00; Durable Objects pricing page,
// "Example 2": 86,400,000 object-seconds are 11,059,200 GB-s), and for the
// price settings.
#include "bench/cost.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgelab::bench {
namespace {

constexpr double kCent = 1e-9;  // dollars: the sums here are exact to far below a cent

const std::vector<std::string> kItemOrder = {
    "requests", "cpu_ms",      "kv_reads",         "kv_writes",     "kv_deletes",
    "kv_lists", "do_requests", "do_duration_gb_s", "do_read_units", "do_write_units",
};

const CostLine& Line(const Cost& cost, const std::string& item) {
  for (const CostLine& line : cost.lines) {
    if (line.item == item) return line;
  }
  ADD_FAILURE() << "no line " << item;
  static const CostLine kNone;
  return kNone;
}

// A run of 1,000 requests that each used the given amounts (do_wall_ms:
// milliseconds of object turns).
Usage Shape(double cpu_ms, uint64_t kv_reads, uint64_t kv_writes, uint64_t kv_deletes,
            uint64_t kv_lists, uint64_t do_requests, double do_wall_ms, uint64_t do_read_units,
            uint64_t do_write_units) {
  Usage u;
  u.known = true;
  u.requests = 1000;
  u.cpu_ms = cpu_ms * 1000;
  u.kv_reads = kv_reads * 1000;
  u.kv_writes = kv_writes * 1000;
  u.kv_deletes = kv_deletes * 1000;
  u.kv_lists = kv_lists * 1000;
  u.do_requests = do_requests * 1000;
  u.do_wall_s = do_wall_ms;  // ms each * 1,000 requests / 1,000 ms a second
  u.do_read_units = do_read_units * 1000;
  u.do_write_units = do_write_units * 1000;
  return u;
}

TEST(CostTest, TheDefaultsAreThePricesOnCloudflaresPages) {
  Prices p;
  EXPECT_EQ(p.base_usd, 5.00);
  EXPECT_EQ(p.requests.included, 10e6);
  EXPECT_EQ(p.requests.usd_per_million, 0.30);
  EXPECT_EQ(p.cpu_ms.included, 30e6);
  EXPECT_EQ(p.cpu_ms.usd_per_million, 0.02);
  EXPECT_EQ(p.kv_reads.included, 10e6);
  EXPECT_EQ(p.kv_reads.usd_per_million, 0.50);
  for (const Price* kv : {&p.kv_writes, &p.kv_deletes, &p.kv_lists}) {
    EXPECT_EQ(kv->included, 1e6);
    EXPECT_EQ(kv->usd_per_million, 5.00);
  }
  EXPECT_EQ(p.do_requests.included, 1e6);
  EXPECT_EQ(p.do_requests.usd_per_million, 0.15);
  EXPECT_EQ(p.do_duration_gb_s.included, 400'000);
  EXPECT_EQ(p.do_duration_gb_s.usd_per_million, 12.50);
  EXPECT_EQ(p.do_memory_gb, 0.128);  // 128 MB / 1 GB, as Cloudflare's examples divide
  EXPECT_EQ(p.do_read_units.included, 1e6);
  EXPECT_EQ(p.do_read_units.usd_per_million, 0.20);
  EXPECT_EQ(p.do_write_units.included, 1e6);
  EXPECT_EQ(p.do_write_units.usd_per_million, 1.00);
  EXPECT_EQ(kDefaultMonthlyRequests, 25'920'000'000ULL);
}

TEST(CostTest, AUsageUnderEveryAllowanceCostsTheBaseFee) {
  // At 1 million requests a month: 1M requests (10M free), 2M CPU ms (30M),
  // 5M KV reads (10M), 0.5M of each KV write kind (1M), 1M DO requests
  // (1M: exactly the allowance is still free), 1M s of object turns = 128,000
  // GB-s (400,000), 0.9M read and write units.
  Usage u = Shape(2, 5, 0, 0, 0, 1, 1000, 0, 0);
  u.kv_writes = u.kv_deletes = u.kv_lists = 500;
  u.do_read_units = u.do_write_units = 900;
  Cost cost = MonthlyCost(u, 1'000'000, Prices());
  EXPECT_TRUE(cost.complete);
  EXPECT_EQ(cost.monthly_requests, 1'000'000u);
  EXPECT_NEAR(cost.monthly_usd, 5.00, kCent);
  EXPECT_NEAR(cost.usd_per_million_requests, 5.00, kCent);
  ASSERT_EQ(cost.lines.size(), kItemOrder.size());
  for (const CostLine& line : cost.lines) {
    EXPECT_EQ(line.billed_units, 0) << line.item;
    EXPECT_EQ(line.usd, 0) << line.item;
  }
  EXPECT_NEAR(Line(cost, "kv_reads").monthly_units, 5e6, 1e-3);
  EXPECT_NEAR(Line(cost, "do_requests").monthly_units, 1e6, 1e-3);
  EXPECT_NEAR(Line(cost, "do_duration_gb_s").monthly_units, 128'000, 1e-6);
}

TEST(CostTest, CloudflaresExampleOneScalesToEightDollars) {
  // 1,000 requests at 7 ms each, scaled to 15 million a month:
  // requests (15M - 10M) / 1M * $0.30 = $1.50; CPU (105M - 30M) / 1M *
  // $0.02 = $1.50; with the $5 fee, $8.00.
  Cost cost = MonthlyCost(Shape(7, 0, 0, 0, 0, 0, 0, 0, 0), 15'000'000, Prices());
  EXPECT_EQ(Line(cost, "requests").monthly_units, 15e6);
  EXPECT_NEAR(Line(cost, "requests").billed_units, 5e6, 1e-3);
  EXPECT_NEAR(Line(cost, "requests").usd, 1.50, kCent);
  EXPECT_NEAR(Line(cost, "cpu_ms").monthly_units, 105e6, 1e-3);
  EXPECT_NEAR(Line(cost, "cpu_ms").usd, 1.50, kCent);
  EXPECT_NEAR(cost.monthly_usd, 8.00, kCent);
  EXPECT_NEAR(cost.usd_per_million_requests, 8.00 / 15, kCent);
}

TEST(CostTest, TheSameRunCostsInProportionToTheMonthlyVolumeAboveTheAllowances) {
  // 1 KV read a request. At 20M requests: (20M - 10M) * $0.30 + (20M - 10M)
  // * $0.50 = $8.00; at 40M: 30M * ($0.30 + $0.50) = $24.00.
  Usage u = Shape(0, 1, 0, 0, 0, 0, 0, 0, 0);
  EXPECT_NEAR(MonthlyCost(u, 20'000'000, Prices()).monthly_usd, 5.00 + 8.00, kCent);
  EXPECT_NEAR(MonthlyCost(u, 40'000'000, Prices()).monthly_usd, 5.00 + 24.00, kCent);
}

TEST(CostTest, EachItemIsBilledAboveItsOwnAllowanceAtItsOwnPrice) {
  // Per request: 0.5 ms, 2 KV reads, 1 write, 1 delete, 1 list, 1 DO
  // request, 50 ms of object turns, 3 read units, 2 write units; 100 million
  // requests a month.
  Usage u = Shape(0.5, 2, 1, 1, 1, 1, 50, 3, 2);
  Cost cost = MonthlyCost(u, 100'000'000, Prices());
  const std::vector<double> want_usd = {
      (100 - 10) * 0.30,     // requests
      (50 - 30) * 0.02,      // cpu_ms: 50M ms
      (200 - 10) * 0.50,     // kv_reads
      (100 - 1) * 5.00,      // kv_writes
      (100 - 1) * 5.00,      // kv_deletes
      (100 - 1) * 5.00,      // kv_lists
      (100 - 1) * 0.15,      // do_requests
      (0.64 - 0.4) * 12.50,  // do_duration_gb_s: 5M s * 0.128 GB = 0.64M GB-s
      (300 - 1) * 0.20,      // do_read_units
      (200 - 1) * 1.00,      // do_write_units
  };
  ASSERT_EQ(cost.lines.size(), kItemOrder.size());
  double sum = 5.00;
  for (size_t i = 0; i < kItemOrder.size(); ++i) {
    EXPECT_EQ(cost.lines[i].item, kItemOrder[i]);
    EXPECT_NEAR(cost.lines[i].usd, want_usd[i], kCent) << kItemOrder[i];
    sum += want_usd[i];
  }
  EXPECT_NEAR(Line(cost, "do_read_units").billed_units, 299e6, 1e-3);
  EXPECT_NEAR(Line(cost, "do_duration_gb_s").billed_units, 240'000, 1e-6);
  EXPECT_NEAR(cost.monthly_usd, 1889.05, kCent);
  EXPECT_NEAR(cost.monthly_usd, sum, kCent);
  EXPECT_NEAR(cost.usd_per_million_requests, 18.8905, kCent);
}

TEST(CostTest, DurationIsWallSecondsTimesTheObjectMemoryAsCloudflareCountsIt) {
  // The Durable Objects pricing page, Example 2: 100 objects active 8 hours a
  // day for 30 days are 86,400,000 s, "* 128 MB / 1 GB = 11,059,200 GB-s";
  // 10,659,200 above the 400,000 included cost $133.24 (the page rounds the
  // GB-s up to 11 million first and says $137.50).
  Usage u;
  u.known = true;
  u.requests = 1000;
  u.do_wall_s = 86'400'000.0 / 1000;  // a run of 1,000 of 1 million requests
  Cost cost = MonthlyCost(u, 1'000'000, Prices());
  EXPECT_NEAR(Line(cost, "do_duration_gb_s").monthly_units, 11'059'200, 1e-6);
  EXPECT_NEAR(Line(cost, "do_duration_gb_s").billed_units, 10'659'200, 1e-6);
  EXPECT_NEAR(Line(cost, "do_duration_gb_s").usd, 133.24, kCent);
  EXPECT_NEAR(cost.monthly_usd, 5.00 + 133.24, kCent);
  // The memory is a price like the others: at 0.125 GB (128 MiB) the same
  // seconds are 10,800,000 GB-s.
  Prices mib;
  ASSERT_TRUE(SetPrice("do_memory_gb=0.125", &mib).ok());
  EXPECT_NEAR(Line(MonthlyCost(u, 1'000'000, mib), "do_duration_gb_s").monthly_units, 10'800'000,
              1e-6);
  // Without object turns there is no duration, whatever the memory.
  u.do_wall_s = 0;
  EXPECT_EQ(Line(MonthlyCost(u, 1'000'000, Prices()), "do_duration_gb_s").monthly_units, 0);
}

TEST(CostTest, AnUnknownUsageIsCostedOnRequestsAloneAndSaysSo) {
  Usage u = Shape(100, 9, 9, 9, 9, 9, 9, 9, 9);  // what a URL target cannot see
  u.known = false;
  Cost cost = MonthlyCost(u, 20'000'000, Prices());
  EXPECT_FALSE(cost.complete);
  EXPECT_NEAR(Line(cost, "requests").usd, 3.00, kCent);
  for (const CostLine& line : cost.lines) {
    if (line.item == "requests") continue;
    EXPECT_EQ(line.monthly_units, 0) << line.item;
    EXPECT_EQ(line.usd, 0) << line.item;
  }
  EXPECT_NEAR(cost.monthly_usd, 8.00, kCent);
}

TEST(CostTest, ARunWithoutRequestsCostsTheBaseFeeAlone) {
  Usage u;
  u.known = true;
  u.cpu_ms = 1e12;  // nothing to scale by: ignored
  u.do_wall_s = 1e12;
  Cost cost = MonthlyCost(u, kDefaultMonthlyRequests, Prices());
  EXPECT_NEAR(cost.monthly_usd, 5.00, kCent);
  EXPECT_EQ(cost.lines.size(), kItemOrder.size());
  for (const CostLine& line : cost.lines) EXPECT_EQ(line.monthly_units, 0) << line.item;
}

TEST(CostTest, NoMonthlyRequestsCostsTheBaseFeeAndNoPricePerMillion) {
  Cost cost = MonthlyCost(Shape(1, 1, 1, 1, 1, 1, 1, 1, 1), 0, Prices());
  EXPECT_NEAR(cost.monthly_usd, 5.00, kCent);
  EXPECT_EQ(cost.usd_per_million_requests, 0);
}

TEST(CostTest, ThePostsVolumeOfRequestsAloneCosts7778Dollars) {
  // 25.92 billion requests: (25,920M - 10M) * $0.30 = $7,773, plus $5.
  Usage u;
  u.requests = 1;
  Cost cost = MonthlyCost(u, kDefaultMonthlyRequests, Prices());
  EXPECT_NEAR(cost.monthly_usd, 7778.00, 1e-6);
}

TEST(CostTest, SetPriceSetsTheNamedField) {
  Prices p;
  ASSERT_TRUE(SetPrice("kv_writes.usd_per_million=4.5", &p).ok());
  EXPECT_EQ(p.kv_writes.usd_per_million, 4.5);
  EXPECT_EQ(p.kv_deletes.usd_per_million, 5.00);  // nothing else moved
  ASSERT_TRUE(SetPrice("cpu_ms.included=1e6", &p).ok());
  EXPECT_EQ(p.cpu_ms.included, 1e6);
  ASSERT_TRUE(SetPrice("base_usd=0", &p).ok());
  EXPECT_EQ(p.base_usd, 0);
  ASSERT_TRUE(SetPrice("do_write_units.included=0.25", &p).ok());
  EXPECT_EQ(p.do_write_units.included, 0.25);
  ASSERT_TRUE(SetPrice("do_duration_gb_s.usd_per_million=10", &p).ok());
  EXPECT_EQ(p.do_duration_gb_s.usd_per_million, 10);
  EXPECT_EQ(p.do_duration_gb_s.included, 400'000);
  ASSERT_TRUE(SetPrice("do_memory_gb=0.25", &p).ok());
  EXPECT_EQ(p.do_memory_gb, 0.25);
}

TEST(CostTest, SetPriceRefusesUnknownKeysAndValuesThatAreNotNonNegativeNumbers) {
  const std::vector<std::string> bad = {
      "",
      "base_usd",                      // no '='
      "=1",                            // no key
      "kv_writes.usd_per_milion=4.5",  // misspelt field
      "kv_writes=4.5",                 // an item, not a field
      "kv_write.included=1",           // misspelt item
      " base_usd=1",                   // a space is part of the key
      "BASE_USD=1",                    // keys are lower case
      "base_usd=",                     // no value
      "base_usd=-1",                   // negative
      "base_usd=abc",                  // not a number
      "base_usd=1.5x",                 // trailing text
      "base_usd= 1",                   // leading space
      "base_usd=+1",                   // a sign is not a number's part here
      "base_usd=inf",                  // not finite
      "base_usd=nan",                  // not a number either
      "base_usd=1e999",                // out of range
      "requests.included=1=2",         // one '=' only
      "do_memory_gb.included=1",       // a single number has no fields
      "do_duration_gb_s=1",            // an item, not a field
      "do_memory_gb=-0.1",             // negative
  };
  for (const std::string& text : bad) {
    Prices p;
    Status s = SetPrice(text, &p);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << text;
    EXPECT_NE(s.message().find("\"" + text + "\""), std::string::npos) << s.message();
    EXPECT_EQ(p.base_usd, 5.00) << text;
    EXPECT_EQ(p.kv_writes.usd_per_million, 5.00) << text;
    EXPECT_EQ(p.do_memory_gb, 0.128) << text;
  }
  Prices p;
  Status s = SetPrice("kv_writes.usd_per_milion=4.5", &p);
  EXPECT_NE(s.message().find("unknown key \"kv_writes.usd_per_milion\""), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("do_write_units"), std::string::npos) << "lists the items";
  EXPECT_NE(s.message().find("do_duration_gb_s"), std::string::npos) << "lists the items";
  EXPECT_NE(s.message().find("do_memory_gb"), std::string::npos) << "lists the scalars";
  s = SetPrice("base_usd=-1", &p);
  EXPECT_NE(s.message().find("not a non-negative number"), std::string::npos) << s.message();
}

TEST(CostTest, ListPricesNamesEveryKeyOnceWithTheDefaults) {
  std::vector<std::string> listed = ListPrices(Prices());
  ASSERT_EQ(listed.size(), 2 + 2 * kItemOrder.size());
  EXPECT_EQ(listed[0], "base_usd=5");
  EXPECT_EQ(listed[1], "do_memory_gb=0.128");
  EXPECT_EQ(listed[2], "requests.included=10000000");
  EXPECT_EQ(listed[3], "requests.usd_per_million=0.3");
  EXPECT_EQ(listed[5], "cpu_ms.usd_per_million=0.02");
  EXPECT_EQ(listed[16], "do_duration_gb_s.included=400000");
  EXPECT_EQ(listed[17], "do_duration_gb_s.usd_per_million=12.5");
  EXPECT_EQ(listed.back(), "do_write_units.usd_per_million=1");
  for (size_t i = 0; i < kItemOrder.size(); ++i) {  // each item's two keys, in order
    const std::string& included = listed[2 + 2 * i];
    const std::string& per_million = listed[3 + 2 * i];
    EXPECT_EQ(included.rfind(kItemOrder[i] + ".included=", 0), 0u) << included;
    EXPECT_EQ(per_million.rfind(kItemOrder[i] + ".usd_per_million=", 0), 0u) << per_million;
  }
}

TEST(CostTest, ListPricesRoundTripsThroughSetPriceExactly) {
  Prices odd;
  odd.base_usd = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  odd.requests = {1.0 / 3, 1e20};
  odd.cpu_ms = {0, 1e-7};
  odd.kv_lists.usd_per_million = 123456789.125;
  odd.do_write_units.included = 2.5e-300;
  odd.do_duration_gb_s = {0.1, 1.0 / 7};
  odd.do_memory_gb = 0.1 + 0.7;  // 0.7999999999999999
  Prices back;
  for (const std::string& line : ListPrices(odd)) {
    ASSERT_TRUE(SetPrice(line, &back).ok()) << line;
  }
  EXPECT_EQ(ListPrices(back), ListPrices(odd));
  EXPECT_EQ(back.base_usd, odd.base_usd);
  EXPECT_EQ(back.requests.included, odd.requests.included);
  EXPECT_EQ(back.requests.usd_per_million, odd.requests.usd_per_million);
  EXPECT_EQ(back.cpu_ms.usd_per_million, odd.cpu_ms.usd_per_million);
  EXPECT_EQ(back.kv_lists.usd_per_million, odd.kv_lists.usd_per_million);
  EXPECT_EQ(back.do_write_units.included, odd.do_write_units.included);
  EXPECT_EQ(back.do_duration_gb_s.included, odd.do_duration_gb_s.included);
  EXPECT_EQ(back.do_duration_gb_s.usd_per_million, odd.do_duration_gb_s.usd_per_million);
  EXPECT_EQ(back.do_memory_gb, odd.do_memory_gb);
}

}  // namespace
}  // namespace edgelab::bench
