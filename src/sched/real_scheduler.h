// sched/real_scheduler.h: the Scheduler on real time: an Asio io_context for
// timers and sockets, and Boost.Context fibers on pooled, guard-paged stacks.
//
// Threading: one RealScheduler per OS thread; Run() drives it on the calling
// thread until Stop(). Post() may be called from any thread.
// Workload: tens of thousands of short fibers a second (one per HTTP
// request), up to thousands alive at once while they wait on timers; stacks
// are reused, so spawning costs no system call once the pool is warm.
#ifndef EDGELAB_SCHED_REAL_SCHEDULER_H_
#define EDGELAB_SCHED_REAL_SCHEDULER_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "sched/clock.h"
#include "sched/scheduler.h"

namespace edgelab::sched {

class RealScheduler final : public Scheduler {
 public:
  // `stack_bytes`: usable stack per fiber (a guard page is added below it).
  explicit RealScheduler(size_t stack_bytes = 256 * 1024);
  ~RealScheduler() override;

  int64_t NowMicros() override;
  int64_t WallMillis() override;
  uint64_t Random() override;
  void Spawn(std::function<void()> fn) override;
  void Post(std::function<void()> fn) override;
  void SleepUntil(int64_t deadline_micros) override;
  Fiber* Current() override;
  void Suspend() override;
  bool SuspendUntil(int64_t deadline_micros) override;
  void Wake(Fiber* fiber) override;

  // Runs the loop on this thread until Stop() and until no work is left.
  // Keeps running while idle (a work guard) until Stop() is called.
  void Run();
  // Asks Run() to return once the fibers alive now have finished. Any thread.
  void Stop();
  // Fibers alive (running, ready or waiting).
  size_t live_fibers() const { return live_fibers_; }

  // The loop, for sockets and timers of the HTTP front and the load client.
  boost::asio::io_context& io() { return io_; }

 private:
  struct StackPool;
  void Resume(Fiber* f);

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>* work_guard_ = nullptr;
  std::unique_ptr<StackPool> stacks_;
  std::mt19937_64 rng_;
  Fiber* current_ = nullptr;
  size_t live_fibers_ = 0;
  std::vector<Fiber*> free_fibers_;
};

// N RealSchedulers, each on its own OS thread: the runtime's threads. The
// only place outside tests that starts threads.
// Threading: construct, Start() and Stop() from one controlling thread.
class LoopGroup final : public Loops {
 public:
  // `n` loops; 0 means one per core.
  explicit LoopGroup(size_t n, size_t stack_bytes = 256 * 1024);
  ~LoopGroup() override;  // Stops and joins.
  size_t size() const override { return loops_.size(); }
  RealScheduler& loop(size_t i) override { return *loops_[i]; }
  // On a RealScheduler of its own, run on the calling thread until `fn`
  // returns (the loops' schedulers are left untouched).
  void RunToCompletion(std::function<void(Scheduler&)> fn) override;
  // Starts one thread per loop, each running loop(i).Run().
  void Start();
  // Stops every loop (see RealScheduler::Stop) and joins the threads.
  void Stop();

 private:
  std::vector<std::unique_ptr<RealScheduler>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace edgelab::sched

#endif  // EDGELAB_SCHED_REAL_SCHEDULER_H_
