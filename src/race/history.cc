// race/history.cc: observed KV and storage operations as Jepsen-model JSON
// lines. Workload: every operation of a run (up to ~10^6 a second), so a
// line is one small JSON dump into a buffered FILE under one lock; the file
// is flushed only when the buffer fills and at Close.
#include "race/history.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <utility>

#include "race/recent.h"

namespace edgelab::race {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kValuesPerKey = 256;
constexpr size_t kValuesTotal = size_t{1} << 16;
constexpr size_t kValueBytes = size_t{64} << 20;
constexpr size_t kFileBuffer = size_t{1} << 16;
// A request's known value of a key is kept up to this size; past it, its
// next blind write is recorded as a plain "write" (weaker, still true), so a
// request streaming big values holds no copies of them.
constexpr size_t kKnownValueBytes = size_t{1} << 20;

// A value the store held under one etag.
struct Tagged {
  std::string etag;
  std::string value;
};

// The one operation a request has between Invoke and Complete.
struct Pending {
  std::string key;  // "<space>/<key>"
  const char* f = "read";
  Json value;  // the invoke's value
  int64_t start_ns = 0;
  bool rmw = false;  // a blind write recorded as the cas it assumed
  // Storage writes in a transaction: info whatever the outcome.
  bool info_only = false;
  // An if_match whose etag's value was unknown at Invoke: no line written yet.
  bool deferred = false;
  std::string new_value;  // deferred: the value written
};

// What one request has going on.
struct RequestLog {
  std::optional<Pending> pending;
  // By history key, the value the request last saw the key hold, from its
  // own last read or its own write since (nullopt: absent): the old value of
  // the cas its next blind write assumes. No entry: it does not know.
  std::unordered_map<std::string, std::optional<std::string>> known;
};

Json String(std::string_view s) { return Json(std::string(s)); }

// Compact JSON; bytes that are not UTF-8 become U+FFFD (history.h).
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

const char* TypeOf(Op::Outcome o) {
  switch (o) {
    case Op::Outcome::kOk:
      return "ok";
    case Op::Outcome::kFailed:
      return "fail";
    case Op::Outcome::kUnknown:
      return "info";
  }
  return "info";
}

// "<space>/<key>"; a KV namespace id is escaped ('%' as %25, '/' as %2F) so
// that namespace "a" with key "b/c" and namespace "a/b" with key "c" stay
// apart (an object's space is "<class>/<id>": a class name is an identifier
// and an id is hex, so its '/' is the only one).
std::string HistoryKey(const Op& op) {
  std::string out;
  if (op.store == Op::Store::kKv) {
    for (char c : op.space) {
      if (c == '%') {
        out += "%25";
      } else if (c == '/') {
        out += "%2F";
      } else {
        out += c;
      }
    }
  } else {
    out = std::string(op.space);
  }
  return out + "/" + std::string(op.key);
}

// After `op` (of `p`) completed: what its request now knows of the key. A
// read sets it; the request's own writes and deletes update it only once a
// read did (writing twice without reading assumes nothing). A failed op
// changed nothing; one whose effect is uncertain (kUnknown, or a write inside
// a transaction that may roll back) makes the value unknown.
void UpdateKnown(RequestLog& log, const Pending& p, const Op& op) {
  if (op.kind == Op::Kind::kList || op.outcome == Op::Outcome::kFailed) return;
  auto it = log.known.find(p.key);
  if (op.kind != Op::Kind::kRead && it == log.known.end()) return;
  if (op.outcome == Op::Outcome::kUnknown || p.info_only || op.value.size() > kKnownValueBytes) {
    if (it != log.known.end()) log.known.erase(it);
    return;
  }
  const bool absent = op.kind == Op::Kind::kDelete || (op.kind == Op::Kind::kRead && !op.found);
  log.known.insert_or_assign(
      p.key, absent ? std::nullopt : std::optional<std::string>(std::string(op.value)));
}

}  // namespace

struct HistoryRecorder::State {
  std::string path;
  std::mutex mu;  // guards every field below
  FILE* file = nullptr;  // null: in memory, into `text`
  std::string text;
  Status error;  // the first write error
  uint64_t lines = 0;
  uint64_t expiries = 0;  // processes "expiry-N" of values that expire
  bool closed = false;
  std::unordered_map<uint64_t, RequestLog> requests;  // by request id, until End
  RecentByKey<Tagged> values{kValuesPerKey, kValuesTotal, kValueBytes};

