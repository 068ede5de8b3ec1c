// check/check_test.cc: history parsing and the linearizability checker on
// hand-made histories with known answers, a cross-check against a brute-force
// search on random small histories, and a 1,000-op generated history.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "check/history.h"
#include "check/linearizable.h"

namespace edgelab::check {
namespace {

// Builds edgelab JSON lines: Inv(1, "write", "1") then Ok(1, "write", "1").
class H {
 public:
  H& Inv(int p, const std::string& f, const std::string& v = "null", const std::string& key = "") {
    return Line(p, "invoke", f, v, key);
  }
  H& Ok(int p, const std::string& f, const std::string& v = "null", const std::string& key = "") {
    return Line(p, "ok", f, v, key);
  }
  H& Fail(int p, const std::string& f, const std::string& v = "null") {
    return Line(p, "fail", f, v, "");
  }
  H& Info(int p, const std::string& f, const std::string& v = "null") {
    return Line(p, "info", f, v, "");
  }
  const std::string& text() const { return text_; }
  // One bare line with this type and f, for the error tests.
  std::string Line0(const std::string& type, const std::string& f) const {
    return "{\"process\": 0, \"type\": \"" + type + "\", \"f\": \"" + f + "\"}\n";
  }

 private:
  H& Line(int p, const std::string& type, const std::string& f, const std::string& v,
          const std::string& key) {
    text_ += "{\"process\": " + std::to_string(p) + ", \"type\": \"" + type + "\", \"f\": \"" + f +
             "\", \"value\": " + v;
    if (!key.empty()) text_ += ", \"key\": \"" + key + "\"";
    text_ += "}\n";
    return *this;
  }
  std::string text_;
};

CheckResult MustCheck(const std::string& text, Model model = Model::kCasRegister) {
  Result<History> h = ParseHistory(text);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  if (!h.ok()) return {};
  Result<CheckResult> r = CheckLinearizable(*h, model);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : CheckResult{};
}

Verdict VerdictOf(const std::string& text, Model model = Model::kCasRegister) {
  return MustCheck(text, model).verdict;
}

std::string ParseError(const std::string& text) {
  Result<History> h = ParseHistory(text);
  EXPECT_FALSE(h.ok());
  return h.ok() ? "" : h.status().message();
}

TEST(CheckTest, EmptyHistoryIsLinearizable) {
  CheckResult r = MustCheck("");
  EXPECT_EQ(r.verdict, Verdict::kLinearizable);
  EXPECT_TRUE(r.keys.empty());
  EXPECT_EQ(VerdictOf("\n# a comment\n\n"), Verdict::kLinearizable);
}

TEST(CheckTest, OneOperationIsLinearizable) {
  EXPECT_EQ(VerdictOf(H().Inv(0, "write", "1").Ok(0, "write", "1").text()), Verdict::kLinearizable);
  EXPECT_EQ(VerdictOf(H().Inv(0, "read").Ok(0, "read", "null").text()), Verdict::kLinearizable);
}

TEST(CheckTest, ReadOfAValueNeverWrittenIsNotLinearizable) {
  EXPECT_EQ(VerdictOf(H().Inv(0, "read").Ok(0, "read", "7").text()), Verdict::kNotLinearizable);
}

TEST(CheckTest, SequentialWritesAndReadsAreLinearizable) {
  H h;
  h.Inv(0, "write", "1").Ok(0, "write", "1").Inv(1, "read").Ok(1, "read", "1");
  h.Inv(0, "write", "2").Ok(0, "write", "2").Inv(1, "read").Ok(1, "read", "2");
  EXPECT_EQ(VerdictOf(h.text(), Model::kRegister), Verdict::kLinearizable);
}

TEST(CheckTest, StaleReadAfterACompletedWriteIsNotLinearizable) {
  H h;
  h.Inv(0, "write", "0").Ok(0, "write", "0");
  h.Inv(0, "write", "1").Ok(0, "write", "1");
  h.Inv(1, "read").Ok(1, "read", "0");
  CheckResult r = MustCheck(h.text(), Model::kRegister);
  ASSERT_EQ(r.keys.size(), 1u);
  const KeyResult& k = r.keys[0];
  EXPECT_EQ(k.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(k.prefix, (std::vector<size_t>{0, 1}));  // both writes placed
  EXPECT_EQ(k.stuck, 2u);                            // the read could not be
  EXPECT_NE(k.explanation.find("cannot place p1 read 0"), std::string::npos) << k.explanation;
  EXPECT_NE(k.explanation.find("events 4..5"), std::string::npos) << k.explanation;
  EXPECT_NE(k.explanation.find("state then: 1"), std::string::npos) << k.explanation;
}

TEST(CheckTest, ConcurrentReadsMayEachSeeEitherSideOfAWrite) {
  H h;
  h.Inv(0, "write", "1").Inv(1, "read").Inv(2, "read");
  h.Ok(1, "read", "null").Ok(2, "read", "1").Ok(0, "write", "1");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kLinearizable);
}

TEST(CheckTest, ConcurrentWritesMayTakeEffectInEitherOrder) {
  H h;
  h.Inv(0, "write", "1").Inv(1, "write", "2").Ok(0, "write", "1").Ok(1, "write", "2");
  h.Inv(2, "read").Ok(2, "read", "1");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kLinearizable);
}

TEST(CheckTest, ReadsThatGoBackInTimeAreNotLinearizable) {
  // During a write of 1, one read sees 1 and a later read sees nil again.
  H h;
  h.Inv(0, "write", "1").Inv(1, "read").Ok(1, "read", "1").Inv(2, "read").Ok(2, "read", "null");
  h.Ok(0, "write", "1");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kNotLinearizable);
}

