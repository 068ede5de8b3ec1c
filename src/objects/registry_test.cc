// objects/registry_test.cc: the Registry against every rule of registry.h,
// on real fibers: one RealScheduler, or a LoopGroup of 2-4 loops for calls
// that cross threads, over the real MemoryBackend behind FaultBackend (which
// fails the Nth Commit and records every Commit's batches).
//
// How the tests wait: the main thread waits on a Countdown that fibers count
// down; fibers wait on WaitQueues of their own loop, woken by a Post from
// another loop when the event is on another thread. No test sleeps for an
// outcome to happen. Interleavings come from SleepFor(0) yields inside turns
// (a few turns also take a real wait of microseconds, so that the flusher or
// another loop runs meanwhile); a loop runs ready fibers in FIFO order, so a
// scripted scenario on one loop replays exactly. Nothing asserts how long
// anything took: alarm tests assert only "not before its time" and the order
// of events; eviction is observed through the evicted instance's destructor.
// A Countdown that waits over a minute aborts, naming what it waited for:
// that is a deadlock, not slowness.
//
// Two randomized tests check the registry against obviously correct models:
// a serial counter under failed commits (the fault loop, every N), and a
// per-object std::map replayed in the order the turns ran.
#include "objects/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "objects/backend.h"
#include "objects/storage.h"
#include "sched/clock.h"
#include "sched/real_scheduler.h"
#include "sched/scheduler.h"

namespace edgelab::objects {

// For gtest's messages; ADL finds it here, beside ObjectKey.
void PrintTo(const ObjectKey& key, std::ostream* os) { *os << key.ToString(); }

namespace {

using sched::Scheduler;

#define EXPECT_OK(expr)                                     \
  do {                                                      \
    ::edgelab::Status s_ = (expr);                          \
    EXPECT_TRUE(s_.ok()) << #expr << ": " << s_.ToString(); \
  } while (0)

// ---- Fakes and helpers ----

// The real MemoryBackend, with Commit failing on chosen calls (1-based; a
// failed Commit writes nothing) and every successful Commit's batches kept in
// the order they reached the disk.
class FaultBackend final : public Backend {
 public:
  // Call before the registry runs.
  void FailCommits(std::set<uint64_t> calls) { fail_ = std::move(calls); }
  // The next `n` GetAlarm calls fail with kIOError.
  void FailAlarmReads(int n) { alarm_read_failures_ = n; }

  Result<std::optional<std::string>> Get(const ObjectKey& object, std::string_view key) override {
    return disk_.Get(object, key);
  }
  Result<KeyValues> List(const ObjectKey& object, const ListOptions& opts) override {
    return disk_.List(object, opts);
  }
  Result<std::optional<int64_t>> GetAlarm(const ObjectKey& object) override {
    if (alarm_read_failures_.fetch_sub(1) > 0)
      return Status::IOError("injected alarm read failure");
    return disk_.GetAlarm(object);
  }
  Result<std::vector<StoredAlarm>> Alarms() override { return disk_.Alarms(); }
  Status Commit(const std::vector<ObjectBatch>& batches) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (fail_.contains(calls_)) {
      ++failed_;
      return Status::IOError("injected failure of commit " + std::to_string(calls_));
    }
    // Under mu_, so committed_ lists the commits in the order the disk saw them.
    Status s = disk_.Commit(batches);
    if (s.ok()) committed_.push_back(batches);
    return s;
  }
  Status Flush() override { return Status::OK(); }

  uint64_t calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  uint64_t failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }
  std::vector<std::vector<ObjectBatch>> committed() {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_;
  }
  // The store under the wrapper, for reads that must not count and for
  // writes made before a registry exists.
  MemoryBackend& disk() { return disk_; }

 private:
  MemoryBackend disk_;
  std::mutex mu_;
  std::set<uint64_t> fail_;  // fixed while the registry runs
  std::atomic<int> alarm_read_failures_{0};
  uint64_t calls_ = 0, failed_ = 0;
  std::vector<std::vector<ObjectBatch>> committed_;
};

struct InstanceCounts {
  std::atomic<int> made{0}, destroyed{0};
};

// Shared with the test: an object may outlive the test body (until the
// registry goes), and so may its instance.
using Counts = std::shared_ptr<InstanceCounts>;

// The runtime's instance, as far as the registry can tell: it counts
// itself made and destroyed; `epoch` is what the test was counting when it
// was made (failed commits, say); `on_destroy` runs in the destructor, on the
// object's home loop.
class CountingInstance final : public Instance {
 public:
  CountingInstance(Counts counts, uint64_t epoch, std::function<void()> on_destroy = {})
      : counts_(std::move(counts)), epoch_(epoch), on_destroy_(std::move(on_destroy)) {
    counts_->made++;
  }
  ~CountingInstance() override {
    counts_->destroyed++;
    if (on_destroy_) on_destroy_();
  }
  uint64_t epoch() const { return epoch_; }

 private:
  const Counts counts_;
  const uint64_t epoch_;
  const std::function<void()> on_destroy_;
};

CountingInstance* InstanceOf(Object& o) {
  return static_cast<CountingInstance*>(o.instance().get());
}

// The main thread's wait for `n` events on any threads. Waiting a minute
// means a deadlock: it aborts naming the wait instead of hanging the suite.
class Countdown {
 public:
  explicit Countdown(int n) : left_(n) {}
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--left_ == 0) cv_.notify_all();
  }
  void Wait(const std::string& what) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::minutes(1), [this] { return left_ <= 0; })) {
      std::fprintf(stderr, "registry_test: deadlock: %s never happened (%d left)\n", what.c_str(),
                   left_);
      std::abort();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_;
};

// A fiber's wait, on its own loop, for `n` fibers of that loop.
class FiberCount {
 public:
  FiberCount(Scheduler& s, int n) : q_(&s), left_(n) {}
  void Done() {
    if (--left_ == 0) q_.NotifyAll();
  }
  void Wait() {
    while (left_ > 0) q_.Wait();
  }

 private:
  sched::WaitQueue q_;
  int left_;
};

ObjectKey Key(const std::string& id) { return ObjectKey{"Test", id}; }

std::optional<std::string> Read(Object& o, const std::string& k) {
  auto v = o.storage().Get(k);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : std::nullopt;
}

int64_t WallMillis() { return sched::SystemClock()->WallMillis(); }

// ---- Fixture ----

class RegistryTest : public ::testing::Test {
 protected:
  ~RegistryTest() override { End(); }

  // Builds `n` loops and a registry over them (loop i is home i) and
  // backend_, starts the registry (alarms go to on_alarm_) and the loops.
  void Begin(size_t n, RegistryOptions options = {}) {
    loops_ = std::make_unique<sched::LoopGroup>(n);
    std::vector<Scheduler*> homes;
    for (size_t i = 0; i < n; ++i) homes.push_back(&loops_->loop(i));
    reg_ = std::make_unique<Registry>(backend_.get(), homes, options,
                                      [this](const std::string& line) { Log(line); });
    Status s = reg_->Start(
        [this](Object& o, int retry) { return on_alarm_ ? on_alarm_(o, retry) : Status::OK(); });
    ASSERT_TRUE(s.ok()) << s.ToString();
    loops_->Start();
  }

