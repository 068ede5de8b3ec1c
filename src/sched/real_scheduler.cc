// sched/real_scheduler.cc: fibers on an Asio loop.
//
// Every fiber switch goes through the loop: Resume() runs on the loop's own
// stack and switches into a fiber; the fiber switches back when it waits or
// ends. Fibers never switch directly to each other, so the order in which
// ready fibers run is the order of the loop's handler queue (FIFO), which is
// what WaitQueue's fairness and invariant (3) rely on. The fibers themselves
// (stacks, switches, ASan annotations) are fiber_stack.h's, shared with the
// simulation (sim_scheduler.cc).
#include "sched/real_scheduler.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <optional>

#include "base/status.h"
#include "sched/fiber_stack.h"

namespace edgelab::sched {

// A fiber and its timer (SleepUntil, SuspendUntil).
class RealFiber final : public Fiber {
 public:
  explicit RealFiber(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  // SuspendUntil: true while the timer may still resume the fiber; whoever
  // clears it (the timer or Wake) is the one that resumes it.
  // `wait_gen` tells the timer handler of an earlier wait (queued before
  // Wake cancelled it) from the current one.
  bool timed_wait = false;
  bool woken = false;  // how the last SuspendUntil ended
  uint64_t wait_gen = 0;
};

// The header names the pool without fiber_stack.h; it is the shared one.
struct RealScheduler::StackPool : internal::StackPool {
  using internal::StackPool::StackPool;
};

namespace {

RealFiber* Real(Fiber* f) { return static_cast<RealFiber*>(f); }

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class SystemClockImpl final : public Clock {
 public:
  int64_t WallMillis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Clock* SystemClock() {
  static SystemClockImpl clock;  // stateless: safe to share
  return &clock;
}

RealScheduler::RealScheduler(size_t stack_bytes)
    : io_(1), stacks_(std::make_unique<StackPool>(stack_bytes)), rng_(std::random_device{}()) {}

RealScheduler::~RealScheduler() {
  EDGELAB_CHECK(current_ == nullptr);
  for (Fiber* f : free_fibers_) delete Real(f);
}

int64_t RealScheduler::NowMicros() { return SteadyMicros(); }
int64_t RealScheduler::WallMillis() { return SystemClock()->WallMillis(); }
uint64_t RealScheduler::Random() { return rng_(); }

void RealScheduler::Spawn(std::function<void()> fn) {
  Fiber* f;
  if (!free_fibers_.empty()) {
    f = free_fibers_.back();
    free_fibers_.pop_back();
  } else {
    f = new RealFiber(io_);
  }
  f->Start(stacks_.get(), std::move(fn));
  ++live_fibers_;
  boost::asio::post(io_, [this, f] { Resume(f); });
}

void RealScheduler::Resume(Fiber* f) {
  EDGELAB_CHECK(current_ == nullptr);
  current_ = f;
  bool suspended = f->SwitchIn();
  current_ = nullptr;
  if (!suspended) {  // the fiber returned: its stack is already back in the pool
    --live_fibers_;
    free_fibers_.push_back(f);
  }
}

void RealScheduler::Post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

Fiber* RealScheduler::Current() { return current_; }

void RealScheduler::Suspend() {
  EDGELAB_CHECK(current_ != nullptr);
  current_->SwitchOut();
}

void RealScheduler::Wake(Fiber* fiber) {
  RealFiber* f = Real(fiber);
  if (f->timed_wait) {
    // The timer's handler may already be queued (expired, not yet run):
    // cancel() cannot stop it then, so it checks timed_wait and does nothing.
    f->timed_wait = false;
    f->woken = true;
    f->timer.cancel();
  }
  boost::asio::post(io_, [this, fiber] { Resume(fiber); });
}

bool RealScheduler::SuspendUntil(int64_t deadline_micros) {
  EDGELAB_CHECK(current_ != nullptr);
  RealFiber* f = Real(current_);
  f->timed_wait = true;
  f->woken = false;
  uint64_t gen = ++f->wait_gen;
  int64_t wait = std::max<int64_t>(0, deadline_micros - NowMicros());
  f->timer.expires_after(std::chrono::microseconds(wait));
  f->timer.async_wait([this, f, gen](const boost::system::error_code&) {
    if (!f->timed_wait || f->wait_gen != gen) return;  // Wake() got there first
    f->timed_wait = false;
    Resume(f);
  });
  Suspend();
  return f->woken;
}

void RealScheduler::SleepUntil(int64_t deadline_micros) {
  EDGELAB_CHECK(current_ != nullptr);
  RealFiber* f = Real(current_);
  int64_t wait = deadline_micros - NowMicros();
  if (wait <= 0) {
    Wake(f);  // yield: run the other ready fibers first
  } else {
    f->timer.expires_after(std::chrono::microseconds(wait));
    f->timer.async_wait([this, f](const boost::system::error_code&) { Resume(f); });
  }
  Suspend();
}

void RealScheduler::Run() {
  auto guard = boost::asio::make_work_guard(io_);
  work_guard_ = &guard;
  io_.restart();
  io_.run();
  work_guard_ = nullptr;
}

void RealScheduler::Stop() {
  boost::asio::post(io_, [this] {
    if (work_guard_ != nullptr) work_guard_->reset();
  });
}

LoopGroup::LoopGroup(size_t n, size_t stack_bytes) {
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n; ++i) loops_.push_back(std::make_unique<RealScheduler>(stack_bytes));
}

LoopGroup::~LoopGroup() { Stop(); }

void LoopGroup::RunToCompletion(std::function<void(Scheduler&)> fn) {
  RealScheduler boot;
  boot.Spawn([&] {
    fn(boot);
    boot.Stop();
  });
  boot.Run();
}

void LoopGroup::Start() {
  EDGELAB_CHECK(threads_.empty());
  for (auto& loop : loops_) threads_.emplace_back([l = loop.get()] { l->Run(); });
}

void LoopGroup::Stop() {
  for (auto& loop : loops_) loop->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace edgelab::sched