  void Write(std::string_view line);
  // `process`: its JSON text (a request id, or a quoted "expiry-N").
  void Line(const std::string& process, const char* type, const Pending& p, const Json& value,
            int64_t time);
  const std::string* ValueOf(const std::string& key, std::string_view etag) const;
  void Learn(const std::string& key, std::string_view etag, std::string_view value);
  void Invoke(const Op& op, RequestLog& log);
  Pending Start(const Op& op, const RequestLog& log) const;
  void Finish(const Op& op, Pending& p);
  void Resolve(Pending& p, Op::Outcome outcome) const;
  void Cut(uint64_t process, Pending& p);
};

void HistoryRecorder::State::Write(std::string_view line) {
  if (closed) return;
  if (file == nullptr) {
    text.append(line).push_back('\n');
    ++lines;
    return;
  }
  if (std::fwrite(line.data(), 1, line.size(), file) != line.size() ||
      std::fputc('\n', file) == EOF) {
    if (error.ok()) error = Status::IOError("history file " + path + ": " + std::strerror(errno));
    return;
  }
  ++lines;
}

// One event's line, built by hand: a JSON object per line through
// nlohmann's ordered_json cost counter-lock (7 operations a request) a
// quarter of its throughput (docs/benchmarks.md); only the strings go
// through its escaping.
void HistoryRecorder::State::Line(const std::string& process, const char* type, const Pending& p,
                                  const Json& value, int64_t time) {
  std::string line;
  line.reserve(96 + p.key.size());
  line += "{\"process\":";
  line += process;
  line += ",\"type\":\"";
  line += type;
  line += "\",\"f\":\"";
  line += p.f;
  line += "\",\"key\":";
  line += Dump(Json(p.key));
  line += ",\"value\":";
  line += Dump(value);
  line += ",\"time\":";
  line += std::to_string(time);
  line += p.rmw ? ",\"rmw\":true}" : "}";
  Write(line);
}

const std::string* HistoryRecorder::State::ValueOf(const std::string& key,
                                                   std::string_view etag) const {
  const Tagged* t = values.FindNewest(key, [&](const Tagged& c) { return c.etag == etag; });
  return t == nullptr ? nullptr : &t->value;
}

void HistoryRecorder::State::Learn(const std::string& key, std::string_view etag,
                                   std::string_view value) {
  // Reads of an unchanged key repeat one etag: keep it once, so a hot key's
  // reads do not push its older etags out.
  const Tagged* newest = values.FindNewest(key, [](const Tagged&) { return true; });
  if (newest != nullptr && newest->etag == etag) return;
  values.Add(key, Tagged{std::string(etag), std::string(value)}, etag.size() + value.size());
}

// The f and invoke value per history.h's table; if_match with an unknown
// etag is left deferred.
Pending HistoryRecorder::State::Start(const Op& op, const RequestLog& log) const {
  Pending p;
  p.key = HistoryKey(op);
  p.start_ns = op.start_ns;
  // Inside a transaction nothing is certain until it commits (commit and
  // rollback are not observed): writes may be rolled back, and reads see the
  // transaction's own uncommitted writes. All are info; reads without a value.
  p.info_only = op.store == Op::Store::kObject && op.in_transaction;
  if (op.kind == Op::Kind::kRead) return p;
  if (op.kind == Op::Kind::kDelete) {
    p.f = "delete";
    return p;
  }
  p.f = "write";
  p.value = String(op.value);
  if (op.condition == Op::Condition::kNone) {
    auto known = log.known.find(p.key);
    if (known == log.known.end()) return p;
    p.f = "cas";
    p.rmw = true;
    p.value = Json::array({known->second ? String(*known->second) : Json(), String(op.value)});
  } else if (op.condition == Op::Condition::kIfNoneMatch) {
    p.f = "cas";
    p.value = Json::array({nullptr, String(op.value)});
  } else {
    const std::string* old = ValueOf(p.key, op.if_match);
    p.f = "cas";
    p.value = Json::array({old ? String(*old) : Json(), String(op.value)});
    p.deferred = old == nullptr;
    if (p.deferred) p.new_value = std::string(op.value);
  }
  return p;
}

void HistoryRecorder::State::Invoke(const Op& op, RequestLog& log) {
  log.pending = Start(op, log);
  if (!log.pending->deferred) {
    Line(std::to_string(op.request->id), "invoke", *log.pending, log.pending->value, op.start_ns);
  }
}

// A deferred if_match, once its outcome is known: a write that stored
// replaced something, so "write" is true of it; a refused one is a failed cas;
// an unknown one may have stored: an indeterminate "write".
void HistoryRecorder::State::Resolve(Pending& p, Op::Outcome outcome) const {
  if (outcome == Op::Outcome::kFailed) {
    p.value = Json::array({nullptr, String(p.new_value)});
    return;
  }
  p.f = "write";
  p.value = String(p.new_value);
}

