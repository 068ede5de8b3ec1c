// race/history.h: records observed operations as a history in Jepsen's model
// (issue 5 item 5), one JSON line per event, the format check/history.h
// reads:
//   {"process": R, "type": "invoke"|"ok"|"fail"|"info", "f": F,
//    "key": K, "value": V, "time": ns}
// R is the request id (object turns are requests too). K is
// "<namespace id>/<key>" for KV and "<class>/<object id>/<key>" for Durable
// Object storage. F and V:
//   read        -> "read", the value read (null when absent; null on invoke)
//   write       -> "write", the value written (a JSON string); but see
//                  read-modify-writes below
//   if_match    -> "cas", [old, new]: old is the value that carried the
//                  etag (seen in an earlier read or write of this run);
//                  when no observed op carried it, a write that stored is
//                  recorded as "write" (it replaced something: weaker, still
//                  true) and a refused one as "cas" [null, new] with "fail"
//   if_none_match -> "cas", [null, new]
//   delete      -> "delete", null
// A KV value written with an expiration may vanish any time later: the
// recorder adds, at the write's completion, the invoke of a "delete" by a
// process "expiry-N" that never completes (indeterminate: the checker may
// place it anywhere after, or not at all).
// Read-modify-writes: an unconditional write of a key the same request read
// earlier (its last read) is recorded as the update the request assumed it
// made: "cas" [value read, value written] with "rmw": true in the line. When
// no other write came between (what the request took for granted) that is
// exactly what the store did; when one did, the store overwrote it (a lost
// update) and the history is not linearizable as a cas register -- which is
// how `edgelab check` finds lost updates offline. Only the last read counts,
// and "absent" reads as null. After the read, the request's own writes and
// deletes of the key stand for it (a second blind write assumes the first's
// value, as race/detector.h's known etag does); one whose effect is
// uncertain (info, or inside a transaction), a value over 1 MiB, or no read
// at all leaves a blind write a plain "write".
// Types: ok for kOk, fail for kFailed, info for kUnknown; an operation
// Invoked and never Completed (the request was cut off) is closed with info
// at its request's End or at Close. Lists are not recorded (no model has
// them). Storage writes inside a Durable Object transaction are recorded as
// info (they take effect only if the transaction commits).
//
// An if_match whose etag is unknown at Invoke has both its lines written at
// Complete (the f depends on the outcome), the invoke with its own time.
// Values are JSON strings; bytes that are not UTF-8 are written as U+FFFD, so
// two such values may compare equal: the check can then miss a violation,
// never invent one. Memory: per request until End, its one pending operation
// and the value it last knew of each key it read; per key, the etags of its
// last 256 values, at most 2^16 of them and 64 MiB of values over all keys
// (a forgotten etag makes an if_match a "write").
//
// Threading: safe from any thread; lines are written under one mutex in the
// order events arrive, each with its time, so check/ orders them by time.
#ifndef EDGELAB_RACE_HISTORY_H_
#define EDGELAB_RACE_HISTORY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "race/observer.h"

namespace edgelab::race {

class HistoryRecorder : public Observer {
 public:
  // Creates (truncates) `path`. Errors name the path and the reason.
  static Result<std::unique_ptr<HistoryRecorder>> Open(const std::string& path);
  // Keeps the lines in memory (a simulation's schedule): TakeText() after
  // Close() returns them.
  static std::unique_ptr<HistoryRecorder> InMemory();
  ~HistoryRecorder() override;  // Close()s if not closed

  void Invoke(const Op& op) override;
  void Complete(const Op& op) override;
  void End(const RequestInfo& request, bool finished) override;

  // Closes every pending operation with info, flushes and closes the file;
  // later events are ignored. The first write error seen (disk full), naming
  // the path, else OK; a second Close returns the same.
  Status Close();
  uint64_t lines() const;  // written so far
  // InMemory only: the lines written so far, moved out (call after Close).
  std::string TakeText();
  // For tests: requests with state (an operation seen, not yet Ended).
  size_t tracked_requests() const;

 private:
  struct State;
  explicit HistoryRecorder(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace edgelab::race

#endif  // EDGELAB_RACE_HISTORY_H_
