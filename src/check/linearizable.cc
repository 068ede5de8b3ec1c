// check/linearizable.cc: the per-key Wing-Gong-Lowe search (see the header).
//
// The search walks a doubly linked list of call and return entries in
// real-time order. At a call it tries to linearize that op now: if the model
// accepts it and (linearized set, new state) is not in the cache, the op's
// call and return are lifted out of the list and the walk restarts from the
// head. At a return, the op could not be placed before its own completion
// with the choices made so far, so the last choice is undone and the walk
// resumes after it. Lowe's cache makes each (set, state) pair explored once.
#include "check/linearizable.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace edgelab::check {
namespace {

// One op in the model's terms: values interned to integers per key.
struct ModelOp {
  Fn f = Fn::kRead;
  int64_t a = 0;  // read/write/cas-old value id, or counter delta/read
  int64_t b = 0;  // cas new value id
  bool indeterminate = false;
  size_t history_index = 0;
};

bool Step(Model model, int64_t state, const ModelOp& op, int64_t* next) {
  switch (op.f) {
    case Fn::kRead:
      *next = state;
      return state == op.a;
    case Fn::kWrite:
      if (model == Model::kCounter) {
        *next = static_cast<int64_t>(static_cast<uint64_t>(state) + static_cast<uint64_t>(op.a));
      } else {
        *next = op.a;
      }
      return true;
    case Fn::kAdd:
      *next = static_cast<int64_t>(static_cast<uint64_t>(state) + static_cast<uint64_t>(op.a));
      return true;
    case Fn::kDelete:
      *next = 0;  // value id 0 is nil
      return true;
    case Fn::kCas:
      *next = op.b;
      return state == op.a;
  }
  return false;
}

Status ModelError(const Operation& op, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(op.invoke_line) + ": " + Describe(op) +
                                 ": " + what);
}

// Interns register values per key: nil is 0, others 1, 2, ...
class Interner {
 public:
  int64_t Id(const Value& v) {
    if (v.nil) return 0;
    auto [it, added] = ids_.emplace(v.text, static_cast<int64_t>(names_.size()) + 1);
    if (added) names_.push_back(v.text);
    return it->second;
  }
  std::string Name(int64_t id) const { return id == 0 ? "nil" : names_[id - 1]; }

 private:
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::string> names_;
};

Result<int64_t> CounterInt(const Operation& op, const Value& v) {
  if (v.nil && op.f == Fn::kRead) return int64_t{0};
  std::optional<int64_t> i = v.AsInt();
  if (!i) return ModelError(op, "counter values must be integers");
  return *i;
}

// Converts one history op; nullopt when it is dropped (failed, or an
// indeterminate read).
Result<std::optional<ModelOp>> ToModelOp(const Operation& op, size_t index, Model model,
                                         Interner& interner) {
  if (model == Model::kRegister && (op.f == Fn::kCas || op.f == Fn::kAdd)) {
    return ModelError(op, std::string(FnName(op.f)) + " needs the cas-register or counter model");
  }
  if (model == Model::kCasRegister && op.f == Fn::kAdd) {
    return ModelError(op, "add needs the counter model");
  }
  if (model == Model::kCounter && (op.f == Fn::kCas || op.f == Fn::kDelete)) {
    return ModelError(op, std::string(FnName(op.f)) + " has no meaning for a counter");
  }
  if (op.outcome == Outcome::kFail) return std::optional<ModelOp>();
  if (op.outcome == Outcome::kInfo && op.f == Fn::kRead) return std::optional<ModelOp>();
  ModelOp m{op.f, 0, 0, op.outcome == Outcome::kInfo, index};
  if (model == Model::kCounter) {
    EDGELAB_ASSIGN_OR_RETURN(m.a, CounterInt(op, op.value));
  } else {
    m.a = interner.Id(op.value);
    m.b = op.f == Fn::kCas ? interner.Id(op.cas_new) : 0;
  }
  return std::optional<ModelOp>(m);
}

// The list of call and return entries, index 0 the head sentinel.
struct Entries {
  std::vector<int> prev, next, match, op;  // match: call <-> return
  std::vector<bool> is_call;

  void Lift(int call) {
    int ret = match[call];
    next[prev[call]] = next[call];
    prev[next[call]] = prev[call];  // a call is always followed (by its return at least)
    next[prev[ret]] = next[ret];
    if (next[ret] != -1) prev[next[ret]] = prev[ret];
  }
  void Unlift(int call) {
    int ret = match[call];
    if (next[ret] != -1) prev[next[ret]] = ret;
    next[prev[ret]] = ret;
    prev[next[call]] = call;
    next[prev[call]] = call;
  }
};

