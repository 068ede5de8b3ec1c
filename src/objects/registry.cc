// objects/registry.cc: the Durable Object rules of registry.h: home loops,
// mailboxes, the output gate with group commit, alarms, eviction, cycles.
//
// Workload: a hot object (the post's counter or lock) takes thousands of
// turns a second, each a few tens of microseconds of guest code and one or
// two storage writes; a commit (one SQLite transaction) costs about as much
// as a turn. Committing once per turn would halve throughput, so turns do
// not wait for their commit before the next one runs (rule 3), and a round
// of the flusher collects every object of its loop that wrote meanwhile.
#include "objects/registry.h"

#include <algorithm>
#include <functional>
#include <set>

namespace edgelab::objects {

// A fiber waiting to run a turn (mailbox) or for its writes to be durable
// (gate).
struct Object::Waiter {
  sched::Fiber* fiber = nullptr;
  uint64_t mark = 0;  // gate: storage written() at the end of its turn
  Status status;      // gate: how the wait ended
};

// One home loop's objects and the fibers that serve them. Everything here
// runs on that loop's thread.
class HomeLoop {
 public:
  HomeLoop(Registry* reg, sched::Scheduler* sched)
      : reg_(reg), sched_(sched), timer_(sched), sweep_(sched) {}

  sched::Scheduler* sched() const { return sched_; }

  // Rules 2 and 3 for one turn, on a fiber of this loop.
  Status RunTurn(const ObjectKey& key, size_t home, const std::function<void(Object&)>& turn);
  // Rule 4: makes sure `key`'s alarm at `time_ms` will be looked at.
  void Arm(const ObjectKey& key, int64_t time_ms);
  // Ends the timer and sweeper fibers (Registry::Shutdown, via Post).
  void Stop();

 private:
  // The live object for `key`, created when needed; null when the loop is
  // at its cap of live objects and none of them is idle.
  Object* Get(const ObjectKey& key, size_t home);
  bool EvictOneIdle();
  void Disarm(const ObjectKey& key);
  void RearmFromDisk(Object& o);
  void EnterGate(Object& o);
  void LeaveGate(Object& o);
  void WaitDurable(Object& o, Object::Waiter& w);
  void MarkDirty(Object& o);
  void Flush();
  bool AnyDirtyObjectBusy() const;
  void Committed(Object& o, uint64_t mark);
  void CommitFailed(Object& o, const Status& s);
  void ResetIfFailed(Object& o);
  void AfterTurn(Object& o);
  void TimerLoop();
  void FireAlarm(const ObjectKey& key, int64_t time_ms);
  Status AlarmTurn(Object& o, int64_t time_ms);
  void SweepLoop();
  // Whether `o` may be evicted: nothing running, queued or unflushed; and
  // idle for the timeout unless `any_age`.
  bool Idle(const Object& o, int64_t now, bool any_age = false) const;

