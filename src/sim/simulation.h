// sim/simulation.h: `edgelab test`'s engine: runs a worker's real runtime on
// a seeded simulated scheduler (sched/sim_scheduler.h), one schedule per
// seed, and checks invariants after each (issue 6 item 3).
//
// A schedule: a fresh in-memory KV store (etag epoch from the seed) and
// Durable Object backend, a runtime on one SimScheduler, the race detector,
// the history recorder and the trace (sim/trace.h) observing it. The driver
// keeps `concurrency` requests in flight until `requests` were sent (a closed
// loop: each answer sends the next, at that virtual time), request i using
// the scenario's mix in weighted round robin. Then, with `verify_path`, one
// GET of it. Invariants, in this order:
//   counter:       the verify answer is an integer equal to the number of
//                  2xx answers (the worker counts every success once);
//   race:          the race detector reported nothing;
//   linearizable:  the recorded history is linearizable (check/, model auto;
//                  a history past 20,000 operations, or a key the search
//                  cannot decide within its budget, is a note, not a
//                  violation);
//   progress:      every request was answered (else the run deadlocked, or
//                  ran past the step limit: a livelock).
// The same seed, options, scenario and modules give the same trace, byte for
// byte: the runtime waits, sleeps, reads time and draws randomness only
// through the SimScheduler.
//
// Threading: one thread; Run is not reentrant. Modules are loaded once, on
// the first Run, and shared by every schedule.
#ifndef EDGELAB_SIM_SIMULATION_H_
#define EDGELAB_SIM_SIMULATION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/config.h"
#include "sched/sim_scheduler.h"
#include "sim/scenario.h"

namespace edgelab::engine {
class Module;
}

namespace edgelab::sim {

struct ScheduleOptions {
  uint64_t seed = 1;
  sched::SimOptions::Strategy strategy = sched::SimOptions::Strategy::kRandom;
  int pct_depth = 3;
  // Steps after which a schedule counts as a livelock.
  uint64_t max_steps = 50'000'000;
};

struct Violation {
  std::string invariant;  // "counter", "race", "linearizable", "progress"
  std::string detail;     // one or more lines, no trailing newline
};

struct ScheduleResult {
  uint64_t seed = 0;
  std::vector<Violation> violations;  // empty: the schedule passed
  uint64_t sent = 0;                  // requests of the scenario sent
  uint64_t answered = 0;
  uint64_t ok_2xx = 0;
  uint64_t steps = 0;              // scheduler steps
  int64_t virtual_us = 0;          // virtual time at the end
  uint64_t trace_hash = 0;         // the scheduler's decisions and the trace's lines
  std::vector<std::string> trace;  // every line (sim/trace.h)
  // The lines that show the first violation (the requests involved), in
  // trace order; empty when it passed.
  std::vector<std::string> focus;
  std::string race_report;  // the detector's first group, TSan-shaped; "" without one
  std::string history;      // the recorded history (race/history.h); "" when not checked
  // What was not checked and why (a history too long for the checker, a key
  // it could not decide within its budget): not violations, but not proofs.
  std::vector<std::string> notes;
  bool failed() const { return !violations.empty(); }
};

class Simulation {
 public:
  // `config` as runtime::LoadConfig returns it.
  Simulation(runtime::Config config, Scenario scenario);
  ~Simulation();

  // Runs one schedule. Errors are the run's own (a module that fails to
  // load or start: the same for every seed), not violations.
  Result<ScheduleResult> Run(const ScheduleOptions& options);

  const Scenario& scenario() const { return scenario_; }
  Scenario& mutable_scenario() { return scenario_; }

 private:
  Result<std::shared_ptr<const engine::Module>> Module(const std::string& path,
                                                       const std::vector<std::string>& required,
                                                       bool call_sites);

  const runtime::Config config_;
  Scenario scenario_;
  std::map<std::string, std::shared_ptr<const engine::Module>> modules_;
};

}  // namespace edgelab::sim

#endif  // EDGELAB_SIM_SIMULATION_H_
