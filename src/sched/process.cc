// sched/process.cc: signal waiting with sigwait, so no handler runs on an
// arbitrary thread in the middle of a fiber switch.
#include "sched/process.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <thread>

#include "base/status.h"

namespace edgelab::sched {
namespace {

sigset_t SetOf(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  return set;
}

}  // namespace

void BlockSignals(std::initializer_list<int> signals) {
  sigset_t set = SetOf(signals);
  EDGELAB_CHECK(pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0);
}

int WaitForSignal(std::initializer_list<int> signals) {
  sigset_t set = SetOf(signals);
  int sig = 0;
  EDGELAB_CHECK(sigwait(&set, &sig) == 0);
  return sig;
}

int WaitForSignalFor(std::initializer_list<int> signals, int64_t timeout_ms) {
  sigset_t set = SetOf(signals);
  timespec ts{static_cast<time_t>(timeout_ms / 1000),
              static_cast<long>(timeout_ms % 1000) * 1000000};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;  // -1 with EAGAIN (timeout) or EINTR: no signal
}

uint64_t RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

int64_t MonotonicMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SleepMillis(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace edgelab::sched
