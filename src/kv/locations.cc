// kv/locations.cc: the per-location read caches over one origin Store, and
// the writes still on their way to them. Everything happens under one mutex,
// origin calls included: the origin is local (memory or SQLite), so a call
// takes microseconds, and doing it under the lock is what makes versions
// follow the origin's own order of writes.
//
// Workload: a handful of locations (the edge has ~300; a test a few), keys as
// the worker uses them; a write copies its entry only when some other
// location had the key freshly cached, so a write-heavy workload whose keys are
// never read elsewhere keeps nothing in flight.
#include "kv/locations.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace edgelab::kv {
namespace {

// A location that had no fresh entry when a write was made never needs it:
// it reads the origin (which has the write) next time.
constexpr int64_t kNeverArrives = std::numeric_limits<int64_t>::max();

// (ns, key) as one map key: the namespace's length first, so two pairs never
// collide whatever bytes they hold.
std::string KeyId(std::string_view ns, std::string_view key) {
  std::string id = std::to_string(ns.size());
  id += ':';
  id.append(ns);
  id.append(key);
  return id;
}

struct Cached {
  std::optional<Entry> entry;  // nullopt: the key was absent
  uint64_t version = 0;        // the origin's version when this was its answer
  int64_t fetched_micros = 0;  // when it came from the origin (or was written here)
};

// One applied write on its way to the other locations.
struct InFlight {
  uint64_t version = 0;
  std::optional<Entry> entry;           // nullopt: a delete (a tombstone)
  std::vector<int64_t> arrives_micros;  // per location; kNeverArrives when moot
};

// Replaces `c` by `w` unless `c` is as new or newer (last write wins).
void Apply(const InFlight& w, Cached* c) {
  if (w.version <= c->version) return;
  c->entry = w.entry;
  c->version = w.version;
}

}  // namespace

struct Locations::State {
  // (the time a write has reached every location, its version, its key id)
  using Done = std::tuple<int64_t, uint64_t, std::string>;

  State(Store* o, LocationOptions opts)
      : origin(o),
        options(std::move(opts)),
        caching(options.names.size() > 1 && options.cache_ttl_ms > 0),
        ttl_micros(options.cache_ttl_ms > std::numeric_limits<int64_t>::max() / 1000
                       ? std::numeric_limits<int64_t>::max()
                       : options.cache_ttl_ms * 1000),
        caches(options.names.size()) {}

  // Fixed after construction.
  Store* const origin;
  const LocationOptions options;
  const bool caching;        // more than one location and a TTL
  const int64_t ttl_micros;  // cache_ttl_ms in microseconds

  std::mutex mu;
  // Guarded by mu. The last version stamped on a write.
  uint64_t version = 0;
  // Guarded by mu. Per location: key id -> what it has cached.
  std::vector<std::unordered_map<std::string, Cached>> caches;
  // Guarded by mu. Key id -> its writes still propagating, oldest first.
  std::unordered_map<std::string, std::deque<InFlight>> in_flight;
  // Guarded by mu. A min-heap of when each in-flight write is done.
  std::priority_queue<Done, std::vector<Done>, std::greater<>> done;

  bool Fresh(const Cached& c, int64_t now) const { return now - c.fetched_micros < ttl_micros; }

  // Applies the writes that have arrived at `location` to its entry `c`.
  // Requires: mu held.
  void Arrive(const std::string& id, size_t location, int64_t now, Cached* c) const {
    auto it = in_flight.find(id);
    if (it == in_flight.end()) return;
    for (const InFlight& w : it->second) {
      if (w.arrives_micros[location] <= now) Apply(w, c);
    }
  }

  // Delivers every write that has reached all locations by `now` and forgets
  // it. Requires: mu held.
  void Retire(int64_t now) {
    while (!done.empty() && std::get<0>(done.top()) <= now) {
      const auto& [unused, v, id] = done.top();
      auto it = in_flight.find(id);
      if (it != in_flight.end()) {
        auto& writes = it->second;
        auto w = std::find_if(writes.begin(), writes.end(),
                              [v = v](const InFlight& x) { return x.version == v; });
        if (w != writes.end()) {
          for (size_t m = 0; m < caches.size(); ++m) {
            if (w->arrives_micros[m] == kNeverArrives) continue;
            auto c = caches[m].find(id);
            if (c != caches[m].end()) Apply(*w, &c->second);
          }
          writes.erase(w);
        }
        if (writes.empty()) in_flight.erase(it);
      }
      done.pop();
    }
  }

  // Caches `c` for `id` at `location`, keeping the bound. Requires: mu held.
  void Insert(size_t location, const std::string& id, Cached c, int64_t now, int64_t wall_ms) {
    auto& cache = caches[location];
    if (cache.size() >= kMaxCachedKeys && cache.find(id) == cache.end()) {
      std::erase_if(cache, [&](const auto& kv) {
        const Cached& e = kv.second;
        return !Fresh(e, now) ||
               (e.entry && e.entry->expiration_ms != 0 && e.entry->expiration_ms <= wall_ms);
      });
      // Less than a quarter freed: start over, so the next sweep is far off.
      if (cache.size() > kMaxCachedKeys / 4 * 3) cache.clear();
    }
    cache.insert_or_assign(id, std::move(c));
  }