  // Shuts the registry down, waits for its calls and alarm turns to finish
  // (as serve does), and stops the loops (idempotent).
  void End() {
    if (reg_) {
      reg_->Shutdown();
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
      while (reg_->busy() > 0) {
        if (std::chrono::steady_clock::now() > give_up) {
          std::fprintf(stderr, "registry_test: deadlock: calls still busy at shutdown\n");
          std::abort();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (loops_) loops_->Stop();
  }

  // End, then a fresh backend, for the next round of a fault loop.
  void Restart() {
    End();
    loops_.reset();
    reg_.reset();
    backend_ = std::make_unique<FaultBackend>();
    on_alarm_ = nullptr;
  }

  sched::RealScheduler& Loop(size_t i) { return loops_->loop(i); }
  // The object's home loop: the scheduler its turns run on.
  Scheduler& Home(const Object& o) { return loops_->loop(o.home()); }

  // Runs `fn` on a new fiber of loop `i`; `done` counts it when it returns.
  void Go(size_t i, Countdown& done, std::function<void(Scheduler&)> fn) {
    sched::RealScheduler* s = &Loop(i);
    s->Post([s, &done, fn = std::move(fn)] {
      s->Spawn([s, &done, fn] {
        fn(*s);
        done.Done();
      });
    });
  }

  // Calls `key` from a worker fiber (from == null) on loop `i`; waits.
  Status CallFrom(size_t i, const ObjectKey& key, std::function<void(Object&)> turn) {
    Status result;
    Countdown done(1);
    Go(i, done, [&](Scheduler& s) { result = reg_->Call(s, key, nullptr, turn); });
    done.Wait("a call to " + key.ToString());
    return result;
  }

  // A key whose home is loop `home`, learnt from calls (rule 1: the home is
  // fixed by the key). Each probe is a turn that writes nothing.
  ObjectKey KeyOnHome(const std::string& prefix, size_t home) {
    for (int n = 0; n < 1000; ++n) {
      ObjectKey key = Key(prefix + "-" + std::to_string(n));
      size_t h = 0;
      EXPECT_OK(CallFrom(0, key, [&](Object& o) { h = o.home(); }));
      if (h == home) return key;
    }
    ADD_FAILURE() << "no key of 1000 lives on loop " << home;
    return Key(prefix);
  }

  std::optional<std::string> OnDisk(const ObjectKey& key, const std::string& k) {
    auto v = backend_->disk().Get(key, k);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::nullopt;
  }
  std::optional<int64_t> AlarmOnDisk(const ObjectKey& key) {
    auto v = backend_->disk().GetAlarm(key);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::nullopt;
  }

  void Log(const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mu_);
    log_.push_back(line);
    log_cv_.notify_all();
  }
  // Waits for a log line containing `part` (a minute means it never comes).
  void WaitForLog(const std::string& part) {
    std::unique_lock<std::mutex> lock(log_mu_);
    auto seen = [&] {
      return std::any_of(log_.begin(), log_.end(),
                         [&](const std::string& l) { return l.find(part) != std::string::npos; });
    };
    if (!log_cv_.wait_for(lock, std::chrono::minutes(1), seen)) {
      std::fprintf(stderr, "registry_test: deadlock: no log line with \"%s\"\n", part.c_str());
      std::abort();
    }
  }
  std::vector<std::string> LogLines() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_;
  }

  // Declared in destruction order's reverse: the loops (stopped by End()
  // in the destructor) go first, then the registry, then what it uses.
  std::unique_ptr<FaultBackend> backend_ = std::make_unique<FaultBackend>();
  std::mutex log_mu_;
  std::condition_variable log_cv_;
  std::vector<std::string> log_;                  // guarded by log_mu_
  std::function<Status(Object&, int)> on_alarm_;  // set before Begin
  std::unique_ptr<Registry> reg_;
  std::unique_ptr<sched::LoopGroup> loops_;
};

// ---- Rules 1 and 2: one object per key, one turn at a time ----

TEST_F(RegistryTest, AThousandConcurrentCallsFromFourLoopsRunOneAtATimeInOneObject) {
  Begin(4);
  const ObjectKey key = Key("hot");
  constexpr int kCalls = 1000;
  std::atomic<int> inside{0}, overlaps{0}, other_objects{0}, failed{0};
  std::atomic<Object*> object{nullptr};
  Countdown done(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    Go(i % 4, done, [&, i](Scheduler& caller) {
      Status s = reg_->Call(caller, key, nullptr, [&, i](Object& o) {
        Object* first = nullptr;
        if (!object.compare_exchange_strong(first, &o) && first != &o) other_objects++;
        if (++inside != 1) overlaps++;
        Scheduler& home = Home(o);
        // A read-modify-write with yields in the middle: any overlap of two
        // turns would lose an update of "n".
        std::optional<std::string> n = Read(o, "n");
        home.SleepFor(0);
        if (i % 7 == 0) home.SleepFor(50 + i % 100);  // a small real wait
        if (inside != 1) overlaps++;
        EXPECT_OK(o.storage().Put("n", std::to_string(n ? std::stoi(*n) + 1 : 1)));
        home.SleepFor(0);
        if (inside != 1) overlaps++;
        --inside;
      });
      if (!s.ok()) failed++;
    });
  }
  done.Wait("a thousand calls");
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(other_objects, 0);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(OnDisk(key, "n"), "1000");
  RegistryStats st = reg_->stats();
  EXPECT_EQ(st.live_objects, 1u);
  EXPECT_EQ(st.turns, 1000u);
}

TEST_F(RegistryTest, ATurnWaitingForATurnOfAnotherObjectOnTheSameLoopDoesNotDeadlock) {
  Begin(1);
  sched::WaitQueue b_ran(&Loop(0));
  bool b_done = false;  // loop 0 only
  std::vector<std::string> events;
  Countdown done(2);
  Go(0, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, Key("A"), nullptr, [&](Object&) {
      events.push_back("A waits");
      while (!b_done) b_ran.Wait();
      events.push_back("A resumes");
    }));
  });
  Go(0, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, Key("B"), nullptr, [&](Object&) {
      events.push_back("B runs");
      b_done = true;
      b_ran.NotifyAll();
    }));
  });
  done.Wait("A's turn, waiting on B's");
  EXPECT_EQ(events, (std::vector<std::string>{"A waits", "B runs", "A resumes"}));
}

TEST_F(RegistryTest, TurnsOfObjectsOnDifferentLoopsRunAtTheSameTime) {
  Begin(2);
  const ObjectKey a = KeyOnHome("a", 0), b = KeyOnHome("b", 1);
  sched::WaitQueue b_ran(&Loop(0));
  bool b_done = false;  // loop 0 only
  Countdown done(2);
  // A's turn (loop 0) waits until B's turn (loop 1) tells it, through a Post
  // to loop 0, that it ran: B must run while A's turn is still open.
  Go(0, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, a, nullptr, [&](Object&) {
      while (!b_done) b_ran.Wait();
    }));
  });
  Go(1, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, b, nullptr, [&](Object&) {
      Loop(0).Post([&] {
        b_done = true;
        b_ran.NotifyAll();
      });
    }));
  });
  done.Wait("A's turn, waiting on B's");
}

// Rule 2's FIFO, for the four ways calls can arrive: from the home loop or
// from another one, all at once while a blocker holds the object, or spaced
// out by yields while turns of their own yield too.
TEST_F(RegistryTest, CallsRunInArrivalOrderFromTheHomeLoopOrAnotherAllAtOnceOrSpacedOut) {
  Begin(2);
  constexpr int kCalls = 40;
  int round = 0;
  for (bool cross : {false, true}) {
    for (bool spaced : {false, true}) {
      SCOPED_TRACE(std::string(cross ? "from another loop" : "from the home loop") +
                   (spaced ? ", spaced out" : ", all at once"));
      const ObjectKey key = KeyOnHome("order" + std::to_string(round++), 0);
      const size_t from = cross ? 1 : 0;
      std::vector<int> arrived;  // loop `from` only: the order of the Call()s
      std::vector<int> ran;      // loop 0 only
      sched::WaitQueue release(&Loop(0));
      bool all_arrived = false;  // loop 0 only
      std::mt19937 rng(round);
      Countdown done(1);
      Go(from, done, [&](Scheduler& s) {
        FiberCount finished(s, kCalls + 1);
        // The blocker holds the object until every call has arrived (all at
        // once), or just runs first (spaced out).
        s.Spawn([&] {
          EXPECT_OK(reg_->Call(s, key, nullptr, [&](Object&) {
            ran.push_back(-1);
            while (!spaced && !all_arrived) release.Wait();
          }));
          finished.Done();
        });
        for (int i = 0; i < kCalls; ++i) {
          const int yields = spaced ? static_cast<int>(rng() % 3) : 0;
          s.Spawn([&, i, yields] {
            arrived.push_back(i);
            EXPECT_OK(reg_->Call(s, key, nullptr, [&, i, yields](Object& o) {
              ran.push_back(i);
              for (int y = 0; y < yields; ++y) Home(o).SleepFor(0);
            }));
            finished.Done();
          });
          for (int y = 0; y < yields; ++y) s.SleepFor(0);
        }
        // Runs after every caller above has made its Call (FIFO): posted to
        // loop 0 behind their requests, it frees the blocker only once they
        // have all reached the mailbox (the blocker's call, counted in
        // `finished`, cannot end before this Post has run).
        if (!spaced) {
          s.Spawn([&] {
            Loop(0).Post([&] {
              all_arrived = true;
              release.NotifyAll();
            });
          });
        }
        finished.Wait();
      });
      done.Wait("the ordered calls");
      ASSERT_EQ(arrived.size(), static_cast<size_t>(kCalls));
      std::vector<int> want = {-1};
      want.insert(want.end(), arrived.begin(), arrived.end());
      EXPECT_EQ(ran, want);
    }
  }
}

// ---- Rule 3: the output gate ----

