// sched/clock.h: wall-clock time for services shared between threads (KV
// expiration). Part of sched/ so a simulation can replace it with virtual time.
//
// Threading: implementations are safe to call from any thread.
#ifndef EDGELAB_SCHED_CLOCK_H_
#define EDGELAB_SCHED_CLOCK_H_

#include <cstdint>

namespace edgelab::sched {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t WallMillis() = 0;
};

// The operating system's clock. Lives for the whole process.
Clock* SystemClock();

}  // namespace edgelab::sched

#endif  // EDGELAB_SCHED_CLOCK_H_
