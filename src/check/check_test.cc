// check/check_test.cc: history parsing and the linearizability checker on
// hand-made histories with known answers, a cross-check against a brute-force
// search on random small histories, and a 1,000-op generated history.
#include <gtest/gtest.h>

#include <algorithm>
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

constexpr SearchOrder kOrders[] = {SearchOrder::kAuto, SearchOrder::kDive, SearchOrder::kDeferred};

// The check in the default order; every other order must give each key the
// same verdict (so every hand-made history below covers all three).
CheckResult MustCheck(const std::string& text, Model model = Model::kCasRegister) {
  Result<History> h = ParseHistory(text);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  if (!h.ok()) return {};
  Result<CheckResult> r = CheckLinearizable(*h, model);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  for (SearchOrder order : kOrders) {
    Result<CheckResult> other = CheckLinearizable(*h, model, {}, order);
    EXPECT_TRUE(other.ok());
    if (!other.ok()) continue;
    EXPECT_EQ(other->verdict, r->verdict) << "order " << static_cast<int>(order);
    EXPECT_EQ(other->keys.size(), r->keys.size());
    for (size_t i = 0; i < r->keys.size() && i < other->keys.size(); ++i) {
      EXPECT_EQ(other->keys[i].verdict, r->keys[i].verdict) << "key " << r->keys[i].key;
    }
  }
  return *r;
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

// Jepsen's meaning of :fail. (Porcupine's etcd test model reads a failed cas
// as "the value was not 1" and calls `failed` below not linearizable; the
// Jepsen etcd logs of its test data get the same verdicts either way.)
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

// Jepsen's etcd logs (as in Porcupine's test_data/jepsen) put the error
// where the value goes on a timed-out op: `:info  :cas  :timed-out`.
TEST(CheckTest, JepsenTimedOutCompletionsMayCarryAnErrorInsteadOfAValue) {
  Result<History> h = ParseHistory(
      "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4]\n"
      "INFO  jepsen.util - 1\t:info\t:cas\t:timed-out\n"
      "INFO  jepsen.util - 2\t:invoke\t:write\t3\n"
      "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n"
      "INFO  jepsen.util - 4\t:invoke\t:read\tnil\n"
      "INFO  jepsen.util - 4\t:fail\t:read\t:timed-out\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->ops.size(), 3u);
  EXPECT_EQ(h->ops[0].outcome, Outcome::kInfo);
  EXPECT_EQ(h->ops[0].value, Value::Of("1"));  // the invoke's operands stay
  EXPECT_EQ(h->ops[0].cas_new, Value::Of("4"));
  EXPECT_EQ(h->ops[1].outcome, Outcome::kInfo);
  EXPECT_EQ(h->ops[1].value, Value::Of("3"));
  EXPECT_EQ(h->ops[2].outcome, Outcome::kFail);
  // An ok completion has no such excuse.
  EXPECT_EQ(ParseError("INFO  jepsen.util - 4\t:invoke\t:read\tnil\n"
                       "INFO  jepsen.util - 4\t:ok\t:read\t:timed-out\n"),
            "line 2: value ':timed-out' is not nil or an integer");
}

// Porcupine's etcd_100..102.log have spaces where Jepsen wrote tabs.
TEST(CheckTest, JepsenFieldsMayBeSeparatedBySpaces) {
  Result<History> h = ParseHistory(
      "INFO  jepsen.util - 4   :invoke :cas    [1 2]\n"
      "INFO  jepsen.util - 4   :ok     :cas    [1 2]\n"
      "INFO  jepsen.util - :nemesis :info :start nil\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->ops.size(), 1u);
  EXPECT_EQ(h->ops[0].process, "4");
  EXPECT_EQ(h->ops[0].f, Fn::kCas);
  EXPECT_EQ(h->ops[0].value, Value::Of("1"));
  EXPECT_EQ(h->ops[0].cas_new, Value::Of("2"));
  EXPECT_EQ(h->ops[0].outcome, Outcome::kOk);
}

// Small logs in the etcd format; Porcupine (its etcd test model, through
// bench/porcupine) gives each the same verdict.
TEST(CheckTest, EtcdStyleJepsenLogsGetPorcupinesVerdicts) {
  auto line = [](const std::string& fields) { return "INFO  jepsen.util - " + fields + "\n"; };
  std::string cas_took_effect =
      line("0\t:invoke\t:write\t1") + line("0\t:ok\t:write\t1") + line("1\t:invoke\t:cas\t[1 4]") +
      line("1\t:info\t:cas\t:timed-out") + line("2\t:invoke\t:read\tnil") +
      line("2\t:ok\t:read\t4") + line("6\t:invoke\t:read\tnil") + line("6\t:ok\t:read\t4");
  EXPECT_EQ(VerdictOf(cas_took_effect), Verdict::kLinearizable);
  std::string back_to_one =
      cas_took_effect + line("0\t:invoke\t:read\tnil") + line("0\t:ok\t:read\t1");
  EXPECT_EQ(VerdictOf(back_to_one), Verdict::kNotLinearizable);
  std::string spaced = back_to_one;
  std::replace(spaced.begin(), spaced.end(), '\t', ' ');
  EXPECT_EQ(VerdictOf(spaced), Verdict::kNotLinearizable);
  std::string write_took_effect = line(":nemesis\t:info\t:start\tnil") +
                                  line("3\t:invoke\t:write\t2") + line("4\t:invoke\t:read\tnil") +
                                  line("4\t:fail\t:read\t:timed-out") +
                                  line("3\t:info\t:write\t:timed-out") +
                                  line("4\t:invoke\t:read\tnil") + line("4\t:ok\t:read\t2");
  EXPECT_EQ(VerdictOf(write_took_effect), Verdict::kLinearizable);
  EXPECT_EQ(
      VerdictOf(write_took_effect + line("4\t:invoke\t:read\tnil") + line("4\t:ok\t:read\tnil")),
      Verdict::kNotLinearizable);
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

// The oracle's model: register values compare as JSON text, a counter's as
// integers (nil is 0).
bool OracleStep(Model model, const Operation& o, const Value& state, Value* next) {
  if (model == Model::kCounter) {
    int64_t sum = state.nil ? 0 : *state.AsInt();
    int64_t v = o.value.nil ? 0 : *o.value.AsInt();
    *next = o.f == Fn::kRead ? state : Value::Of(std::to_string(sum + v));
    return o.f != Fn::kRead || sum == v;
  }
  *next = o.f == Fn::kWrite ? o.value : o.f == Fn::kCas ? o.cas_new : state;
  return (o.f != Fn::kCas && o.f != Fn::kRead) || state == o.value;
}

// The brute-force oracle: tries every order of the ops that respects real
// time, leaving indeterminate ops out when they help. Small histories only.
bool BruteForce(Model model, const std::vector<Operation>& ops, std::vector<bool>& placed,
                const Value& state) {
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
    Value next;
    if (!minimal || !OracleStep(model, ops[i], state, &next)) continue;
    placed[i] = true;
    bool ok = BruteForce(model, ops, placed, next);
    placed[i] = false;
    if (ok) return true;
  }
  return false;
}

// Random small histories of `processes` clients and up to `invokes` ops,
// most of them not linearizable: cas-register ops over values 0..2, or a
// counter's adds of 0..2 and reads of 0..4. 20% of ops end in info (the
// process goes on), 10% fail.
std::string RandomSmallHistory(std::mt19937& rng, Model model, int processes, int invokes) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  auto value = [&] { return std::to_string(pick(3)); };
  H h;
  std::vector<std::string> pending(processes);  // f and value of each process's open op
  std::vector<std::string> pending_v(processes);
  auto any_pending = [&] {
    return std::any_of(pending.begin(), pending.end(), [](auto& p) { return !p.empty(); });
  };
  int invoked = 0;
  for (int step = 0; step < 20 * invokes && (invoked < invokes || any_pending()); ++step) {
    int p = pick(processes);
    if (pending[p].empty()) {
      if (invoked == invokes) continue;
      ++invoked;
      int f = pick(3);
      if (model == Model::kCounter) {
        pending[p] = f == 0 ? "read" : "add";
        pending_v[p] = f == 0 ? "null" : value();
      } else if (f == 2) {
        pending[p] = "cas";
        std::string old_v = value();
        pending_v[p] = "[" + old_v + ", " + value() + "]";
      } else {
        pending[p] = f == 0 ? "read" : "write";
        pending_v[p] = f == 0 ? "null" : value();
      }
      h.Inv(p, pending[p], pending_v[p]);
      continue;
    }
    int outcome = pick(10);
    std::string read = std::to_string(pick(model == Model::kCounter ? 5 : 3));
    std::string v = pending[p] == "read" ? read : pending_v[p];
    if (outcome < 7) h.Ok(p, pending[p], v);
    if (outcome == 7 || outcome == 8) h.Info(p, pending[p], v);
    if (outcome == 9) h.Fail(p, pending[p], v);
    pending[p].clear();
  }
  return h.text();
}

// Checks `count` random histories in every search order against the oracle.
void ExpectAgreementWithBruteForce(Model model, int processes, int invokes, int count) {
  std::mt19937 rng(5);
  int linearizable = 0;
  for (int i = 0; i < count; ++i) {
    std::string text = RandomSmallHistory(rng, model, processes, invokes);
    Result<History> h = ParseHistory(text);
    ASSERT_TRUE(h.ok()) << h.status().ToString() << "\n" << text;
    std::vector<Operation> kept;  // the oracle's view: fails and unknown reads dropped
    for (const Operation& o : h->ops) {
      if (o.outcome == Outcome::kFail) continue;
      if (o.outcome == Outcome::kInfo && o.f == Fn::kRead) continue;
      kept.push_back(o);
    }
    std::vector<bool> placed(kept.size(), false);
    bool expected = BruteForce(model, kept, placed, Value::Nil());
    linearizable += expected;
    for (SearchOrder order : kOrders) {
      Result<CheckResult> r = CheckLinearizable(*h, model, {}, order);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->verdict, expected ? Verdict::kLinearizable : Verdict::kNotLinearizable)
          << "order " << static_cast<int>(order) << "\n"
          << text;
    }
  }
  // Both answers must be well represented for the comparison to mean much.
  EXPECT_GT(linearizable, count / 10);
  EXPECT_LT(linearizable, count * 9 / 10);
}

TEST(CheckTest, AgreesWithBruteForceOnRandomSmallHistories) {
  ExpectAgreementWithBruteForce(Model::kCasRegister, 3, 6, 3000);
}

// More clients and more timed-out ops: deeper levels of the deferred order.
TEST(CheckTest, AgreesWithBruteForceOnRandomHistoriesOfFourClients) {
  ExpectAgreementWithBruteForce(Model::kCasRegister, 4, 9, 1500);
}

TEST(CheckTest, CounterAgreesWithBruteForceOnRandomSmallHistories) {
  ExpectAgreementWithBruteForce(Model::kCounter, 3, 7, 1500);
}

// A real atomic register driven by `processes` clients: each op takes effect
// at a random moment between its invoke and completion, so the history is
// linearizable by construction. `info_percent` of ops end in info, after
// which the client is replaced by a fresh process id, as Jepsen does; half
// of those took effect.
std::string AtomicRegisterHistory(int op_count, int processes, uint32_t seed,
                                  int info_percent = 2) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  struct Client {
    int id;
    std::string f, arg, result;
    bool open = false, applied = false, ok = true, info = false;
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
      c.info = pick(100) < info_percent;
      if (!c.info || pick(2) == 0) {
        if (c.f == "read") c.result = show(state);
        if (c.f == "write") state = std::stoi(c.arg);
        if (c.f == "cas") {
          int a = c.arg[1] - '0', b = c.arg[4] - '0';
          c.ok = state == a;
          if (c.ok) state = b;
        }
      }
      c.applied = true;
    } else {
      if (c.info) {
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

// `text` with its last ok read (from `at` on, back to front) reading 9, a
// value nothing writes.
std::string WithImpossibleRead(std::string text, size_t at = std::string::npos) {
  size_t read = text.rfind("\"ok\", \"f\": \"read\", \"value\": ", at);
  EXPECT_NE(read, std::string::npos);
  size_t value = text.find("value\": ", read) + 8;
  std::string out = text.substr(0, value);  // (not replace(): g++ 12 -O3 warns falsely)
  out += '9';
  out += text.substr(text.find('}', value));
  return out;
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

// Refuting is the search's worst case (every reachable config before the
// violation is visited); docs/benchmarks.md has the times.
TEST(CheckTest, ThousandOpHistoryWithOneImpossibleReadIsNotLinearizable) {
  std::string text = WithImpossibleRead(AtomicRegisterHistory(1000, 10, 42));
  Result<History> h = ParseHistory(text);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto start = std::chrono::steady_clock::now();
  Result<CheckResult> r = CheckLinearizable(*h, Model::kCasRegister);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->verdict, Verdict::kNotLinearizable);
  EXPECT_NE(r->keys[0].explanation.find("read 9"), std::string::npos) << r->keys[0].explanation;
  std::printf("1000-op refutation: %.2f ms\n", ms.count());  // reported, not asserted
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

// Many timed-out ops (10%) that took effect half the time: the histories a
// dive must place indeterminate ops in, and the deferred order must reach
// deep levels for. Every order finds them linearizable, and refutes them
// with an impossible read in the middle, with a sane explanation.
TEST(CheckTest, EveryOrderDecidesHistoriesWithManyTimeouts) {
  for (uint32_t seed = 0; seed < 10; ++seed) {
    std::string ok = AtomicRegisterHistory(120, 6, seed, /*info_percent=*/10);
    std::string bad = WithImpossibleRead(ok, ok.size() / 2);
    Result<History> good_h = ParseHistory(ok), bad_h = ParseHistory(bad);
    ASSERT_TRUE(good_h.ok() && bad_h.ok());
    for (SearchOrder order : kOrders) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " order " +
                   std::to_string(static_cast<int>(order)));
      Result<CheckResult> good = CheckLinearizable(*good_h, Model::kCasRegister, {}, order);
      ASSERT_TRUE(good.ok());
      EXPECT_EQ(good->verdict, Verdict::kLinearizable) << good->keys[0].explanation;
      Result<CheckResult> r = CheckLinearizable(*bad_h, Model::kCasRegister, {}, order);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->verdict, Verdict::kNotLinearizable);
      const KeyResult& k = r->keys[0];
      EXPECT_NE(k.explanation.find("read 9"), std::string::npos) << k.explanation;
      EXPECT_EQ(bad_h->ops[k.stuck].value, Value::Of("9"));
      std::vector<size_t> placed = k.prefix;
      std::sort(placed.begin(), placed.end());
      EXPECT_TRUE(std::adjacent_find(placed.begin(), placed.end()) == placed.end());
      EXPECT_FALSE(std::binary_search(placed.begin(), placed.end(), k.stuck));
    }
  }
}

}  // namespace
}  // namespace edgelab::check
