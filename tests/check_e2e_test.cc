// `edgelab check` end to end: the real binary on history files in both input
// formats, its output and exit codes.
#include <gtest/gtest.h>

#include <string>

#include "tests/server_process.h"

namespace edgelab::e2e {
namespace {

TEST(CheckE2E, LinearizableJsonHistoryExitsZero) {
  TempDir dir;
  std::string file =
      dir.Write("ok.jsonl",
                R"({"process": 1, "type": "invoke", "f": "write", "key": "c", "value": 1}
{"process": 1, "type": "ok", "f": "write", "key": "c", "value": 1}
{"process": 2, "type": "invoke", "f": "read", "key": "c", "value": null}
{"process": 2, "type": "ok", "f": "read", "key": "c", "value": 1}
)");
  ProcessRun r = RunEdgelab({"check", file});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("key c: linearizable"), std::string::npos) << r.out;
}

// A read of 0 after the write of 1 completed: no order of the two explains it.
TEST(CheckE2E, StaleReadIsNotLinearizableExitsOneAndExplains) {
  TempDir dir;
  std::string file =
      dir.Write("bad.jsonl",
                R"({"process": 1, "type": "invoke", "f": "write", "key": "c", "value": 1}
{"process": 1, "type": "ok", "f": "write", "key": "c", "value": 1}
{"process": 2, "type": "invoke", "f": "read", "key": "c", "value": null}
{"process": 2, "type": "ok", "f": "read", "key": "c", "value": 0}
)");
  ProcessRun r = RunEdgelab({"check", file});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("key c: not linearizable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot place"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NOT linearizable"), std::string::npos) << r.out;
}

TEST(CheckE2E, JepsenLogWithCasIsRead) {
  TempDir dir;
  std::string file = dir.Write("jepsen.log",
                               "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
                               "INFO  jepsen.util - 0\t:ok\t:write\t1\n"
                               "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4]\n"
                               "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
                               "INFO  jepsen.util - 1\t:ok\t:cas\t[1 4]\n"
                               "INFO  jepsen.util - 2\t:ok\t:read\t4\n");
  ProcessRun r = RunEdgelab({"check", file, "--model", "cas-register"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("linearizable"), std::string::npos) << r.out;
}

// Without --model the history's operations choose: cas -> cas-register (what
// edgelab's recorded histories need), add -> counter.
TEST(CheckE2E, TheModelIsChosenFromTheOperations) {
  TempDir dir;
  std::string cas =
      dir.Write("cas.jsonl",
                R"({"process": 1, "type": "invoke", "f": "cas", "key": "c", "value": [null, "1"]}
{"process": 1, "type": "ok", "f": "cas", "key": "c", "value": [null, "1"]}
)");
  ProcessRun r = RunEdgelab({"check", cas});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("model cas-register (auto"), std::string::npos) << r.out;
  std::string add = dir.Write("add.jsonl",
                              R"({"process": 1, "type": "invoke", "f": "add", "value": 2}
{"process": 1, "type": "ok", "f": "add", "value": 2}
{"process": 2, "type": "invoke", "f": "read", "value": null}
{"process": 2, "type": "ok", "f": "read", "value": 1}
)");
  r = RunEdgelab({"check", add});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("model counter (auto"), std::string::npos) << r.out;
}

// A log that holds lines but no client operation is not "linearizable".
TEST(CheckE2E, AFileWithoutOperationsIsBadInput) {
  TempDir dir;
  std::string file = dir.Write("nemesis.log",
                               "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
                               "INFO  jepsen.core - Run complete, writing\n");
  ProcessRun r = RunEdgelab({"check", file});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no operations"), std::string::npos) << r.err;
  std::string empty = dir.Write("empty.jsonl", "");
  EXPECT_EQ(RunEdgelab({"check", empty}).exit_code, 0);  // an empty history is linearizable
}

TEST(CheckE2E, BadInputExitsTwoNamingTheLine) {
  TempDir dir;
  std::string file =
      dir.Write("broken.jsonl",
                "{\"process\": 1, \"type\": \"invoke\", \"f\": \"write\", \"value\": 1}\n"
                "{\"process\": 1, \"type\": \"ok\", \"f\": \"wri\n");
  ProcessRun r = RunEdgelab({"check", file});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  ProcessRun model = RunEdgelab({"check", file, "--model", "queue"});
  EXPECT_EQ(model.exit_code, 2);
  EXPECT_NE(model.err.find("queue"), std::string::npos) << model.err;
  ProcessRun missing = RunEdgelab({"check", dir.path() + "/none.jsonl"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("none.jsonl"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace edgelab::e2e
