// sched/process.cc: signal waiting with sigwait, so no handler runs on an
// arbitrary thread in the middle of a fiber switch.
#include "sched/process.h"

#include <pthread.h>
#include <signal.h>

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

}  // namespace edgelab::sched