Entries BuildEntries(const std::vector<ModelOp>& ops, const History& h) {
  struct Point {
    int64_t time;
    size_t op;
    bool call;
  };
  std::vector<Point> points;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Operation& o = h.ops[ops[i].history_index];
    points.push_back({o.invoke_index, i, true});
    // Indeterminate returns go last (time max), in op order: see the header.
    points.push_back(
        {ops[i].indeterminate ? Operation::kNoCompletion : o.complete_index, i, false});
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.time != b.time ? a.time < b.time : a.op < b.op;
  });
  Entries e;
  size_t n = points.size() + 1;
  e.prev.assign(n, -1);
  e.next.assign(n, -1);
  e.match.assign(n, -1);
  e.op.assign(n, -1);
  e.is_call.assign(n, false);
  std::vector<int> call_of(ops.size(), -1);
  for (size_t i = 0; i < points.size(); ++i) {
    int node = static_cast<int>(i) + 1;
    e.prev[node] = node - 1;
    e.next[node - 1] = node;
    e.op[node] = static_cast<int>(points[i].op);
    e.is_call[node] = points[i].call;
    if (points[i].call) {
      call_of[points[i].op] = node;
    } else {
      e.match[node] = call_of[points[i].op];
      e.match[call_of[points[i].op]] = node;
    }
  }
  return e;
}

// Lowe's cache: a (linearized set, state) pair seen before cannot lead
// anywhere new.
struct CacheEntry {
  std::vector<uint64_t> bits;
  int64_t state;
  uint64_t hash;
  bool operator==(const CacheEntry& o) const { return state == o.state && bits == o.bits; }
};
struct CacheHash {
  size_t operator()(const CacheEntry& e) const { return e.hash; }
};

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What one key's search ended with.
struct SearchResult {
  static SearchResult Of(Verdict v) {
    SearchResult r;
    r.verdict = v;
    return r;
  }
  Verdict verdict = Verdict::kLinearizable;
  std::vector<size_t> prefix;  // model op indices
  size_t stuck = 0;
  int64_t prefix_state = 0;
};

class Search {
 public:
  Search(Model model, const std::vector<ModelOp>& ops, const History& h,
         const std::function<bool()>& out_of_time)
      : model_(model), ops_(ops), entries_(BuildEntries(ops, h)), out_of_time_(out_of_time) {
    bits_.assign((ops.size() + 63) / 64, 0);
    std::mt19937_64 rng(ops.size());  // deterministic Zobrist keys
    for (size_t i = 0; i < ops.size(); ++i) zobrist_.push_back(rng());
  }

  SearchResult Run();

 private:
  void Toggle(int op) {
    bits_[op / 64] ^= uint64_t{1} << (op % 64);
    set_hash_ ^= zobrist_[op];
  }
  void NoteStuck(int op, int64_t state);

  struct Frame {
    int entry;
    int64_t state;  // before the op
  };

  Model model_;
  const std::vector<ModelOp>& ops_;
  Entries entries_;
  const std::function<bool()>& out_of_time_;
  std::vector<uint64_t> zobrist_;
  std::vector<uint64_t> bits_;
  uint64_t set_hash_ = 0;
  std::vector<Frame> calls_;
  std::unordered_set<CacheEntry, CacheHash> cache_;
  SearchResult best_;
  bool have_best_ = false;
};

// Keeps the deepest point the search reached, for the explanation.
void Search::NoteStuck(int op, int64_t state) {
  if (have_best_ && calls_.size() <= best_.prefix.size()) return;
  have_best_ = true;
  best_.prefix.clear();
  for (const Frame& f : calls_) best_.prefix.push_back(entries_.op[f.entry]);
  best_.stuck = op;
  best_.prefix_state = state;
}

