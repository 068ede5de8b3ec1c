// sim/trace.cc: formats the trace lines (see trace.h).
#include "sim/trace.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "base/fnv.h"
#include "race/escape.h"

namespace edgelab::sim {
namespace {

constexpr size_t kValueBytes = 40;

std::string Time(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%10.3f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

std::string Quote(std::string_view s) {
  const size_t n = std::min(s.size(), kValueBytes);
  return "\"" + race::Escaped(s.substr(0, n)) + "\"" + (s.size() > n ? "..." : "");
}

// kv/store.h's etags are "<8 hex>-<16 hex>": shown as "e" and the sequence.
std::string Etag(std::string_view etag) {
  if (etag.size() == 25 && etag[8] == '-') {
    uint64_t seq = 0;
    bool hex = true;
    for (char c : etag.substr(9)) {
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) hex = false;
      seq = seq * 16 + static_cast<uint64_t>(d < 0 ? 0 : d);
    }
    if (hex) return "e" + std::to_string(seq);
  }
  return Quote(etag);
}

// "<class>/<id>" with the id cut to 8 characters: object ids are 64 hex
// digits, and the class and a prefix tell the objects of one run apart.
std::string ObjectName(std::string_view object) {
  const size_t slash = object.find('/');
  if (slash == std::string_view::npos || object.size() - slash - 1 <= 12) {
    return std::string(object);
  }
  return std::string(object.substr(0, slash + 9)) + "...";
}

std::string Who(const race::RequestInfo& r) {
  std::string s = "#" + std::to_string(r.id);
  if (!r.object.empty()) s += " [" + ObjectName(r.object) + "]";
  return s;
}

const char* Outcome(race::Op::Outcome o) {
  switch (o) {
    case race::Op::Outcome::kOk:
      return "ok";
    case race::Op::Outcome::kFailed:
      return "failed";
    case race::Op::Outcome::kUnknown:
      return "unknown";
  }
  return "?";
}

}  // namespace

void Trace::Begin(const race::RequestInfo& r) {
  std::string text =
      Time(clock_->NowMicros() * 1000) + "  " + Who(r) + "  begin " + r.method + " " + r.path;
  if (!r.location.empty()) text += " @" + r.location;
  lines_.push_back({r.id, std::move(text)});
}

void Trace::Invoke(const race::Op&) {}

void Trace::Complete(const race::Op& op) {
  const bool kv = op.store == race::Op::Store::kKv;
  std::string text = Time(op.end_ns) + "  " + Who(*op.request) + "  ";
  text += kv ? "kv " : "storage ";
  switch (op.kind) {
    case race::Op::Kind::kRead:
      text += op.strong ? "get (strong) " : "get ";
      break;
    case race::Op::Kind::kWrite:
      text += "put ";
      break;
    case race::Op::Kind::kDelete:
      text += "delete ";
      break;
    case race::Op::Kind::kList:
      text += "list ";
      break;
  }
  // A storage operation's object is the request's, named by Who.
  if (kv) text += std::string(op.binding) + " ";
  text += Quote(op.key);
  switch (op.kind) {
    case race::Op::Kind::kRead:
      if (op.outcome != race::Op::Outcome::kOk) {
        text += std::string(" -> ") + Outcome(op.outcome);
      } else if (!op.found) {
        text += " -> absent";
      } else {
        text += " -> " + Quote(op.value);
        if (!op.etag.empty()) text += " (" + Etag(op.etag) + ")";
      }
      break;
    case race::Op::Kind::kWrite:
      text += " = " + Quote(op.value);
      if (op.condition == race::Op::Condition::kIfMatch) text += " if " + Etag(op.if_match);
      if (op.condition == race::Op::Condition::kIfNoneMatch) text += " if absent";
      if (op.in_transaction) text += " (in transaction)";
      text += op.outcome == race::Op::Outcome::kOk       ? " -> stored"
              : op.outcome == race::Op::Outcome::kFailed ? " -> refused"
                                                         : " -> unknown";
      if (op.outcome == race::Op::Outcome::kOk && !op.etag.empty()) {
        text += " (" + Etag(op.etag) + ")";
      }
      break;
    case race::Op::Kind::kDelete:
    case race::Op::Kind::kList:
      text += std::string(" -> ") + Outcome(op.outcome);
      break;
  }
  lines_.push_back({op.request->id, std::move(text)});
}

void Trace::End(const race::RequestInfo& r, bool finished) {
  if (!r.object.empty()) return;  // object turns: their operations say enough
  std::string text = Time(clock_->NowMicros() * 1000) + "  " + Who(r) + "  end ";
  text += r.status != 0 ? std::to_string(r.status) : std::string("-");
  if (!finished) text += " (cut off)";
  lines_.push_back({r.id, std::move(text)});
}

uint64_t Trace::Hash() const {
  uint64_t h = kFnvOffset;
  for (const TraceLine& l : lines_) {
    FnvFold(h, l.text);
    FnvFold(h, std::string_view("\n"));
  }
  return h;
}

}  // namespace edgelab::sim