TEST_F(RegistryTest, WhenCallReturnsOkTheTurnsWritesAreAlreadyOnDisk) {
  Begin(3);
  constexpr int kCalls = 300;
  const std::vector<ObjectKey> keys = {Key("g0"), Key("g1"), Key("g2"), Key("g3"), Key("g4")};
  const int64_t far_alarm = WallMillis() + 3'600'000;
  std::atomic<int> not_durable{0};
  Countdown done(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    Go(i % 3, done, [&, i](Scheduler& caller) {
      const ObjectKey& key = keys[i % keys.size()];
      const std::string k = "w" + std::to_string(i), v = "v" + std::to_string(i);
      EXPECT_OK(reg_->Call(caller, key, nullptr, [&](Object& o) {
        Storage& st = o.storage();
        if (i % 3 == 0) {  // through a transaction
          EXPECT_OK(st.BeginTransaction());
          EXPECT_OK(st.Put(k, v));
          Home(o).SleepFor(0);
          EXPECT_OK(st.CommitTransaction());
        } else {
          EXPECT_OK(st.Put(k, v));
        }
        if (i % 10 == 0) EXPECT_OK(st.SetAlarm(far_alarm + i));
        if (i % 2 == 0) Home(o).SleepFor(0);
      }));
      // The caller checks at once, on its own thread.
      if (OnDisk(key, k) != v) not_durable++;
      if (i % 10 == 0 && !AlarmOnDisk(key).has_value()) not_durable++;
    });
  }
  done.Wait("the calls");
  EXPECT_EQ(not_durable, 0);
}

// On the home loop, so the reader's caller looks at the disk the moment
// Call returns, before any other fiber (the flusher) runs; the writer calls
// from another loop.
TEST_F(RegistryTest, AReadOnlyTurnThatReadAnUncommittedValueWaitsForItsCommit) {
  Begin(2);
  const ObjectKey key = KeyOnHome("reader", 0);
  sched::WaitQueue release(&Loop(0));
  bool writing = false, reader_arrived = false;  // loop 0 only
  bool saw_uncommitted = false;
  std::optional<std::string> read, on_disk_at_return;
  Countdown writer_done(1), reader_done(1);
  Go(1, writer_done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, key, nullptr, [&](Object& o) {
      EXPECT_OK(o.storage().Put("x", "1"));
      writing = true;
      release.NotifyAll();
      while (!reader_arrived) release.Wait();
    }));
  });
  Go(0, reader_done, [&](Scheduler& s) {
    while (!writing) release.Wait();
    s.Spawn([&] {  // runs once the reader below waits in the mailbox
      reader_arrived = true;
      release.NotifyAll();
    });
    EXPECT_OK(reg_->Call(s, key, nullptr, [&](Object& o) {
      read = Read(o, "x");
      saw_uncommitted = !OnDisk(key, "x").has_value();
    }));
    on_disk_at_return = OnDisk(key, "x");
  });
  writer_done.Wait("the writer");
  reader_done.Wait("the reader");
  EXPECT_EQ(read, "1");
  // The scenario: the reader ran after the writer's turn, before its commit.
  ASSERT_TRUE(saw_uncommitted) << "the writer's commit came before the reader's turn";
  EXPECT_EQ(on_disk_at_return, "1");
}

TEST_F(RegistryTest, ManyTurnsOfOneBusyObjectShareCommits) {
  Begin(2);
  const ObjectKey key = KeyOnHome("group", 0);
  constexpr int kCalls = 400;
  Countdown done(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    Go(i % 2, done, [&, i](Scheduler& caller) {
      EXPECT_OK(reg_->Call(caller, key, nullptr, [&, i](Object& o) {
        std::optional<std::string> n = Read(o, "n");
        EXPECT_OK(o.storage().Put("n", std::to_string(n ? std::stoi(*n) + 1 : 1)));
        EXPECT_OK(o.storage().Put("w" + std::to_string(i), "1"));
      }));
    });
  }
  done.Wait("the calls");
  EXPECT_EQ(OnDisk(key, "n"), std::to_string(kCalls));
  RegistryStats st = reg_->stats();
  EXPECT_GE(st.committed_turns, static_cast<uint64_t>(kCalls));
  EXPECT_LT(st.commits, st.committed_turns);
  EXPECT_LT(backend_->committed().size(), static_cast<size_t>(kCalls));
}

// ---- Rule 3: failed commits ----

// Scripted on one loop (FIFO makes it exact): f0's turn writes and ends,
// handing the object to f1; f0's commit is delayed by the flusher's gather
// (f2 is queued); f1 ends and hands the object to f2; the commit then fails
// before f2's fiber gets to run. f2 starts after the failure, so it must find
// the instance gone, though the object never stopped being "busy".
TEST_F(RegistryTest, ATurnHandedTheObjectJustBeforeItsCommitFailedStartsWithoutTheOldInstance) {
  backend_->FailCommits({1});
  Begin(1);
  const ObjectKey key = Key("handoff");
  Counts counts = std::make_shared<InstanceCounts>();
  Status st[3];
  bool saw_instance = true;
  uint64_t failures_at_start = 0;
  Countdown done(1);
  Go(0, done, [&](Scheduler& s) {
    FiberCount finished(s, 3);
    s.Spawn([&] {
      st[0] = reg_->Call(s, key, nullptr, [&](Object& o) {
        o.instance() = std::make_unique<CountingInstance>(counts, 0);
        EXPECT_OK(o.storage().Put("a", "1"));
        s.SleepFor(0);  // f1 and f2 arrive
      });
      finished.Done();
    });
    s.Spawn([&] {
      st[1] = reg_->Call(s, key, nullptr, [&](Object&) { s.SleepFor(0); });
      finished.Done();
    });
    s.Spawn([&] {
      st[2] = reg_->Call(s, key, nullptr, [&](Object& o) {
        failures_at_start = backend_->failed();
        saw_instance = o.instance() != nullptr;
        EXPECT_EQ(Read(o, "a"), std::nullopt);
      });
      finished.Done();
    });
    finished.Wait();
  });
  done.Wait("three calls");
  EXPECT_EQ(st[0].code(), Code::kIOError) << st[0].ToString();
  EXPECT_EQ(st[1].code(), Code::kIOError) << st[1].ToString();
  EXPECT_OK(st[2]);
  ASSERT_EQ(failures_at_start, 1u) << "the scenario did not arise: f2 ran before the failure";
  EXPECT_FALSE(saw_instance) << "the instance outlived the failed commit";
  EXPECT_EQ(counts->destroyed, 1);
  EXPECT_EQ(OnDisk(key, "a"), std::nullopt);
}

