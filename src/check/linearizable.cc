// check/linearizable.cc: the per-key Wing-Gong-Lowe search (see the header).
//
// The search walks a doubly linked list of call and return entries in
// real-time order. At a call it tries to linearize that op now: if the model
// accepts it and no visited config dominates the one it leads to
// (ConfigCache), the op's call and return are lifted out of the list and the
// walk restarts from the head. At a return, the op could not be placed before
// its own completion with the choices made so far, so the last choice is
// undone and the walk resumes after it. Search says in which order ops are
// tried, and why.
//
// Workload: Jepsen-like logs of 10^2..10^3 ops per key from 5-20 clients, a
// few percent of them timed out (indeterminate). Finding a linearization of
// one visits about one config per op; refuting one, 10^3..10^6 configs.
#include "check/linearizable.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>

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

// An op that never changes the state where it can be placed: a read, a cas
// [a a], a counter's add of 0. Placing such an op as soon as the model
// allows is never worse than placing it later (see Search).
bool IsObserver(Model model, const ModelOp& op) {
  switch (op.f) {
    case Fn::kRead:
      return true;
    case Fn::kCas:
      return op.a == op.b;
    case Fn::kAdd:
    case Fn::kWrite:
      return model == Model::kCounter && op.a == 0;
    case Fn::kDelete:
      return false;
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

// Converts one history op; nullopt when it is dropped (failed, or
// indeterminate and unable to change the state).
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
  if (m.indeterminate && IsObserver(model, m)) return std::optional<ModelOp>();  // a no-op
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

// Lowe's cache, widened by dominance. A configuration is (D, I, state): D the
// determinate ops linearized so far, I the indeterminate ones. (D, I', state)
// with I' a subset of I can do everything (D, I, state) can -- the ops in
// I \ I' may also never happen -- so once the first has been visited the
// second cannot lead anywhere new (Search says why pruning on a visited
// config is complete). With no indeterminate op this is Lowe's exact cache.
//
// Layout: an open-addressing table of (hash, state, pool offset); the D and I
// words of each config are stored once, back to back, in one pool. Jepsen-
// sized refutations visit 10^5..10^6 configs of ~1,000 ops: one allocation
// per config (a node-based set of vectors) cost more than the search.
class ConfigCache {
 public:
  ConfigCache(size_t d_words, size_t i_words)
      : d_words_(d_words), i_words_(i_words), slots_(1024) {}

  // Remembers (d, i, state) and returns true, or returns false (and keeps
  // nothing) when a visited config equals or dominates it. `hash` covers d
  // and state only, so every config a lookup must see shares it.
  bool Visit(const uint64_t* d, const uint64_t* i, int64_t state, uint64_t hash) {
    size_t mask = slots_.size() - 1;
    size_t at = hash & mask;
    for (; slots_[at].pool != 0; at = (at + 1) & mask) {
      const Slot& s = slots_[at];
      if (s.hash == hash && s.state == state && Dominates(&pool_[s.pool - 1], d, i)) return false;
    }
    slots_[at] = Slot{hash, state, pool_.size() + 1};
    pool_.insert(pool_.end(), d, d + d_words_);
    pool_.insert(pool_.end(), i, i + i_words_);
    if (++count_ * 2 > slots_.size()) Grow();
    return true;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    int64_t state = 0;
    size_t pool = 0;  // offset + 1 in pool_; 0: empty
  };

  // Same D, and the cached I (after D in `cached`) a subset of i.
  bool Dominates(const uint64_t* cached, const uint64_t* d, const uint64_t* i) const {
    for (size_t w = 0; w < d_words_; ++w) {
      if (cached[w] != d[w]) return false;
    }
    for (size_t w = 0; w < i_words_; ++w) {
      if (cached[d_words_ + w] & ~i[w]) return false;
    }
    return true;
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.pool == 0) continue;
      size_t at = s.hash & mask;
      while (slots_[at].pool != 0) at = (at + 1) & mask;
      slots_[at] = s;
    }
  }

  size_t d_words_, i_words_;
  std::vector<Slot> slots_;  // size a power of two, at most half full
  std::vector<uint64_t> pool_;
  size_t count_ = 0;
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

// One key's depth-first search over configs (see ConfigCache).
//
// Order. At each new config: if an observer can be placed, it is, and
// nothing else is tried there (the config with the observer placed dominates
// the one without: any completion of the latter, minus the observer,
// completes the former). Else a first walk tries the determinate ops whose
// call precedes the first pending completion, in list order; reaching that
// completion is where the search is stuck. Then the indeterminate ones are
// tried ("it never happened" first), either at once, in a second walk over
// the same stretch (a plain DFS), or -- with `defer` -- only after every
// config with fewer indeterminate ops placed has been explored: the config
// is queued for the next level and the search backtracks. Deferring makes
// the cache prune exactly (a config reached with {w} placed is never
// explored before the one without w it is dominated by); without it, on a
// history that must be refuted, 9 in 10 configs of a 1,000-op, 10-client
// Jepsen-like log were dominated by one visited later. But on a
// linearizable history that needs k indeterminate ops, deferring exhausts
// levels 0..k-1 before it finds the linearization, so SearchKey tries the
// plain DFS, which dives, on a budget of configs, and only then deferring.
//
// Run is one state machine (new config / walk / backtrack) rather than
// recursion: a path is up to one frame per op, and a deferred config is
// resumed by rebuilding its path, not by returning into it.
//
// Why skipping a dominated config is complete, in any order: if some visited
// config had a completion but the search failed, take such a config C whose
// shortest completion is shortest; the first op of that completion (or C's
// forced observer) leads to a config that was visited, or is dominated by a
// visited one, and has a shorter shortest completion -- a contradiction.
class Search {
 public:
  Search(Model model, const std::vector<ModelOp>& ops, const History& h,
         const std::function<bool()>& out_of_time, bool defer, size_t max_configs);

  // kUnknown when out of time, or over max_configs (then `over_budget()`).
  SearchResult Run();
  bool over_budget() const { return over_budget_; }

 private:
  // How an op is tried: kObserver ops are placed first and alone (forced),
  // then kPlain ones, then kIndeterminate ones, each in list order.
  enum class Kind : uint8_t { kObserver, kPlain, kIndeterminate };
  // One placed op on the current path; nodes_ keeps every one ever placed,
  // so that a deferred config can be reached again.
  struct Node {
    int parent;  // -1: the root config
    int entry;
    int depth;  // ops placed, this one included
    bool forced, late;
  };
  struct Frame {
    int node;
    int64_t state;  // before the op
  };
  enum class Next { kNewConfig, kWalk, kBacktrack };

  void Toggle(int op);
  int FirstObserver(int64_t state, bool* all_placed) const;
  bool CanPlaceIndeterminate(int64_t state) const;
  bool TryPlace(int entry, int64_t* state, bool forced, bool late);
  void Push(int node, int64_t* state);
  void Pop(int64_t* state);
  bool Backtrack(int64_t* state, int* entry, bool* late);
  bool NextDeferred(int64_t* state);
  void NoteStuck(int op, int64_t state);

  Model model_;
  const std::vector<ModelOp>& ops_;
  Entries entries_;
  const std::function<bool()>& out_of_time_;
  const bool defer_;
  const size_t max_configs_;
  std::vector<Kind> kind_;         // per op
  std::vector<int> bit_;           // per op: its bit in d_bits_ or i_bits_
  std::vector<uint64_t> zobrist_;  // per op; only determinate ops use theirs
  std::vector<uint64_t> d_bits_, i_bits_;
  uint64_t d_hash_ = 0;
  ConfigCache cache_;
  std::vector<Node> nodes_;
  std::vector<Frame> calls_;  // the current path
  size_t base_ = 0;           // Backtrack never pops below this depth
  // deferred_[k]: configs with k - 1 indeterminate ops placed whose
  // indeterminate candidates are still to be tried; level_ is the k being
  // explored, next_ the index of the next config of deferred_[level_].
  std::vector<std::vector<int>> deferred_;
  size_t level_ = 0, next_ = 0;
  bool over_budget_ = false;
  SearchResult best_;
  bool have_best_ = false;
};

size_t CountIndeterminate(const std::vector<ModelOp>& ops) {
  return std::count_if(ops.begin(), ops.end(), [](const ModelOp& o) { return o.indeterminate; });
}

Search::Search(Model model, const std::vector<ModelOp>& ops, const History& h,
               const std::function<bool()>& out_of_time, bool defer, size_t max_configs)
    : model_(model),
      ops_(ops),
      entries_(BuildEntries(ops, h)),
      out_of_time_(out_of_time),
      defer_(defer),
      max_configs_(max_configs),
      d_bits_((ops.size() - CountIndeterminate(ops) + 63) / 64),
      i_bits_((CountIndeterminate(ops) + 63) / 64),
      cache_(d_bits_.size(), i_bits_.size()) {
  std::mt19937_64 rng(ops.size());  // deterministic Zobrist keys
  int determinate = 0, indeterminate = 0;
  for (const ModelOp& op : ops) {
    kind_.push_back(op.indeterminate        ? Kind::kIndeterminate
                    : IsObserver(model, op) ? Kind::kObserver
                                            : Kind::kPlain);
    bit_.push_back(op.indeterminate ? indeterminate++ : determinate++);
    zobrist_.push_back(rng());
  }
}

void Search::Toggle(int op) {
  std::vector<uint64_t>& bits = kind_[op] == Kind::kIndeterminate ? i_bits_ : d_bits_;
  bits[bit_[op] / 64] ^= uint64_t{1} << (bit_[op] % 64);
  if (kind_[op] != Kind::kIndeterminate) d_hash_ ^= zobrist_[op];
}

// The first observer before the first pending completion that the model
// accepts in `state`, or -1. *all_placed: that completion is an indeterminate
// op's (they all come after the determinate ones) or there is none left, so
// every determinate op is placed.
int Search::FirstObserver(int64_t state, bool* all_placed) const {
  const Entries& e = entries_;
  int entry = e.next[0];
  for (; entry != -1 && e.is_call[entry]; entry = e.next[entry]) {
    int op = e.op[entry];
    int64_t next = 0;
    if (kind_[op] == Kind::kObserver && Step(model_, state, ops_[op], &next)) return entry;
  }
  *all_placed = entry == -1 || ops_[e.op[entry]].indeterminate;
  return -1;
}

// Whether an indeterminate op before the first pending completion fits.
bool Search::CanPlaceIndeterminate(int64_t state) const {
  const Entries& e = entries_;
  for (int entry = e.next[0]; entry != -1 && e.is_call[entry]; entry = e.next[entry]) {
    int op = e.op[entry];
    int64_t next = 0;
    if (kind_[op] == Kind::kIndeterminate && Step(model_, state, ops_[op], &next)) return true;
  }
  return false;
}

// Places the op of call `entry` now if the model accepts it and no visited
// config dominates the one it leads to.
bool Search::TryPlace(int entry, int64_t* state, bool forced, bool late) {
  int op = entries_.op[entry];
  int64_t next = 0;
  if (!Step(model_, *state, ops_[op], &next)) return false;
  Toggle(op);
  if (!cache_.Visit(d_bits_.data(), i_bits_.data(), next, d_hash_ ^ Mix(next))) {
    Toggle(op);
    return false;
  }
  Toggle(op);
  int parent = calls_.empty() ? -1 : calls_.back().node;
  nodes_.push_back({parent, entry, static_cast<int>(calls_.size()) + 1, forced, late});
  Push(static_cast<int>(nodes_.size()) - 1, state);
  return true;
}

// Places node's op on the current path (the model accepts it: it did when
// the node was made, in the same state).
void Search::Push(int node, int64_t* state) {
  int entry = nodes_[node].entry;
  int op = entries_.op[entry];
  int64_t next = 0;
  bool ok = Step(model_, *state, ops_[op], &next);
  EDGELAB_CHECK(ok);
  Toggle(op);
  calls_.push_back({node, *state});
  *state = next;
  entries_.Lift(entry);
}

void Search::Pop(int64_t* state) {
  Frame top = calls_.back();
  calls_.pop_back();
  *state = top.state;
  int entry = nodes_[top.node].entry;
  Toggle(entries_.op[entry]);
  entries_.Unlift(entry);
}

// Undoes the last choice, and the forced ones under it (a forced observer's
// failure is its config's), down to base_. False when nothing is left.
bool Search::Backtrack(int64_t* state, int* entry, bool* late) {
  while (calls_.size() > base_) {
    const Node& n = nodes_[calls_.back().node];
    Pop(state);
    if (!n.forced) {
      *entry = entries_.next[n.entry];
      *late = n.late;
      return true;
    }
  }
  return false;
}

// Moves the current path to the next deferred config, level by level; its
// indeterminate candidates are what remains to try there. False when none.
bool Search::NextDeferred(int64_t* state) {
  while (level_ < deferred_.size() && next_ == deferred_[level_].size()) {
    std::vector<int>().swap(deferred_[level_]);
    ++level_, next_ = 0;
  }
  if (level_ == deferred_.size()) return false;
  int target = deferred_[level_][next_++];
  // Up from the target to the first node on the current path; then down.
  std::vector<int> down;
  size_t common = 0;
  for (int n = target; n != -1; n = nodes_[n].parent) {
    size_t depth = nodes_[n].depth;
    if (depth <= calls_.size() && calls_[depth - 1].node == n) {
      common = depth;
      break;
    }
    down.push_back(n);
  }
  while (calls_.size() > common) Pop(state);
  for (auto it = down.rbegin(); it != down.rend(); ++it) Push(*it, state);
  base_ = calls_.size();
  return true;
}

// Keeps the deepest point the search reached, for the explanation.
void Search::NoteStuck(int op, int64_t state) {
  if (have_best_ && calls_.size() <= best_.prefix.size()) return;
  have_best_ = true;
  best_.prefix.clear();
  for (const Frame& f : calls_) best_.prefix.push_back(entries_.op[nodes_[f.node].entry]);
  best_.stuck = op;
  best_.prefix_state = state;
}

SearchResult Search::Run() {
  Entries& e = entries_;
  int64_t state = 0;  // nil, or a counter's 0
  int entry = -1;
  bool late = false;
  uint64_t steps = 0;
  Next next = Next::kNewConfig;
  for (;;) {
    if ((steps++ & 4095) == 0 && out_of_time_ && out_of_time_())
      return SearchResult::Of(Verdict::kUnknown);
    if (nodes_.size() > max_configs_) {
      over_budget_ = true;
      return SearchResult::Of(Verdict::kUnknown);
    }
    switch (next) {
      case Next::kNewConfig: {  // place an observer if one fits, else walk
        bool all_placed = false;
        int observer = FirstObserver(state, &all_placed);
        if (all_placed) return SearchResult::Of(Verdict::kLinearizable);
        if (observer == -1) {
          entry = e.next[0], late = false, next = Next::kWalk;
        } else if (!TryPlace(observer, &state, /*forced=*/true, /*late=*/false)) {
          next = Next::kBacktrack;  // its better self was visited: this fails
        }
        break;
      }
      case Next::kWalk: {
        int op = e.op[entry];
        if (e.is_call[entry]) {
          Kind k = kind_[op];
          bool now = late ? k == Kind::kIndeterminate : k == Kind::kPlain;
          if (now && TryPlace(entry, &state, /*forced=*/false, late)) {
            next = Next::kNewConfig;
          } else {
            entry = e.next[entry];
          }
        } else if (late) {
          next = Next::kBacktrack;
        } else {
          NoteStuck(op, state);
          entry = e.next[0], late = true;
          if (defer_) {
            if (CanPlaceIndeterminate(state)) {
              if (deferred_.size() < level_ + 2) deferred_.resize(level_ + 2);
              deferred_[level_ + 1].push_back(calls_.empty() ? -1 : calls_.back().node);
            }
            next = Next::kBacktrack;
          }
        }
        break;
      }
      case Next::kBacktrack:
        if (Backtrack(&state, &entry, &late)) {
          next = Next::kWalk;
        } else if (defer_ && NextDeferred(&state)) {
          entry = e.next[0], late = true, next = Next::kWalk;
        } else {
          best_.verdict = Verdict::kNotLinearizable;
          return best_;
        }
        break;
    }
  }
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

// kAuto: the plain DFS dives, so a linearizable history costs it about one
// config per op; refuting costs it every reachable config and, unlike the
// deferred order (Search's comment), dominated ones too. So the dive gets a
// budget of 64 configs per op (linearizable 1,000-op Jepsen-like logs need 1
// to 2) and the deferred order then starts from scratch: a history that
// needs both pays at most that budget twice over.
SearchResult SearchKey(Model model, const std::vector<ModelOp>& ops, const History& h,
                       const std::function<bool()>& out_of_time, SearchOrder order) {
  if (order != SearchOrder::kDeferred) {
    size_t budget = order == SearchOrder::kDive ? SIZE_MAX : 64 * ops.size() + 4096;
    Search dive(model, ops, h, out_of_time, /*defer=*/false, budget);
    SearchResult r = dive.Run();
    if (!dive.over_budget()) return r;
  }
  return Search(model, ops, h, out_of_time, /*defer=*/true, SIZE_MAX).Run();
}

Result<KeyResult> CheckKey(const History& h, const std::string& key,
                           const std::vector<size_t>& indices, Model model,
                           const std::function<bool()>& out_of_time, SearchOrder order) {
  Interner interner;
  std::vector<ModelOp> ops;
  for (size_t i : indices) {
    EDGELAB_ASSIGN_OR_RETURN(std::optional<ModelOp> m, ToModelOp(h.ops[i], i, model, interner));
    if (m) ops.push_back(*m);
  }
  KeyResult k;
  k.key = key;
  k.op_count = ops.size();
  SearchResult r = SearchKey(model, ops, h, out_of_time, order);
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

Model AutoModel(const History& h) {
  bool cas = false;
  for (const Operation& op : h.ops) {
    if (op.f == Fn::kAdd) return Model::kCounter;
    cas |= op.f == Fn::kCas;
  }
  return cas ? Model::kCasRegister : Model::kRegister;
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
                                      const std::function<bool()>& out_of_time, SearchOrder order) {
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
      EDGELAB_ASSIGN_OR_RETURN(k, CheckKey(history, key, indices, model, out_of_time, order));
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
