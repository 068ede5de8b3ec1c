// cli/main.cc: the edgelab binary's command line (CLI11). Flat wiring only:
// each subcommand's work lives in its own file.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace edgelab::cli;  // NOLINT: wiring
  CLI::App app{"edgelab: serve, bench and check stateful Wasm edge functions"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgelab 0.1.0");
  app.footer(
      "Examples:\n"
      "  edgelab serve examples/counter-cas/edge.toml --port 8787\n"
      "  edgelab bench http://127.0.0.1:8787/ -n 1000 -c 100 --verify /value\n"
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

  BenchOptions bench;
  auto* b = app.add_subcommand("bench", "Load a worker: exactly N requests, C in flight");
  b->add_option("url", bench.url, "http://host:port/path to request")->required();
  b->add_option("-n,--requests", bench.requests, "Requests to send in total")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  b->add_option("-c,--connections", bench.connections,
                "Requests in flight (keep-alive connections)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100'000u));
  b->add_option("--verify", bench.verify,
                "Path (e.g. /value) whose number is read before and after the run and compared "
                "with the count of successful requests");
  b->add_option("--timeout", bench.timeout_s, "Per-request timeout in seconds")
      ->capture_default_str();
  b->add_flag("--json", bench.json, "Print the report as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2 (commands.h).
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (s->parsed()) return Serve(serve);
  if (b->parsed()) return Bench(bench);
  return 2;
}