// The fault loop: fail commit N for N = 0 (none), 1, 2, ... until no run
// reaches commit N, several seeds each, callers on two loops arriving
// staggered. The model is a serial counter: turn i reads "n", yields, writes
// n+1 and, in the same step, its mark "n<i>" (a key of its own, so group
// commit's coalescing cannot hide it), yields or naps (a commit may take
// those writes while the turn waits), then writes its own "t<i>"; a quarter
// of the turns do it all in a transaction. A turn is "counted" when "n<i>"
// reached the disk (a recorded commit holds it). Then:
//   - each call is OK or kIOError, and a failed commit failed some call;
//   - "t<i>", the turn's last write, reached the disk exactly for OK turns
//     (the writes in and after a failed batch never land);
//   - every OK turn is counted; a failed one only if its turn was torn: its
//     "n" made it in a commit taken while it waited, its "t<i>" failed later
//     (storage.h: writes outside a transaction take effect one by one), and
//     never for a transaction, which is applied at once;
//   - the counted turns read 0, 1, 2, ... and "n" on disk is their number:
//     none read a value that did not become durable;
//   - a turn never starts with an instance made before the last failure;
//   - a final call reads what is on disk.
TEST_F(RegistryTest, FaultLoopFailingTheNthCommitLosesOnlyWritesInOrAfterTheFailedBatch) {
  constexpr int kTurns = 30;
  constexpr int kSeeds = 4;
  auto count_of = [](const std::optional<std::string>& n) { return n ? std::stoi(*n) : 0; };
  bool reached = true;  // some run of this N made at least N commits
  for (uint64_t fail_at = 0; reached && fail_at < 200; ++fail_at) {
    reached = fail_at == 0;
    for (int seed = 0; seed < kSeeds; ++seed) {
      SCOPED_TRACE("failing commit " + std::to_string(fail_at) + ", seed " + std::to_string(seed));
      Restart();
      if (fail_at > 0) backend_->FailCommits({fail_at});
      Begin(2);
      const ObjectKey key = KeyOnHome("fault", 0);
      Counts counts = std::make_shared<InstanceCounts>();
      std::vector<Status> status(kTurns);
      std::vector<int> read_n(kTurns, -1);
      std::vector<bool> in_txn(kTurns);
      std::atomic<int> stale_instances{0};
      Countdown done(kTurns);
      for (int i = 0; i < kTurns; ++i) {
        std::mt19937 rng(seed * 1000 + i);
        const int late = static_cast<int>(rng() % 4), y1 = static_cast<int>(rng() % 3),
                  y2 = static_cast<int>(rng() % 2), y3 = static_cast<int>(rng() % 2);
        const bool txn = rng() % 4 == 0, nap = rng() % 6 == 0;
        in_txn[i] = txn;
        Go(i % 2, done, [&, i, late, y1, y2, y3, txn, nap](Scheduler& caller) {
          for (int y = 0; y < late; ++y) caller.SleepFor(0);
          status[i] = reg_->Call(caller, key, nullptr, [&](Object& o) {
            Scheduler& home = Home(o);
            const uint64_t failures = backend_->failed();  // commits run on this loop
            if (CountingInstance* inst = InstanceOf(o)) {
              if (inst->epoch() != failures) stale_instances++;
            } else {
              o.instance() = std::make_unique<CountingInstance>(counts, failures);
            }
            Storage& st = o.storage();
            // Once a commit failed under this turn, its storage fails too
            // (Storage::Break): only then may an operation fail.
            auto expect_ok = [&](const Status& s) {
              if (backend_->failed() == failures) EXPECT_OK(s);
            };
            read_n[i] = count_of(Read(o, "n"));
            for (int y = 0; y < y1; ++y) home.SleepFor(0);
            if (txn) expect_ok(st.BeginTransaction());
            expect_ok(st.Put("n", std::to_string(read_n[i] + 1)));
            expect_ok(st.Put("n" + std::to_string(i), "1"));
            for (int y = 0; y < y2; ++y) home.SleepFor(0);
            if (nap) home.SleepFor(200);  // the flusher may find nothing queued and commit
            expect_ok(st.Put("t" + std::to_string(i), "1"));
            if (txn) expect_ok(st.CommitTransaction());
            for (int y = 0; y < y3; ++y) home.SleepFor(0);
          });
        });
      }
      done.Wait("the turns");

      std::set<std::string> committed;  // "key=value" of every write that reached the disk
      for (const auto& commit : backend_->committed()) {
        for (const ObjectBatch& b : commit) {
          for (const auto& w : b.writes) committed.insert(w.key + "=" + w.value.value_or(""));
        }
      }
      std::vector<int> counted_reads;
      int oks = 0;
      for (int i = 0; i < kTurns; ++i) {
        const std::string t = "t" + std::to_string(i);
        const bool counted = committed.contains("n" + std::to_string(i) + "=1");
        if (counted) counted_reads.push_back(read_n[i]);
        if (status[i].ok()) {
          ++oks;
          EXPECT_TRUE(counted) << "turn " << i << " returned OK but its n never reached the disk";
          EXPECT_EQ(OnDisk(key, t), "1") << t;
        } else {
          EXPECT_EQ(status[i].code(), Code::kIOError) << status[i].ToString();
          EXPECT_FALSE(committed.contains(t + "=1")) << t << " of a failed turn reached the disk";
          EXPECT_FALSE(counted && in_txn[i]) << "turn " << i << ": half a transaction landed";
        }
      }
      std::sort(counted_reads.begin(), counted_reads.end());
      for (size_t j = 0; j < counted_reads.size(); ++j) {
        EXPECT_EQ(counted_reads[j], static_cast<int>(j)) << "a turn read a value never durable";
      }
      EXPECT_EQ(count_of(OnDisk(key, "n")), static_cast<int>(counted_reads.size()));
      EXPECT_EQ(stale_instances, 0);
      if (fail_at > 0 && fail_at <= backend_->calls()) {
        reached = true;
        EXPECT_EQ(backend_->failed(), 1u);
        EXPECT_LT(oks, kTurns) << "a commit failed unnoticed";
      } else {
        EXPECT_EQ(oks, kTurns);
      }
      EXPECT_OK(CallFrom(1, key, [&](Object& o) {
        EXPECT_EQ(Read(o, "n"), OnDisk(key, "n"));
        CountingInstance* inst = InstanceOf(o);
        EXPECT_TRUE(inst == nullptr || inst->epoch() == backend_->failed());
      }));
    }
  }
}

TEST_F(RegistryTest, ATransactionLeftOpenAtTheEndOfATurnIsRolledBack) {
  Begin(1);
  const ObjectKey key = Key("txn");
  EXPECT_OK(CallFrom(0, key, [&](Object& o) {
    EXPECT_OK(o.storage().Put("kept", "1"));
    EXPECT_OK(o.storage().BeginTransaction());
    EXPECT_OK(o.storage().Put("dropped", "1"));
    EXPECT_OK(o.storage().Put("kept", "2"));
  }));
  EXPECT_EQ(OnDisk(key, "kept"), "1");
  EXPECT_EQ(OnDisk(key, "dropped"), std::nullopt);
  EXPECT_OK(CallFrom(0, key, [&](Object& o) {
    EXPECT_FALSE(o.storage().in_transaction());
    EXPECT_EQ(Read(o, "dropped"), std::nullopt);
    EXPECT_EQ(Read(o, "kept"), "1");
    EXPECT_OK(o.storage().BeginTransaction());  // no "already open"
    EXPECT_OK(o.storage().Put("committed", "1"));
    EXPECT_OK(o.storage().CommitTransaction());
  }));
  EXPECT_EQ(OnDisk(key, "committed"), "1");
  EXPECT_EQ(OnDisk(key, "dropped"), std::nullopt);
}

// ---- Rule 4: alarms ----

// What the alarm handler saw, from any loop.
struct Fired {
  ObjectKey key;
  int retry = 0;
  int64_t at_ms = 0;  // WallMillis when it ran
};

class AlarmLog {
 public:
  void Add(const Object& o, int retry) {
    std::lock_guard<std::mutex> lock(mu_);
    fired_.push_back({o.key(), retry, WallMillis()});
  }
  std::vector<Fired> All() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }
  std::vector<Fired> Of(const ObjectKey& key) {
    std::vector<Fired> out;
    for (const Fired& f : All()) {
      if (f.key == key) out.push_back(f);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Fired> fired_;
};

TEST_F(RegistryTest, AnAlarmRunsItsHandlerNotBeforeItsTimeWithTheAlarmAlreadyCleared) {
  AlarmLog log;
  Countdown fired(1);
  std::optional<int64_t> alarm_in_handler = -1;
  on_alarm_ = [&](Object& o, int retry) {
    log.Add(o, retry);
    auto a = o.storage().GetAlarm();
    alarm_in_handler = a.ok() ? *a : std::optional<int64_t>(-2);
    fired.Done();
    return Status::OK();
  };
  Begin(2);
  const ObjectKey key = Key("alarm");
  const int64_t at = WallMillis() + 30;
  EXPECT_OK(CallFrom(1, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(at)); }));
  EXPECT_EQ(AlarmOnDisk(key), at);  // durable when the call returned
  fired.Wait("the alarm");
  std::vector<Fired> f = log.All();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].key, key);
  EXPECT_EQ(f[0].retry, 0);
  EXPECT_GE(f[0].at_ms, at);
  EXPECT_EQ(alarm_in_handler, std::nullopt);
  // A call's return covers every write before its turn, the alarm's too.
  EXPECT_OK(CallFrom(0, key, [&](Object& o) {
    auto a = o.storage().GetAlarm();
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(*a, std::nullopt);
  }));
  EXPECT_EQ(AlarmOnDisk(key), std::nullopt);
  EXPECT_EQ(reg_->stats().alarms_fired, 1u);
  End();  // before the handler's captures go
}

// The retry's alarm times come from the commits: retry k is stored at
// S_k = now + retry_ms * 2^(k-1), where now >= S_(k-1) (the attempt that
// failed did not run before its time), so S_k - S_(k-1) >= the delay exactly.
TEST_F(RegistryTest, AFailingAlarmIsRetriedWithDoublingDelaysThenDroppedWithALogLine) {
  AlarmLog log;
  on_alarm_ = [&](Object& o, int retry) {
    log.Add(o, retry);
    return Status::Trap("handler failed on purpose");
  };
  RegistryOptions opt;
  opt.alarm_retry_ms = 5;
  opt.alarm_max_retries = 3;
  Begin(1, opt);
  const ObjectKey key = Key("retry");
  const int64_t at = WallMillis() + 10;
  EXPECT_OK(CallFrom(0, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(at)); }));
  WaitForLog("giving up");
  // The give-up turn's deletion is durable once a later call returns.
  EXPECT_OK(CallFrom(0, key, [](Object&) {}));
  EXPECT_EQ(AlarmOnDisk(key), std::nullopt);

  std::vector<Fired> f = log.Of(key);
  std::vector<int> retries;
  for (const Fired& x : f) retries.push_back(x.retry);
  EXPECT_EQ(retries, (std::vector<int>{0, 1, 2, 3}));
  std::vector<int64_t> set;  // every alarm time committed for the key
  for (const auto& commit : backend_->committed()) {
    for (const ObjectBatch& b : commit) {
      if (b.object == key && b.alarm == ObjectBatch::Alarm::kSet) set.push_back(b.alarm_ms);
    }
  }
  ASSERT_EQ(set.size(), 4u);  // the first alarm and three retries
  EXPECT_EQ(set[0], at);
  for (size_t k = 0; k < f.size() && k < set.size(); ++k) {
    EXPECT_GE(f[k].at_ms, set[k]) << "attempt " << k << " ran early";
  }
  for (size_t k = 1; k < set.size(); ++k) {
    EXPECT_GE(set[k] - set[k - 1], opt.alarm_retry_ms << (k - 1)) << "retry " << k;
  }
  EXPECT_EQ(reg_->stats().alarms_fired, 4u);
  End();
}

