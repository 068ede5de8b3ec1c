// race/race_test.cc: the detector on synthetic operations with known answers
// (which writes count, grouping, text, JSON), its state bounds over 100k
// requests, several threads against a model store whose own count of lost
// updates is the expected answer; the history recorder's lines read back
// with check/ and checked for linearizability, and its failure paths.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "check/history.h"
#include "check/linearizable.h"
#include "race/detector.h"
#include "race/history.h"
#include "race/recent.h"
#include "testing/temp_dir.h"

namespace edgelab::race {
namespace {

using Kind = Report::Kind;

// --- Building operations ------------------------------------------------------

// A request of the broken counter: GET / on `isolate`.
RequestInfo Req(uint64_t id, uint64_t isolate = 1) {
  RequestInfo r;
  r.id = id;
  r.isolate = isolate;
  r.worker = "counter-broken";
  r.method = "GET";
  r.path = "/";
  return r;
}

// A guest stack: the SDK's inlined Kv call, then the user's function.
CallSitePtr Site(uint32_t line, const std::string& file = "/src/app/examples/cb/worker.cc") {
  Frame sdk{"edgelab::Kv::Put(std::string_view, std::string_view)", "/src/app/sdk/edgelab.hpp", 301,
            12, true};
  Frame user{"(anonymous namespace)::Handle(edgelab::Request const&)", file, line, 15, false};
  return std::make_shared<const CallSite>(CallSite{"/src/app/worker.wasm", {sdk, user}});
}

// One operation, built field by field; string arguments must outlive it.
struct O {
  Op op;
  O(const RequestInfo& r, Op::Kind kind, std::string_view key) {
    op.request = &r;
    op.kind = kind;
    op.key = key;
    op.space = "counter";
    op.binding = "COUNTER";
  }
  O& Value(std::string_view v) { return op.value = v, *this; }
  O& Etag(std::string_view e) { return op.etag = e, *this; }
  O& Found() { return op.found = true, *this; }
  O& Previous(std::string_view p) { return op.previous_etag = p, *this; }
  O& IfMatch(std::string_view e) {
    op.condition = Op::Condition::kIfMatch;
    return op.if_match = e, *this;
  }
  O& IfNoneMatch() { return op.condition = Op::Condition::kIfNoneMatch, *this; }
  O& Outcome(Op::Outcome o) { return op.outcome = o, *this; }
  O& At(CallSitePtr s) { return op.site = std::move(s), *this; }
  O& Time(int64_t ns) {
    op.start_ns = ns;
    op.end_ns = ns + 500;
    return *this;
  }
  O& Space(std::string_view s) { return op.space = s, *this; }
  O& Object() {
    op.store = Op::Store::kObject;
    return op.binding = "", *this;
  }
  O& InTxn() { return op.in_transaction = true, *this; }
};

O ReadOf(const RequestInfo& r, std::string_view key, std::string_view value,
         std::string_view etag) {
  return std::move(O(r, Op::Kind::kRead, key).Value(value).Etag(etag).Found());
}
O AbsentRead(const RequestInfo& r, std::string_view key) { return O(r, Op::Kind::kRead, key); }
O WriteOf(const RequestInfo& r, std::string_view key, std::string_view value, std::string_view etag,
          std::string_view previous) {
  return std::move(O(r, Op::Kind::kWrite, key).Value(value).Etag(etag).Previous(previous));
}

void Feed(Observer& o, const O& b) {
  o.Invoke(b.op);
  o.Complete(b.op);
}

std::vector<ReportGroup> OfKind(const Detector& d, Kind kind) {
  std::vector<ReportGroup> out;
  for (const ReportGroup& g : d.Groups()) {
    if (g.first.kind == kind) out.push_back(g);
  }
  return out;
}

Detector::Options Opts() {
  Detector::Options o;
  o.base_dir = "/src/app";
  return o;
}

// The post's interleaving: both read 6, request 2 writes 7, then request 1
// writes 7 over it.
// The same two sites every time, so repeated calls group.
void LoseOneUpdate(Detector& d, const RequestInfo& r1, const RequestInfo& r2) {
  static const CallSitePtr kGet = Site(57), kPut = Site(59);
  Feed(d, ReadOf(r1, "global_counter", "6", "e6").At(kGet).Time(1'000'000));
  Feed(d, ReadOf(r2, "global_counter", "6", "e6").At(kGet).Time(2'000'000));
  Feed(d, WriteOf(r2, "global_counter", "7", "e7", "e6").At(kPut).Time(3'000'000));
  Feed(d, WriteOf(r1, "global_counter", "7", "e8", "e7").At(kPut).Time(4'000'000));
}

// --- Which operations count ---------------------------------------------------

TEST(Detector, ReportsALostUpdateWithBothRequestsValuesEtagsAndSites) {
  Detector d(Opts());
  RequestInfo r1 = Req(1, 1), r2 = Req(2, 2);
  LoseOneUpdate(d, r1, r2);
  std::vector<ReportGroup> lost = OfKind(d, Kind::kLostUpdate);
  ASSERT_EQ(lost.size(), 1u);
  const Report& r = lost[0].first;
  EXPECT_EQ(lost[0].count, 1u);
  EXPECT_EQ(r.key_pattern, "global_counter");
  EXPECT_EQ(r.write.request.id, 1u);
  EXPECT_EQ(r.write.value, "7");
  EXPECT_EQ(r.write.etag, "e8");
  EXPECT_EQ(r.write.time_ns, 4'000'000);
  EXPECT_EQ(r.write.site->frames[1].line, 59u);
  EXPECT_EQ(r.read.request.id, 1u);
  EXPECT_EQ(r.read.value, "6");
  EXPECT_EQ(r.read.etag, "e6");
  EXPECT_TRUE(r.read.found);
  EXPECT_EQ(r.read.site->frames[1].line, 57u);
  ASSERT_TRUE(r.overwritten_known);
  EXPECT_EQ(r.overwritten.request.id, 2u);
  EXPECT_EQ(r.overwritten.request.isolate, 2u);
  EXPECT_EQ(r.overwritten.value, "7");
  EXPECT_EQ(r.overwritten.etag, "e7");
  EXPECT_EQ(r.overwritten.time_ns, 3'000'000);
  EXPECT_EQ(r.overwritten.site->frames[1].line, 59u);
}

TEST(Detector, DoesNotReportConditionalWrites) {
  Detector d(Opts());
  RequestInfo r1 = Req(1), r2 = Req(2);
  Feed(d, ReadOf(r1, "k", "6", "e6"));
  Feed(d, WriteOf(r1, "k", "7", "e7", "e6").IfMatch("e6"));
  Feed(d, AbsentRead(r2, "n"));
  Feed(d, WriteOf(r2, "n", "1", "e8", "e5").IfNoneMatch());  // previous: a racer's, even
  EXPECT_EQ(d.total(), 0u);
}

TEST(Detector, DoesNotReportAWriteWithoutAPriorReadOfTheKey) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "other", "6", "e6"));
  Feed(d, WriteOf(r1, "k", "7", "e7", "e3"));
  Feed(d, ReadOf(r1, "k", "7", "e7").Space("another-namespace"));
  Feed(d, WriteOf(r1, "k", "8", "e8", "e7"));
  EXPECT_EQ(d.total(), 0u);
}

