// cli/main.cc: the edgelab binary's command line (CLI11). Flat wiring only:
// each subcommand's work lives in its own file.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <map>

#include "bench/cost.h"
#include "cli/commands.h"
#include "sim/scenario.h"

namespace edgelab::cli {

int Fail(const Status& s, int code) {
  std::fprintf(stderr, "edgelab: %s\n", s.message().c_str());
  return code;
}

namespace {

// --race, --race-json and --history on `cmd`; reports print `when`.
void AddWatchFlags(CLI::App* cmd, WatchFlags* w, const std::string& when) {
  cmd->add_flag("--race", w->race,
                "Report lost updates and unprotected read-modify-writes of KV keys, " + when);
  cmd->add_option("--race-json", w->race_json,
                  "Also write the race reports as JSON to FILE (implies --race)");
  cmd->add_option("--history", w->history,
                  "Record every KV and Durable Object storage read, write and delete as JSON "
                  "lines to FILE (Jepsen's model; decide it with edgelab check)");
}

// The load flags bench and race share: -n, -d, -c, -t, --timeout, -m, -H,
// --body, -p. Returns -n's option (its default depends on -d).
CLI::Option* AddLoadFlags(CLI::App* cmd, BenchOptions* o) {
  CLI::Option* n = cmd->add_option("-n,--requests", o->requests,
                                   "Requests per repetition (default 1000 unless -d is given)")
                       ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  cmd->add_option("-d,--duration", o->duration_s,
                  "Seconds per repetition: no request is sent after it (with -n: whichever ends "
                  "first)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-c,--connections", o->connections,
                  "Keep-alive connections: requests in flight in a closed loop")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100'000u));
  cmd->add_option("-t,--threads", o->threads, "Client threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--timeout", o->timeout_s, "Per-request timeout in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("-m,--method", o->method, "Request method")->capture_default_str();
  cmd->add_option("-H,--header", o->headers, "\"Name: value\" added to every request (repeat)");
  cmd->add_option("--body", o->body, "Request body, or @FILE for a file's bytes");
  cmd->add_option("-p,--path", o->paths,
                  "PATH[@WEIGHT]: request paths mixed by weight, e.g. -p /@9 -p /value@1 "
                  "(default: the URL's path, or / of a worker; --verify does not count its own "
                  "path as updates)");
  return n;
}

// The command as typed, quoted where a shell would need it, for the record.
std::string CommandLine(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    std::string arg = i == 0 ? "edgelab" : argv[i];
    if (arg.find_first_of(" \t\"'") != std::string::npos) arg = "'" + arg + "'";
    line += (i == 0 ? "" : " ") + arg;
  }
  return line;
}

}  // namespace
}  // namespace edgelab::cli