TEST(CheckTest, InfoWriteThatMustHaveTakenEffectIsLinearizable) {
  H h;
  h.Inv(0, "write", "1").Info(0, "write", "1").Inv(1, "read").Ok(1, "read", "1");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kLinearizable);
}

TEST(CheckTest, InfoWriteThatMustNotHaveTakenEffectIsLinearizable) {
  H h;
  h.Inv(0, "write", "1").Info(0, "write", "1").Inv(1, "read").Ok(1, "read", "null");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kLinearizable);
}

TEST(CheckTest, InfoWriteMayTakeEffectLateButNotUndo) {
  H late;  // read nil, then 1: the info write landed between them
  late.Inv(0, "write", "1").Info(0, "write", "1").Inv(1, "read").Ok(1, "read", "null");
  late.Inv(1, "read").Ok(1, "read", "1");
  EXPECT_EQ(VerdictOf(late.text()), Verdict::kLinearizable);
  H undo;  // read 1, then nil: no order explains it
  undo.Inv(0, "write", "1").Info(0, "write", "1").Inv(1, "read").Ok(1, "read", "1");
  undo.Inv(1, "read").Ok(1, "read", "null");
  EXPECT_EQ(VerdictOf(undo.text()), Verdict::kNotLinearizable);
}

TEST(CheckTest, InfoWriteCannotTakeEffectBeforeItsInvoke) {
  H h;
  h.Inv(1, "read").Ok(1, "read", "1").Inv(0, "write", "1").Info(0, "write", "1");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kNotLinearizable);
}

TEST(CheckTest, InvokeNeverCompletedIsIndeterminate) {
  H applied;
  applied.Inv(0, "write", "1").Inv(1, "read").Ok(1, "read", "1");
  EXPECT_EQ(VerdictOf(applied.text()), Verdict::kLinearizable);
  H not_applied;
  not_applied.Inv(0, "write", "1").Inv(1, "read").Ok(1, "read", "null");
  EXPECT_EQ(VerdictOf(not_applied.text()), Verdict::kLinearizable);
  Result<History> parsed = ParseHistory(applied.text());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->ops[0].outcome, Outcome::kInfo);
  EXPECT_EQ(parsed->ops[0].complete_index, Operation::kNoCompletion);
}

TEST(CheckTest, InfoCasThatCouldNeverSucceedSimplyDidNotHappen) {
  H h;
  h.Inv(0, "write", "1").Ok(0, "write", "1").Inv(1, "cas", "[5, 6]").Info(1, "cas", "[5, 6]");
  h.Inv(0, "read").Ok(0, "read", "1");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kLinearizable);
}