TEST(Detector, DoesNotReportDurableObjectStorage) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "").Object().Space("Counter/abc"));
  Feed(d, WriteOf(r1, "k", "7", "", "").Object().Space("Counter/abc"));
  EXPECT_EQ(d.total(), 0u);
  EXPECT_EQ(d.tracked_requests(), 0u);
}

TEST(Detector, DoesNotReportWritesThatFailedOrMayNotHaveStored) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "e6"));
  Feed(d, O(r1, Op::Kind::kWrite, "k").Value("7").Outcome(Op::Outcome::kFailed));
  Feed(d, O(r1, Op::Kind::kWrite, "k").Value("7").Outcome(Op::Outcome::kUnknown));
  EXPECT_EQ(d.total(), 0u);
}

TEST(Detector, DoesNotReportADeleteAfterARead) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "e6"));
  Feed(d, O(r1, Op::Kind::kDelete, "k"));
  EXPECT_EQ(d.total(), 0u);
}

TEST(Detector, PredictsAnUnprotectedReadModifyWriteOfOneRequestAlone) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "e6").At(Site(57)));
  Feed(d, WriteOf(r1, "k", "7", "e7", "e6").At(Site(59)));
  ASSERT_EQ(d.Groups().size(), 1u);
  const std::vector<ReportGroup> groups = d.Groups();
  const Report& r = groups[0].first;
  EXPECT_EQ(r.kind, Kind::kUnprotectedRmw);
  EXPECT_EQ(r.read.value, "6");
  EXPECT_EQ(r.write.value, "7");
  EXPECT_EQ(d.total(), 1u);
}

TEST(Detector, ReadingAbsentThenWritingBlindlyIsAReadModifyWrite) {
  Detector d(Opts());
  RequestInfo r1 = Req(1), r2 = Req(2);
  Feed(d, AbsentRead(r1, "k"));
  Feed(d, WriteOf(r1, "k", "1", "e1", ""));  // still absent: nothing lost
  EXPECT_EQ(OfKind(d, Kind::kUnprotectedRmw).size(), 1u);
  EXPECT_EQ(OfKind(d, Kind::kLostUpdate).size(), 0u);
  Feed(d, AbsentRead(r2, "k2"));
  Feed(d, WriteOf(r2, "k2", "1", "e3", "e2"));  // someone created it meanwhile
  std::vector<ReportGroup> lost = OfKind(d, Kind::kLostUpdate);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_FALSE(lost[0].first.read.found);
  EXPECT_FALSE(lost[0].first.overwritten_known);
  EXPECT_EQ(lost[0].first.overwritten.etag, "e2");
}

TEST(Detector, ARequestWritingTwiceDoesNotLoseItsOwnUpdate) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "e6"));
  Feed(d, WriteOf(r1, "k", "7", "e7", "e6"));
  Feed(d, WriteOf(r1, "k", "8", "e8", "e7"));
  Feed(d, O(r1, Op::Kind::kDelete, "k"));
  Feed(d, WriteOf(r1, "k", "9", "e9", ""));
  EXPECT_EQ(OfKind(d, Kind::kLostUpdate).size(), 0u);
  EXPECT_EQ(d.total(), 3u);  // each blind write after the read is the pattern
}

TEST(Detector, TheLastReadBeforeTheWriteIsTheOneThatCounts) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "e6"));
  Feed(d, ReadOf(r1, "k", "7", "e7").At(Site(70)));
  Feed(d, WriteOf(r1, "k", "8", "e8", "e7"));
  EXPECT_EQ(OfKind(d, Kind::kLostUpdate).size(), 0u);
  ASSERT_EQ(d.Groups().size(), 1u);
  EXPECT_EQ(d.Groups()[0].first.read.value, "7");
}

TEST(Detector, AWriteItDidNotObserveIsReportedAsUnknown) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "e6"));
  Feed(d, WriteOf(r1, "k", "7", "e9", "e7"));
  std::vector<ReportGroup> lost = OfKind(d, Kind::kLostUpdate);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_FALSE(lost[0].first.overwritten_known);
  EXPECT_EQ(lost[0].first.overwritten.etag, "e7");
  EXPECT_NE(d.Format(lost[0]).find("etag e7 that was not observed"), std::string::npos);
}

TEST(Detector, AnOverwrittenWriteThatCompletesLateIsStillNamed) {
  Detector d(Opts());
  RequestInfo r1 = Req(1), r2 = Req(2);
  Feed(d, ReadOf(r1, "k", "6", "e6").Time(1'000'000));
  Feed(d, ReadOf(r2, "k", "6", "e6").Time(1'000'000));
  // The store applied r2's write (e7) first, but r1's Complete arrives first.
  Feed(d, WriteOf(r1, "k", "7", "e8", "e7").Time(3'000'000));
  Feed(d, WriteOf(r2, "k", "7", "e7", "e6").Time(2'000'000));
  std::vector<ReportGroup> lost = OfKind(d, Kind::kLostUpdate);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_TRUE(lost[0].first.overwritten_known);
  EXPECT_EQ(lost[0].first.overwritten.request.id, 2u);
  EXPECT_EQ(lost[0].first.write.request.id, 1u);
}

TEST(Detector, ALostUpdateWaitsAtMost100msForTheWriteItErased) {
  std::vector<std::string> texts;
  Detector::Options o = Opts();
  o.predictive = false;
  o.on_new_group = [&](const std::string& text) { texts.push_back(text); };
  Detector d(o);
  RequestInfo r1 = Req(1), r2 = Req(2);
  Feed(d, ReadOf(r1, "k", "6", "e6").Time(1'000'000));
  Feed(d, WriteOf(r1, "k", "7", "e8", "e7").Time(2'000'000));
  Feed(d, ReadOf(r2, "k", "7", "e8").Time(50'000'000));
  EXPECT_TRUE(texts.empty());
  Feed(d, ReadOf(r2, "k", "7", "e8").Time(103'000'000));
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_NE(texts[0].find("etag e7 that was not observed"), std::string::npos) << texts[0];
  EXPECT_EQ(d.total(), 1u);
}

TEST(Detector, AskingForTheReportsReportsTheWaitingLostUpdates) {
  int announced = 0;
  Detector::Options o = Opts();
  o.on_new_group = [&](const std::string&) { ++announced; };
  Detector d(o);
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k", "6", "e6"));
  Feed(d, WriteOf(r1, "k", "7", "e8", "e7"));
  EXPECT_EQ(announced, 1);  // the read-modify-write; the lost update waits
  EXPECT_EQ(d.total(), 2u);
  EXPECT_EQ(announced, 2);
  EXPECT_EQ(OfKind(d, Kind::kLostUpdate).size(), 1u);
}