int main(int argc, char** argv) {
  using namespace edgelab::cli;  // NOLINT: wiring
  CLI::App app{
      "edgelab: serve, bench, race-check, check and simulate stateful Wasm edge functions"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgelab 0.1.0");
  app.footer(
      "Examples:\n"
      "  edgelab serve examples/counter-cas/edge.toml --port 8787\n"
      "  edgelab bench http://127.0.0.1:8787/ -n 1000 -c 100 --verify /value\n"
      "  edgelab bench examples/counter-broken/edge.toml --compare examples/counter-lock/edge.toml "
      "--reps 5 --verify /value --html report.html\n"
      "  edgelab check history.jsonl --model cas-register\n"
      "Exit codes: 0 success; 1 the work failed (port taken, store error, drain timed out);\n"
      "2 bad input (flags, edge.toml, module). `edgelab SUBCOMMAND --help` for each.");

  ServeOptions serve;
  auto* s = app.add_subcommand("serve", "Serve a worker over HTTP from a pool of isolates");
  s->add_option("config", serve.config, "Path of the worker's edge.toml")->required();
  s->add_option("--port", serve.port, "TCP port to listen on (0: any free port)")
      ->capture_default_str();
  s->add_option("--host", serve.host, "Address to listen on")->capture_default_str();
  s->add_option("--data", serve.data,
                "Folder for KV and Durable Object data, kv.sqlite3 and objects.sqlite3, which one "
                "server owns at a time (default: .edgelab/ beside edge.toml; :memory: keeps "
                "nothing)");
  s->add_flag("--quiet,-q", serve.quiet, "No access log lines (errors and guest logs still print)");
  s->add_option("--threads", serve.threads, "Event-loop threads (default: one per core)");
  s->add_option("--max-body", serve.max_body_bytes, "Largest request body in bytes (413 above)")
      ->capture_default_str();
  s->add_option("--drain-timeout", serve.drain_timeout_s,
                "Seconds SIGINT/SIGTERM waits for in-flight requests before exiting 1 "
                "(a second signal stops at once)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddWatchFlags(s, &serve.watch, "as they are found (stderr)");

  BenchOptions bench;
  bool list_prices = false;
  auto* b = app.add_subcommand(
      "bench",
      "Load a worker or URL and print the post's table: p99, throughput, counter accuracy, "
      "monthly cost, failed %");
  b->footer(
      "A TARGET that is an edge.toml (or its folder) is served in this process on a free "
      "loopback port with fresh storage for each repetition, and priced from what its guests "
      "used (docs/cost.md).\n"
      "Examples:\n"
      "  edgelab bench examples/counter-broken/edge.toml --compare examples/counter-lock/edge.toml "
      "-n 1000 -c 100 --reps 5 --verify /value --html report.html\n"
      "  edgelab bench http://127.0.0.1:8787/ -d 10 -c 64 -t 2\n"
      "  edgelab bench http://127.0.0.1:8787/ -R 2000 -d 30 -c 100   (open loop, wrk2-style)\n"
      "Exit codes: 0 done; 1 a target answered nothing, or failed to start; 2 bad input.");
  b->add_option("target", bench.target, "edge.toml (or its folder) or http://host:port/path");
  b->add_option("--compare", bench.compare,
                "A second target (B) under the same load; reps alternate A B A B and the table "
                "gets a change column");
  CLI::Option* n_opt = AddLoadFlags(b, &bench);
  b->add_option("-R,--rate", bench.rate,
                "Open loop: requests per second at fixed times, latency from each request's due "
                "time (coordinated omission corrected); default: closed loop")
      ->check(CLI::Range(0.001, 10'000'000.0));
  b->add_option("--server-threads", bench.server_threads,
                "Event loops of an edge.toml target (default: one per core)")
      ->check(CLI::Range(0u, 256u));
  b->add_option("--warmup", bench.warmup_s,
                "Seconds of the same load before each repetition, not measured (its successes "
                "count for --verify)")
      ->check(CLI::NonNegativeNumber);
  b->add_option("--reps", bench.reps, "Repetitions of the whole run (fresh storage each)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10'000u));
  b->add_option("--verify", bench.verify,
                "Path (e.g. /value) whose number is read before and after each repetition and "
                "compared with the successful requests: counter accuracy");
  bench.monthly_requests = edgelab::bench::kDefaultMonthlyRequests;
  b->add_option("--monthly-requests", bench.monthly_requests,
                "Monthly volume the cost is scaled to (default: the post's 10,000 req/s for 30 "
                "days)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000'000'000}));
  b->add_option("--price", bench.prices,
                "KEY=VALUE: a price of the cost model (repeat; --list-prices shows them)");
  b->add_flag("--list-prices", list_prices, "Print the cost model's prices and exit");
  b->add_option("--json", bench.json,
                "Write every figure and the histograms as JSON (- for stdout)");
  b->add_option("--html", bench.html, "Write a self-contained HTML report with charts");
  b->add_flag("--quiet,-q", bench.quiet, "No live progress line");
  b->add_option("--drain-timeout", bench.drain_timeout_s,
                "Seconds an edge.toml target may take to finish its requests after a rep "
                "before it is abandoned (exit 1)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddWatchFlags(b, &bench.watch, "after the table (edge.toml targets)");

  BenchOptions race;
  auto* r = app.add_subcommand(
      "race", "Load a worker with race detection on; exit 66 when it races (for CI)");
  r->footer(
      "Runs `edgelab bench TARGET --race` on one edge.toml: every KV read, write and delete the "
      "worker makes is watched. Reported: lost updates (a request's unconditional write erased "
      "another "
      "request's write made after this one read the key) and, even at -c 1, unprotected "
      "read-modify-writes (a read of a KV key, then an unconditional write of it, in one "
      "request), each with the key, the requests and the guest's call sites (file:line when "
      "the module has DWARF). A write with if_match / if_none_match, and Durable Object "
      "storage, are never reported.\nExit codes: 0 no race; 66 a race was reported (also when "
      "the run failed or was interrupted); 1 the run failed; 2 bad input; 130 interrupted "
      "(Ctrl-C) before any race.");
  r->add_option("target", race.target, "The worker's edge.toml (or its folder)")->required();
  CLI::Option* rn_opt = AddLoadFlags(r, &race);
  r->add_option("--verify", race.verify,
                "Path (e.g. /value) whose number is read before and after the run and compared "
                "with the successful requests: how many updates were kept");
  r->add_option("--race-json", race.watch.race_json, "Also write the reports as JSON to FILE");
  r->add_option(
      "--history", race.watch.history,
      "Record every KV and storage read, write and delete as JSON lines to FILE (for edgelab "
      "check)");
  r->add_flag("--quiet,-q", race.quiet, "No live progress line");

  CheckOptions check;
  auto* k =
      app.add_subcommand("check", "Decide whether a recorded history is linearizable, key by key");
  k->footer(
      "Reads edgelab's JSON lines ({\"process\", \"type\": invoke|ok|fail|info, \"f\": "
      "read|write|cas|delete|add, \"key\", \"value\", \"time\"}) or Jepsen's log lines "
      "(INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0]). An info operation may or may not have "
      "taken effect.\nExit codes: 0 linearizable; 1 some key is not; 2 bad input (file, line, "
      "model); 3 undecided within --timeout.");
  k->add_option("file", check.file, "The history file")->required();
  k->add_option("--model", check.model,
                "auto (counter when the history has add operations, cas-register when it has "
                "cas, else register), register, cas-register or counter")
      ->capture_default_str();
  k->add_option("--timeout", check.timeout_s, "Seconds before giving up with 'unknown' (0: none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  TestOptions test;
  auto* t = app.add_subcommand(
      "test", "Run a worker under many seeded schedules; print and replay the first that fails");
  t->footer(
      "Deterministic simulation: the worker's real runtime on one thread, in virtual time, with "
      "a seeded scheduler choosing which request runs at every wait (each KV operation is one). "
      "Schedule i runs seed S+i with a fresh in-memory store. After each: --verify's counter "
      "must equal the 2xx answers, the race detector must stay silent and the recorded history "
      "must be linearizable; every request must be answered. The first failing schedule prints "
      "its seed, what broke and the interleaving of the requests involved; --replay SEED runs it "
      "again, identically.\nExit codes: 0 every schedule passed; 1 one failed; 2 bad input.");
  t->add_option("config", test.config, "The worker's edge.toml (or its folder)")->required();
  t->add_option("--scenario", test.scenario,
                "A scenario file: request mix (method, path, body, location, weight), requests, "
                "concurrency, verify, races, linearizable");
  t->add_option("-n,--requests", test.requests, "Requests per schedule (default 100)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  t->add_option("-c,--concurrency", test.concurrency,
                "Requests in flight (default 10; at most 10,000: each holds a fiber stack)")
      ->check(CLI::Range(1u, edgelab::sim::kMaxConcurrency));
  t->add_option("--verify", test.verify,
                "Path (e.g. /value) whose number must equal the requests answered 2xx");
  t->add_flag("--no-race", test.no_race, "Do not fail on race reports");
  t->add_flag("--no-linearizability", test.no_linearizability, "Do not check the recorded history");
  t->add_option("--schedules", test.schedules, "Schedules to run")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  t->add_option("--seed", test.seed, "Seed of the first schedule")->capture_default_str();
  std::string strategy = "random";
  t->add_option("--strategy", strategy,
                "random (uniform choice at every wait) or pct (priorities with --pct-depth - 1 "
                "change points)")
      ->capture_default_str()
      ->transform(CLI::IsMember({"random", "pct"}, CLI::ignore_case));
  t->add_option("--pct-depth", test.pct_depth, "PCT's bug depth d")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  t->add_option("--replay", test.replay, "Run only the schedule of this seed; print its trace");
  t->add_flag("--shrink", test.shrink,
              "After a failure, look for the fewest requests (then in flight) that still fail "
              "with its seed");
  t->add_option("--trace", test.trace,
                "Write every line of the failing (or replayed) schedule's trace to FILE");
  t->add_option("--history", test.history,
                "Write the failing (or replayed) schedule's recorded history to FILE (JSON lines: "
                "the lines the linearizable explanation cites; edgelab check reads it)");
  t->add_flag("--quiet,-q", test.quiet, "No progress line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2 (commands.h).
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (s->parsed()) return Serve(serve);
  if (r->parsed()) {
    if (rn_opt->count() == 0 && race.duration_s == 0) race.requests = 1000;
    race.command = CommandLine(argc, argv);
    return Race(race);
  }
  if (k->parsed()) return Check(check);
  if (t->parsed()) {
    test.strategy = strategy == "pct" ? edgelab::sched::SimOptions::Strategy::kPct
                                      : edgelab::sched::SimOptions::Strategy::kRandom;
    std::error_code ec;
    if (std::filesystem::is_directory(test.config, ec)) {
      test.config = (std::filesystem::path(test.config) / "edge.toml").string();
    }
    return Test(test);
  }
  if (b->parsed()) {
    if (list_prices) {
      for (const std::string& kv : edgelab::bench::ListPrices(edgelab::bench::Prices{})) {
        std::printf("%s\n", kv.c_str());
      }
      return 0;
    }
    if (bench.target.empty()) {
      std::fprintf(stderr, "edgelab bench: a TARGET is required (edge.toml or URL); --help\n");
      return 2;
    }
    if (n_opt->count() == 0 && bench.duration_s == 0) bench.requests = 1000;
    bench.command = CommandLine(argc, argv);
    return Bench(bench);
  }
  return 2;
}
