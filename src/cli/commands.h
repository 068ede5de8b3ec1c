// cli/commands.h: the edgelab subcommands. Each returns the process exit
// code: 0 success, 1 a failure of the work, 2 bad input (config, module,
// flags); errors are printed to stderr naming the file and the problem.
#ifndef EDGELAB_CLI_COMMANDS_H_
#define EDGELAB_CLI_COMMANDS_H_

#include <cstdint>
#include <string>

namespace edgelab::cli {

struct ServeOptions {
  std::string config;  // path of edge.toml
  std::string host = "127.0.0.1";
  uint16_t port = 8787;
  std::string data;  // folder for durable state; ":memory:" for none
  bool quiet = false;
  uint32_t threads = 0;  // 0: one per core
  uint64_t max_body_bytes = 100 * 1024 * 1024;
  double drain_timeout_s = 30;  // after SIGINT/SIGTERM, before giving up on requests
};
int Serve(const ServeOptions& opts);

struct BenchOptions {
  std::string url;
  uint64_t requests = 1000;
  uint32_t connections = 100;
  std::string verify;  // path read before and after the run
  bool json = false;
  double timeout_s = 60;
};
int Bench(const BenchOptions& opts);

}  // namespace edgelab::cli

#endif  // EDGELAB_CLI_COMMANDS_H_