TEST(CheckTest, FailedCasDidNotHappen) {
  H failed;
  failed.Inv(0, "write", "1").Ok(0, "write", "1").Inv(1, "cas", "[1, 2]").Fail(1, "cas", "[1, 2]");
  failed.Inv(0, "read").Ok(0, "read", "1");
  EXPECT_EQ(VerdictOf(failed.text()), Verdict::kLinearizable);
  H succeeded;
  succeeded.Inv(0, "write", "1").Ok(0, "write", "1").Inv(1, "cas", "[1, 2]");
  succeeded.Ok(1, "cas", "[1, 2]").Inv(0, "read").Ok(0, "read", "1");
  EXPECT_EQ(VerdictOf(succeeded.text()), Verdict::kNotLinearizable);
}

TEST(CheckTest, SuccessfulCasNeedsTheOldValue) {
  H good;
  good.Inv(0, "write", "0").Ok(0, "write", "0").Inv(1, "cas", "[0, 1]").Ok(1, "cas", "[0, 1]");
  good.Inv(0, "read").Ok(0, "read", "1");
  EXPECT_EQ(VerdictOf(good.text()), Verdict::kLinearizable);
  H bad;
  bad.Inv(0, "write", "0").Ok(0, "write", "0").Inv(1, "cas", "[3, 1]").Ok(1, "cas", "[3, 1]");
  EXPECT_EQ(VerdictOf(bad.text()), Verdict::kNotLinearizable);
}

TEST(CheckTest, DeleteMakesTheKeyReadNil) {
  H h;
  h.Inv(0, "write", "1").Ok(0, "write", "1").Inv(0, "delete").Ok(0, "delete");
  h.Inv(1, "read").Ok(1, "read", "null");
  EXPECT_EQ(VerdictOf(h.text(), Model::kRegister), Verdict::kLinearizable);
}

TEST(CheckTest, StringValuesCompareByJsonText) {
  H h;
  h.Inv(0, "write", "\"1\"").Ok(0, "write", "\"1\"").Inv(1, "read").Ok(1, "read", "1");
  EXPECT_EQ(VerdictOf(h.text()), Verdict::kNotLinearizable);
  H same;
  same.Inv(0, "write", "{\"a\": [1, 2]}").Ok(0, "write").Inv(1, "read");
  same.Ok(1, "read", "{\"a\":[1,2]}");
  EXPECT_EQ(VerdictOf(same.text()), Verdict::kLinearizable);
}

TEST(CheckTest, TwoKeysAreCheckedIndependently) {
  H h;
  h.Inv(0, "write", "1", "a").Ok(0, "write", "1", "a").Inv(1, "read", "null", "a");
  h.Ok(1, "read", "1", "a");
  h.Inv(0, "write", "1", "b").Ok(0, "write", "1", "b").Inv(1, "read", "null", "b");
  h.Ok(1, "read", "null", "b");
  CheckResult r = MustCheck(h.text());
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  ASSERT_EQ(r.keys.size(), 2u);
  EXPECT_EQ(r.keys[0].key, "a");
  EXPECT_EQ(r.keys[0].verdict, Verdict::kLinearizable);
  EXPECT_EQ(r.keys[1].key, "b");
  EXPECT_EQ(r.keys[1].verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.keys[1].op_count, 2u);
  EXPECT_NE(r.keys[1].explanation.find("key b"), std::string::npos) << r.keys[1].explanation;
}

