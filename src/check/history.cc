// check/history.cc: the two history formats and invoke/completion pairing.
// Workload: Jepsen-sized files (10^3..10^5 lines); everything is one pass
// plus a sort, so parsing is never the checker's bottleneck.
#include "check/history.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

namespace edgelab::check {
namespace {

enum class Kind { kInvoke, kOk, kFail, kInfo };

// One line of input: an invocation or a completion.
struct Event {
  int line = 0;
  Kind kind = Kind::kInvoke;
  std::string process;
  std::string key;
  Fn f = Fn::kRead;
  Value value;
  Value cas_new;
  std::optional<int64_t> time;
};

Status LineError(int line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what);
}

std::optional<Kind> KindOf(std::string_view s) {
  if (s == "invoke") return Kind::kInvoke;
  if (s == "ok") return Kind::kOk;
  if (s == "fail") return Kind::kFail;
  if (s == "info") return Kind::kInfo;
  return std::nullopt;
}

constexpr Fn kFns[] = {Fn::kRead, Fn::kWrite, Fn::kCas, Fn::kDelete, Fn::kAdd};

// The Fn FnName() names `s`: the one list of names, for parsing too.
std::optional<Fn> FnOf(std::string_view s) {
  for (Fn f : kFns) {
    if (s == FnName(f)) return f;
  }
  return std::nullopt;
}

// ":read :write :cas :delete :add", for error messages.
std::string JepsenFnNames() {
  std::string out;
  for (Fn f : kFns) out += std::string(out.empty() ? ":" : " :") + FnName(f);
  return out;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Value JsonValue(const nlohmann::json& j) {
  return j.is_null() ? Value::Nil() : Value::Of(j.dump());
}

// Fills event.value (and cas_new) from a JSON "value" per the f's shape.
Status JsonOperands(const nlohmann::json& j, Event& e) {
  auto it = j.find("value");
  const nlohmann::json v = it == j.end() ? nlohmann::json() : *it;
  if (e.f == Fn::kCas && !v.is_null()) {
    if (!v.is_array() || v.size() != 2) return LineError(e.line, "cas value must be [old, new]");
    e.value = JsonValue(v[0]);
    e.cas_new = JsonValue(v[1]);
    return Status::OK();
  }
  if (e.f == Fn::kCas && e.kind == Kind::kInvoke) {
    return LineError(e.line, "cas invoke needs a value [old, new]");
  }
  e.value = JsonValue(v);
  return Status::OK();
}

Result<Event> ParseJsonLine(std::string_view text, int line) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return LineError(line, "malformed JSON");
  if (!j.is_object()) return LineError(line, "expected a JSON object");
  Event e;
  e.line = line;
  auto p = j.find("process");
  if (p == j.end() || !(p->is_number_integer() || p->is_string())) {
    return LineError(line, "\"process\" must be an integer or a string");
  }
  e.process = p->is_string() ? p->get<std::string>() : p->dump();
  auto t = j.find("type");
  std::optional<Kind> kind =
      t != j.end() && t->is_string() ? KindOf(t->get<std::string>()) : std::nullopt;
  if (!kind) return LineError(line, "\"type\" must be invoke, ok, fail or info");
  e.kind = *kind;
  auto f = j.find("f");
  std::optional<Fn> fn =
      f != j.end() && f->is_string() ? FnOf(f->get<std::string>()) : std::nullopt;
  if (!fn) return LineError(line, "\"f\" must be read, write, cas, delete or add");
  e.f = *fn;
  auto k = j.find("key");
  if (k != j.end()) {
    if (!k->is_string()) return LineError(line, "\"key\" must be a string");
    e.key = k->get<std::string>();
  }
  auto tm = j.find("time");
  if (tm != j.end()) {
    if (!tm->is_number_integer()) return LineError(line, "\"time\" must be an integer (ns)");
    e.time = tm->get<int64_t>();
  }
  EDGELAB_RETURN_IF_ERROR(JsonOperands(j, e));
  return e;
}

// A Jepsen scalar: nil or an integer, normalized to the JSON text.
Result<Value> JepsenScalar(std::string_view s, int line) {
  if (s == "nil") return Value::Nil();
  std::optional<int64_t> v = ParseInt(s);
  if (!v) return LineError(line, "value '" + std::string(s) + "' is not nil or an integer");
  return Value::Of(std::to_string(*v));
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      if (i > start) out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

Status JepsenOperands(std::string_view v, Event& e) {
  if (e.f == Fn::kCas) {
    if (v.size() < 2 || v.front() != '[' || v.back() != ']') {
      return LineError(e.line, "cas value must be [old new]");
    }
    std::vector<std::string_view> parts = Split(v.substr(1, v.size() - 2), ' ');
    if (parts.size() != 2) return LineError(e.line, "cas value must be [old new]");
    EDGELAB_ASSIGN_OR_RETURN(e.value, JepsenScalar(parts[0], e.line));
    EDGELAB_ASSIGN_OR_RETURN(e.cas_new, JepsenScalar(parts[1], e.line));
    return Status::OK();
  }
  EDGELAB_ASSIGN_OR_RETURN(e.value, JepsenScalar(v, e.line));
  return Status::OK();
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// The whitespace-separated fields of a Jepsen line: tabs as Jepsen writes
// them, or spaces where a log was copied through something that expands tabs
// (Porcupine's etcd_100..102.log). A bracketed value is one field: "[1 2]".
std::vector<std::string_view> JepsenFields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    if (IsBlank(s[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    if (s[i] == '[') {
      end = s.find(']', i);
      end = end == std::string_view::npos ? s.size() : end + 1;
    } else {
      while (end < s.size() && !IsBlank(s[end])) ++end;
    }
    out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

// nullopt: a line of other logger output (see the header's rules).
Result<std::optional<Event>> ParseJepsenLine(std::string_view rest, int line) {
  std::vector<std::string_view> fields = JepsenFields(rest);
  if (fields.size() < 3 || fields[1].empty() || fields[1][0] != ':') return std::optional<Event>();
  std::optional<Kind> kind = KindOf(fields[1].substr(1));
  if (!kind) return std::optional<Event>();
  std::string_view process = fields[0];
  if (!ParseInt(process)) return std::optional<Event>();  // :nemesis
  Event e;
  e.line = line;
  e.kind = *kind;
  e.process = std::string(process);
  std::optional<Fn> fn = fields[2].size() > 1 ? FnOf(fields[2].substr(1)) : std::nullopt;
  if (fields[2][0] != ':' || !fn) {
    return LineError(line,
                     "unknown f '" + std::string(fields[2]) + "' (want " + JepsenFnNames() + ")");
  }
  e.f = *fn;
  std::string_view value = fields.size() > 3 ? fields[3] : "nil";
  // A fail or info completion may carry its error in the value's place
  // (`:info\t:cas\t:timed-out` in Jepsen's etcd logs). Such a completion's
  // value is never used (Pair keeps the invoke's), so it has none.
  bool error_note = (e.kind == Kind::kFail || e.kind == Kind::kInfo) && value.front() == ':';
  if (!error_note) EDGELAB_RETURN_IF_ERROR(JepsenOperands(value, e));
  return std::optional<Event>(std::move(e));
}

// Where a Jepsen history line's fields start, or npos.
size_t JepsenStart(std::string_view line) {
  for (std::string_view marker : {"jepsen.util - ", "jepsen.util: "}) {
    size_t at = line.find(marker);
    if (at != std::string_view::npos) return at + marker.size();
  }
  return std::string_view::npos;
}

struct Line {
  int number;
  std::string_view text;
};

std::vector<Line> Lines(std::string_view text) {
  std::vector<Line> out;
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(start, end - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back({++number, l});
    start = end + 1;
  }
  return out;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

Result<std::vector<Event>> ParseEvents(std::string_view text) {
  std::vector<Line> lines = Lines(text);
  bool jepsen_log = std::any_of(lines.begin(), lines.end(), [](const Line& l) {
    return JepsenStart(l.text) != std::string_view::npos;
  });
  std::vector<Event> events;
  for (const Line& l : lines) {
    std::string_view t = TrimLeft(l.text);
    if (t.empty() || t.front() == '#') continue;
    if (t.front() == '{') {
      EDGELAB_ASSIGN_OR_RETURN(Event e, ParseJsonLine(t, l.number));
      events.push_back(std::move(e));
      continue;
    }
    size_t start = JepsenStart(t);
    if (start == std::string_view::npos) {
      if (jepsen_log) continue;
      return LineError(l.number, "neither an edgelab JSON line nor a Jepsen log line");
    }
    EDGELAB_ASSIGN_OR_RETURN(std::optional<Event> e, ParseJepsenLine(t.substr(start), l.number));
    if (e) events.push_back(std::move(*e));
  }
  return events;
}

// Turns a completion into the outcome and, for reads, the value read.
Status Complete(const Event& e, Operation& op, int64_t index) {
  if (e.f != op.f) {
    return LineError(e.line, std::string(FnName(e.f)) + " completes process " + e.process +
                                 "'s pending " + FnName(op.f) + " (line " +
                                 std::to_string(op.invoke_line) + ")");
  }
  op.outcome = e.kind == Kind::kOk     ? Outcome::kOk
               : e.kind == Kind::kFail ? Outcome::kFail
                                       : Outcome::kInfo;
  if (op.outcome == Outcome::kInfo) return Status::OK();  // no completion: may happen later
  op.complete_index = index;
  op.complete_line = e.line;
  op.complete_time = e.time;
  if (op.f == Fn::kRead) op.value = op.outcome == Outcome::kOk ? e.value : Value::Nil();
  return Status::OK();
}

Result<History> Pair(std::vector<Event> events) {
  bool all_timed = !events.empty() && std::all_of(events.begin(), events.end(), [](const Event& e) {
    return e.time.has_value();
  });
  if (all_timed) {
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return *a.time < *b.time; });
  }
  History h;
  std::map<std::string, size_t> pending;  // process -> index in h.ops
  for (const Event& e : events) {
    int64_t index = h.event_count++;
    auto it = pending.find(e.process);
    if (e.kind == Kind::kInvoke) {
      if (it != pending.end()) {
        return LineError(e.line, "process " + e.process + " invokes while its invoke on line " +
                                     std::to_string(h.ops[it->second].invoke_line) +
                                     " is still pending");
      }
      Operation op{e.process, e.key,     e.f,    Outcome::kInfo,
                   e.value,   e.cas_new, index,  Operation::kNoCompletion,
                   e.line,    0,         e.time, std::nullopt};
      if (e.f == Fn::kRead) op.value = Value::Nil();
      pending[e.process] = h.ops.size();
      h.ops.push_back(std::move(op));
      continue;
    }
    if (it == pending.end()) {
      return LineError(e.line, "completion on process " + e.process + " without a pending invoke");
    }
    EDGELAB_RETURN_IF_ERROR(Complete(e, h.ops[it->second], index));
    pending.erase(it);
  }
  return h;
}

}  // namespace

const char* FnName(Fn f) {
  switch (f) {
    case Fn::kRead:
      return "read";
    case Fn::kWrite:
      return "write";
    case Fn::kCas:
      return "cas";
    case Fn::kDelete:
      return "delete";
    case Fn::kAdd:
      return "add";
  }
  return "?";
}

std::optional<int64_t> Value::AsInt() const {
  if (nil) return std::nullopt;
  return ParseInt(text);
}

Result<History> ParseHistory(std::string_view text) {
  EDGELAB_ASSIGN_OR_RETURN(std::vector<Event> events, ParseEvents(text));
  return Pair(std::move(events));
}

std::string Describe(const Operation& op) {
  std::string s = "p" + op.process + " " + FnName(op.f);
  if (!op.key.empty()) s += " key " + op.key;
  if (op.f == Fn::kCas) {
    s += " [" + op.value.ToString() + " " + op.cas_new.ToString() + "]";
  } else if (op.f != Fn::kDelete && !(op.f == Fn::kRead && op.outcome != Outcome::kOk)) {
    s += ' ';  // not " " + ...: g++ 12 -O3 warns falsely (-Wrestrict) on that
    s += op.value.ToString();
  }
  const char* outcome = op.outcome == Outcome::kOk     ? "ok"
                        : op.outcome == Outcome::kFail ? "fail"
                                                       : "info";
  s += std::string(" (") + outcome + ", events " + std::to_string(op.invoke_index) + "..";
  s += op.complete_index == Operation::kNoCompletion ? "" : std::to_string(op.complete_index);
  s += ", lines " + std::to_string(op.invoke_line) + "..";
  s += op.complete_line == 0 ? "" : std::to_string(op.complete_line);
  return s + ")";
}

}  // namespace edgelab::check
