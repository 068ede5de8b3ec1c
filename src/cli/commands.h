// cli/commands.h: the edgelab subcommands. Each returns the process exit
// code: 0 success, 1 a failure of the work, 2 bad input (config, module,
// flags); errors are printed to stderr naming the file and the problem.
#ifndef EDGELAB_CLI_COMMANDS_H_
#define EDGELAB_CLI_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/watch.h"
#include "sched/sim_scheduler.h"

namespace edgelab::cli {

// Prints "edgelab: <message>" to stderr and returns `code`: every command's
// way out on an error.
int Fail(const Status& s, int code);

struct ServeOptions {
  std::string config;  // path of edge.toml
  std::string host = "127.0.0.1";
  uint16_t port = 8787;
  std::string data;  // folder for durable state; ":memory:" for none
  bool quiet = false;
  uint32_t threads = 0;  // 0: one per core
  uint64_t max_body_bytes = 100 * 1024 * 1024;
  double drain_timeout_s = 30;  // after SIGINT/SIGTERM, before giving up on requests
  WatchFlags watch;             // --race, --race-json, --history
};
int Serve(const ServeOptions& opts);

struct BenchOptions {
  std::string target;     // URL or edge.toml (or its folder)
  std::string compare;    // a second target, or ""
  uint64_t requests = 0;  // 0 with duration_s > 0: as many as fit
  double duration_s = 0;
  double rate = 0;  // open loop when > 0
  uint32_t connections = 100;
  uint32_t threads = 1;         // client loops
  uint32_t server_threads = 0;  // loops of an in-process worker; 0: one per core
  double warmup_s = 0;
  double timeout_s = 60;
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // or "@FILE"
  std::vector<std::string> paths;    // "PATH[@WEIGHT]"
  uint32_t reps = 1;
  std::string verify;  // path read before and after each repetition
  uint64_t monthly_requests = 0;
  std::vector<std::string> prices;  // "KEY=VALUE"
  std::string json;                 // file, "-" for stdout
  std::string html;
  bool quiet = false;           // no live progress line
  double drain_timeout_s = 10;  // for an edge.toml target to stop after a rep
  std::string command;          // as typed, for the record
  bool table = true;            // the post's table after the run (race: off)
  // --race, --race-json, --history: edge.toml targets only; --history with
  // one target and one rep, --race-json with one target.
  WatchFlags watch;
};
// `races` (optional) gets the number of race reports found over all targets.
int Bench(const BenchOptions& opts, uint64_t* races = nullptr);

// `edgelab race edge.toml`: Bench with --race on one edge.toml target; exit
// kRaceFound when any race was reported, 0 when none, else Bench's code.
inline constexpr int kRaceFound = 66;
int Race(BenchOptions opts);

struct CheckOptions {
  std::string file;            // a history: JSON lines or a Jepsen log
  std::string model = "auto";  // auto, register, cas-register, counter
  double timeout_s = 60;       // 0: no limit
};
int Check(const CheckOptions& opts);

// `edgelab test edge.toml`: deterministic simulation (sim/simulation.h).
// Exit: 0 every schedule passed, 1 one failed (its seed printed), 2 bad input.
struct TestOptions {
  std::string config;    // edge.toml
  std::string scenario;  // a scenario file (sim/scenario.h), or ""
  // Override the scenario's (or the defaults': 100 requests, 10 in flight).
  std::optional<uint64_t> requests;
  std::optional<uint32_t> concurrency;
  std::optional<std::string> verify;
  bool no_race = false;
  bool no_linearizability = false;
  uint64_t schedules = 100;
  uint64_t seed = 1;  // schedule i runs seed + i
  sched::SimOptions::Strategy strategy = sched::SimOptions::Strategy::kRandom;
  int pct_depth = 3;
  std::optional<uint64_t> replay;  // run only this seed, print its whole trace
  bool shrink = false;
  std::string trace;    // write the failing (or replayed) schedule's trace here
  std::string history;  // and its recorded history (JSON lines, for edgelab check)
  bool quiet = false;
};
int Test(const TestOptions& opts);

}  // namespace edgelab::cli

#endif  // EDGELAB_CLI_COMMANDS_H_
