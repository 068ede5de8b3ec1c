// runtime/pool.cc: isolate pool with direct hand-off to waiters.
#include "runtime/pool.h"

namespace edgelab::runtime {

IsolatePool::IsolatePool(engine::Engine* engine, std::shared_ptr<const engine::Module> module,
                         engine::Limits limits, size_t max, sched::Scheduler* sched,
                         std::function<uint64_t()> next_id)
    : engine_(engine),
      module_(std::move(module)),
      limits_(limits),
      max_(max),
      sched_(sched),
      next_id_(std::move(next_id)) {
  EDGELAB_CHECK(max_ > 0);
}

Status IsolatePool::Prewarm(size_t n, abi::Context* ctx) {
  EDGELAB_CHECK(n <= max_);
  while (live_ < n) {
    ++live_;
    auto iso = Create(ctx);
    // Through Release/FreeSlot, not idle_/live_ directly: a request may have
    // queued while _initialize waited, and it is owed this isolate or slot.
    if (!iso.ok()) {
      FreeSlot();
      return iso.status();
    }
    Release(std::move(*iso));
  }
  return Status::OK();
}

Result<std::unique_ptr<PooledIsolate>> IsolatePool::Create(abi::Context* ctx) {
  abi::Context init = ctx->ForInit();
  auto isolate = engine_->Instantiate(module_, limits_, &init);
  if (!isolate.ok()) return isolate.status();
  auto p = std::make_unique<PooledIsolate>();
  p->isolate = std::move(*isolate);
  p->id = next_id_();
  return p;
}

Result<std::unique_ptr<PooledIsolate>> IsolatePool::Acquire(abi::Context* ctx) {
  if (waiters_.empty()) {
    if (!idle_.empty()) {
      auto iso = std::move(idle_.back());
      idle_.pop_back();
      return iso;
    }
    if (live_ < max_) {
      ++live_;
      auto iso = Create(ctx);
      if (!iso.ok()) FreeSlot();
      return iso;
    }
  }
  Waiter w{sched_->Current(), nullptr};
  waiters_.push_back(&w);
  sched_->Suspend();
  if (w.iso != nullptr) return std::move(w.iso);
  // Woken by FreeSlot: the slot is ours (still counted in live_).
  auto iso = Create(ctx);
  if (!iso.ok()) FreeSlot();
  return iso;
}

void IsolatePool::Release(std::unique_ptr<PooledIsolate> iso) {
  if (waiters_.empty()) {
    idle_.push_back(std::move(iso));
    return;
  }
  Waiter* w = waiters_.front();
  waiters_.pop_front();
  w->iso = std::move(iso);
  sched_->Wake(w->fiber);
}

void IsolatePool::Discard(std::unique_ptr<PooledIsolate> iso) {
  iso.reset();
  FreeSlot();
}

void IsolatePool::FreeSlot() {
  if (waiters_.empty()) {
    --live_;
    return;
  }
  Waiter* w = waiters_.front();
  waiters_.pop_front();
  sched_->Wake(w->fiber);  // it creates an isolate in the slot we pass on
}

}  // namespace edgelab::runtime