TEST(Detector, OptionsTurnEachKindOff) {
  Detector::Options no_predictive = Opts();
  no_predictive.predictive = false;
  Detector a(no_predictive);
  RequestInfo r1 = Req(1), r2 = Req(2);
  LoseOneUpdate(a, r1, r2);
  EXPECT_EQ(a.total(), 1u);
  EXPECT_EQ(OfKind(a, Kind::kLostUpdate).size(), 1u);
  Detector::Options no_lost = Opts();
  no_lost.lost_updates = false;
  Detector b(no_lost);
  LoseOneUpdate(b, r1, r2);
  EXPECT_EQ(b.total(), 2u);
  EXPECT_EQ(OfKind(b, Kind::kLostUpdate).size(), 0u);
}

// --- Grouping and counting ----------------------------------------------------

TEST(Detector, SameSitesAndKeyPatternFormOneGroupThatCountsEveryReport) {
  Detector d(Opts());
  const CallSitePtr get = Site(57), put = Site(59);
  const std::vector<std::string> keys = {"user:1", "user:22", "user:333"};
  std::vector<RequestInfo> reqs = {Req(1), Req(2), Req(3)};
  for (size_t i = 0; i < keys.size(); ++i) {
    Feed(d, ReadOf(reqs[i], keys[i], "6", "e6").At(get));
    Feed(d, WriteOf(reqs[i], keys[i], "7", "e7", "e6").At(put));
  }
  ASSERT_EQ(d.Groups().size(), 1u);
  EXPECT_EQ(d.Groups()[0].count, 3u);
  EXPECT_EQ(d.Groups()[0].first.key_pattern, "user:*");
  EXPECT_EQ(d.Groups()[0].first.write.key, "user:1");
  EXPECT_EQ(d.total(), 3u);
}

TEST(Detector, ADifferentKeyPatternOrSiteStartsANewGroup) {
  Detector d(Opts());
  const CallSitePtr get = Site(57), put = Site(59), other_put = Site(80);
  RequestInfo r1 = Req(1), r2 = Req(2), r3 = Req(3);
  Feed(d, ReadOf(r1, "user:1", "6", "e6").At(get));
  Feed(d, WriteOf(r1, "user:1", "7", "e7", "e6").At(put));
  Feed(d, ReadOf(r2, "cart:1", "6", "e6").At(get));
  Feed(d, WriteOf(r2, "cart:1", "7", "e7", "e6").At(put));
  Feed(d, ReadOf(r3, "user:2", "6", "e6").At(get));
  Feed(d, WriteOf(r3, "user:2", "7", "e7", "e6").At(other_put));
  EXPECT_EQ(d.Groups().size(), 3u);
  EXPECT_EQ(d.total(), 3u);
}

// Ids are masked however they are spelled, so a session store over many keys
// is one group, not one per key.
TEST(Detector, IdLikeTokensOfKeysAreMasked) {
  Detector d(Opts());
  const CallSitePtr get = Site(57), put = Site(59);
  const std::vector<std::string> keys = {"session:0a1b2c3d4e5f6789", "session:99aa00ff11ee22dd",
                                         "session:deadbeefcafebabe"};
  for (size_t i = 0; i < keys.size(); ++i) {
    RequestInfo r = Req(i + 1);
    Feed(d, ReadOf(r, keys[i], "6", "e6").At(get));
    Feed(d, WriteOf(r, keys[i], "7", "e7", "e6").At(put));
  }
  ASSERT_EQ(d.Groups().size(), 1u);
  EXPECT_EQ(d.Groups()[0].first.key_pattern, "session:*");
  // Names stay names; a token with a digit is an id.
  RequestInfo r = Req(10);
  Feed(d, ReadOf(r, "global_counter-v2", "6", "e6").At(get));
  Feed(d, WriteOf(r, "global_counter-v2", "7", "e7", "e6").At(put));
  EXPECT_EQ(d.Groups().back().first.key_pattern, "global_counter-*");
}

// A long serve over keys the masking misses cannot grow the groups without
// bound: past kMaxGroups reports are counted, not kept.
TEST(Detector, GroupsStopAtTheCapAndTheRestAreCounted) {
  Detector d(Opts());
  const size_t n = kMaxGroups + 50;
  for (size_t i = 0; i < n; ++i) {
    // A fresh site each: what the engine gives past its interning cap.
    RequestInfo r = Req(i + 1);
    Feed(d, ReadOf(r, "k", "6", "e6").At(Site(1)));
    Feed(d, WriteOf(r, "k", "7", "e7", "e6").At(Site(2)));
  }
  EXPECT_EQ(d.Groups().size(), kMaxGroups);
  EXPECT_EQ(d.total(), n);
  EXPECT_NE(d.Summary().find("and 50 more in groups past the first 1000"), std::string::npos);
}

TEST(Detector, CallsOnNewGroupOncePerGroupWithItsText) {
  std::vector<std::string> texts;
  Detector::Options o = Opts();
  o.on_new_group = [&](const std::string& text) { texts.push_back(text); };
  Detector d(o);
  for (uint64_t id = 1; id <= 5; ++id) {
    RequestInfo r1 = Req(2 * id), r2 = Req(2 * id + 1);
    LoseOneUpdate(d, r1, r2);
  }
  ASSERT_EQ(texts.size(), 2u);  // the read-modify-write, then the lost update
  EXPECT_NE(texts[0].find("unprotected read-modify-write"), std::string::npos);
  EXPECT_NE(texts[1].find("WARNING: edgelab: lost update"), std::string::npos);
  EXPECT_EQ(d.total(), 15u);  // 10 writes after a read, 5 erased writes
}

// --- Text and JSON ----------------------------------------------------------------