SearchResult Search::Run() {
  Entries& e = entries_;
  int64_t state = 0;  // nil, or a counter's 0
  int entry = e.next[0];
  uint64_t steps = 0;
  while (entry != -1) {
    if ((steps++ & 4095) == 0 && out_of_time_ && out_of_time_())
      return SearchResult::Of(Verdict::kUnknown);
    int op = e.op[entry];
    if (!e.is_call[entry]) {
      if (ops_[op].indeterminate) return SearchResult::Of(Verdict::kLinearizable);
      NoteStuck(op, state);
      if (calls_.empty()) {
        best_.verdict = Verdict::kNotLinearizable;
        return best_;
      }
      Frame top = calls_.back();
      calls_.pop_back();
      state = top.state;
      Toggle(e.op[top.entry]);
      e.Unlift(top.entry);
      entry = e.next[top.entry];
      continue;
    }
    int64_t next_state = 0;
    if (Step(model_, state, ops_[op], &next_state)) {
      Toggle(op);
      uint64_t h = set_hash_ ^ Mix(static_cast<uint64_t>(next_state));
      if (cache_.insert(CacheEntry{bits_, next_state, h}).second) {
        calls_.push_back({entry, state});
        state = next_state;
        e.Lift(entry);
        entry = e.next[0];
        continue;
      }
      Toggle(op);
    }
    entry = e.next[entry];
  }
  return SearchResult::Of(Verdict::kLinearizable);
}

std::string Explain(const History& h, const std::vector<ModelOp>& ops, const SearchResult& r,
                    Model model, const Interner& interner) {
  std::string s = "cannot place " + Describe(h.ops[ops[r.stuck].history_index]) + " after " +
                  std::to_string(r.prefix.size()) + " of " + std::to_string(ops.size()) +
                  " ops (state then: ";
  s += model == Model::kCounter ? std::to_string(r.prefix_state) : interner.Name(r.prefix_state);
  s += ")";
  if (r.prefix.empty()) return s;
  constexpr size_t kShown = 3;
  s += "; last placed:";
  size_t from = r.prefix.size() > kShown ? r.prefix.size() - kShown : 0;
  for (size_t i = from; i < r.prefix.size(); ++i) {
    s += (i == from ? " " : ", ") + Describe(h.ops[ops[r.prefix[i]].history_index]);
  }
  return s;
}

Result<KeyResult> CheckKey(const History& h, const std::string& key,
                           const std::vector<size_t>& indices, Model model,
                           const std::function<bool()>& out_of_time) {
  Interner interner;
  std::vector<ModelOp> ops;
  for (size_t i : indices) {
    EDGELAB_ASSIGN_OR_RETURN(std::optional<ModelOp> m, ToModelOp(h.ops[i], i, model, interner));
    if (m) ops.push_back(*m);
  }
  KeyResult k;
  k.key = key;
  k.op_count = ops.size();
  SearchResult r = Search(model, ops, h, out_of_time).Run();
  k.verdict = r.verdict;
  if (r.verdict == Verdict::kUnknown) k.explanation = "time budget exceeded";
  if (r.verdict != Verdict::kNotLinearizable) return k;
  for (size_t p : r.prefix) k.prefix.push_back(ops[p].history_index);
  k.stuck = ops[r.stuck].history_index;
  k.explanation = Explain(h, ops, r, model, interner);
  return k;
}

}  // namespace

Result<Model> ParseModel(std::string_view name) {
  if (name == "register") return Model::kRegister;
  if (name == "cas-register") return Model::kCasRegister;
  if (name == "counter") return Model::kCounter;
  return Status::InvalidArgument("unknown model '" + std::string(name) +
                                 "' (want register, cas-register or counter)");
}

const char* ModelName(Model m) {
  switch (m) {
    case Model::kRegister:
      return "register";
    case Model::kCasRegister:
      return "cas-register";
    case Model::kCounter:
      return "counter";
  }
  return "?";
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not linearizable";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

Result<CheckResult> CheckLinearizable(const History& history, Model model,
                                      const std::function<bool()>& out_of_time) {
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < history.ops.size(); ++i) by_key[history.ops[i].key].push_back(i);
  CheckResult result;
  bool timed_out = false;
  for (const auto& [key, indices] : by_key) {
    KeyResult k;
    if (timed_out) {
      k.key = key;
      k.verdict = Verdict::kUnknown;
      k.explanation = "time budget exceeded before this key";
    } else {
      EDGELAB_ASSIGN_OR_RETURN(k, CheckKey(history, key, indices, model, out_of_time));
      timed_out = k.verdict == Verdict::kUnknown;
    }
    if (k.verdict == Verdict::kNotLinearizable) result.verdict = Verdict::kNotLinearizable;
    if (k.verdict == Verdict::kUnknown && result.verdict == Verdict::kLinearizable) {
      result.verdict = Verdict::kUnknown;
    }
    result.keys.push_back(std::move(k));
  }
  return result;
}

}  // namespace edgelab::check
