// cli/race_cmd.cc: `edgelab race edge.toml`: load a worker with race
// detection on and fail (exit 66) when it races, so CI can stop a build on
// the post's bug (its tip 2).
#include "cli/commands.h"

namespace edgelab::cli {

int Race(BenchOptions opts) {
  opts.watch.race = true;
  opts.table = false;  // the run's own summary, then the reports: no cost table
  uint64_t races = 0;
  const int code = Bench(opts, &races);
  if (code == 2) return code;  // bad input: nothing ran
  // A race found is the answer even when the run had other trouble (a
  // worker that also fails some requests still loses updates).
  return races > 0 ? kRaceFound : code;
}

}  // namespace edgelab::cli