TEST(Detector, FormatNamesTheKeyBothRequestsTheUserFrameAndASummaryLine) {
  Detector d(Opts());
  RequestInfo r40 = Req(40, 2), r42 = Req(42, 3);
  const CallSitePtr get = Site(57, "/src/app/examples/counter-broken/worker.cc");
  const CallSitePtr put = Site(59, "/src/app/examples/counter-broken/worker.cc");
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "other", "1", "e1").Time(0));  // times count from the first op
  Feed(d, ReadOf(r42, "global_counter", "6", "e6").At(get).Time(12'003'000));
  Feed(d, ReadOf(r40, "global_counter", "6", "e6").At(get).Time(12'500'000));
  Feed(d, WriteOf(r40, "global_counter", "7", "e7", "e6").At(put).Time(14'950'000));
  Feed(d, WriteOf(r42, "global_counter", "7", "e8", "e7").At(put).Time(15'211'000));
  std::vector<ReportGroup> lost = OfKind(d, Kind::kLostUpdate);
  ASSERT_EQ(lost.size(), 1u);
  const std::string text = d.Format(lost[0]);
  EXPECT_EQ(text.rfind("==================\nWARNING: edgelab: lost update on KV key "
                       "\"global_counter\" (namespace counter) in worker counter-broken\n",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find("request 42 (GET /, isolate 3) at 15.211 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("request 40 (GET /, isolate 2) at 14.950 ms (etag e7)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("had read \"6\" (etag e6) at 12.003 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("    #0 edgelab::Kv::Put(std::string_view, std::string_view) "
                      "sdk/edgelab.hpp:301:12 [inlined]\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    #1 (anonymous namespace)::Handle(edgelab::Request const&) "
                      "examples/counter-broken/worker.cc:59:15\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nSUMMARY: edgelab: lost update on KV key \"global_counter\" in worker "
                      "counter-broken at examples/counter-broken/worker.cc:59 in Handle\n"
                      "==================\n"),
            std::string::npos)
      << text;
}

TEST(Detector, ThePredictiveReportSaysWhatWillHappenAndTheFix) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, AbsentRead(r1, "hits").At(Site(57)));
  Feed(d, WriteOf(r1, "hits", "1", "e1", "").At(Site(59)));
  const std::string text = d.Format(d.Groups()[0]);
  EXPECT_NE(text.find("WARNING: edgelab: unprotected read-modify-write of KV key \"hits\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("read the key as absent"), std::string::npos) << text;
  EXPECT_NE(text.find("another request that runs between this read and write loses its update"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("write with if_match (the etag read) and retry when the precondition fails "
                      "(examples/counter-cas), or keep the key in a Durable Object "
                      "(examples/counter-do)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("SUMMARY: edgelab: unprotected read-modify-write of KV key \"hits\" in "
                      "worker counter-broken at examples/cb/worker.cc:59 in Handle"),
            std::string::npos)
      << text;
}

TEST(Detector, FormatEscapesValuesAndCutsThemAt64Bytes) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  const std::string big = "\x01\"q\"\xff" + std::string(300, 'a');
  Feed(d, ReadOf(r1, "k", "\n", "e6"));
  Feed(d, WriteOf(r1, "k", big, "e7", "e6"));
  const std::vector<ReportGroup> groups = d.Groups();
  const Report& r = groups[0].first;
  EXPECT_EQ(r.write.value_size, big.size());
  EXPECT_EQ(r.write.value.size(), 256u + 3u);  // kept, then "..."
  const std::string text = d.Format(d.Groups()[0]);
  EXPECT_NE(text.find("read \"\\x0a\" (etag e6)"), std::string::npos) << text;
  EXPECT_NE(text.find("write of \"\\x01\\\"q\\\"\\xff" + std::string(59, 'a') + "\"... (" +
                      std::to_string(big.size()) + " bytes)"),
            std::string::npos)
      << text;
}

TEST(Detector, FormatWithoutDwarfNamesTheFunctionAndModule) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  auto site = std::make_shared<const CallSite>(
      CallSite{"/src/app/w.wasm", {Frame{"func[12]", "", 0, 0, false}}});
  Feed(d, ReadOf(r1, "k", "6", "e6").At(site));
  Feed(d, WriteOf(r1, "k", "7", "e7", "e6"));  // no site at all
  const std::string text = d.Format(d.Groups()[0]);
  EXPECT_NE(text.find("    #0 func[12] (w.wasm)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("<no call site"), std::string::npos) << text;
  EXPECT_NE(text.find("in worker counter-broken\n=================="), std::string::npos) << text;
  Feed(d, ReadOf(r1, "k", "7", "e7").At(site));
  Feed(d, WriteOf(r1, "k", "8", "e8", "e7").At(site));
  const std::string second = d.Format(d.Groups()[1]);
  EXPECT_NE(second.find("in worker counter-broken in func[12]\n"), std::string::npos) << second;
}

TEST(Detector, JsonHasTheDocumentedKeys) {
  Detector d(Opts());
  RequestInfo r1 = Req(1), r2 = Req(2);
  LoseOneUpdate(d, r1, r2);
  nlohmann::json j = nlohmann::json::parse(d.Json());
  EXPECT_EQ(j["schema"], "edgelab-race/1");
  EXPECT_EQ(j["total"], 3);
  ASSERT_EQ(j["groups"].size(), 2u);
  const nlohmann::json& rmw = j["groups"][0];
  const nlohmann::json& lost = j["groups"][1];
  EXPECT_EQ(rmw["kind"], "unprotected-rmw");
  EXPECT_EQ(rmw["count"], 2);
  EXPECT_FALSE(rmw.contains("overwritten"));
  EXPECT_EQ(lost["kind"], "lost-update");
  for (const char* k : {"count", "key", "key_pattern", "namespace", "worker", "read", "write",
                        "overwritten", "overwritten_known", "text"}) {
    EXPECT_TRUE(lost.contains(k)) << k;
  }
  EXPECT_EQ(lost["key"], "global_counter");
  EXPECT_EQ(lost["namespace"], "counter");
  EXPECT_EQ(lost["worker"], "counter-broken");
  for (const char* k : {"request", "isolate", "method", "path", "key", "value", "etag", "found",
                        "time_ns", "frames"}) {
    EXPECT_TRUE(lost["write"].contains(k)) << k;
  }
  EXPECT_EQ(lost["overwritten"]["request"], 2);
  EXPECT_EQ(lost["read"]["etag"], "e6");
  const nlohmann::json& frame = lost["write"]["frames"][1];
  EXPECT_EQ(frame["function"], "(anonymous namespace)::Handle(edgelab::Request const&)");
  EXPECT_EQ(frame["line"], 59);
  EXPECT_EQ(frame["column"], 15);
  EXPECT_EQ(frame["inlined"], false);
  EXPECT_EQ(lost["text"], d.Format(d.Groups()[1]));
}

TEST(Detector, JsonWithNonUtf8BytesStillParses) {
  Detector d(Opts());
  RequestInfo r1 = Req(1);
  Feed(d, ReadOf(r1, "k\xff", "\xfe", "e6"));
  Feed(d, WriteOf(r1, "k\xff", "\xc3", "e7", "e6"));
  EXPECT_NO_THROW(nlohmann::json::parse(d.Json()));
}

TEST(Detector, SummaryCountsReportsAndGroups) {
  Detector d(Opts());
  EXPECT_EQ(d.Summary(), "edgelab: no races found\n");
  RequestInfo r1 = Req(1), r2 = Req(2);
  LoseOneUpdate(d, r1, r2);
  const std::string s = d.Summary();
  EXPECT_NE(s.find("Seen 2 times"), std::string::npos) << s;
  EXPECT_NE(s.find("edgelab: 3 reports in 2 groups\n"), std::string::npos) << s;
  EXPECT_EQ(s.find(d.Format(d.Groups()[0])), 0u);
}

// --- Memory and threads -------------------------------------------------------

TEST(Detector, StateStaysBoundedOverAHundredThousandRequests) {
  Detector d(Opts());
  const CallSitePtr site = Site(59);
  size_t most_requests = 0;
  for (uint64_t id = 1; id <= 100'000; ++id) {
    RequestInfo r = Req(id);
    const std::string key = "user:" + std::to_string(id);
    const std::string etag = "e" + std::to_string(id);
    Feed(d, AbsentRead(r, key).At(site));
    Feed(d, WriteOf(r, key, "1", etag, "").At(site));
    Feed(d, ReadOf(r, "hits", "6", etag).At(site));
    Feed(d, WriteOf(r, "hits", "7", etag + "h", etag).At(site));
    most_requests = std::max(most_requests, d.tracked_requests());
    d.End(r, true);
  }
  EXPECT_EQ(most_requests, 1u);
  EXPECT_EQ(d.tracked_requests(), 0u);
  EXPECT_LE(d.tracked_keys(), kRecentWritesTotal);
  EXPECT_EQ(d.Groups().size(), 2u);  // "user:*" and "hits"
  EXPECT_EQ(d.total(), 200'000u);
}

// A model KV store that tells each operation to an observer, the way abi/
// does: Invoke before, Complete after, outside the store's lock.
class ModelKv {
 public:
  explicit ModelKv(Observer* o) : o_(o) {}

  // The value (nullopt when absent); *etag gets its etag ("" when absent).
  std::optional<std::string> Get(const RequestInfo& r, const std::string& key, std::string* etag,
                                 const CallSitePtr& site = nullptr) {
    O b(r, Op::Kind::kRead, key);
    b.At(site).Time(Tick());
    o_->Invoke(b.op);
    std::optional<std::string> value;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = data_.find(key);
      if (it != data_.end()) value = it->second.value;
      *etag = it == data_.end() ? "" : it->second.etag;
    }
    b.op.found = value.has_value();
    b.op.value = value ? std::string_view(*value) : std::string_view();
    b.op.etag = *etag;
    b.op.end_ns = Tick();
    o_->Complete(b.op);
    return value;
  }

  // Stores unless the condition fails; *previous gets the replaced etag.
  bool Put(const RequestInfo& r, const std::string& key, const std::string& value, Op::Condition c,
           const std::string& if_match, std::string* previous, const CallSitePtr& site = nullptr) {
    O b(r, Op::Kind::kWrite, key);
    b.Value(value).At(site).Time(Tick());
    b.op.condition = c;
    b.op.if_match = if_match;
    o_->Invoke(b.op);
    std::string etag;
    const bool stored = Store(key, value, c, if_match, previous, &etag);
    b.op.outcome = stored ? Op::Outcome::kOk : Op::Outcome::kFailed;
    b.op.etag = etag;
    if (stored) b.op.previous_etag = *previous;
    b.op.end_ns = Tick();
    o_->Complete(b.op);
    return stored;
  }
  bool Put(const RequestInfo& r, const std::string& key, const std::string& value,
           std::string* previous = nullptr, const CallSitePtr& site = nullptr) {
    std::string ignored;
    return Put(r, key, value, Op::Condition::kNone, "", previous ? previous : &ignored, site);
  }

  void Delete(const RequestInfo& r, const std::string& key) {
    O b(r, Op::Kind::kDelete, key);
    b.Time(Tick());
    o_->Invoke(b.op);
    {
      std::lock_guard<std::mutex> lock(mu_);
      data_.erase(key);
    }
    b.op.end_ns = Tick();
    o_->Complete(b.op);
  }

  int64_t Tick() { return clock_.fetch_add(1000) + 1000; }

 private:
  struct Entry {
    std::string value;
    std::string etag;
  };

  bool Store(const std::string& key, const std::string& value, Op::Condition c,
             const std::string& if_match, std::string* previous, std::string* etag) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = data_.find(key);
    const std::string current = it == data_.end() ? "" : it->second.etag;
    if (c == Op::Condition::kIfMatch && current != if_match) return false;
    if (c == Op::Condition::kIfNoneMatch && it != data_.end()) return false;
    *previous = current;
    *etag = "etag-" + std::to_string(++seq_);
    data_[key] = Entry{value, *etag};
    return true;
  }

  Observer* const o_;
  std::atomic<int64_t> clock_{0};
  std::mutex mu_;
  std::map<std::string, Entry> data_;  // guarded by mu_
  uint64_t seq_ = 0;                   // guarded by mu_
};

TEST(Detector, ThreadsFeedingOpsAtOnceGetEveryLostUpdateTheStoreSaw) {
  Detector d(Opts());
  ModelKv kv(&d);
  constexpr int kThreads = 8, kRequests = 400;
  const CallSitePtr get = Site(57), put = Site(59);
  std::atomic<uint64_t> lost{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        RequestInfo r = Req(static_cast<uint64_t>(t * kRequests + i + 1), t);
        std::string etag, previous;
        std::optional<std::string> v = kv.Get(r, "global_counter", &etag, get);
        const int n = v ? std::stoi(*v) : 0;
        kv.Put(r, "global_counter", std::to_string(n + 1), &previous, put);
        if (previous != etag) lost.fetch_add(1);
        d.End(r, true);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  uint64_t rmw = 0, lost_reported = 0;
  for (const ReportGroup& g : d.Groups()) {
    (g.first.kind == Kind::kLostUpdate ? lost_reported : rmw) += g.count;
  }
  EXPECT_EQ(rmw, uint64_t{kThreads * kRequests});
  EXPECT_EQ(lost_reported, lost.load());
  EXPECT_EQ(d.total(), rmw + lost_reported);
  EXPECT_EQ(d.tracked_requests(), 0u);
}

// --- RecentByKey ----------------------------------------------------------------

TEST(RecentByKey, KeepsTheLastEntriesPerKeyAndOverAllKeys) {
  RecentByKey<int> r(/*per_key=*/2, /*max_order=*/4, /*max_bytes=*/100);
  auto has = [&](const std::string& key, int v) {
    return r.FindNewest(key, [&](int x) { return x == v; }) != nullptr;
  };
  r.Add("a", 1, 1);
  r.Add("a", 2, 1);
  r.Add("a", 3, 1);
  EXPECT_FALSE(has("a", 1));
  EXPECT_TRUE(has("a", 2) && has("a", 3));
  EXPECT_EQ(*r.FindNewest("a", [](int) { return true; }), 3);
  r.Add("b", 1, 1);
  r.Add("b", 2, 1);  // five added: the oldest record (a's 1, gone already) drops
  EXPECT_TRUE(has("a", 2));
  r.Add("c", 1, 1);  // a's 2 goes
  EXPECT_FALSE(has("a", 2));
  r.Add("d", 1, 1);  // a's 3 goes, and with it the key
  EXPECT_EQ(r.keys(), 3u);
  EXPECT_EQ(r.bytes(), 4u);
  r.Add("e", 1, 98);  // over the byte budget: the oldest go first
  EXPECT_FALSE(has("b", 1));
  EXPECT_FALSE(has("b", 2));
  EXPECT_TRUE(has("e", 1));
  EXPECT_LE(r.bytes(), 100u);
  r.Add("f", 1, 101);  // alone over the budget: not kept, nothing pushed out
  EXPECT_FALSE(has("f", 1));
  EXPECT_TRUE(has("e", 1));
}

TEST(RecentByKey, StaysBoundedWhenOneKeyIsWrittenForever) {
  RecentByKey<int> r(2, 8, 1000);
  for (int i = 0; i < 100'000; ++i) r.Add("hot", i, 1);
  EXPECT_EQ(r.keys(), 1u);
  EXPECT_EQ(r.bytes(), 2u);
  EXPECT_EQ(*r.FindNewest("hot", [](int) { return true; }), 99'999);
}

// --- History ------------------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::unique_ptr<HistoryRecorder> MustOpen(const std::string& path) {
  Result<std::unique_ptr<HistoryRecorder>> h = HistoryRecorder::Open(path);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? std::move(*h) : nullptr;
}

check::CheckResult MustCheck(const std::string& text, check::Model model) {
  Result<check::History> h = check::ParseHistory(text);
  EXPECT_TRUE(h.ok()) << h.status().ToString() << "\n" << text;
  if (!h.ok()) return {};
  Result<check::CheckResult> r = check::CheckLinearizable(*h, model);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : check::CheckResult{};
}

bool IsLinearizable(const check::CheckResult& r) {
  return r.verdict == check::Verdict::kLinearizable;
}

TEST(History, RecordedLinesParseAndCheckLinearizableAsARegister) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  ModelKv kv(h.get());
  std::string etag;
  RequestInfo r1 = Req(1), r2 = Req(2), r3 = Req(3), r4 = Req(4);
  // No request writes a key it read: every write is a plain "write".
  kv.Put(r1, "k", "1");
  h->End(r1, true);
  EXPECT_EQ(kv.Get(r2, "k", &etag), "1");
  h->End(r2, true);
  kv.Put(r3, "k", "2");
  kv.Delete(r3, "k");
  h->End(r3, true);
  EXPECT_FALSE(kv.Get(r4, "k", &etag));
  h->End(r4, true);
  ASSERT_TRUE(h->Close().ok());
  EXPECT_EQ(h->lines(), 10u);
  const std::string text = ReadFile(path);
  std::vector<nlohmann::json> lines = JsonLines(text);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], nlohmann::json::parse(R"({"process": 1, "type": "invoke", "f": "write",
      "key": "counter/k", "value": "1", "time": 1000})"));
  EXPECT_EQ(lines[2]["value"], nullptr);  // a read's invoke
  EXPECT_EQ(lines[3]["value"], "1");      // r2 read "1"
  EXPECT_EQ(lines[6]["f"], "delete");
  EXPECT_EQ(lines[9]["value"], nullptr);  // r4 read it absent
  check::CheckResult r = MustCheck(text, check::Model::kRegister);
  EXPECT_EQ(r.verdict, check::Verdict::kLinearizable);
  ASSERT_EQ(r.keys.size(), 1u);
  EXPECT_EQ(r.keys[0].key, "counter/k");
  EXPECT_EQ(r.keys[0].op_count, 5u);
}