TEST(CheckTest, CounterAddsDeltasAndReadsTheSum) {
  H h;  // two concurrent adds; reads during them see 0, 1, 2 or 3
  h.Inv(0, "add", "1").Inv(1, "write", "2").Inv(2, "read").Ok(2, "read", "2");
  h.Ok(0, "add", "1").Ok(1, "write", "2").Inv(2, "read").Ok(2, "read", "3");
  EXPECT_EQ(VerdictOf(h.text(), Model::kCounter), Verdict::kLinearizable);
  H lost;  // a lost update: both adds completed, the sum is short
  lost.Inv(0, "add", "1").Ok(0, "add", "1").Inv(1, "add", "1").Ok(1, "add", "1");
  lost.Inv(2, "read").Ok(2, "read", "1");
  EXPECT_EQ(VerdictOf(lost.text(), Model::kCounter), Verdict::kNotLinearizable);
  H fresh;  // nil reads as 0
  fresh.Inv(2, "read").Ok(2, "read", "null");
  EXPECT_EQ(VerdictOf(fresh.text(), Model::kCounter), Verdict::kLinearizable);
}

TEST(CheckTest, OperationsOutsideTheModelAreErrors) {
  Result<History> cas = ParseHistory(H().Inv(0, "cas", "[1, 2]").Ok(0, "cas", "[1, 2]").text());
  ASSERT_TRUE(cas.ok());
  Result<CheckResult> r = CheckLinearizable(*cas, Model::kRegister);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("cas-register"), std::string::npos);
  EXPECT_FALSE(CheckLinearizable(*cas, Model::kCounter).ok());
  Result<History> text = ParseHistory(H().Inv(0, "add", "\"x\"").Ok(0, "add").text());
  ASSERT_TRUE(text.ok());
  EXPECT_FALSE(CheckLinearizable(*text, Model::kCounter).ok());
}

TEST(CheckTest, ModelNamesParse) {
  EXPECT_EQ(*ParseModel("register"), Model::kRegister);
  EXPECT_EQ(*ParseModel("cas-register"), Model::kCasRegister);
  EXPECT_EQ(*ParseModel("counter"), Model::kCounter);
  EXPECT_FALSE(ParseModel("queue").ok());
  EXPECT_STREQ(ModelName(Model::kCasRegister), "cas-register");
}

TEST(CheckTest, OutOfTimeGivesUnknownForThisAndLaterKeys) {
  H h;
  h.Inv(0, "write", "1", "a").Ok(0, "write", "1", "a");
  h.Inv(0, "write", "1", "b").Ok(0, "write", "1", "b");
  Result<History> parsed = ParseHistory(h.text());
  ASSERT_TRUE(parsed.ok());
  Result<CheckResult> r = CheckLinearizable(*parsed, Model::kRegister, [] { return true; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kUnknown);
  ASSERT_EQ(r->keys.size(), 2u);
  EXPECT_EQ(r->keys[0].verdict, Verdict::kUnknown);
  EXPECT_EQ(r->keys[1].verdict, Verdict::kUnknown);
}

TEST(CheckTest, JsonProcessesMayBeStringsAndTimesOrderEvents) {
  // Lines out of order; the times put the write's completion before the read.
  std::string text =
      "{\"process\": \"r\", \"type\": \"ok\", \"f\": \"read\", \"key\": \"k\", \"value\": 1, "
      "\"time\": 40}\n"
      "{\"process\": \"w\", \"type\": \"invoke\", \"f\": \"write\", \"key\": \"k\", \"value\": 1, "
      "\"time\": 10}\n"
      "{\"process\": \"w\", \"type\": \"ok\", \"f\": \"write\", \"key\": \"k\", \"value\": 1, "
      "\"time\": 20}\n"
      "{\"process\": \"r\", \"type\": \"invoke\", \"f\": \"read\", \"key\": \"k\", \"time\": 30}\n";
  Result<History> h = ParseHistory(text);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->ops.size(), 2u);
  EXPECT_EQ(h->ops[0].process, "w");
  EXPECT_EQ(h->ops[1].invoke_line, 4);
  EXPECT_EQ(h->ops[1].complete_line, 1);
  EXPECT_EQ(h->ops[1].complete_time, 40);
  EXPECT_EQ(VerdictOf(text), Verdict::kLinearizable);
}

