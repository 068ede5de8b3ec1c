// abi/observe.h: internal to abi/: reports one KV or storage operation to the
// request's observer (race/observer.h), if it has one. Without an observer an
// Observation is one null check: no Op is filled and no call site captured.
//
// Lifetime: the Op holds views of the call's arguments and results; Invoke
// and Complete must be called while those are alive (within the host call).
#ifndef EDGELAB_ABI_OBSERVE_H_
#define EDGELAB_ABI_OBSERVE_H_

#include <string>

#include "abi/context.h"
#include "abi/host.h"
#include "base/status.h"
#include "race/observer.h"
#include "sched/scheduler.h"

namespace edgelab::abi {

class Observation {
 public:
  Observation(HostCall& c, race::Op::Store store, race::Op::Kind kind)
      : c_(c), observer_(c.ctx->observer()) {
    if (observer_ == nullptr) return;
    op_.store = store;
    op_.kind = kind;
    op_.request = &c.ctx->info;
    if (c.stack != nullptr) op_.site = c.stack->Capture();
  }

  // Whether anything observes; the caller skips filling the Op otherwise.
  bool on() const { return observer_ != nullptr; }
  race::Op& op() { return op_; }

  void Invoke() {
    if (observer_ == nullptr) return;
    op_.start_ns = c_.ctx->sched().NowMicros() * 1000;
    observer_->Invoke(op_);
  }
  // Reports the end with the outcome `s` implies: OK -> kOk; a refusal that
  // changed nothing (a limit, kInvalidArgument) -> kFailed; anything else ->
  // kUnknown. Outcome fields other than `outcome` are the caller's to set.
  void Complete(const Status& s) {
    if (observer_ == nullptr) return;
    op_.outcome = s.ok()                               ? race::Op::Outcome::kOk
                  : s.code() == Code::kInvalidArgument ? race::Op::Outcome::kFailed
                                                       : race::Op::Outcome::kUnknown;
    Finish();
  }
  void Complete(race::Op::Outcome outcome) {
    if (observer_ == nullptr) return;
    op_.outcome = outcome;
    Finish();
  }

 private:
  void Finish() {
    op_.end_ns = c_.ctx->sched().NowMicros() * 1000;
    observer_->Complete(op_);
  }

  HostCall& c_;
  race::Observer* const observer_;
  race::Op op_;
};

}  // namespace edgelab::abi

#endif  // EDGELAB_ABI_OBSERVE_H_
