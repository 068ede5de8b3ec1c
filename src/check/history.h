// check/history.h: a history of register operations, parsed from edgelab's
// JSON lines or a Jepsen log, with each invocation paired to its completion.
//
// Threading: plain values and a pure function; use from any thread.
// Invariants of a parsed History:
//   (1) every Operation has an invocation; its completion follows it
//       (invoke_index < complete_index), or it has none (kNoCompletion);
//   (2) event indices are 0, 1, 2, ... over all events in real-time order, so
//       two operations are concurrent exactly when their intervals overlap;
//   (3) operations are in the order of their invocations.
// Failure: a line that cannot be read is an InvalidArgument naming the line
// and what is wrong; nothing is skipped silently except what the format
// rules below say.
//
// Formats, decided line by line:
//   - blank lines and lines starting with '#' are skipped;
//   - a line starting with '{' is an edgelab JSON line (issue 5 item 5):
//       {"process": P, "type": "invoke"|"ok"|"fail"|"info",
//        "f": "read"|"write"|"cas"|"delete"|"add", "key": "k", "value": V,
//        "time": ns}
//     P is an integer or a string; "key" may be absent (one key ""); "time"
//     is optional. V: read -> the value read (on ok; absent or null on the
//     invoke), write -> the value, cas -> [old, new], delete -> null,
//     add -> an integer delta. Values are any JSON; two values are equal
//     when their compact JSON texts are (so 1 and "1" differ);
//   - a line containing "jepsen.util -" or "jepsen.util:" is a Jepsen log
//     line: after the marker, `process  :type  :f  value ...` separated by
//     tabs, or spaces where a copy expanded them (a [a b] value is one
//     field); older `INFO  jepsen.util - 3\t:invoke\t:cas\t[3 0]` and newer
//     `... [jepsen worker 3] jepsen.util: 3\t:ok\t:read\t1`. The value is
//     nil, an integer, or [a b] (cas); fields after it (an error note) are
//     ignored, and so is a keyword in its place on a fail or info completion
//     (`:info\t:cas\t:timed-out`, as Jepsen's etcd logs have it). One key
//     (""). A jepsen.util line whose second field is not one of :invoke :ok
//     :fail :info is other logger output and skipped, and so is any line
//     whose process is not an integer (the :nemesis);
//   - any other line is skipped when the input holds at least one Jepsen line
//     (it is the rest of a Jepsen log), and is an error otherwise (so a
//     corrupt line in a JSON history is never ignored).
// Order: events are in line order, unless every event carries a "time", in
// which case they are ordered by time (ties by line) -- a recorder with
// several writers may interleave lines slightly out of order.
// Pairing: per process, an invoke opens an operation and the next ok, fail or
// info on that process closes it (same f). An info completion, or an invoke
// never completed, is indeterminate: it may or may not have taken effect, at
// any time after its invocation.
#ifndef EDGELAB_CHECK_HISTORY_H_
#define EDGELAB_CHECK_HISTORY_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace edgelab::check {

// The operation kinds the models know. kAdd is the counter's.
enum class Fn { kRead, kWrite, kCas, kDelete, kAdd };
// How an operation ended: kOk took effect, kFail did not, kInfo may have.
enum class Outcome { kOk, kFail, kInfo };

const char* FnName(Fn f);  // "read", "write", ...

// A register value: nil (absent) or a canonical text (compact JSON; Jepsen
// integers are written as JSON integers, so `3` and {"value": 3} agree).
struct Value {
  bool nil = true;
  std::string text;

  static Value Nil() { return Value{}; }
  static Value Of(std::string text) { return Value{false, std::move(text)}; }
  // The integer when the text is one, nullopt otherwise (and for nil).
  std::optional<int64_t> AsInt() const;
  // "nil" or the text.
  std::string ToString() const { return nil ? "nil" : text; }
  bool operator==(const Value& o) const { return nil == o.nil && text == o.text; }
};

struct Operation {
  static constexpr int64_t kNoCompletion = std::numeric_limits<int64_t>::max();

  std::string process;  // as written: "3", "worker-1"
  std::string key;      // "" for single-key histories
  Fn f = Fn::kRead;
  Outcome outcome = Outcome::kInfo;
  // read: the value read (nil when indeterminate); write: the value written;
  // cas: the expected old value; delete: nil; add: the delta.
  Value value;
  Value cas_new;  // cas only: the value written when it succeeds
  int64_t invoke_index = 0;
  int64_t complete_index = kNoCompletion;  // kNoCompletion when indeterminate
  int invoke_line = 0;                     // 1-based input lines
  int complete_line = 0;                   // 0 when never completed
  std::optional<int64_t> invoke_time;      // ns, when the input had them
  std::optional<int64_t> complete_time;
};

struct History {
  std::vector<Operation> ops;  // in invocation order
  int64_t event_count = 0;     // invokes + completions
};

// Parses `text` (a whole file) per the rules above. Errors: InvalidArgument
// "line N: ..." for malformed JSON or Jepsen values, unknown type or f, a
// completion with no pending invoke on its process, a second invoke while
// one is pending, or a completion whose f differs from its invoke's.
Result<History> ParseHistory(std::string_view text);

// "p3 cas [1 2] (ok, events 5..9, lines 6..10)": one operation for a person.
std::string Describe(const Operation& op);

}  // namespace edgelab::check

#endif  // EDGELAB_CHECK_HISTORY_H_