// A Jepsen cas-register log, with other logger output around the history.
constexpr char kJepsenLog[] =
    "INFO  jepsen.core - Running test\n"
    "INFO  jepsen.util - 0\t:invoke\t:write\t0\n"
    "INFO  jepsen.util - 0\t:ok\t:write\t0\n"
    "INFO  jepsen.util - 1\t:invoke\t:cas\t[0 3]\n"
    "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
    "INFO  jepsen.util - 2\t:ok\t:read\t0\n"
    "INFO  jepsen.util - 1\t:ok\t:cas\t[0 3]\n"
    "INFO  jepsen.util - 3\t:invoke\t:cas\t[0 4]\n"
    "INFO  jepsen.util - 3\t:fail\t:cas\t[0 4]\n"
    "INFO  jepsen.util - 4\t:invoke\t:write\t1\n"
    "INFO  jepsen.util - 4\t:info\t:write\t1\t:timed-out\n"
    "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 2\t:ok\t:read\t";

TEST(CheckTest, JepsenLogIsParsedAndChecked) {
  Result<History> h = ParseHistory(std::string(kJepsenLog) + "3\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->ops.size(), 6u);
  const Operation& cas = h->ops[1];
  EXPECT_EQ(cas.process, "1");
  EXPECT_EQ(cas.f, Fn::kCas);
  EXPECT_EQ(cas.value, Value::Of("0"));
  EXPECT_EQ(cas.cas_new, Value::Of("3"));
  EXPECT_EQ(cas.outcome, Outcome::kOk);
  EXPECT_EQ(cas.invoke_line, 4);
  EXPECT_EQ(cas.complete_line, 8);
  EXPECT_EQ(h->ops[3].outcome, Outcome::kFail);
  EXPECT_EQ(h->ops[4].outcome, Outcome::kInfo);
  EXPECT_EQ(Describe(cas), "p1 cas [0 3] (ok, events 2..5, lines 4..8)");
  // The last read may see 3 (the info write never landed) or 1 (it did).
  EXPECT_EQ(VerdictOf(std::string(kJepsenLog) + "3\n"), Verdict::kLinearizable);
  EXPECT_EQ(VerdictOf(std::string(kJepsenLog) + "1\n"), Verdict::kLinearizable);
  // 4 was only written by the failed cas; 0 was overwritten by a completed cas.
  EXPECT_EQ(VerdictOf(std::string(kJepsenLog) + "4\n"), Verdict::kNotLinearizable);
  EXPECT_EQ(VerdictOf(std::string(kJepsenLog) + "0\n"), Verdict::kNotLinearizable);
}

TEST(CheckTest, NewerJepsenLogFormatIsParsed) {
  std::string text =
      "2017-03-20 13:06:24,379{GMT}\tINFO\t[jepsen worker 0] jepsen.util: 0\t:invoke\t:read\tnil\n"
      "2017-03-20 13:06:24,380{GMT}\tINFO\t[jepsen worker 0] jepsen.util: 0\t:ok\t:read\tnil\n";
  Result<History> h = ParseHistory(text);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->ops.size(), 1u);
  EXPECT_EQ(h->ops[0].outcome, Outcome::kOk);
}

TEST(CheckTest, MalformedLinesAreErrorsNamingTheLine) {
  std::string two_ok = H().Inv(0, "write", "1").Ok(0, "write", "1").text();
  EXPECT_EQ(ParseError(two_ok + "{\"process\": 1, \"type\": \"ok\"\n"), "line 3: malformed JSON");
  EXPECT_EQ(ParseError(two_ok + "{\"process\": 1} trailing\n"), "line 3: malformed JSON");
  EXPECT_NE(ParseError(H().Line0("bogus", "read")).find("line 1: \"type\""), std::string::npos);
  EXPECT_NE(ParseError(H().Line0("invoke", "incr")).find("line 1: \"f\""), std::string::npos);
  EXPECT_EQ(ParseError(two_ok + H().Ok(3, "read", "1").text()),
            "line 3: completion on process 3 without a pending invoke");
  EXPECT_EQ(ParseError(H().Inv(0, "read").Inv(0, "write", "1").text()),
            "line 2: process 0 invokes while its invoke on line 1 is still pending");
  EXPECT_NE(ParseError(H().Inv(0, "read").Ok(0, "write", "1").text()).find("line 2: write"),
            std::string::npos);
  EXPECT_EQ(ParseError(two_ok + "hello\n"),
            "line 3: neither an edgelab JSON line nor a Jepsen log line");
  EXPECT_EQ(ParseError(H().Inv(0, "cas", "3").text()), "line 1: cas value must be [old, new]");
  EXPECT_EQ(ParseError("INFO  jepsen.util - 3\t:invoke\t:cas\t[3]\n"),
            "line 1: cas value must be [old new]");
  EXPECT_EQ(ParseError("INFO  jepsen.util - 3\t:invoke\t:write\tabc\n"),
            "line 1: value 'abc' is not nil or an integer");
  EXPECT_NE(ParseError("INFO  jepsen.util - 3\t:invoke\t:incr\t1\n").find("line 1: unknown f"),
            std::string::npos);
}