  // Records a write the origin applied at `location`: stamps it, shows it
  // there at once and sends it on to the others. Requires: mu held, caching.
  void Written(sched::Scheduler& sched, size_t location, const std::string& id,
               std::optional<Entry> entry, int64_t now) {
    InFlight w{++version, std::move(entry), std::vector<int64_t>(caches.size(), kNeverArrives)};
    int64_t last = std::numeric_limits<int64_t>::min();
    for (size_t m = 0; m < caches.size(); ++m) {
      if (m == location) continue;
      const int64_t delay = options.propagation.DrawMicros(sched);  // drawn even when moot
      auto there = caches[m].find(id);
      if (there == caches[m].end() || !Fresh(there->second, now)) continue;  // it will refetch
      w.arrives_micros[m] = now + delay;
      last = std::max(last, now + delay);
    }
    auto here = caches[location].find(id);
    if (here != caches[location].end()) here->second = Cached{w.entry, w.version, now};
    if (last == std::numeric_limits<int64_t>::min()) return;  // nobody else had it
    done.emplace(last, w.version, id);
    auto& writes = in_flight[id];
    writes.push_back(std::move(w));
    // A hot key: every cached read there scans these, under the one mutex.
    // The oldest is dropped: a location it had not reached gets a newer write
    // later (never an older one), and its cached copy still ages out by TTL.
    if (writes.size() > kMaxPropagatingPerKey) writes.pop_front();
  }
};

Locations::Locations(Store* origin, LocationOptions options)
    : state_(std::make_unique<State>(origin, std::move(options))) {
  EDGELAB_CHECK(!state_->options.names.empty());
}

Locations::~Locations() = default;

size_t Locations::size() const { return state_->options.names.size(); }

const std::string& Locations::name(size_t location) const {
  EDGELAB_CHECK(location < size());
  return state_->options.names[location];
}

std::optional<size_t> Locations::Find(std::string_view name) const {
  const auto& names = state_->options.names;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return i;
  }
  return std::nullopt;
}

Store* Locations::origin() const { return state_->origin; }

Result<Entry> Locations::Get(sched::Scheduler& sched, size_t location, std::string_view ns,
                             std::string_view key, Consistency consistency) {
  State& s = *state_;
  EDGELAB_CHECK(location < size());
  if (!s.caching || consistency == Consistency::kStrong) return s.origin->Get(ns, key);
  const int64_t now = sched.NowMicros();
  const int64_t wall_ms = sched.WallMillis();
  const std::string id = KeyId(ns, key);
  std::lock_guard<std::mutex> lock(s.mu);
  s.Retire(now);
  auto it = s.caches[location].find(id);
  if (it != s.caches[location].end()) {
    Cached& c = it->second;
    s.Arrive(id, location, now, &c);
    if (s.Fresh(c, now)) {
      if (!c.entry || (c.entry->expiration_ms != 0 && c.entry->expiration_ms <= wall_ms)) {
        return Status::NotFound("key not found in namespace " + std::string(ns));
      }
      return *c.entry;
    }
  }
  Result<Entry> got = s.origin->Get(ns, key);
  if (!got.ok() && got.status().code() != Code::kNotFound) return got;
  Cached fetched{std::nullopt, s.version, now};
  if (got.ok()) fetched.entry = *got;
  s.Insert(location, id, std::move(fetched), now, wall_ms);
  return got;
}

Result<PutResult> Locations::Put(sched::Scheduler& sched, size_t location, std::string_view ns,
                                 std::string_view key, std::string_view value,
                                 const PutOptions& opts) {
  State& s = *state_;
  EDGELAB_CHECK(location < size());
  if (!s.caching) return s.origin->Put(ns, key, value, opts);
  const int64_t now = sched.NowMicros();
  std::lock_guard<std::mutex> lock(s.mu);
  s.Retire(now);
  Result<PutResult> put = s.origin->Put(ns, key, value, opts);
  if (put.ok() && put->outcome == PutResult::Outcome::kStored) {
    s.Written(sched, location, KeyId(ns, key),
              Entry{std::string(value), opts.metadata, put->etag, opts.expiration_ms}, now);
  } else if (put.ok()) {
    // The origin refused the precondition: what this location cached is
    // likely stale. Dropped, so the next read fetches the origin's, and a
    // compare-and-swap loop converges instead of retrying one stale etag
    // until the propagation or the TTL.
    s.caches[location].erase(KeyId(ns, key));
  }
  return put;
}

Status Locations::Delete(sched::Scheduler& sched, size_t location, std::string_view ns,
                         std::string_view key) {
  State& s = *state_;
  EDGELAB_CHECK(location < size());
  if (!s.caching) return s.origin->Delete(ns, key);
  const int64_t now = sched.NowMicros();
  std::lock_guard<std::mutex> lock(s.mu);
  s.Retire(now);
  Status deleted = s.origin->Delete(ns, key);
  if (deleted.ok()) s.Written(sched, location, KeyId(ns, key), std::nullopt, now);
  return deleted;
}

size_t Locations::propagating() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  size_t n = 0;
  for (const auto& [id, writes] : state_->in_flight) n += writes.size();
  return n;
}

size_t Locations::cached(size_t location) const {
  EDGELAB_CHECK(location < size());
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->caches[location].size();
}

}  // namespace edgelab::kv