TEST_F(RegistryTest, AnAlarmThatSucceedsOnARetryStartsTheNextAlarmsRetriesAtZero) {
  AlarmLog log;
  Countdown finished(1);
  std::atomic<int> calls{0};
  on_alarm_ = [&](Object& o, int retry) {
    log.Add(o, retry);
    switch (++calls) {
      case 1:
      case 2:
        return Status::Trap("not yet");
      case 3:  // succeeds, and sets the next alarm, which fails once
        EXPECT_OK(o.storage().SetAlarm(WallMillis() + 5));
        return Status::OK();
      case 4:
        return Status::Trap("once");
      default:
        finished.Done();
        return Status::OK();
    }
  };
  RegistryOptions opt;
  opt.alarm_retry_ms = 5;
  Begin(1, opt);
  const ObjectKey key = Key("recover");
  EXPECT_OK(
      CallFrom(0, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(WallMillis() + 5)); }));
  finished.Wait("five alarm attempts");
  std::vector<int> retries;
  for (const Fired& x : log.Of(key)) retries.push_back(x.retry);
  End();
  EXPECT_EQ(retries, (std::vector<int>{0, 1, 2, 0, 1}));
}

// Rule 4 says the handler may set a new alarm; the time it picks may be the
// very time that just fired (a handler that re-arms "now" within the same
// millisecond): that alarm is new and must fire too.
// One loop, so the alarms due before the sentinel's fire before it.
TEST_F(RegistryTest, AnAlarmTheHandlerSetsFiresEvenAtTheTimeThatJustFired) {
  const ObjectKey key = Key("again"), sentinel = Key("sentinel");
  AlarmLog log;
  Countdown finished(1);
  std::atomic<int> calls{0};
  const int64_t at = WallMillis() + 10;
  on_alarm_ = [&](Object& o, int retry) {
    log.Add(o, retry);
    if (o.key() == sentinel) {
      finished.Done();
    } else if (++calls == 1) {
      EXPECT_OK(o.storage().SetAlarm(at));  // the time that just fired: due at once
    } else if (calls == 2) {
      EXPECT_OK(o.storage().SetAlarm(WallMillis() + 10));
    }
    return Status::OK();
  };
  Begin(1);
  EXPECT_OK(CallFrom(0, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(at)); }));
  EXPECT_OK(CallFrom(0, sentinel, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(at + 300)); }));
  finished.Wait("the sentinel alarm");
  End();
  std::vector<Fired> f = log.Of(key);
  ASSERT_EQ(f.size(), 3u) << "an alarm set by the handler was lost";
  for (const Fired& x : f) EXPECT_EQ(x.retry, 0);
  EXPECT_GE(f[0].at_ms, at);
  EXPECT_GE(f[1].at_ms, at);
}

// All on one loop, so alarms due together fire in time order. C is armed
// alone for an hour (the timer sleeps until then) and moved to the earliest
// time of all: the timer must wake for it. A is deleted, B moved later. D is
// the sentinel: when it fires, the old times of A and B have long passed.
TEST_F(RegistryTest, AnAlarmDeletedOrMovedBeforeItFiresDoesNotRunAtTheOldTime) {
  AlarmLog log;
  Countdown fired(3);  // C, B, D
  on_alarm_ = [&](Object& o, int retry) {
    log.Add(o, retry);
    fired.Done();
    return Status::OK();
  };
  Begin(1);
  const ObjectKey a = Key("deleted"), b = Key("later"), c = Key("earlier"), d = Key("sentinel");
  const int64_t t0 = WallMillis();
  auto set = [&](const ObjectKey& key, int64_t at) {
    EXPECT_OK(CallFrom(0, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(at)); }));
  };
  set(c, t0 + 3'600'000);
  set(c, t0 + 80);
  set(a, t0 + 100);
  set(b, t0 + 100);
  set(d, t0 + 250);
  EXPECT_OK(CallFrom(0, a, [&](Object& o) { EXPECT_OK(o.storage().DeleteAlarm()); }));
  set(b, t0 + 150);
  ASSERT_LT(WallMillis(), t0 + 80) << "setup outlived the first alarm time; nothing was tested";
  fired.Wait("the alarms of C, B and D");
  std::vector<Fired> all = log.All();
  std::vector<ObjectKey> order;
  for (const Fired& f : all) order.push_back(f.key);
  EXPECT_EQ(order, (std::vector<ObjectKey>{c, b, d}));
  const std::map<ObjectKey, int64_t> not_before = {{c, t0 + 80}, {b, t0 + 150}, {d, t0 + 250}};
  for (const Fired& f : all) EXPECT_GE(f.at_ms, not_before.at(f.key)) << f.key.ToString();
  EXPECT_EQ(AlarmOnDisk(a), std::nullopt);
  End();
}

TEST_F(RegistryTest, StartArmsTheStoredAlarmsAndOneAlreadyDueFiresAtOnce) {
  const ObjectKey due = Key("due"), later = Key("later");
  const int64_t now = WallMillis();
  ObjectBatch b1{due, {{"note", "stored"}}, ObjectBatch::Alarm::kSet, now - 60'000};
  ObjectBatch b2{later, {}, ObjectBatch::Alarm::kSet, now + 50};
  ASSERT_TRUE(backend_->disk().Commit({b1, b2}).ok());
  AlarmLog log;
  Countdown fired(2);
  std::optional<std::string> note;
  on_alarm_ = [&](Object& o, int retry) {
    if (o.key() == due) note = Read(o, "note");
    log.Add(o, retry);
    fired.Done();
    return Status::OK();
  };
  Begin(1);  // one loop: alarms due together fire in time order
  fired.Wait("both stored alarms");
  std::vector<Fired> f = log.All();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].key, due);  // at once, not after the later one
  EXPECT_EQ(f[1].key, later);
  EXPECT_GE(f[1].at_ms, now + 50);
  EXPECT_EQ(note, "stored");
  EXPECT_OK(CallFrom(0, due, [](Object&) {}));
  EXPECT_OK(CallFrom(0, later, [](Object&) {}));
  EXPECT_EQ(AlarmOnDisk(due), std::nullopt);
  EXPECT_EQ(AlarmOnDisk(later), std::nullopt);
  End();
}

TEST_F(RegistryTest, AStoredAlarmStillFiresAfterTurnsThatNeverTouchedIt) {
  // A turn that neither reads nor changes the alarm knows nothing of it: it
  // must leave the timer entry Start armed alone (it once disarmed it).
  const ObjectKey key = Key("untouched");
  const int64_t at = WallMillis() + 200;
  ASSERT_TRUE(backend_->disk().Commit({ObjectBatch{key, {}, ObjectBatch::Alarm::kSet, at}}).ok());
  Countdown fired(1);
  on_alarm_ = [&](Object&, int) {
    fired.Done();
    return Status::OK();
  };
  Begin(1);
  EXPECT_OK(CallFrom(0, key, [](Object& o) { EXPECT_OK(o.storage().Put("k", "v")); }));
  fired.Wait("the stored alarm after an unrelated turn");
  EXPECT_GE(WallMillis(), at);
}

// The alarm turn reads the alarm to see whether its timer entry is current;
// when that read fails, the failure must at least be logged, naming the
// object. (Whether the alarm should then be retried is for registry.h.)
TEST_F(RegistryTest, AnAlarmWhoseTimeCannotBeReadIsReportedNotSwallowed) {
  const ObjectKey key = Key("unreadable");
  ObjectBatch stored{key, {}, ObjectBatch::Alarm::kSet, WallMillis() - 1'000};
  ASSERT_TRUE(backend_->disk().Commit({stored}).ok());
  backend_->FailAlarmReads(1);
  on_alarm_ = [](Object&, int) {
    ADD_FAILURE() << "the handler ran without the alarm's time";
    return Status::OK();
  };
  Begin(1);
  WaitForLog("injected alarm read failure");
  End();
  bool named = false;
  for (const std::string& line : LogLines()) {
    if (line.find("injected alarm read failure") != std::string::npos) {
      named = line.find(key.ToString()) != std::string::npos;
    }
  }
  EXPECT_TRUE(named);
}

// The retries' delays (5, 10, 20, 40, 80 ms) outgrow the idle timeout, so
// the object is idle between attempts for longer than it may stay: the count
// of retries must still go 0..max and then stop.
TEST_F(RegistryTest, AlarmRetriesAreCountedToTheMaximumEvenWhenTheyOutlastTheIdleTimeout) {
  std::mutex mu;
  std::vector<int> retries;  // guarded by mu
  bool went_back = false;    // guarded by mu
  Countdown last(1);
  on_alarm_ = [&](Object&, int retry) {
    std::lock_guard<std::mutex> lock(mu);
    // A count that went back could go on for ever: stop the alarm instead.
    went_back = !retries.empty() && retry <= retries.back();
    retries.push_back(retry);
    if (went_back || retry == 5) last.Done();
    return went_back ? Status::OK() : Status::Trap("handler failed on purpose");
  };
  RegistryOptions opt;
  opt.idle_timeout_ms = 20;
  opt.alarm_retry_ms = 5;
  opt.alarm_max_retries = 5;
  Begin(1, opt);
  const ObjectKey key = Key("patient");
  EXPECT_OK(
      CallFrom(0, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(WallMillis() + 5)); }));
  last.Wait("the last retry, or a count that went back");
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(retries, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    if (went_back) return;
  }
  WaitForLog("giving up");
  EXPECT_OK(CallFrom(0, key, [](Object&) {}));
  EXPECT_EQ(AlarmOnDisk(key), std::nullopt);
  End();
}