// The brute-force oracle: tries every order of the ops that respects real
// time, leaving indeterminate ops out when they help. Small histories only.
bool BruteForce(const std::vector<Operation>& ops, std::vector<bool>& placed, Value state) {
  bool all_definite = true;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!placed[i] && ops[i].outcome == Outcome::kOk) all_definite = false;
  }
  if (all_definite) return true;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (placed[i]) continue;
    bool minimal = true;  // no unplaced op completed before this one began
    for (size_t j = 0; j < ops.size(); ++j) {
      if (!placed[j] && ops[j].complete_index < ops[i].invoke_index) minimal = false;
    }
    const Operation& o = ops[i];
    if (!minimal || (o.f == Fn::kCas && !(state == o.value)) ||
        (o.f == Fn::kRead && !(state == o.value))) {
      continue;
    }
    Value next = o.f == Fn::kWrite ? o.value : o.f == Fn::kCas ? o.cas_new : state;
    placed[i] = true;
    bool ok = BruteForce(ops, placed, next);
    placed[i] = false;
    if (ok) return true;
  }
  return false;
}

// Random small cas-register histories, most of them not linearizable.
std::string RandomSmallHistory(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  auto value = [&] { return std::to_string(pick(3)); };
  H h;
  std::vector<std::string> pending(3);  // f and value of each process's open op
  std::vector<std::string> pending_v(3);
  int invokes = 0;
  for (int step = 0; step < 40 && (invokes < 6 || !pending[0].empty() || !pending[1].empty() ||
                                   !pending[2].empty());
       ++step) {
    int p = pick(3);
    if (pending[p].empty()) {
      if (invokes == 6) continue;
      ++invokes;
      int f = pick(3);
      pending[p] = f == 0 ? "read" : f == 1 ? "write" : "cas";
      pending_v[p] = f == 0 ? "null" : f == 1 ? value() : "[" + value() + ", " + value() + "]";
      h.Inv(p, pending[p], pending_v[p]);
      continue;
    }
    int outcome = pick(10);
    std::string v = pending[p] == "read" ? value() : pending_v[p];
    if (outcome < 7) h.Ok(p, pending[p], v);
    if (outcome == 7 || outcome == 8) h.Info(p, pending[p], v);
    if (outcome == 9) h.Fail(p, pending[p], v);
    pending[p].clear();
  }
  return h.text();
}

TEST(CheckTest, AgreesWithBruteForceOnRandomSmallHistories) {
  std::mt19937 rng(5);
  int linearizable = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = RandomSmallHistory(rng);
    Result<History> h = ParseHistory(text);
    ASSERT_TRUE(h.ok()) << h.status().ToString() << "\n" << text;
    std::vector<Operation> kept;  // the oracle's view: fails and unknown reads dropped
    for (const Operation& o : h->ops) {
      if (o.outcome == Outcome::kFail) continue;
      if (o.outcome == Outcome::kInfo && o.f == Fn::kRead) continue;
      kept.push_back(o);
    }
    std::vector<bool> placed(kept.size(), false);
    bool expected = BruteForce(kept, placed, Value::Nil());
    linearizable += expected;
    Result<CheckResult> r = CheckLinearizable(*h, Model::kCasRegister);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->verdict, expected ? Verdict::kLinearizable : Verdict::kNotLinearizable) << text;
  }
  // Both answers must be well represented for the comparison to mean much.
  EXPECT_GT(linearizable, 300);
  EXPECT_LT(linearizable, 2700);
}

