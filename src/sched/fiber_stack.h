// sched/fiber_stack.h: what the fibers of both schedulers (real_scheduler.cc,
// sim_scheduler.cc) are made of: a Boost.Context fiber on a pooled,
// guard-paged stack, and the two switches between it and the loop, annotated
// for AddressSanitizer. Internal to sched/: nothing outside includes it.
//
// Every switch is between the loop's stack and one fiber: Fiber::SwitchIn
// runs on the loop and returns when the fiber waits or ends; SwitchOut runs on
// the fiber and returns when the loop switches back in. Fibers never switch
// to each other, so the scheduler alone decides the order they run in.
//
// Threading: a StackPool and its fibers belong to one scheduler thread.
// Failure: an mmap or mprotect that fails is fatal (CHECK): a scheduler
// without stacks cannot run anything.
#ifndef EDGELAB_SCHED_FIBER_STACK_H_
#define EDGELAB_SCHED_FIBER_STACK_H_

#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>
#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "base/status.h"
#include "sched/scheduler.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define EDGELAB_ASAN 1
#endif

namespace edgelab::sched {

namespace internal {

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

// Stacks of a fixed size with a PROT_NONE guard page below each, reused
// through a free list: a new fiber costs no system call once the pool has
// grown to the peak number of live fibers. Stacks are unmapped when the pool
// is destroyed, so it must outlive every fiber that took one.
struct StackPool {
  explicit StackPool(size_t usable) {
    page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    usable_bytes = (usable + page - 1) / page * page;
  }
  ~StackPool() {
    for (void* base : free) {
#ifdef EDGELAB_ASAN
      // A fiber's frames leave redzones in the shadow of its stack, and
      // munmap does not clear them: memory mapped there later (a SQLite
      // buffer, once the bench had started and stopped a few schedulers)
      // read as a stack redzone, and ASan reported a memset into it.
      ASAN_UNPOISON_MEMORY_REGION(base, usable_bytes + page);
#endif
      munmap(base, usable_bytes + page);
    }
  }
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

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

// The StackAllocator concept Boost.Context asks for, over a StackPool.
class PoolAllocator {
 public:
  explicit PoolAllocator(StackPool* pool) : pool_(pool) {}
  boost::context::stack_context allocate() {
    void* base = pool_->Take();
    pool_->last = base;
    boost::context::stack_context sc;
    sc.size = pool_->usable_bytes;
    sc.sp = static_cast<char*>(base) + pool_->page + pool_->usable_bytes;
    return sc;
  }
  void deallocate(boost::context::stack_context& sc) {
    pool_->Give(static_cast<char*>(sc.sp) - sc.size - pool_->page);
  }

 private:
  StackPool* pool_;
};

}  // namespace internal

// The opaque Fiber of scheduler.h. Each scheduler derives its own (timers,
// ready state) and casts the Fiber* it hands out back to it; this part is
// the context, its stack and the switches.
class Fiber {
 public:
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Prepares the fiber to run `fn` from its first SwitchIn, on a stack from
  // `pool` (given back when `fn` returns). Requires: not started, or the
  // last `fn` returned.
  void Start(internal::StackPool* pool, std::function<void()> fn) {
    fn_ = std::move(fn);
    self_ = boost::context::fiber(std::allocator_arg, internal::PoolAllocator(pool),
                                  [this](boost::context::fiber&& caller) {
                                    stack_.Finish(&loop_stack_);
                                    caller_ = std::move(caller);
                                    fn_();
                                    fn_ = nullptr;
                                    stack_.Start(loop_stack_, /*exiting=*/true);
                                    return std::move(caller_);
                                  });
    stack_ = pool->Usable(pool->last);
  }
  // On the loop's stack: runs the fiber until it calls SwitchOut (returns
  // true) or its `fn` returns (false; its stack is back in the pool).
  bool SwitchIn() {
    internal::StackSwitch loop;
    loop.Start(stack_, /*exiting=*/false);
    self_ = std::move(self_).resume();
    loop.Finish(nullptr);
    return static_cast<bool>(self_);
  }
  // On the fiber's own stack: back to the loop, until the next SwitchIn.
  void SwitchOut() {
    stack_.Start(loop_stack_, /*exiting=*/false);
    caller_ = std::move(caller_).resume();
    stack_.Finish(nullptr);
  }

 protected:
  Fiber() = default;
  // Owners delete the derived type, and only once `fn` has returned (or
  // before Start): destroying a suspended context makes Boost unwind it
  // through switches of its own, which the ASan annotations never see.
  ~Fiber() = default;

 private:
  boost::context::fiber self_;    // the fiber's suspended state, when it is not running
  boost::context::fiber caller_;  // the loop's suspended state, while the fiber runs
  std::function<void()> fn_;
  internal::StackSwitch stack_;       // this fiber's stack
  internal::StackSwitch loop_stack_;  // the loop's stack, learnt on entry
};

}  // namespace edgelab::sched

#endif  // EDGELAB_SCHED_FIBER_STACK_H_