// ---- Rule 1: eviction ----

TEST_F(RegistryTest, AnIdleObjectIsEvictedAndRecreatedFromStorageOnTheNextCall) {
  RegistryOptions opt;
  opt.idle_timeout_ms = 20;
  Begin(2, opt);
  const ObjectKey key = Key("idle");
  Counts counts = std::make_shared<InstanceCounts>();
  auto evicted = std::make_shared<Countdown>(1);
  EXPECT_OK(CallFrom(1, key, [&](Object& o) {
    o.instance() = std::make_unique<CountingInstance>(counts, 0, [evicted] { evicted->Done(); });
    EXPECT_OK(o.storage().Put("x", "kept"));
  }));
  evicted->Wait("the eviction of the idle object");
  EXPECT_OK(CallFrom(0, key, [&](Object& o) {
    // On the home loop, after the sweep that evicted it had finished.
    RegistryStats st = reg_->stats();
    EXPECT_EQ(st.evictions, 1u);
    EXPECT_EQ(st.live_objects, 1u);  // this one, new
    EXPECT_TRUE(o.instance() == nullptr);
    EXPECT_EQ(Read(o, "x"), "kept");
  }));
  EXPECT_EQ(counts->made, 1);
  EXPECT_EQ(counts->destroyed, 1);
}

// No clock: the turn of `busy` calls `clock`, then waits for `clock` to be
// evicted. `clock`'s turn ended after `busy`'s began, so the sweep that found
// `clock` idle for idle_timeout_ms saw `busy` in its turn for longer than
// that, and (one sweep looks at every object) passed it over.
TEST_F(RegistryTest, AnObjectWhoseTurnRunsLongerThanTheIdleTimeoutIsNotEvicted) {
  RegistryOptions opt;
  opt.idle_timeout_ms = 20;
  Begin(1, opt);
  const ObjectKey busy = Key("busy"), clock = Key("clock");
  Counts busy_counts = std::make_shared<InstanceCounts>();
  Counts clock_counts = std::make_shared<InstanceCounts>();
  sched::WaitQueue clock_gone(&Loop(0));
  bool gone = false;  // loop 0 only
  EXPECT_OK(CallFrom(0, busy, [&](Object& o) {
    o.instance() = std::make_unique<CountingInstance>(busy_counts, 0);
    EXPECT_OK(reg_->Call(Home(o), clock, &o.key(), [&](Object& c) {
      c.instance() = std::make_unique<CountingInstance>(clock_counts, 0, [&] {
        gone = true;
        clock_gone.NotifyAll();
      });
    }));
    while (!gone) clock_gone.Wait();
    EXPECT_EQ(reg_->stats().evictions, 1u);
    EXPECT_EQ(reg_->stats().live_objects, 1u);
    EXPECT_EQ(busy_counts->destroyed, 0);
    EXPECT_TRUE(o.instance() != nullptr);
  }));
  EXPECT_EQ(clock_counts->destroyed, 1);
}

// ---- Rule 5: call cycles ----

TEST_F(RegistryTest, ACallBackToTheCallerFailsAtOnceNamingTheCycle) {
  Begin(3);
  const ObjectKey a = Key("A"), b = Key("B");
  Status inner;
  bool inner_ran = false;
  EXPECT_OK(CallFrom(0, a, [&](Object& oa) {
    EXPECT_OK(reg_->Call(Home(oa), b, &oa.key(), [&](Object& ob) {
      inner = reg_->Call(Home(ob), a, &ob.key(), [&](Object&) { inner_ran = true; });
    }));
  }));
  EXPECT_EQ(inner.code(), Code::kPreconditionFailed) << inner.ToString();
  EXPECT_NE(inner.message().find("call cycle"), std::string::npos) << inner.message();
  EXPECT_NE(inner.message().find(a.ToString()), std::string::npos) << inner.message();
  EXPECT_NE(inner.message().find(b.ToString()), std::string::npos) << inner.message();
  EXPECT_FALSE(inner_ran);
  EXPECT_EQ(reg_->stats().cycles, 1u);
}

TEST_F(RegistryTest, AnObjectCallingItselfIsACycle) {
  Begin(2);
  const ObjectKey a = Key("self");
  Status inner;
  bool inner_ran = false;
  uint64_t turns_before = 0, turns_after = 0;
  EXPECT_OK(CallFrom(1, a, [&](Object& o) {
    turns_before = reg_->stats().turns;
    inner = reg_->Call(Home(o), a, &o.key(), [&](Object&) { inner_ran = true; });
    turns_after = reg_->stats().turns;
  }));
  EXPECT_EQ(inner.code(), Code::kPreconditionFailed) << inner.ToString();
  EXPECT_EQ(inner.message(), "call cycle: " + a.ToString() + " -> " + a.ToString());
  EXPECT_FALSE(inner_ran);
  EXPECT_EQ(turns_after, turns_before);  // nothing was queued
}

TEST_F(RegistryTest, AThreeObjectCycleIsRefusedAndTheRestOfTheChainCompletes) {
  Begin(3);
  const ObjectKey a = Key("c1"), b = Key("c2"), c = Key("c3");
  Status ab, bc, ca;
  EXPECT_OK(CallFrom(2, a, [&](Object& oa) {
    ab = reg_->Call(Home(oa), b, &oa.key(), [&](Object& ob) {
      bc = reg_->Call(Home(ob), c, &ob.key(), [&](Object& oc) {
        ca = reg_->Call(Home(oc), a, &oc.key(), [](Object&) { ADD_FAILURE() << "A re-entered"; });
        EXPECT_OK(oc.storage().Put("reached", "1"));
      });
    });
  }));
  EXPECT_OK(ab);
  EXPECT_OK(bc);
  EXPECT_EQ(ca.code(), Code::kPreconditionFailed) << ca.ToString();
  for (const ObjectKey& k : {a, b, c}) {
    EXPECT_NE(ca.message().find(k.ToString()), std::string::npos) << ca.message();
  }
  EXPECT_EQ(OnDisk(c, "reached"), "1");
}

TEST_F(RegistryTest, AChainWithoutACycleSucceedsAndLeavesNoEdgesBehind) {
  Begin(3);
  const ObjectKey a = Key("n1"), b = Key("n2"), c = Key("n3");
  EXPECT_OK(CallFrom(0, a, [&](Object& oa) {
    EXPECT_OK(reg_->Call(Home(oa), b, &oa.key(), [&](Object& ob) {
      EXPECT_OK(reg_->Call(Home(ob), c, &ob.key(),
                           [&](Object& oc) { EXPECT_OK(oc.storage().Put("from", "b")); }));
    }));
    // A calls C too, after B's call returned: C is free again.
    EXPECT_OK(reg_->Call(Home(oa), c, &oa.key(), [](Object&) {}));
  }));
  // The reverse directions, now that nothing is in flight.
  EXPECT_OK(CallFrom(
      1, b, [&](Object& ob) { EXPECT_OK(reg_->Call(Home(ob), a, &ob.key(), [](Object&) {})); }));
  EXPECT_OK(CallFrom(2, c, [&](Object& oc) {
    EXPECT_OK(reg_->Call(Home(oc), b, &oc.key(), [&](Object& ob) {
      EXPECT_OK(reg_->Call(Home(ob), a, &ob.key(), [](Object&) {}));
    }));
  }));
  EXPECT_EQ(reg_->stats().cycles, 0u);
  EXPECT_EQ(OnDisk(c, "from"), "b");
}