TEST(History, InMemoryKeepsTheSameLinesAsAFile) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto file = MustOpen(path);
  auto memory = HistoryRecorder::InMemory();
  for (HistoryRecorder* h : {file.get(), memory.get()}) {
    ModelKv kv(h);
    std::string etag;
    RequestInfo r1 = Req(1), r2 = Req(2);
    kv.Put(r1, "k", "1");
    h->End(r1, true);
    EXPECT_EQ(kv.Get(r2, "k", &etag), "1");
    ASSERT_TRUE(h->Close().ok());  // r2 is still open: its state is closed too
  }
  EXPECT_EQ(memory->lines(), file->lines());
  EXPECT_EQ(memory->TakeText(), ReadFile(path));
  EXPECT_EQ(memory->TakeText(), "");  // moved out
}

TEST(History, AReadThenBlindWriteIsRecordedAsTheCasItAssumed) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  ModelKv kv(h.get());
  RequestInfo r1 = Req(1), r2 = Req(2);
  std::string etag;
  kv.Get(r1, "k", &etag);
  kv.Put(r1, "k", "1");  // read absent: [null, "1"]
  h->End(r1, true);
  kv.Get(r2, "k", &etag);
  kv.Put(r2, "k", "2");  // read "1": ["1", "2"]
  h->End(r2, true);
  ASSERT_TRUE(h->Close().ok());
  const std::string text = ReadFile(path);
  std::vector<nlohmann::json> lines = JsonLines(text);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[2]["f"], "cas");
  EXPECT_EQ(lines[2]["value"], nlohmann::json::parse(R"([null, "1"])"));
  EXPECT_EQ(lines[2]["rmw"], true);
  EXPECT_EQ(lines[3]["rmw"], true);
  EXPECT_EQ(lines[6]["value"], nlohmann::json::parse(R"(["1", "2"])"));
  EXPECT_FALSE(lines[4].contains("rmw"));  // a read
  EXPECT_EQ(MustCheck(text, check::Model::kCasRegister).verdict, check::Verdict::kLinearizable);
}

