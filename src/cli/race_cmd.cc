// cli/race_cmd.cc: `edgelab race edge.toml`: load a worker with race
// detection on and fail (exit 66) when it races, so CI can stop a build on
// the post's bug (its tip 2).
#include <cstdio>
#include <string>

#include "cli/commands.h"

namespace edgelab::cli {

int Race(BenchOptions opts) {
  opts.watch.race = true;
  opts.table = false;  // the run's own summary, then the reports: no cost table
  std::string load = opts.requests > 0 ? std::to_string(opts.requests) + " requests" : "";
  if (opts.duration_s > 0) {
    char secs[32];
    std::snprintf(secs, sizeof(secs), "%g s", opts.duration_s);
    load += (load.empty() ? "" : ", at most ") + std::string(secs);
  }
  std::printf("race %s: %s, %u in flight\n", opts.target.c_str(), load.c_str(), opts.connections);
  std::fflush(stdout);
  uint64_t races = 0;
  const int code = Bench(opts, &races);
  if (code == 2) return code;  // bad input: nothing ran
  // A race found is the answer even when the run had other trouble (a
  // worker that also fails some requests still loses updates).
  return races > 0 ? kRaceFound : code;
}

}  // namespace edgelab::cli