  Registry* const reg_;
  sched::Scheduler* const sched_;
  std::map<ObjectKey, std::unique_ptr<Object>> objects_;
  // The flusher: objects whose storage has writes not yet handed to a commit.
  std::vector<Object*> dirty_;
  bool flushing_ = false;
  // Alarms: one entry per object, (Unix ms, object), earliest first, with
  // armed_ mapping each object to its entry's time. An entry can still be
  // stale (the alarm changed in a turn that has not ended); AlarmTurn checks.
  using Armed = std::pair<int64_t, ObjectKey>;
  std::set<Armed> alarms_;
  std::map<ObjectKey, int64_t> armed_;
  sched::WaitQueue timer_;  // the timer fiber sleeps here until the next alarm
  sched::WaitQueue sweep_;  // the sweeper sleeps here between sweeps
  bool timer_running_ = false;
  bool sweeper_running_ = false;
  bool stopped_ = false;
};

namespace {

// How long the flusher lets ready turns run before it commits (rule 3's
// group commit): at most this many yields while an object it will commit
// still has turns queued. Each yield lets every ready fiber run once; 64
// bounds the extra latency of the first turn of a round to 64 turns.
constexpr int kMaxGatherYields = 64;

// The timer sleeps at most this long before it looks again: an alarm years
// away must not make a wait whose microseconds overflow.
constexpr int64_t kMaxTimerWaitMs = 3'600'000;

}  // namespace

Object* HomeLoop::Get(const ObjectKey& key, size_t home) {
  auto it = objects_.find(key);
  if (it != objects_.end()) return it->second.get();
  if (objects_.size() >= reg_->max_live_per_home_ && !EvictOneIdle()) return nullptr;
  auto o = std::unique_ptr<Object>(new Object(reg_->backend_, key, home));
  Object* ref = o.get();
  objects_.emplace(key, std::move(o));
  reg_->live_++;
  if (!sweeper_running_ && !stopped_) {
    sweeper_running_ = true;
    sched_->Spawn([this] { SweepLoop(); });
  }
  return ref;
}

// At the cap: the least recently used idle object makes room (a scan, only
// when full: an idle object costs an isolate, which is what the cap bounds).
bool HomeLoop::EvictOneIdle() {
  const int64_t now = sched_->NowMicros();
  auto victim = objects_.end();
  for (auto it = objects_.begin(); it != objects_.end(); ++it) {
    if (!Idle(*it->second, now, /*any_age=*/true)) continue;
    if (victim == objects_.end() ||
        it->second->last_used_micros_ < victim->second->last_used_micros_) {
      victim = it;
    }
  }
  if (victim == objects_.end()) return false;
  objects_.erase(victim);
  reg_->live_--;
  reg_->evictions_++;
  return true;
}

// Rule 2: the mailbox. A finishing turn hands the object straight to the
// longest waiter, so `busy_` never drops in between and no later arrival can
// overtake.
void HomeLoop::EnterGate(Object& o) {
  if (!o.busy_) {
    o.busy_ = true;
    return;
  }
  Object::Waiter w;
  w.fiber = sched_->Current();
  o.mailbox_.push_back(&w);
  sched_->Suspend();
}

void HomeLoop::LeaveGate(Object& o) {
  o.last_used_micros_ = sched_->NowMicros();
  if (o.mailbox_.empty()) {
    o.busy_ = false;
    return;
  }
  Object::Waiter* next = o.mailbox_.front();
  o.mailbox_.pop_front();
  sched_->Wake(next->fiber);
}

Status HomeLoop::RunTurn(const ObjectKey& key, size_t home,
                         const std::function<void(Object&)>& turn) {
  Object* live = Get(key, home);
  if (live == nullptr) {
    return Status::Unavailable("too many live Durable Objects on this thread (" +
                               std::to_string(objects_.size()) +
                               ", [durable_objects] max_live_objects) and none is idle");
  }
  Object& o = *live;
  EnterGate(o);
  const uint64_t failures = o.failed_commits_;
  reg_->turns_++;
  o.in_turn_ = true;
  turn(o);
  o.in_turn_ = false;
  if (o.storage_.in_transaction()) (void)o.storage_.RollbackTransaction();
  const bool failed = o.failed_commits_ != failures;
  if (failed) ResetIfFailed(o);
  AfterTurn(o);
  Object::Waiter w;
  w.mark = o.storage_.written();
  LeaveGate(o);
  if (failed)
    return Status::IOError(key.ToString() + ": storage write failed; the object was reset");
  if (w.mark > o.durable_) WaitDurable(o, w);
  return w.status;
}

// A commit failed while this turn ran: what it did may build on writes that
// are lost. Drop it too and start the object over from the disk.
void HomeLoop::ResetIfFailed(Object& o) {
  o.storage_.Reset();
  o.durable_ = o.storage_.written();
  o.ResetInstance();
  RearmFromDisk(o);
}

// After a reset, memory forgot the alarm, and the timer's entry may belong to
// an alarm change that was lost: the disk decides (rule 4's "at least once").
void HomeLoop::RearmFromDisk(Object& o) {
  Result<std::optional<int64_t>> stored = o.storage_.GetAlarm();
  if (!stored.ok()) {
    Arm(o.key_, sched_->WallMillis() + reg_->options_.alarm_retry_ms);  // look again later
  } else if (*stored) {
    Arm(o.key_, **stored);
  } else {
    Disarm(o.key_);
  }
}

// Rule 4: keeps the alarm timer in step with the alarm the turn left.
void HomeLoop::AfterTurn(Object& o) {
  // An alarm this object never read, set or deleted is as armed at Start (or
  // by an earlier life of the object): nothing to change.
  if (!o.storage_.alarm_known()) return;
  int64_t alarm = o.storage_.known_alarm().value_or(0);
  // Retries count for the alarm the registry set to retry, only: one deleted
  // or replaced by a turn starts over (a new alarm gets retries of its own).
  if (alarm != o.retry_alarm_ms_) {
    o.alarm_retries_ = 0;
    o.retry_alarm_ms_ = 0;
  }
  auto armed = armed_.find(o.key_);
  if (alarm == (armed == armed_.end() ? 0 : armed->second)) return;
  if (alarm > 0) {
    Arm(o.key_, alarm);
  } else {
    Disarm(o.key_);
  }
}

void HomeLoop::WaitDurable(Object& o, Object::Waiter& w) {
  if (o.storage_.has_unflushed()) MarkDirty(o);
  w.fiber = sched_->Current();
  o.gate_.push_back(&w);
  sched_->Suspend();
}

void HomeLoop::MarkDirty(Object& o) {
  if (!o.dirty_) {
    o.dirty_ = true;
    dirty_.push_back(&o);
  }
  if (flushing_) return;
  flushing_ = true;
  sched_->Spawn([this] { Flush(); });
}

bool HomeLoop::AnyDirtyObjectBusy() const {
  return std::any_of(dirty_.begin(), dirty_.end(),
                     [](const Object* o) { return o->busy_ && !o->mailbox_.empty(); });
}

// The flusher fiber: one Backend::Commit per round for every object of this
// loop that wrote since the last round. Commit runs on this thread (SQLite in
// WAL mode with synchronous=NORMAL: tens of microseconds, no fsync, except
// that about every 1000 pages a commit also checkpoints, which syncs); while
// it runs no other fiber of the loop does, so nothing is added mid-round. A
// checkpoint off the loop threads is deferred until a profile shows it.
void HomeLoop::Flush() {
  while (!dirty_.empty()) {
    for (int i = 0; i < kMaxGatherYields && AnyDirtyObjectBusy(); ++i) sched_->SleepFor(0);
    std::vector<Object*> round;
    round.swap(dirty_);
    std::vector<ObjectBatch> batches;
    std::vector<uint64_t> marks;
    for (Object* o : round) {
      o->dirty_ = false;
      if (!o->storage_.has_unflushed()) continue;
      batches.push_back(o->storage_.TakeUnflushed());
      marks.push_back(o->storage_.written());
    }
    if (batches.empty()) continue;
    Status s = reg_->backend_->Commit(batches);
    if (s.ok()) reg_->commits_++;
    size_t i = 0;
    for (Object* o : round) {
      if (i >= batches.size() || !(batches[i].object == o->key_)) continue;
      if (s.ok()) {
        o->storage_.BatchCommitted();
        Committed(*o, marks[i]);
      } else {
        CommitFailed(*o, s);
      }
      ++i;
    }
  }
  flushing_ = false;
}

void HomeLoop::Committed(Object& o, uint64_t mark) {
  o.durable_ = std::max(o.durable_, mark);
  while (!o.gate_.empty() && o.gate_.front()->mark <= o.durable_) {
    Object::Waiter* w = o.gate_.front();
    o.gate_.pop_front();
    reg_->committed_turns_++;
    sched_->Wake(w->fiber);
  }
}

// Rule 3's failure path: every turn still waiting on this object's gate has
// writes in the failed batch or after it; all of them fail, and memory is
// dropped so the object starts again from the disk.
void HomeLoop::CommitFailed(Object& o, const Status& s) {
  if (reg_->log_) reg_->log_("error: durable object " + o.key_.ToString() + ": " + s.ToString());
  o.failed_commits_++;
  // A turn whose closure runs may be using the instance and the storage: its
  // storage fails from here on, and RunTurn resets both when it ends. Not
  // `busy_`: that also holds while the object is handed to the next turn in
  // the mailbox, whose fiber has not run yet and would then start with the
  // instance this failure condemned.
  if (o.in_turn_) {
    o.storage_.Break(Status::IOError(o.key_.ToString() + ": storage write failed: " + s.message()));
  } else {
    o.storage_.Reset();
    o.ResetInstance();
    RearmFromDisk(o);
  }
  o.durable_ = o.storage_.written();
  while (!o.gate_.empty()) {
    Object::Waiter* w = o.gate_.front();
    o.gate_.pop_front();
    w->status = Status::IOError(o.key_.ToString() + ": storage write failed: " + s.message());
    sched_->Wake(w->fiber);
  }
}

void HomeLoop::Arm(const ObjectKey& key, int64_t time_ms) {
  Disarm(key);
  bool earliest = alarms_.empty() || time_ms < alarms_.begin()->first;
  alarms_.emplace(time_ms, key);
  armed_[key] = time_ms;
  if (stopped_) return;
  if (!timer_running_) {
    timer_running_ = true;
    sched_->Spawn([this] { TimerLoop(); });
  } else if (earliest) {
    timer_.NotifyAll();  // it sleeps until a later alarm: look again
  }
}

void HomeLoop::Disarm(const ObjectKey& key) {
  auto it = armed_.find(key);
  if (it == armed_.end()) return;
  alarms_.erase({it->second, key});
  armed_.erase(it);
}

// Sleeps until the earliest alarm, fires what is due, and ends when no alarm
// is left (Arm starts it again) or at Stop.
void HomeLoop::TimerLoop() {
  while (!stopped_ && !alarms_.empty()) {
    auto [time_ms, key] = *alarms_.begin();
    int64_t wait_ms = time_ms - sched_->WallMillis();
    if (wait_ms > 0) {
      timer_.WaitUntil(sched_->NowMicros() + std::min(wait_ms, kMaxTimerWaitMs) * 1000);
      continue;
    }
    alarms_.erase(alarms_.begin());
    armed_.erase(key);
    sched_->Spawn([this, key = key, time_ms = time_ms] { FireAlarm(key, time_ms); });
  }
  timer_running_ = false;
}

void HomeLoop::FireAlarm(const ObjectKey& key, int64_t time_ms) {
  reg_->busy_++;
  struct Done {
    std::atomic<int64_t>& busy;
    ~Done() { busy--; }
  } done{reg_->busy_};
  Status result;
  Status s = RunTurn(key, reg_->HomeOf(key), [&](Object& o) { result = AlarmTurn(o, time_ms); });
  if (s.ok()) s = result;  // the turn's own failure (reading the alarm), else it is lost unseen
  if (!s.ok() && reg_->log_) {
    reg_->log_("error: durable object " + key.ToString() + ": alarm: " + s.ToString());
  }
}

// Inside the object's turn. A stale entry (the alarm moved, was deleted or
// already ran) does nothing: the current alarm has its own entry.
Status HomeLoop::AlarmTurn(Object& o, int64_t time_ms) {
  Storage& st = o.storage_;
  Result<std::optional<int64_t>> current = st.GetAlarm();
  int64_t now = sched_->WallMillis();
  if (!current.ok()) {
    // Not knowing is no reason to drop it: look again after a retry delay.
    Arm(o.key_, now + reg_->options_.alarm_retry_ms);
    return current.status();
  }
  if (!*current || **current != time_ms) return Status::OK();
  if (time_ms > now) {  // the wall clock stepped back since the timer woke
    Arm(o.key_, time_ms);
    return Status::OK();
  }
  EDGELAB_RETURN_IF_ERROR(st.DeleteAlarm());
  o.alarm_running_ = true;
  reg_->alarms_fired_++;
  Status handled = reg_->on_alarm_(o, o.alarm_retries_);
  o.alarm_running_ = false;
  o.retry_alarm_ms_ = 0;
  if (handled.ok() || st.known_alarm()) {
    // Done, or the handler set an alarm of its own before failing: that one
    // runs (with retries of its own) instead of a retry of this one.
    o.alarm_retries_ = 0;
    return Status::OK();
  }
  const RegistryOptions& opt = reg_->options_;
  std::string who = "durable object " + o.key_.ToString() + ": alarm";
  if (o.alarm_retries_ >= opt.alarm_max_retries) {
    if (reg_->log_)
      reg_->log_("error: " + who + " failed " + std::to_string(o.alarm_retries_ + 1) +
                 " times, giving up: " + handled.ToString());
    o.alarm_retries_ = 0;
    return Status::OK();
  }
  int64_t delay = opt.alarm_retry_ms << std::min(o.alarm_retries_, 30);
  o.alarm_retries_++;
  if (reg_->log_)
    reg_->log_("error: " + who + " failed (" + handled.ToString() + "), retry " +
               std::to_string(o.alarm_retries_) + " in " + std::to_string(delay) + " ms");
  o.retry_alarm_ms_ = now + delay;
  return st.SetAlarm(o.retry_alarm_ms_);
}

bool HomeLoop::Idle(const Object& o, int64_t now, bool any_age) const {
  // A pending alarm retry keeps the object: its retry count lives only here,
  // and the delays (alarm_retry_ms * 2^n) soon outgrow the idle timeout.
  return !o.busy_ && o.mailbox_.empty() && o.gate_.empty() && !o.alarm_running_ &&
         o.alarm_retries_ == 0 && !o.storage_.has_unflushed() &&
         o.durable_ == o.storage_.written() &&
         (any_age || now - o.last_used_micros_ >= reg_->options_.idle_timeout_ms * 1000);
}

// Rule 1's eviction: runs while the loop has objects, waking every half
// idle period (bounded to [10 ms, 1 s]) so an object lives at most 1.5 of
// them past its last turn.
void HomeLoop::SweepLoop() {
  const int64_t period_us =
      std::clamp<int64_t>(reg_->options_.idle_timeout_ms * 500, 10'000, 1'000'000);
  while (!stopped_ && !objects_.empty()) {
    sweep_.WaitUntil(sched_->NowMicros() + period_us);
    int64_t now = sched_->NowMicros();
    for (auto it = objects_.begin(); it != objects_.end();) {
      if (Idle(*it->second, now)) {
        it = objects_.erase(it);
        reg_->live_--;
        reg_->evictions_++;
      } else {
        ++it;
      }
    }
  }
  sweeper_running_ = false;
}

void HomeLoop::Stop() {
  stopped_ = true;
  timer_.NotifyAll();
  sweep_.NotifyAll();
}

Registry::Registry(Backend* backend, std::vector<sched::Scheduler*> homes, RegistryOptions options,
                   LogFn log)
    : backend_(backend), options_(options), log_(std::move(log)) {
  for (sched::Scheduler* s : homes) homes_.push_back(std::make_unique<HomeLoop>(this, s));
  if (options_.max_live_objects > 0) {
    max_live_per_home_ = std::max<size_t>(1, options_.max_live_objects / homes_.size());
  }
}

Registry::~Registry() = default;

size_t Registry::HomeOf(const ObjectKey& key) const {
  return std::hash<std::string>{}(key.ns + '\0' + key.id) % homes_.size();
}

Status Registry::Start(AlarmHandler on_alarm) {
  on_alarm_ = std::move(on_alarm);
  EDGELAB_ASSIGN_OR_RETURN(std::vector<StoredAlarm> alarms, backend_->Alarms());
  for (StoredAlarm& a : alarms) {
    HomeLoop* h = homes_[HomeOf(a.object)].get();
    h->sched()->Post([h, a = std::move(a)] { h->Arm(a.object, a.time_ms); });
  }
  return Status::OK();
}

Status Registry::Call(sched::Scheduler& caller, const ObjectKey& key, const ObjectKey* from,
                      std::function<void(Object&)> turn) {
  if (stopping_) return Status::Unavailable("shutting down");
  busy_++;
  struct Done {
    std::atomic<int64_t>& busy;
    ~Done() { busy--; }
  } done{busy_};
  bool waiting = false;
  if (from != nullptr) {
    EDGELAB_RETURN_IF_ERROR(EnterCall(*from, key));
    waiting = true;
    // `from` waits on `key` only until key's turn ends: after that it waits
    // for a commit, which needs no turn of anyone, so a call from key back to
    // `from` can no longer deadlock (rule 5 must not refuse it).
    turn = [this, from, &waiting, inner = std::move(turn)](Object& o) {
      inner(o);
      LeaveCall(*from);
      waiting = false;
    };
  }
  const size_t home = HomeOf(key);
  HomeLoop& h = *homes_[home];
  Status result;
  if (h.sched() == &caller && from == nullptr) {
    // A worker's call runs on its own fiber: one turn on top of one request.
    result = h.RunTurn(key, home, turn);
  } else if (h.sched() == &caller) {
    // A call from a turn gets a fiber of its own even on the same loop:
    // nested on the caller's stack, a chain of calls would overflow it.
    sched::Fiber* self = caller.Current();
    caller.Spawn([&] {
      result = h.RunTurn(key, home, turn);
      caller.Wake(self);
    });
    caller.Suspend();
  } else {
    // Run on a fiber of the home loop; the answer comes back through
    // caller.Post, which cannot run before we Suspend (this fiber holds the
    // caller's thread until then).
    sched::Fiber* self = caller.Current();
    h.sched()->Post([&] {
      h.sched()->Spawn([&] {
        Status s = h.RunTurn(key, home, turn);
        caller.Post([&, s] {
          result = s;
          caller.Wake(self);
        });
      });
    });
    caller.Suspend();
  }
  if (waiting) LeaveCall(*from);  // the turn never ran (shut down) or did not finish
  return result;
}

Status Registry::EnterCall(const ObjectKey& from, const ObjectKey& to) {
  std::lock_guard<std::mutex> lock(calls_mu_);
  std::string chain = from.ToString();
  const ObjectKey* cur = &to;
  // Each object waits on at most one other, so this is a walk down one chain;
  // it has at most waiting_on_.size() + 1 steps unless it loops back to
  // `from`, which is the cycle we look for.
  for (size_t steps = 0; steps <= waiting_on_.size() + 1; ++steps) {
    chain += " -> " + cur->ToString();
    if (*cur == from) {
      cycles_++;
      return Status::PreconditionFailed("call cycle: " + chain);
    }
    auto it = waiting_on_.find(*cur);
    if (it == waiting_on_.end()) break;
    cur = &it->second;
  }
  waiting_on_[from] = to;
  return Status::OK();
}

void Registry::LeaveCall(const ObjectKey& from) {
  std::lock_guard<std::mutex> lock(calls_mu_);
  waiting_on_.erase(from);
}

void Registry::Shutdown() {
  if (stopping_.exchange(true)) return;
  for (auto& h : homes_) {
    HomeLoop* loop = h.get();
    loop->sched()->Post([loop] { loop->Stop(); });
  }
}

RegistryStats Registry::stats() const {
  RegistryStats s;
  s.turns = turns_;
  s.commits = commits_;
  s.committed_turns = committed_turns_;
  s.evictions = evictions_;
  s.alarms_fired = alarms_fired_;
  s.cycles = cycles_;
  s.live_objects = live_;
  return s;
}

}  // namespace edgelab::objects
