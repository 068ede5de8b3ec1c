// sim/scenario.h: what a simulated run sends and checks: a request mix, how
// many requests, how many in flight, and which invariants hold. From flags
// (`edgelab test -n -c --verify`) or a scenario file:
//
//   requests = 3          # how many to send (default 100)
//   concurrency = 1       # in flight at once (default 10; at most 10,000)
//   verify = "/value"     # the counter invariant's path (default: none)
//   races = true          # the race detector must stay silent (default true)
//   linearizable = true   # the recorded history must be linearizable (default true)
//   [[request]]           # the mix, sent in weighted round robin (default: GET /)
//   method = "PUT"        # default GET
//   path = "/flag"        # default /
//   body = "1"            # default empty
//   location = "ams"      # served at this [[locations]] name (default: the
//                         # worker's [routing] spread)
//   weight = 1            # of every `total weight` requests, this many (default 1)
//
// Weighted round robin: request i takes the first entry whose cumulative
// weight exceeds i mod total, so `weight = 2, 1` sends A, A, B, A, A, B...
// Failure: every problem is kInvalidArgument "<file>:<line>:<col>: <key>:
// <what is wrong>"; unknown keys are errors.
#ifndef EDGELAB_SIM_SCENARIO_H_
#define EDGELAB_SIM_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace edgelab::sim {

// Requests in flight at most: each holds a fiber stack (two memory mappings,
// and Linux allows ~65,000 a process).
inline constexpr uint32_t kMaxConcurrency = 10'000;

struct RequestTemplate {
  std::string method = "GET";
  std::string path = "/";
  std::string body;
  std::string location;  // "" : the worker's spread decides
  uint32_t weight = 1;
};

struct Scenario {
  std::vector<RequestTemplate> mix = {RequestTemplate{}};
  uint64_t requests = 100;
  uint32_t concurrency = 10;
  std::string verify_path;  // "" : no counter invariant
  bool races = true;
  bool linearizable = true;

  // The template request `i` (0-based) uses.
  const RequestTemplate& Pick(uint64_t i) const;
};

// Reads a scenario file (format above).
Result<Scenario> LoadScenario(const std::string& path);
Result<Scenario> ParseScenario(const std::string& path, std::string_view text);

}  // namespace edgelab::sim

#endif  // EDGELAB_SIM_SCENARIO_H_
