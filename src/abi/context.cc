// abi/context.cc: OpenResponses, the handle table behind do_fetch. At most
// kMaxOpen (64) slots, so a linear scan for the lowest free one is cheaper
// than keeping a free list.
#include "abi/context.h"

#include "base/status.h"

namespace edgelab::abi {
namespace {

uint32_t SlotOf(uint32_t h) { return h & (OpenResponses::kMaxOpen - 1); }

}  // namespace

uint64_t OpenResponses::Bytes(const Response& r) {
  uint64_t bytes = r.body.size();
  for (const auto& [name, value] : r.headers) bytes += name.size() + value.size() + 3;
  return bytes;
}

const Response* OpenResponses::Find(uint32_t h) const {
  const uint32_t slot = SlotOf(h);
  if (slot >= slots_.size() || (h >> kSlotBits) != slots_[slot].generation) return nullptr;
  const std::optional<Response>& r = slots_[slot].response;
  return r.has_value() ? &*r : nullptr;
}

uint32_t OpenResponses::Open(Response r) {
  EDGELAB_CHECK(open_ < kMaxOpen);
  uint32_t slot = 0;
  while (slot < slots_.size() && slots_[slot].response.has_value()) ++slot;
  if (slot == slots_.size()) slots_.emplace_back();
  held_bytes_ += Bytes(r);
  ++open_;
  slots_[slot].response = std::move(r);
  return slots_[slot].generation << kSlotBits | slot;
}

bool OpenResponses::Close(uint32_t h) {
  const Response* r = Find(h);
  if (r == nullptr) return false;
  Slot& slot = slots_[SlotOf(h)];
  held_bytes_ -= Bytes(*r);
  --open_;
  slot.response.reset();
  slot.generation = (slot.generation + 1) & kGenerationMask;
  return true;
}

}  // namespace edgelab::abi