// A's turn and B's turn are both open (a barrier on one loop), then each
// calls the other: waiting both ways would deadlock, so exactly one of the
// two calls is refused, and the other runs once the refused side's turn ends.
TEST_F(RegistryTest, TwoObjectsCallingEachOtherAtOnceRefuseOneCallAndFinishTheOther) {
  Begin(1);
  const ObjectKey a = Key("x"), b = Key("y");
  sched::WaitQueue barrier(&Loop(0));
  int open = 0;  // loop 0 only
  Status ab, ba;
  Countdown done(2);
  auto both_open = [&] {
    if (++open == 2) barrier.NotifyAll();
    while (open < 2) barrier.Wait();
  };
  Go(0, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, a, nullptr, [&](Object& o) {
      both_open();
      ab = reg_->Call(s, b, &o.key(), [](Object&) {});
    }));
  });
  Go(0, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, b, nullptr, [&](Object& o) {
      both_open();
      ba = reg_->Call(s, a, &o.key(), [](Object&) {});
    }));
  });
  done.Wait("the two crossing calls");
  EXPECT_NE(ab.ok(), ba.ok()) << ab.ToString() << " / " << ba.ToString();
  const Status& refused = ab.ok() ? ba : ab;
  EXPECT_EQ(refused.code(), Code::kPreconditionFailed) << refused.ToString();
  EXPECT_EQ(reg_->stats().cycles, 1u);
}

TEST_F(RegistryTest, ACallerWaitingOnlyForTheCalleesCommitCanBeCalledBackWithoutACycle) {
  // A calls B; B's turn for A writes, so A then waits for B's commit, which
  // needs no turn of anyone. B's next turn (queued meanwhile) calls A: that
  // is no deadlock (it waits in A's mailbox until A's turn ends) and must not
  // be refused as a cycle.
  Begin(1);
  const ObjectKey a = Key("waits"), b = Key("callee");
  sched::WaitQueue queued(&Loop(0));
  bool second_queued = false;  // loop 0 only
  Status ab, ba;
  Countdown done(2);
  Go(0, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, a, nullptr, [&](Object& oa) {
      ab = reg_->Call(s, b, &oa.key(), [&](Object& ob) {
        while (!second_queued) queued.Wait();
        EXPECT_OK(ob.storage().Put("k", "v"));
      });
    }));
  });
  Go(0, done, [&](Scheduler& s) {
    s.SleepFor(0);  // let the first call reach B's turn
    EXPECT_OK(reg_->Call(s, b, nullptr,
                         [&](Object& ob) { ba = reg_->Call(s, a, &ob.key(), [](Object&) {}); }));
  });
  // The second call is in B's mailbox once it waits: release the first turn.
  Countdown released(1);
  Go(0, released, [&](Scheduler& s) {
    for (int i = 0; i < 3; ++i) s.SleepFor(0);
    second_queued = true;
    queued.NotifyAll();
  });
  released.Wait("the release");
  done.Wait("a call back into a caller that waits for a commit");
  EXPECT_OK(ab);
  EXPECT_OK(ba);
  EXPECT_EQ(reg_->stats().cycles, 0u);
}

TEST_F(RegistryTest, PastTheLiveObjectCapTheLeastRecentlyUsedIdleObjectMakesRoom) {
  RegistryOptions options;
  options.max_live_objects = 2;
  Begin(1, options);
  const ObjectKey a = Key("cap-a"), b = Key("cap-b"), c = Key("cap-c");
  EXPECT_OK(CallFrom(0, a, [](Object& o) { EXPECT_OK(o.storage().Put("k", "a")); }));
  EXPECT_OK(CallFrom(0, b, [](Object&) {}));
  EXPECT_OK(CallFrom(0, c, [](Object&) {}));  // a is the least recently used: it goes
  EXPECT_EQ(reg_->stats().live_objects, 2u);
  EXPECT_EQ(reg_->stats().evictions, 1u);
  std::optional<std::string> read;
  EXPECT_OK(CallFrom(0, a, [&](Object& o) { read = Read(o, "k"); }));  // back, from storage
  EXPECT_EQ(read, "a");
}

TEST_F(RegistryTest, WithEveryLiveObjectBusyANewObjectIsRefusedNotCreated) {
  RegistryOptions options;
  options.max_live_objects = 1;
  Begin(1, options);
  sched::WaitQueue hold(&Loop(0));
  bool release = false;  // loop 0 only
  Status second;
  Countdown done(2);
  Go(0, done, [&](Scheduler& s) {
    EXPECT_OK(reg_->Call(s, Key("busy"), nullptr, [&](Object&) {
      while (!release) hold.Wait();
    }));
  });
  Go(0, done, [&](Scheduler& s) {
    s.SleepFor(0);  // the first call is inside its turn now
    second = reg_->Call(s, Key("refused"), nullptr, [](Object&) { ADD_FAILURE() << "ran"; });
    release = true;
    hold.NotifyAll();
  });
  done.Wait("the two calls");
  EXPECT_EQ(second.code(), Code::kUnavailable) << second.ToString();
  EXPECT_NE(second.message().find("max_live_objects"), std::string::npos) << second.message();
}

TEST_F(RegistryTest, ALongChainOfCallsOnOneLoopRunsEachTurnOnItsOwnFiber) {
  // Nested on the caller's stack, a chain of calls on one loop overflowed
  // the fiber's stack and took the process down; each call now gets a fiber.
  Begin(1);
  constexpr int kDepth = 2000;
  std::function<void(Object&, int)> step = [&](Object& o, int depth) {
    if (depth == kDepth) {
      EXPECT_OK(o.storage().Put("bottom", "reached"));
      return;
    }
    EXPECT_OK(reg_->Call(Home(o), Key("chain-" + std::to_string(depth + 1)), &o.key(),
                         [&, depth](Object& next) { step(next, depth + 1); }));
  };
  EXPECT_OK(CallFrom(0, Key("chain-0"), [&](Object& o) { step(o, 0); }));
  EXPECT_EQ(OnDisk(Key("chain-" + std::to_string(kDepth)), "bottom"), "reached");
}

// ---- Shutdown ----

TEST_F(RegistryTest, AnAlarmWhoseTurnsCommitFailedFiresAgainFromTheDisk) {
  const ObjectKey key = Key("lost"), sentinel = Key("sentinel");
  AlarmLog log;
  Countdown sentinel_fired(1);
  on_alarm_ = [&](Object& o, int retry) {
    log.Add(o, retry);
    if (o.key() == sentinel)
      sentinel_fired.Done();
    else
      EXPECT_OK(o.storage().Put("work", "done"));  // an ordinary handler: some work, no re-arm
    return Status::OK();
  };
  backend_->FailCommits({3});  // 1: key's alarm, 2: sentinel's alarm, 3: key's alarm turn
  Begin(1);
  const int64_t t0 = WallMillis();
  EXPECT_OK(CallFrom(0, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(t0 + 30)); }));
  EXPECT_OK(CallFrom(0, sentinel, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(t0 + 400)); }));
  sentinel_fired.Wait("the sentinel alarm");
  End();
  EXPECT_EQ(backend_->failed(), 1u);
  // The failed commit lost the alarm turn's work and its deletion of the
  // alarm; the disk still held the overdue alarm, so it ran again.
  EXPECT_GE(log.Of(key).size(), 2u) << "an overdue stored alarm was never fired again";
  EXPECT_EQ(OnDisk(key, "work"), "done");
  EXPECT_EQ(AlarmOnDisk(key), std::nullopt);
}