TEST(History, ALostUpdateMakesTheHistoryNotLinearizable) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  ModelKv kv(h.get());
  RequestInfo r1 = Req(1), r2 = Req(2), r3 = Req(3);
  std::string etag;
  kv.Put(r3, "k", "6");
  h->End(r3, true);
  kv.Get(r1, "k", &etag);
  kv.Get(r2, "k", &etag);
  kv.Put(r2, "k", "7");
  kv.Put(r1, "k", "7");  // erases r2's 7: two increments, one survives
  h->End(r1, true);
  h->End(r2, true);
  ASSERT_TRUE(h->Close().ok());
  check::CheckResult r = MustCheck(ReadFile(path), check::Model::kCasRegister);
  EXPECT_EQ(r.verdict, check::Verdict::kNotLinearizable);
}

TEST(History, TheRequestsOwnWritesStandForItsReadUntilUncertain) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r0 = Req(10), r1 = Req(1), r2 = Req(2);
  Feed(*h, WriteOf(r0, "k", "6", "e6", "").Time(500));
  Feed(*h, ReadOf(r1, "k", "6", "e6").Time(1000));
  Feed(*h, WriteOf(r1, "k", "7", "e7", "e6").Time(2000));  // ["6", "7"]
  Feed(*h, WriteOf(r1, "k", "8", "e8", "e7").Time(3000));  // ["7", "8"]
  Feed(*h, O(r1, Op::Kind::kDelete, "k").Time(4000));
  Feed(*h, WriteOf(r1, "k", "9", "e9", "").Time(5000));  // [null, "9"]
  Feed(*h, O(r1, Op::Kind::kWrite, "k").Value("10").Outcome(Op::Outcome::kUnknown).Time(6000));
  Feed(*h, WriteOf(r1, "k", "11", "e11", "").Time(7000));    // uncertain before: "write"
  Feed(*h, WriteOf(r2, "k", "1", "e12", "e11").Time(8000));  // r2 never read it: "write"
  Feed(*h, WriteOf(r2, "k", "2", "e13", "e12").Time(9000));  // nor now
  ASSERT_TRUE(h->Close().ok());
  std::vector<nlohmann::json> lines = JsonLines(ReadFile(path));
  ASSERT_EQ(lines.size(), 20u);
  EXPECT_EQ(lines[4]["value"], nlohmann::json::parse(R"(["6", "7"])"));
  EXPECT_EQ(lines[6]["value"], nlohmann::json::parse(R"(["7", "8"])"));
  EXPECT_EQ(lines[10]["value"], nlohmann::json::parse(R"([null, "9"])"));
  EXPECT_EQ(lines[12]["f"], "cas");  // the unknown write itself still assumed "9"
  EXPECT_EQ(lines[13]["type"], "info");
  EXPECT_EQ(lines[14]["f"], "write");
  EXPECT_EQ(lines[16]["f"], "write");
  EXPECT_EQ(lines[18]["f"], "write");
  EXPECT_EQ(MustCheck(ReadFile(path), check::Model::kCasRegister).verdict,
            check::Verdict::kLinearizable);
}

