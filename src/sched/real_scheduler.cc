// sched/real_scheduler.cc: fibers on an Asio loop.
//
// Every fiber switch goes through the loop: Resume() runs on the loop's own
// stack and switches into a fiber; the fiber switches back when it waits or
// ends. Fibers never switch directly to each other, so the order in which
// ready fibers run is the order of the loop's handler queue (FIFO), which is
// what WaitQueue's fairness and invariant (3) rely on.
#include "sched/real_scheduler.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/context/fiber.hpp>
#include <chrono>
#include <cstdio>
#include <optional>

#include "base/status.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define EDGELAB_ASAN 1
#endif

namespace edgelab::sched {

namespace ctx = boost::context;

// AddressSanitizer must be told about every switch between stacks, or it
// mistakes a fiber's frames for a buffer overflow of the loop's stack. Each
// switch is start (before) and finish (after, on the new stack). No-ops in
// other builds.
struct StackSwitch {
  const void* bottom = nullptr;  // lowest address of the stack
  size_t size = 0;
  void* fake_stack = nullptr;
  void Start([[maybe_unused]] const StackSwitch& to, [[maybe_unused]] bool exiting) {
#ifdef EDGELAB_ASAN
    __sanitizer_start_switch_fiber(exiting ? nullptr : &fake_stack, to.bottom, to.size);
#endif
  }
  // After arriving; records the stack we came from into `from` when given.
  void Finish([[maybe_unused]] StackSwitch* from) {
#ifdef EDGELAB_ASAN
    const void* bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(fake_stack, &bottom, &size);
    if (from != nullptr) {
      from->bottom = bottom;
      from->size = size;
    }
#endif
  }
};

class Fiber {
 public:
  explicit Fiber(boost::asio::io_context& io) : timer(io) {}
  ctx::fiber self;    // the fiber's suspended state, when it is not running
  ctx::fiber caller;  // the loop's suspended state, while the fiber runs
  std::function<void()> fn;
  boost::asio::steady_timer timer;
  StackSwitch stack;       // this fiber's stack
  StackSwitch loop_stack;  // the loop's stack, learnt on entry
  // SuspendUntil: true while the timer may still resume the fiber; whoever
  // clears it (the timer or Wake) is the one that resumes it.
  // `wait_gen` tells the timer handler of an earlier wait (queued before
  // Wake cancelled it) from the current one.
  bool timed_wait = false;
  bool woken = false;  // how the last SuspendUntil ended
  uint64_t wait_gen = 0;
};

// Stacks of a fixed size with a PROT_NONE guard page below each, reused
// through a free list: a new fiber costs no system call once the pool has
// grown to the peak number of live fibers.
struct RealScheduler::StackPool {
  explicit StackPool(size_t usable) {
    page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    usable_bytes = (usable + page - 1) / page * page;
  }
  ~StackPool() {
    for (void* base : free) {
#if defined(__SANITIZE_ADDRESS__)
      // A fiber's frames leave redzones in the shadow of its stack, and
      // munmap does not clear them: memory mapped there later (a SQLite
      // buffer, once the bench had started and stopped a few schedulers)
      // read as a stack redzone, and ASan reported a memset into it.
      ASAN_UNPOISON_MEMORY_REGION(base, usable_bytes + page);
#endif
      munmap(base, usable_bytes + page);
    }
  }
  void* Take() {
    if (!free.empty()) {
      void* base = free.back();
      free.pop_back();
      return base;
    }
    void* base = mmap(nullptr, usable_bytes + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    EDGELAB_CHECK(base != MAP_FAILED);
    EDGELAB_CHECK(mprotect(base, page, PROT_NONE) == 0);
    return base;
  }
  void Give(void* base) { free.push_back(base); }
  // The usable range of the stack Take() returned last.
  StackSwitch Usable(void* base) const {
    StackSwitch s;
    s.bottom = static_cast<char*>(base) + page;
    s.size = usable_bytes;
    return s;
  }

  size_t page;
  size_t usable_bytes;
  std::vector<void*> free;
  void* last = nullptr;  // set by PoolAllocator::allocate
};

namespace {

// The StackAllocator concept Boost.Context asks for, over a StackPool.
template <typename Pool>
class PoolAllocator {
 public:
  explicit PoolAllocator(Pool* pool) : pool_(pool) {}
  ctx::stack_context allocate() {
    void* base = pool_->Take();
    pool_->last = base;
    ctx::stack_context sc;
    sc.size = pool_->usable_bytes;
    sc.sp = static_cast<char*>(base) + pool_->page + pool_->usable_bytes;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) {
    pool_->Give(static_cast<char*>(sc.sp) - sc.size - pool_->page);
  }

 private:
  Pool* pool_;
};

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
  for (Fiber* f : free_fibers_) delete f;
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
    f = new Fiber(io_);
  }
  f->fn = std::move(fn);
  f->self = ctx::fiber(std::allocator_arg, PoolAllocator<StackPool>(stacks_.get()),
                       [f](ctx::fiber&& caller) {
                         f->stack.Finish(&f->loop_stack);
                         f->caller = std::move(caller);
                         f->fn();
                         f->fn = nullptr;
                         f->stack.Start(f->loop_stack, /*exiting=*/true);
                         return std::move(f->caller);
                       });
  f->stack = stacks_->Usable(stacks_->last);
  ++live_fibers_;
  boost::asio::post(io_, [this, f] { Resume(f); });
}

void RealScheduler::Resume(Fiber* f) {
  EDGELAB_CHECK(current_ == nullptr);
  current_ = f;
  StackSwitch loop;
  loop.Start(f->stack, /*exiting=*/false);
  f->self = std::move(f->self).resume();
  loop.Finish(nullptr);
  current_ = nullptr;
  if (!f->self) {  // the fiber returned: its stack is already back in the pool
    --live_fibers_;
    free_fibers_.push_back(f);
  }
}

void RealScheduler::Post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

Fiber* RealScheduler::Current() { return current_; }

void RealScheduler::Suspend() {
  Fiber* f = current_;
  EDGELAB_CHECK(f != nullptr);
  f->stack.Start(f->loop_stack, /*exiting=*/false);
  f->caller = std::move(f->caller).resume();
  f->stack.Finish(nullptr);
}

void RealScheduler::Wake(Fiber* fiber) {
  if (fiber->timed_wait) {
    // The timer's handler may already be queued (expired, not yet run):
    // cancel() cannot stop it then, so it checks timed_wait and does nothing.
    fiber->timed_wait = false;
    fiber->woken = true;
    fiber->timer.cancel();
  }
  boost::asio::post(io_, [this, fiber] { Resume(fiber); });
}

bool RealScheduler::SuspendUntil(int64_t deadline_micros) {
  Fiber* f = current_;
  EDGELAB_CHECK(f != nullptr);
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
  Fiber* f = current_;
  EDGELAB_CHECK(f != nullptr);
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
