// sched/sim_scheduler.cc: the simulation's scheduler: a discrete-event loop
// on the caller's stack that lets a seeded strategy pick one ready item (a
// fiber or a posted callback) per step, runs it until it waits or returns,
// and jumps virtual time to the next timer when nothing is ready.
//
// Every fiber switch goes through RunUntil's stack, as in real_scheduler.cc:
// a step switches into the chosen fiber and the fiber switches back when it
// waits or ends. Everything that decides an order (the ready set, the timer
// heap, the generators) is keyed by numbers the run assigns itself (spawn,
// post and arming counters), never by addresses, so a run replays from its
// seed on any machine.
//
// Workload: simulation tests: tens of fibers, up to ~10^6 steps a run. The
// ready set is a vector that PCT scans once a step; a heap of priorities
// would pay off only with hundreds of fibers ready at once.
#include "sched/sim_scheduler.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "base/fnv.h"
#include "base/status.h"
#include "sched/fiber_stack.h"

namespace edgelab::sched {

namespace {

// splitmix64 (Steele, Lea, Flood 2014): turns one seed into well-mixed
// words, here the states of the generators below.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman, Vigna 2018). Our own, because std::'s
// distributions may differ between standard libraries, and a seed must
// replay the same run wherever it is rerun.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix64(seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) without modulo bias (Lemire 2019: the high half of a
  // 128-bit product, redrawn in the rare short interval). Requires: n > 0.
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    if (static_cast<uint64_t>(m) < n) {
      const uint64_t threshold = (0 - n) % n;
      while (static_cast<uint64_t>(m) < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// The kinds of step, as folded into the trace.
constexpr uint64_t kFiberStep = 1;
constexpr uint64_t kPostStep = 2;

// Thrown from the wait a fiber is parked in when ~SimScheduler unwinds it,
// and caught at the bottom of that fiber, so its frames' destructors run.
struct Unwind {};

// A stale timer entry stays in the heap until it reaches the top; past this
// many entries, and more than half of them stale, the heap is rebuilt, so a
// fiber that is always woken before a long timeout cannot grow it forever.
constexpr size_t kCompactAbove = 1024;

// A fiber and what the simulation knows of it.
class SimFiber final : public Fiber {
 public:
  enum class State { kReady, kRunning, kSuspended, kTimedWait, kSleeping };
  explicit SimFiber(uint64_t spawn_number) : id(spawn_number) {}

  const uint64_t id;      // spawn number, from 1: its name in traces and timers
  uint64_t priority = 0;  // PCT: the ready fiber with the largest runs
  State state = State::kReady;
  // A timer entry is live only while `armed` and its generation is
  // `wait_gen`; Wake() disarms, and a new wait arms a new generation, so an
  // entry left in the heap never resumes the fiber.
  bool armed = false;
  uint64_t wait_gen = 0;
  bool in_timed_wait = false;  // inside SuspendUntil, until it returns
  bool woken = false;          // how that SuspendUntil ends
  bool unwinding = false;      // ~SimScheduler: its waits throw Unwind
};

SimFiber* Sim(Fiber* f) { return static_cast<SimFiber*>(f); }

struct Timer {
  int64_t deadline;
  uint64_t seq;    // arming order: ties on deadline fire in it
  uint64_t fiber;  // spawn number
  uint64_t gen;    // the fiber's wait_gen when armed
};

// The heap's order: std::push_heap keeps the largest on top, so "larger"
// here means "fires later".
struct FiresLater {
  bool operator()(const Timer& a, const Timer& b) const {
    if (a.deadline != b.deadline) return a.deadline > b.deadline;
    return a.seq > b.seq;
  }
};

struct Posted {
  uint64_t number;  // post order, from 1
  std::function<void()> fn;
};

// Two streams from one seed: the first two outputs of splitmix64 over it.
uint64_t StreamSeed(uint64_t seed, int stream) {
  uint64_t state = seed;
  uint64_t out = SplitMix64(state);
  for (int i = 0; i < stream; ++i) out = SplitMix64(state);
  return out;
}

}  // namespace

struct SimScheduler::State {
  explicit State(const SimOptions& o);

  SimFiber* Running();
  void MakeReady(SimFiber* f) {
    f->state = SimFiber::State::kReady;
    ready.push_back(f);
  }
  void Park(SimFiber* f);
  void Yield(SimFiber* f);
  [[noreturn]] static void ThrowUnwind();
  void Arm(SimFiber* f, int64_t deadline);
  void Disarm(SimFiber* f);
  SimFiber* LiveTarget(const Timer& t) const;
  bool AdvanceTime();
  size_t Choose();
  void Step();
  void Trace(uint64_t kind, uint64_t number);
  RunResult Run(const std::function<bool()>& done);

  // Fixed after construction.
  const SimOptions options;
  std::vector<uint64_t> change_points;  // PCT: [i - 1] is the step priority i starts at

  // The run (all on the one thread: there is no other).
  internal::StackPool stacks;  // declared before `fibers`: outlives their stacks
  std::map<uint64_t, std::unique_ptr<SimFiber>> fibers;  // live ones, by spawn number
  std::vector<SimFiber*> ready;                          // in no meaningful order
  std::deque<Posted> posted;                             // in post order
  std::vector<Timer> timers;  // heap under FiresLater, stale entries included
  size_t live_timers = 0;
  // Two streams, so that Random() calls cannot shift the schedule, nor a
  // different schedule the values Random() returns.
  Rng strategy_rng;
  Rng random_rng;
  SimFiber* current = nullptr;
  bool running = false;       // inside RunUntil
  bool tearing_down = false;  // inside ~SimScheduler
  int64_t now = 0;
  uint64_t steps = 0;
  uint64_t trace = kFnvOffset;
  uint64_t spawned = 0;
  uint64_t posts = 0;
  uint64_t armings = 0;
};

SimScheduler::State::State(const SimOptions& o)
    : options(o),
      stacks(o.stack_bytes),
      strategy_rng(StreamSeed(o.seed, 0)),
      random_rng(StreamSeed(o.seed, 1)) {
  if (options.strategy != SimOptions::Strategy::kPct) return;
  EDGELAB_CHECK(options.pct_depth >= 1);
  EDGELAB_CHECK(options.pct_depth == 1 || options.pct_steps >= 1);
  for (int i = 1; i < options.pct_depth; ++i) {
    change_points.push_back(1 + strategy_rng.Below(options.pct_steps));
  }
}

SimFiber* SimScheduler::State::Running() {
  EDGELAB_CHECK(current != nullptr && "a wait outside a fiber of this scheduler");
  return current;
}

// The running fiber `f` waits, its state (and timer) already set: back to
// the loop until a step picks it again.
void SimScheduler::State::Park(SimFiber* f) {
  if (!f->unwinding) f->SwitchOut();
  if (f->unwinding) ThrowUnwind();
}

// `f` stays ready and the strategy picks who runs next. While unwinding
// nothing else will run, so there is nothing to yield to.
void SimScheduler::State::Yield(SimFiber* f) {
  if (f->unwinding) return;
  MakeReady(f);
  Park(f);
}

// C++ terminates when a second exception is thrown while one is in flight,
// or when one leaves a destructor: a fiber that waits in a destructor cannot
// be unwound, and the first case at least says so.
void SimScheduler::State::ThrowUnwind() {
  EDGELAB_CHECK(std::uncaught_exceptions() == 0 &&
                "~SimScheduler cannot unwind a fiber that waits while an exception is in flight");
  throw Unwind{};
}

void SimScheduler::State::Arm(SimFiber* f, int64_t deadline) {
  f->armed = true;
  ++live_timers;
  timers.push_back({deadline, ++armings, f->id, ++f->wait_gen});
  std::push_heap(timers.begin(), timers.end(), FiresLater{});
}

void SimScheduler::State::Disarm(SimFiber* f) {
  f->armed = false;
  --live_timers;
  if (timers.size() > kCompactAbove && timers.size() > 2 * live_timers) {
    std::erase_if(timers, [this](const Timer& t) { return LiveTarget(t) == nullptr; });
    std::make_heap(timers.begin(), timers.end(), FiresLater{});
  }
}

// The fiber a timer entry would resume, or nullptr when the entry is stale
// (its fiber ended, was woken, or waits again under a newer generation).
SimFiber* SimScheduler::State::LiveTarget(const Timer& t) const {
  auto it = fibers.find(t.fiber);
  if (it == fibers.end()) return nullptr;
  SimFiber* f = it->second.get();
  return f->armed && f->wait_gen == t.gen ? f : nullptr;
}

// Nothing is ready: moves time to the earliest live timer and readies every
// fiber whose timer is due then, in deadline, then arming, order. Returns
// false when no live timer is left (the run is idle).
bool SimScheduler::State::AdvanceTime() {
  while (!timers.empty() && LiveTarget(timers.front()) == nullptr) {
    std::pop_heap(timers.begin(), timers.end(), FiresLater{});
    timers.pop_back();
  }
  if (timers.empty()) return false;
  // Arming requires a deadline after `now`, so time only moves forward.
  now = std::max(now, timers.front().deadline);
  while (!timers.empty() && timers.front().deadline <= now) {
    std::pop_heap(timers.begin(), timers.end(), FiresLater{});
    Timer t = timers.back();
    timers.pop_back();
    if (SimFiber* f = LiveTarget(t)) {
      f->armed = false;
      --live_timers;
      MakeReady(f);
    }
  }
  return true;
}

// The strategy's pick among the ready items: an index into `posted`, or
// past its end into `ready`. Requires: something is ready.
size_t SimScheduler::State::Choose() {
  if (options.strategy == SimOptions::Strategy::kRandom) {
    return strategy_rng.Below(posted.size() + ready.size());
  }
  if (!posted.empty()) return 0;  // PCT: callbacks first, in post order
  size_t best = 0;
  for (size_t i = 1; i < ready.size(); ++i) {
    const SimFiber* a = ready[i];
    const SimFiber* b = ready[best];
    // Drawn priorities practically never tie; if they do, spawn order
    // decides, never the vector's order.
    if (a->priority > b->priority || (a->priority == b->priority && a->id < b->id)) best = i;
  }
  return best;  // `posted` is empty: already an index past its end
}

void SimScheduler::State::Trace(uint64_t kind, uint64_t number) {
  FnvFold(trace, steps);
  FnvFold(trace, static_cast<uint64_t>(now));
  FnvFold(trace, kind);
  FnvFold(trace, number);
}

// One step: the chosen callback runs to its end, or the chosen fiber runs
// until it waits or ends.
void SimScheduler::State::Step() {
  ++steps;
  size_t i = Choose();
  if (i < posted.size()) {
    Posted p = std::move(posted[i]);
    posted.erase(posted.begin() + static_cast<std::ptrdiff_t>(i));
    Trace(kPostStep, p.number);
    p.fn();
    return;
  }
  i -= posted.size();
  SimFiber* f = ready[i];
  ready[i] = ready.back();  // the order of `ready` means nothing
  ready.pop_back();
  Trace(kFiberStep, f->id);
  // PCT: the fiber running at change point i drops to priority i, below
  // every initial priority (d - 1 change points give depth d). A change
  // point that falls on a callback's step changes nothing.
  for (size_t c = 0; c < change_points.size(); ++c) {
    if (change_points[c] == steps) f->priority = c + 1;
  }
  current = f;
  f->state = SimFiber::State::kRunning;
  const bool suspended = f->SwitchIn();
  current = nullptr;
  if (!suspended) fibers.erase(f->id);  // its stack is back in the pool
}

SimScheduler::RunResult SimScheduler::State::Run(const std::function<bool()>& done) {
  uint64_t ran = 0;
  for (;;) {
    if (done()) return RunResult::kDone;
    if (options.max_steps != 0 && ran >= options.max_steps) return RunResult::kStepLimit;
    if (ready.empty() && posted.empty() && !AdvanceTime()) return RunResult::kIdle;
    Step();
    ++ran;
  }
}

SimScheduler::SimScheduler(SimOptions options) : state_(std::make_unique<State>(options)) {}

// Each fiber left is switched into once more with `unwinding` set: the wait
// it is parked in throws Unwind (a fiber never started skips its function),
// its destructors run on its own stack, it ends at the bottom of its
// function and its stack goes back to the pool the normal way. Boost's own
// unwinding (destroying a suspended boost::context::fiber, which throws
// forced_unwind into it) would switch in and out inside Boost, where the
// ASan stack-switch annotations cannot follow. Fibers end in spawn order;
// their objects stay until the last has ended, so a destructor that wakes
// another (already unwound) fiber does not touch freed memory: Wake, Spawn
// and Post do nothing useful now, as nothing runs again.
SimScheduler::~SimScheduler() {
  State& s = *state_;
  EDGELAB_CHECK(s.current == nullptr && !s.running && "~SimScheduler on a fiber or in a step");
  s.tearing_down = true;
  std::vector<std::unique_ptr<SimFiber>> ended;
  while (!s.fibers.empty()) {
    auto it = s.fibers.begin();
    SimFiber* f = it->second.get();
    f->unwinding = true;
    s.current = f;
    f->state = SimFiber::State::kRunning;
    const bool suspended = f->SwitchIn();
    s.current = nullptr;
    EDGELAB_CHECK(!suspended);  // an unwinding fiber never parks
    ended.push_back(std::move(it->second));
    s.fibers.erase(it);
  }
}

int64_t SimScheduler::NowMicros() { return state_->now; }

int64_t SimScheduler::WallMillis() { return state_->options.wall_origin_ms + state_->now / 1000; }

uint64_t SimScheduler::Random() { return state_->random_rng.Next(); }

void SimScheduler::Spawn(std::function<void()> fn) {
  State& s = *state_;
  if (s.tearing_down) return;  // it would never run: `fn` is destroyed here
  auto owned = std::make_unique<SimFiber>(++s.spawned);
  SimFiber* f = owned.get();
  if (s.options.strategy == SimOptions::Strategy::kPct) {
    // Uniform in [d, 2^64): above every change-point priority 1..d-1.
    const auto d = static_cast<uint64_t>(s.options.pct_depth);
    f->priority = d + s.strategy_rng.Below(UINT64_MAX - d + 1);
  }
  f->Start(&s.stacks, [f, fn = std::move(fn)] {
    if (f->unwinding) return;  // torn down before its first step
    try {
      fn();
    } catch (const Unwind&) {
      // ~SimScheduler: the fiber's frames have unwound; end it here.
    }
  });
  s.fibers.emplace(f->id, std::move(owned));
  s.MakeReady(f);
}

void SimScheduler::Post(std::function<void()> fn) {
  State& s = *state_;
  s.posted.push_back({++s.posts, std::move(fn)});
}

void SimScheduler::SleepUntil(int64_t deadline_micros) {
  State& s = *state_;
  SimFiber* f = s.Running();
  if (deadline_micros <= s.now) {
    s.Yield(f);
    return;
  }
  s.Arm(f, deadline_micros);
  f->state = SimFiber::State::kSleeping;
  s.Park(f);
}

Fiber* SimScheduler::Current() { return state_->current; }

void SimScheduler::Suspend() {
  State& s = *state_;
  SimFiber* f = s.Running();
  f->state = SimFiber::State::kSuspended;
  s.Park(f);
}

bool SimScheduler::SuspendUntil(int64_t deadline_micros) {
  State& s = *state_;
  SimFiber* f = s.Running();
  f->in_timed_wait = true;
  f->woken = false;
  if (deadline_micros <= s.now) {
    s.MakeReady(f);  // due already: times out when it runs, unless woken first
  } else {
    s.Arm(f, deadline_micros);
    f->state = SimFiber::State::kTimedWait;
  }
  s.Park(f);
  f->in_timed_wait = false;
  return f->woken;
}

void SimScheduler::Wake(Fiber* fiber) {
  State& s = *state_;
  if (s.tearing_down) return;
  SimFiber* f = Sim(fiber);
  EDGELAB_CHECK(f->state != SimFiber::State::kRunning && "Wake() of the running fiber");
  EDGELAB_CHECK(f->state != SimFiber::State::kSleeping && "Wake() of a fiber in SleepUntil");
  if (f->state == SimFiber::State::kSuspended) {
    s.MakeReady(f);
  } else if (f->state == SimFiber::State::kTimedWait) {
    s.Disarm(f);
    f->woken = true;
    s.MakeReady(f);
  } else {
    // Ready: its timeout came (the timer fired, or the deadline had passed)
    // but it has not run yet, so to the waker it still waits and the wake
    // wins. Reporting a timeout would lose a WaitQueue notification, which
    // took the fiber off its queue already. RealScheduler has no such gap:
    // its timer resumes the fiber at once.
    EDGELAB_CHECK(f->in_timed_wait && !f->woken &&
                  "Wake() of a fiber that is not waiting (ready, or woken twice)");
    f->woken = true;
  }
}

void SimScheduler::MayInterleave() {
  State& s = *state_;
  if (s.current != nullptr) s.Yield(s.current);
}

SimScheduler::RunResult SimScheduler::RunUntil(const std::function<bool()>& done) {
  State& s = *state_;
  EDGELAB_CHECK(s.current == nullptr && !s.running && "RunUntil on a fiber or in a step");
  s.running = true;
  struct Stopped {
    bool& running;
    ~Stopped() { running = false; }
  } stopped{s.running};
  return s.Run(done);
}

SimScheduler::RunResult SimScheduler::RunUntilIdle() {
  return RunUntil([] { return false; });
}

uint64_t SimScheduler::steps() const { return state_->steps; }
uint64_t SimScheduler::trace_hash() const { return state_->trace; }
size_t SimScheduler::live_fibers() const { return state_->fibers.size(); }
size_t SimScheduler::pending_timers() const { return state_->live_timers; }
const SimOptions& SimScheduler::options() const { return state_->options; }

void SimLoops::RunToCompletion(std::function<void(Scheduler&)> fn) {
  bool finished = false;
  sched_->Spawn([&] {
    fn(*sched_);
    finished = true;
  });
  SimScheduler::RunResult result = sched_->RunUntil([&] { return finished; });
  EDGELAB_CHECK(result != SimScheduler::RunResult::kIdle &&
                "SimLoops::RunToCompletion: fn never returned: every fiber waits and no timer "
                "is pending (a deadlock)");
  EDGELAB_CHECK(result != SimScheduler::RunResult::kStepLimit &&
                "SimLoops::RunToCompletion: fn had not returned after options.max_steps steps");
}

}  // namespace edgelab::sched