TEST_F(RegistryTest, AnAlarmYearsAwayLeavesTheTimerAsleep) {
  Begin(1);
  const ObjectKey key = Key("far");
  EXPECT_OK(CallFrom(0, key, [&](Object& o) { EXPECT_OK(o.storage().SetAlarm(kMaxAlarmMs)); }));
  timespec a{}, b{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // CPU burnt while idle
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
  const double cpu_ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  End();
  EXPECT_LT(cpu_ms, 100.0) << "an idle registry burnt " << cpu_ms << " ms of CPU in 300 ms";
}

TEST_F(RegistryTest, ShutdownLetsATurnWaitingOnAnotherLoopFinish) {
  Begin(2);
  const ObjectKey a = KeyOnHome("caller", 0), b = KeyOnHome("callee", 1);
  End();
  // Fresh registry with the alarm handler that calls across loops.
  loops_.reset();
  reg_.reset();
  Countdown callee_started(1);
  std::atomic<bool> handler_returned{false};
  on_alarm_ = [&](Object& o, int) {
    if (!(o.key() == a)) return Status::OK();
    Status s = reg_->Call(Loop(0), b, &o.key(), [&](Object&) {
      callee_started.Done();
      Loop(1).SleepFor(100'000);  // the callee takes 100 ms
    });
    EXPECT_OK(o.storage().Put("after", "1"));
    handler_returned = true;
    return s;
  };
  ObjectBatch stored{a, {}, ObjectBatch::Alarm::kSet, WallMillis() - 1};
  ASSERT_TRUE(backend_->disk().Commit({stored}).ok());
  Begin(2);
  callee_started.Wait("the callee's turn");
  End();  // as serve: Shutdown, wait for busy() == 0, then stop the loops
  EXPECT_TRUE(handler_returned) << "the caller's turn was abandoned mid-call at shutdown";
  EXPECT_EQ(OnDisk(a, "after"), "1");
}

TEST_F(RegistryTest, AfterShutdownCallsAreRefusedQueuedTurnsFinishAndTheLoopsStop) {
  Begin(3);
  Counts counts = std::make_shared<InstanceCounts>();
  const int64_t far = WallMillis() + 3'600'000;
  for (size_t h = 0; h < 3; ++h) {
    EXPECT_OK(CallFrom(h, KeyOnHome("live" + std::to_string(h), h), [&](Object& o) {
      o.instance() = std::make_unique<CountingInstance>(counts, 0);
      EXPECT_OK(o.storage().SetAlarm(far));
    }));
  }
  // A turn open across Shutdown, and a call queued behind it.
  const ObjectKey key = KeyOnHome("queued", 0);
  sched::WaitQueue release(&Loop(0));
  bool released = false;  // loop 0 only
  Countdown arrived(1), done(1);
  Status first, second;
  Go(1, done, [&](Scheduler& s) {
    FiberCount finished(s, 2);
    s.Spawn([&] {
      first = reg_->Call(s, key, nullptr, [&](Object& o) {
        EXPECT_OK(o.storage().Put("first", "1"));
        while (!released) release.Wait();
      });
      finished.Done();
    });
    s.Spawn([&] {
      second = reg_->Call(s, key, nullptr,
                          [&](Object& o) { EXPECT_OK(o.storage().Put("second", "1")); });
      finished.Done();
    });
    s.Spawn([&] { arrived.Done(); });  // after both calls were made
    finished.Wait();
  });
  arrived.Wait("both calls made");
  reg_->Shutdown();
  Loop(0).Post([&] {
    released = true;
    release.NotifyAll();
  });
  done.Wait("the turns open at shutdown");
  EXPECT_OK(first);
  EXPECT_OK(second);
  EXPECT_EQ(OnDisk(key, "first"), "1");
  EXPECT_EQ(OnDisk(key, "second"), "1");

  Status after;
  Countdown refused(1);
  Go(2, refused, [&](Scheduler& s) {
    after = reg_->Call(s, key, nullptr, [](Object&) { ADD_FAILURE() << "ran after shutdown"; });
  });
  refused.Wait("a call after shutdown");
  EXPECT_EQ(after.code(), Code::kUnavailable) << after.ToString();
  reg_->Shutdown();  // idempotent
  // Armed far-future alarms, live objects and their sweepers must not keep
  // the loops alive: this returns (a hang would time the test out).
  loops_->Stop();
  EXPECT_EQ(counts->destroyed, 0);  // the objects live until the registry goes
  reg_.reset();
  EXPECT_EQ(counts->destroyed, 3);
}

// ---- A randomized workload against a per-object model ----

// One storage operation of a scripted turn, and what it observed.
struct Op {
  enum Kind { kPut, kDelete, kGet, kList, kYield } kind;
  std::string key, value;
};
struct TurnRecord {
  std::vector<Op> ops;
  enum Txn { kNone, kCommit, kRollback, kLeftOpen } txn = kNone;
  // What the turn saw: Get values, Delete's "existed", List results.
  std::vector<std::string> seen;
};

std::string Show(const std::optional<std::string>& v) { return v ? "=" + *v : "absent"; }
std::string Show(const KeyValues& kvs) {
  std::string s;
  for (const auto& [k, v] : kvs) s += k + "=" + v + ";";
  return s;
}

TurnRecord RandomTurn(std::mt19937& rng) {
  static const char* kKeys[] = {"a", "b", "c", "d", "e"};
  TurnRecord t;
  const int n = 1 + static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) {
    Op op{static_cast<Op::Kind>(rng() % 5), kKeys[rng() % 5], std::to_string(rng() % 100)};
    t.ops.push_back(op);
  }
  t.txn = static_cast<TurnRecord::Txn>(rng() % 4);
  return t;
}

// Runs `t` against `st`, recording what it sees into t.seen.
void Play(TurnRecord& t, Storage& st, Scheduler& home) {
  if (t.txn != TurnRecord::kNone) EXPECT_OK(st.BeginTransaction());
  for (const Op& op : t.ops) {
    switch (op.kind) {
      case Op::kPut:
        EXPECT_OK(st.Put(op.key, op.value));
        break;
      case Op::kDelete: {
        auto existed = st.Delete(op.key);
        t.seen.push_back(existed.ok() && *existed ? "existed" : "absent");
        break;
      }
      case Op::kGet: {
        auto v = st.Get(op.key);
        t.seen.push_back(v.ok() ? Show(*v) : v.status().ToString());
        break;
      }
      case Op::kList: {
        auto l = st.List({});
        t.seen.push_back(l.ok() ? Show(*l) : l.status().ToString());
        break;
      }
      case Op::kYield:
        home.SleepFor(0);
        break;
    }
  }
  if (t.txn == TurnRecord::kCommit) EXPECT_OK(st.CommitTransaction());
  if (t.txn == TurnRecord::kRollback) EXPECT_OK(st.RollbackTransaction());
}

// The same turn on the model: a map, and a copy of it for a transaction.
void Replay(const TurnRecord& t, std::map<std::string, std::string>& model,
            std::vector<std::string>& seen) {
  std::map<std::string, std::string> view = model;
  for (const Op& op : t.ops) {
    switch (op.kind) {
      case Op::kPut:
        view[op.key] = op.value;
        break;
      case Op::kDelete:
        seen.push_back(view.erase(op.key) ? "existed" : "absent");
        break;
      case Op::kGet: {
        auto it = view.find(op.key);
        seen.push_back(Show(it == view.end() ? std::nullopt : std::optional(it->second)));
        break;
      }
      case Op::kList:
        seen.push_back(Show(KeyValues(view.begin(), view.end())));
        break;
      case Op::kYield:
        break;
    }
  }
  if (t.txn == TurnRecord::kNone || t.txn == TurnRecord::kCommit) model = view;
}

// Turns of 4 objects from fibers on 3 loops, each a random script of puts,
// deletes, gets, lists and yields, maybe in a transaction that commits,
// rolls back or is left open. Each object's turns are recorded in the order
// they ran; replaying them on a std::map must reproduce every observation
// (rule 2: one turn at a time, each seeing all before it) and the disk's
// final content (rule 3). Each turn also writes its place in that order to
// "~seq", and its caller finds at least that on disk when the call returns.
TEST_F(RegistryTest, RandomTurnsOnFourObjectsAgreeWithASerialModelOfEach) {
  Begin(3);
  constexpr int kObjects = 4, kCalls = 600;
  std::vector<ObjectKey> keys;
  for (int i = 0; i < kObjects; ++i) keys.push_back(Key("model" + std::to_string(i)));
  std::vector<std::vector<TurnRecord>> history(kObjects);  // each on its object's home loop
  std::atomic<int> stale_returns{0};
  Countdown done(kCalls);
  std::mt19937 rng(20240611);
  for (int i = 0; i < kCalls; ++i) {
    const int obj = static_cast<int>(rng() % kObjects);
    TurnRecord script = RandomTurn(rng);
    Go(i % 3, done, [&, obj, script](Scheduler& caller) {
      int64_t place = -1;
      EXPECT_OK(reg_->Call(caller, keys[obj], nullptr, [&](Object& o) {
        place = static_cast<int64_t>(history[obj].size());
        EXPECT_OK(o.storage().Put("~seq", std::to_string(place)));
        TurnRecord t = script;
        Play(t, o.storage(), Home(o));
        history[obj].push_back(std::move(t));
      }));
      std::optional<std::string> seq = OnDisk(keys[obj], "~seq");
      if (!seq || std::stoll(*seq) < place) stale_returns++;
    });
  }
  done.Wait("the random calls");
  EXPECT_EQ(stale_returns, 0);
  for (int obj = 0; obj < kObjects; ++obj) {
    std::map<std::string, std::string> model;
    for (size_t p = 0; p < history[obj].size(); ++p) {
      const TurnRecord& t = history[obj][p];
      model["~seq"] = std::to_string(p);
      std::vector<std::string> want;
      Replay(t, model, want);
      ASSERT_EQ(t.seen, want) << keys[obj].ToString() << " turn " << p;
    }
    auto disk = backend_->disk().List(keys[obj], {});
    ASSERT_TRUE(disk.ok());
    EXPECT_EQ(*disk, KeyValues(model.begin(), model.end())) << keys[obj].ToString();
  }
}

}  // namespace
}  // namespace edgelab::objects