TEST(History, RequestStateIsDroppedAtEnd) {
  test::TempDir dir;
  auto h = MustOpen(dir.File("h.jsonl"));
  ModelKv kv(h.get());
  for (uint64_t id = 1; id <= 10'000; ++id) {
    RequestInfo r = Req(id);
    std::string etag;
    kv.Get(r, "k" + std::to_string(id), &etag);
    kv.Put(r, "k" + std::to_string(id), "1");
    EXPECT_EQ(h->tracked_requests(), 1u);
    h->End(r, true);
  }
  EXPECT_EQ(h->tracked_requests(), 0u);
  EXPECT_TRUE(h->Close().ok());
}

TEST(History, AReadThatSawAValueNeverWrittenIsNotLinearizable) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1);
  Feed(*h, ReadOf(r1, "k", "ghost", "e1").Time(1000));
  ASSERT_TRUE(h->Close().ok());
  EXPECT_EQ(MustCheck(ReadFile(path), check::Model::kRegister).verdict,
            check::Verdict::kNotLinearizable);
}

TEST(History, AnOperationCutOffGetsInfoAtEndOrAtClose) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1), r2 = Req(2);
  h->Invoke(WriteOf(r1, "k", "1", "", "").Time(1000).op);
  h->End(r1, false);
  h->Invoke(AbsentRead(r2, "k").Time(2000).op);
  ASSERT_TRUE(h->Close().ok());
  std::vector<nlohmann::json> lines = JsonLines(ReadFile(path));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1]["type"], "info");
  EXPECT_EQ(lines[1]["f"], "write");
  EXPECT_EQ(lines[1]["value"], "1");
  EXPECT_EQ(lines[3]["type"], "info");
  EXPECT_EQ(lines[3]["f"], "read");
  Result<check::History> hist = check::ParseHistory(ReadFile(path));
  ASSERT_TRUE(hist.ok()) << hist.status().ToString();
  ASSERT_EQ(hist->ops.size(), 2u);
  EXPECT_EQ(hist->ops[0].outcome, check::Outcome::kInfo);
  EXPECT_EQ(hist->ops[1].outcome, check::Outcome::kInfo);
  EXPECT_EQ(MustCheck(ReadFile(path), check::Model::kRegister).verdict,
            check::Verdict::kLinearizable);
}

TEST(History, IfMatchOfAKnownEtagIsACasFromTheValueThatCarriedIt) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  ModelKv kv(h.get());
  RequestInfo r1 = Req(1), r2 = Req(2), r3 = Req(3);
  std::string etag, previous;
  kv.Put(r1, "k", "a");
  h->End(r1, true);
  kv.Get(r2, "k", &etag);
  EXPECT_TRUE(kv.Put(r2, "k", "b", Op::Condition::kIfMatch, etag, &previous));
  EXPECT_FALSE(kv.Put(r2, "k", "c", Op::Condition::kIfMatch, etag, &previous));  // stale now
  h->End(r2, true);
  EXPECT_TRUE(kv.Put(r3, "n", "x", Op::Condition::kIfNoneMatch, "", &previous));
  h->End(r3, true);
  ASSERT_TRUE(h->Close().ok());
  const std::string text = ReadFile(path);
  std::vector<nlohmann::json> lines = JsonLines(text);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[4]["f"], "cas");
  EXPECT_EQ(lines[4]["value"], nlohmann::json::parse(R"(["a", "b"])"));
  EXPECT_EQ(lines[5]["type"], "ok");
  EXPECT_EQ(lines[6]["value"], nlohmann::json::parse(R"(["a", "c"])"));
  EXPECT_EQ(lines[7]["type"], "fail");
  EXPECT_EQ(lines[8]["value"], nlohmann::json::parse(R"([null, "x"])"));
  EXPECT_EQ(MustCheck(text, check::Model::kCasRegister).verdict, check::Verdict::kLinearizable);
}

TEST(History, IfMatchOfAnUnknownEtagIsAWriteWhenStoredAndAFailedCasWhenRefused) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1), r2 = Req(2), r3 = Req(3);
  Feed(*h, WriteOf(r1, "k", "b", "e2", "e1").IfMatch("e1").Time(1000));
  Feed(*h, O(r2, Op::Kind::kWrite, "k")
               .Value("c")
               .IfMatch("e0")
               .Outcome(Op::Outcome::kFailed)
               .Time(3000));
  h->Invoke(O(r3, Op::Kind::kWrite, "k").Value("d").IfMatch("e9").Time(5000).op);
  h->End(r3, false);
  ASSERT_TRUE(h->Close().ok());
  const std::string text = ReadFile(path);
  std::vector<nlohmann::json> lines = JsonLines(text);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0]["type"], "invoke");
  EXPECT_EQ(lines[0]["f"], "write");
  EXPECT_EQ(lines[0]["time"], 1000);
  EXPECT_EQ(lines[1]["type"], "ok");
  EXPECT_EQ(lines[1]["time"], 1500);
  EXPECT_EQ(lines[2]["f"], "cas");
  EXPECT_EQ(lines[2]["value"], nlohmann::json::parse(R"([null, "c"])"));
  EXPECT_EQ(lines[3]["type"], "fail");
  EXPECT_EQ(lines[4]["f"], "write");  // cut off: it may have stored
  EXPECT_EQ(lines[5]["type"], "info");
  EXPECT_EQ(MustCheck(text, check::Model::kCasRegister).verdict, check::Verdict::kLinearizable);
}

