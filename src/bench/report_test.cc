// bench/report_test.cc: the text block and the JSON of a hand-made report.
#include "bench/report.h"

#include <gtest/gtest.h>

namespace edgelab::bench {
namespace {

LoadReport SampleReport() {
  LoadReport r;
  r.completed = 900;
  r.failed = 100;
  r.by_status = {{200, 900}, {500, 90}};
  r.errors = 10;
  r.error_kinds = {{"timeout", 10}};
  r.seconds = 0.5;
  // Values at the middle of their buckets, so percentiles come back exact.
  for (int i = 0; i < 500; ++i) r.latency.Record(1203);
  for (int i = 0; i < 480; ++i) r.latency.Record(2003);
  for (int i = 0; i < 19; ++i) r.latency.Record(4559);
  r.latency.Record(12345);
  return r;
}

TEST(ReportTest, FormatsOneReadableBlock) {
  EXPECT_EQ(FormatReport(SampleReport()),
            "requests   1000 in 0.50 s, 2000.0 req/s\n"
            "completed  900\n"
            "failed     100: status 500 x 90, timeout x 10\n"
            "latency    p50 1.20 ms, p90 2.00 ms, p99 4.56 ms, p99.9 12.3 ms, p99.99 12.3 ms, "
            "max 12.3 ms\n");
}

TEST(ReportTest, SaysSoWhenNothingAnswered) {
  LoadReport r;
  r.failed = 2;
  r.errors = 2;
  r.error_kinds = {{"connect: Connection refused", 2}};
  std::string text = FormatReport(r);
  EXPECT_NE(text.find("failed     2: connect: Connection refused x 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("latency    no responses\n"), std::string::npos) << text;
}

TEST(ReportTest, ExportsJsonForScripts) {
  nlohmann::json j = ToJson(SampleReport());
  EXPECT_EQ(j["requests"], 1000);
  EXPECT_EQ(j["completed"], 900);
  EXPECT_EQ(j["failed"], 100);
  EXPECT_EQ(j["by_status"]["500"], 90);
  EXPECT_EQ(j["errors"], 10);
  EXPECT_EQ(j["error_kinds"]["timeout"], 10);
  EXPECT_DOUBLE_EQ(j["requests_per_second"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p50"].get<double>(), 1.203);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p99"].get<double>(), 4.559);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["max"].get<double>(), 12.345);
  EXPECT_TRUE(j["latency_ms"].contains("p99_9"));
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p99_99"].get<double>(), 12.345);
}

}  // namespace
}  // namespace edgelab::bench