void HistoryRecorder::State::Finish(const Op& op, Pending& p) {
  const std::string process = std::to_string(op.request->id);
  if (p.deferred) {
    // The etag may have been learned while this write waited.
    if (const std::string* old = ValueOf(p.key, op.if_match)) {
      p.value = Json::array({String(*old), String(p.new_value)});
    } else {
      Resolve(p, op.outcome);
    }
    Line(process, "invoke", p, p.value, p.start_ns);
  }
  const char* type = p.info_only ? "info" : TypeOf(op.outcome);
  Json value = p.value;
  if (op.kind == Op::Kind::kRead) {
    value = op.outcome == Op::Outcome::kOk && op.found && !p.info_only ? String(op.value) : Json();
  }
  Line(process, type, p, value, op.end_ns);
  // A value with an expiration may vanish at any moment after it was
  // written: an expiry is a delete nobody completes, so the checker may place
  // it anywhere later (or nowhere).
  if (op.store == Op::Store::kKv && op.kind == Op::Kind::kWrite &&
      op.outcome != Op::Outcome::kFailed && op.expiration_ms > 0) {
    Pending expiry;
    expiry.key = p.key;
    expiry.f = "delete";
    Line("\"expiry-" + std::to_string(++expiries) + "\"", "invoke", expiry, Json(), op.end_ns);
  }
  if (op.store != Op::Store::kKv || op.outcome != Op::Outcome::kOk) return;
  if (op.kind == Op::Kind::kWrite || (op.kind == Op::Kind::kRead && op.found)) {
    Learn(p.key, op.etag, op.value);
  }
}

// Closes an operation that never completed with info, at its own start time:
// an indeterminate op's completion time means nothing to the checker, and
// the line still sorts after its invoke.
void HistoryRecorder::State::Cut(uint64_t id, Pending& p) {
  const std::string process = std::to_string(id);
  if (p.deferred) {
    Resolve(p, Op::Outcome::kUnknown);
    Line(process, "invoke", p, p.value, p.start_ns);
  }
  Line(process, "info", p, p.value, p.start_ns);
}

Result<std::unique_ptr<HistoryRecorder>> HistoryRecorder::Open(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    return Status::IOError("cannot create history file " + path + ": " + std::strerror(errno));
  }
  std::setvbuf(file, nullptr, _IOFBF, kFileBuffer);
  auto state = std::make_unique<State>();
  state->path = path;
  state->file = file;
  return std::unique_ptr<HistoryRecorder>(new HistoryRecorder(std::move(state)));
}

std::unique_ptr<HistoryRecorder> HistoryRecorder::InMemory() {
  return std::unique_ptr<HistoryRecorder>(new HistoryRecorder(std::make_unique<State>()));
}

std::string HistoryRecorder::TakeText() {
  std::lock_guard<std::mutex> lock(state_->mu);
  return std::move(state_->text);
}

HistoryRecorder::HistoryRecorder(std::unique_ptr<State> state) : state_(std::move(state)) {}

HistoryRecorder::~HistoryRecorder() { Close().IgnoreError(); }

void HistoryRecorder::Invoke(const Op& op) {
  if (op.kind == Op::Kind::kList) return;  // no model has lists
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->closed) return;
  state_->Invoke(op, state_->requests[op.request->id]);
}

void HistoryRecorder::Complete(const Op& op) {
  if (op.kind == Op::Kind::kList) return;
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->closed) return;
  RequestLog& log = state_->requests[op.request->id];
  // Invoked before this recorder was attached: its invoke is written now,
  // at its own start time, so the pair is still whole.
  if (!log.pending) state_->Invoke(op, log);
  state_->Finish(op, *log.pending);
  UpdateKnown(log, *log.pending, op);
  log.pending.reset();
}

void HistoryRecorder::End(const RequestInfo& request, bool) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->requests.find(request.id);
  if (it == state_->requests.end()) return;
  if (it->second.pending) state_->Cut(request.id, *it->second.pending);
  state_->requests.erase(it);
}

Status HistoryRecorder::Close() {
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  if (s.closed) return s.error;
  for (auto& [process, log] : s.requests) {
    if (log.pending) s.Cut(process, *log.pending);
  }
  s.requests.clear();
  s.closed = true;
  if (s.file == nullptr) return s.error;
  const bool flushed = std::fflush(s.file) == 0;
  const int flush_errno = errno;
  const bool closed = std::fclose(s.file) == 0;
  if (s.error.ok() && (!flushed || !closed)) {
    s.error = Status::IOError("history file " + s.path + ": " +
                              std::strerror(flushed ? errno : flush_errno));
  }
  s.file = nullptr;
  return s.error;
}

uint64_t HistoryRecorder::lines() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->lines;
}

size_t HistoryRecorder::tracked_requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->requests.size();
}

}  // namespace edgelab::race
