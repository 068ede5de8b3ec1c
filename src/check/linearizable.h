// check/linearizable.h: decides, key by key, whether a History is
// linearizable against a register, cas-register or counter model.
//
// Threading: CheckLinearizable is a pure function of its arguments; call it
// from any thread. It never reads the clock: the caller owns time (only sched/
// may read it) and passes `out_of_time`.
// Semantics:
//   (1) keys are independent: each key's operations are checked alone,
//       starting from nil (register, cas-register) or 0 (counter);
//   (2) a kFail operation did not happen and is dropped (Jepsen's meaning of
//       :fail; a failed cas says nothing about the value it met); a kInfo
//       operation (or one never completed) may take effect at any point after
//       its invocation, or never; an indeterminate read constrains nothing
//       and is dropped;
//   (3) an operation with a completion must take effect between its invoke
//       and its completion (real-time order is respected).
// Models (State is one value per key):
//   register:     read v -> ok iff state == v (nil reads an absent key);
//                 write v -> state = v; delete -> state = nil.
//   cas-register: register plus cas [old new] -> ok iff state == old, then
//                 state = new. An ok cas succeeded; a failed cas is dropped.
//   counter:      add d (f "add", or "write" -- a counter history has no
//                 absolute writes) -> state += d, d an integer;
//                 read v -> ok iff state == v, v an integer (nil means 0).
//                 Sums wrap at 64 bits.
// Algorithm: the Wing-Gong-Lowe search over the history's call/return entries
// with Lowe's memoization of (set of linearized ops, state), as Porcupine
// (github.com/anishathalye/porcupine) does, pruned by two dominance rules:
//   - an op that never changes the state (a read, a cas [a a], an add of 0)
//     is placed as soon as the model accepts it, and nothing else is tried
//     there: placing it later can only do worse;
//   - a config (set, state) is skipped when a visited one has the same
//     completed ops placed, the same state, and a subset of the
//     indeterminate ones placed: they may also never happen.
// Indeterminate ops are placed after every completed one in the entry list, so
// reaching the first of their returns means every completed op has been
// placed and the rest may simply never have happened. An indeterminate op
// that cannot change the state (a cas [a a], an add of 0) is dropped.
// Worst case exponential. Refuting a history visits every config reachable
// before the violation; the second rule prunes exactly only if configs with
// fewer indeterminate ops placed are explored first, which slows finding a
// linearization, so the search dives depth-first first, on a budget of
// configs, and on running out starts over in that order (kAuto below).
// docs/benchmarks.md ("Porcupine") has the costs on Jepsen etcd logs and
// generated 1,000-op ones: micro- to milliseconds, and under a second to
// refute 1,000 ops of 20 clients.
#ifndef EDGELAB_CHECK_LINEARIZABLE_H_
#define EDGELAB_CHECK_LINEARIZABLE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "check/history.h"

namespace edgelab::check {

enum class Model { kRegister, kCasRegister, kCounter };
enum class Verdict { kLinearizable, kNotLinearizable, kUnknown };

// "register", "cas-register", "counter" (the names `--model` takes).
Result<Model> ParseModel(std::string_view name);
const char* ModelName(Model m);
const char* VerdictName(Verdict v);  // "linearizable", "not linearizable", "unknown"
// The model a history's operations ask for (`--model auto`): counter when it
// has an add; else cas-register when it has a cas (an edgelab history has
// them for if_match writes and for the read-modify-writes it records as the
// cas they assumed); else register.
Model AutoModel(const History& h);

struct KeyResult {
  std::string key;
  Verdict verdict = Verdict::kLinearizable;
  size_t op_count = 0;  // operations checked (fails and indeterminate no-ops dropped)
  // kNotLinearizable only: the longest linearizable prefix the search found,
  // in linearization order, as indices into History::ops; `stuck` is the
  // operation whose completion was reached with no way to place it there.
  std::vector<size_t> prefix;
  size_t stuck = 0;
  // kNotLinearizable: "cannot place <op> after <n> ops ...; last: <ops>";
  // kUnknown: why. Empty when linearizable.
  std::string explanation;
};

struct CheckResult {
  std::vector<KeyResult> keys;  // sorted by key
  // kNotLinearizable if any key is; else kUnknown if any key is; else
  // kLinearizable (also for an empty history).
  Verdict verdict = Verdict::kLinearizable;
};

// How the search orders indeterminate ops (see Algorithm). Every order gives
// the same verdict; kDive and kDeferred exist for tests and measurements.
enum class SearchOrder {
  kAuto,      // kDive on a budget of 64 configs per op, then kDeferred
  kDive,      // depth-first: an indeterminate op is tried where it fits
  kDeferred,  // every config with k indeterminate ops placed before any with k+1
};

// Checks every key of `history` against `model`. `out_of_time` (may be
// empty: no budget) is polled at each key's first search step and every
// 4096 steps after; once it returns true the key being searched and every
// later key is kUnknown.
// Errors: InvalidArgument naming the operation's lines when an op does not fit
// the model (a cas or add in a register history, a non-integer counter value,
// a cas or delete in a counter history).
Result<CheckResult> CheckLinearizable(const History& history, Model model,
                                      const std::function<bool()>& out_of_time = {},
                                      SearchOrder order = SearchOrder::kAuto);

}  // namespace edgelab::check

#endif  // EDGELAB_CHECK_LINEARIZABLE_H_