TEST(History, AnInvalidUtf8ValueIsWrittenWithoutThrowing) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1);
  EXPECT_NO_THROW(Feed(*h, WriteOf(r1, "k\xc3", "\xff\xfe", "e1", "").Time(1000)));
  ASSERT_TRUE(h->Close().ok());
  Result<check::History> hist = check::ParseHistory(ReadFile(path));
  ASSERT_TRUE(hist.ok()) << hist.status().ToString();
  EXPECT_EQ(hist->ops.size(), 1u);
}

TEST(History, StorageWritesInATransactionAreInfoAndListsAreNotRecorded) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1);
  Feed(*h, WriteOf(r1, "n", "1", "", "").Object().Space("Counter/abc").InTxn().Time(1000));
  Feed(*h, O(r1, Op::Kind::kList, "user:").Time(2000));
  ASSERT_TRUE(h->Close().ok());
  std::vector<nlohmann::json> lines = JsonLines(ReadFile(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["key"], "Counter/abc/n");
  EXPECT_EQ(lines[1]["type"], "info");
}

// The reviewer's case: a transaction writes and reads its own write, then
// rolls back; a later turn reads the key absent. Nothing is wrong, and the
// history must say so: inside a transaction reads are info too.
TEST(History, ATransactionThatRollsBackLeavesALinearizableHistory) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1), r2 = Req(2);
  Feed(*h, WriteOf(r1, "k", "x", "", "").Object().Space("C/abc").InTxn().Time(1000));
  Feed(*h, ReadOf(r1, "k", "x", "").Object().Space("C/abc").InTxn().Time(2000));
  h->End(r1, true);
  Feed(*h, AbsentRead(r2, "k").Object().Space("C/abc").Time(3000));
  ASSERT_TRUE(h->Close().ok());
  EXPECT_TRUE(IsLinearizable(MustCheck(ReadFile(path), check::Model::kCasRegister)))
      << ReadFile(path);
}

// A value written with an expiration vanishes later without anyone deleting
// it; the history carries that possibility, so reading it absent is fine.
TEST(History, AnExpiringWriteMayVanishLater) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1), r2 = Req(2), r3 = Req(3);
  O put = WriteOf(r1, "k", "v", "e1", "");
  put.op.expiration_ms = 1;
  Feed(*h, put.Time(1000));
  Feed(*h, ReadOf(r2, "k", "v", "e1").Time(2000));
  Feed(*h, AbsentRead(r3, "k").Time(3000));
  ASSERT_TRUE(h->Close().ok());
  const std::string text = ReadFile(path);
  EXPECT_NE(text.find("\"expiry-1\""), std::string::npos) << text;
  EXPECT_TRUE(IsLinearizable(MustCheck(text, check::Model::kCasRegister))) << text;
  // Without the expiration the same reads are a violation.
  const std::string path2 = dir.File("h2.jsonl");
  auto h2 = MustOpen(path2);
  Feed(*h2, WriteOf(r1, "k", "v", "e1", "").Time(1000));
  Feed(*h2, ReadOf(r2, "k", "v", "e1").Time(2000));
  Feed(*h2, AbsentRead(r3, "k").Time(3000));
  ASSERT_TRUE(h2->Close().ok());
  EXPECT_FALSE(IsLinearizable(MustCheck(ReadFile(path2), check::Model::kCasRegister)));
}

TEST(History, NamespacesWithSlashesDoNotShareKeys) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  RequestInfo r1 = Req(1), r2 = Req(2);
  Feed(*h, WriteOf(r1, "b/c", "1", "e1", "").Space("a").Time(1000));
  Feed(*h, WriteOf(r2, "c", "2", "e2", "").Space("a/b").Time(2000));
  ASSERT_TRUE(h->Close().ok());
  std::vector<nlohmann::json> lines = JsonLines(ReadFile(path));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["key"], "a/b/c");
  EXPECT_EQ(lines[2]["key"], "a%2Fb/c");
}

TEST(History, OpenNamesThePathWhenItCannotCreateTheFile) {
  test::TempDir dir;
  Result<std::unique_ptr<HistoryRecorder>> h = HistoryRecorder::Open(dir.path());
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Code::kIOError);
  EXPECT_NE(h.status().message().find(dir.path()), std::string::npos) << h.status().ToString();
}

TEST(History, CloseReportsAWriteErrorNamingThePath) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto h = MustOpen("/dev/full");
  RequestInfo r1 = Req(1);
  for (int i = 0; i < 10; ++i) Feed(*h, AbsentRead(r1, "k").Time(i * 1000));
  Status s = h->Close();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("/dev/full"), std::string::npos) << s.ToString();
  EXPECT_EQ(h->Close().message(), s.message());
}

TEST(History, RecordsWhatTheDetectorSeesFromManyThreads) {
  test::TempDir dir;
  const std::string path = dir.File("h.jsonl");
  auto h = MustOpen(path);
  // Both observers on one store, as --race --history attaches them.
  class Both : public Observer {
   public:
    Both(Observer* a, Observer* b) : a_(a), b_(b) {}
    void Invoke(const Op& op) override {
      a_->Invoke(op);
      b_->Invoke(op);
    }
    void Complete(const Op& op) override {
      a_->Complete(op);
      b_->Complete(op);
    }
    void End(const RequestInfo& r, bool f) override {
      a_->End(r, f);
      b_->End(r, f);
    }

   private:
    Observer *a_, *b_;
  };
  Detector d(Opts());
  Both both(&d, h.get());
  ModelKv kv(&both);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        RequestInfo r = Req(static_cast<uint64_t>(t * 100 + i + 1), t);
        std::string etag, previous;
        for (;;) {  // the counter-cas fix: read, then write with if_match, retry
          std::optional<std::string> v = kv.Get(r, "c", &etag);
          const std::string next = std::to_string((v ? std::stoi(*v) : 0) + 1);
          const Op::Condition c = v ? Op::Condition::kIfMatch : Op::Condition::kIfNoneMatch;
          if (kv.Put(r, "c", next, c, etag, &previous)) break;
        }
        both.End(r, true);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(h->Close().ok());
  EXPECT_EQ(d.total(), 0u);
  check::CheckResult r = MustCheck(ReadFile(path), check::Model::kCasRegister);
  EXPECT_EQ(r.verdict, check::Verdict::kLinearizable);
}

}  // namespace
}  // namespace edgelab::race