// A real atomic register driven by `processes` clients: each op takes effect
// at a random moment between its invoke and completion, so the history is
// linearizable by construction. A client whose op ends in info is replaced
// by a fresh process id, as Jepsen does.
std::string AtomicRegisterHistory(int op_count, int processes, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  struct Client {
    int id;
    std::string f, arg, result;
    bool open = false, applied = false, ok = true;
  };
  std::vector<Client> clients;
  for (int i = 0; i < processes; ++i) clients.push_back(Client{i, "", "", ""});
  int state = -1;  // nil
  auto show = [](int v) { return v < 0 ? std::string("null") : std::to_string(v); };
  H h;
  int invoked = 0, open = 0;
  while (invoked < op_count || open > 0) {
    Client& c = clients[pick(processes)];
    if (!c.open) {
      if (invoked == op_count) continue;
      int f = pick(3), a = pick(5), b = pick(5);
      c.f = f == 0 ? "read" : f == 1 ? "write" : "cas";
      c.arg = f == 0 ? "null" : f == 1 ? std::to_string(a) : "[" + show(a) + ", " + show(b) + "]";
      c.result = c.arg;
      c.open = true, c.applied = false, c.ok = true;
      h.Inv(c.id, c.f, c.arg);
      ++invoked, ++open;
    } else if (!c.applied) {
      if (c.f == "read") c.result = show(state);
      if (c.f == "write") state = std::stoi(c.arg);
      if (c.f == "cas") {
        int a = c.arg[1] - '0', b = c.arg[4] - '0';
        c.ok = state == a;
        if (c.ok) state = b;
      }
      c.applied = true;
    } else {
      int roll = pick(100);
      if (roll < 2) {
        h.Info(c.id, c.f, c.arg);
        c.id += processes;
      } else if (c.ok) {
        h.Ok(c.id, c.f, c.result);
      } else {
        h.Fail(c.id, c.f, c.arg);
      }
      c.open = false;
      --open;
    }
  }
  return h.text();
}

TEST(CheckTest, ThousandOpAtomicRegisterHistoryIsLinearizableQuickly) {
  std::string text = AtomicRegisterHistory(1000, 10, 42);
  Result<History> h = ParseHistory(text);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->ops.size(), 1000u);
  auto start = std::chrono::steady_clock::now();
  Result<CheckResult> r = CheckLinearizable(*h, Model::kCasRegister);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kLinearizable) << r->keys[0].explanation;
  std::printf("1000-op check: %.2f ms\n", ms.count());  // reported, not asserted
}

// Refuting is the search's worst case (every reachable (set, state) pair is
// visited): 200 ops here; at 1,000 ops it takes seconds.
TEST(CheckTest, GeneratedHistoryWithOneImpossibleReadIsNotLinearizable) {
  std::string text = AtomicRegisterHistory(200, 10, 42);
  size_t at = text.rfind("\"ok\", \"f\": \"read\", \"value\": ");
  ASSERT_NE(at, std::string::npos);
  size_t value = text.find("value\": ", at) + 8;
  text.replace(value, text.find('}', value) - value, "9");  // never written
  Result<History> h = ParseHistory(text);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Result<CheckResult> r = CheckLinearizable(*h, Model::kCasRegister);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kNotLinearizable);
  EXPECT_NE(r->keys[0].explanation.find("read 9"), std::string::npos) << r->keys[0].explanation;
}

TEST(CheckTest, ManySeedsOfAtomicRegisterHistoriesAreLinearizable) {
  for (uint32_t seed = 0; seed < 20; ++seed) {
    Result<History> h = ParseHistory(AtomicRegisterHistory(200, 5, seed));
    ASSERT_TRUE(h.ok());
    Result<CheckResult> r = CheckLinearizable(*h, Model::kCasRegister);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->verdict, Verdict::kLinearizable) << "seed " << seed;
  }
}

}  // namespace
}  // namespace edgelab::check
