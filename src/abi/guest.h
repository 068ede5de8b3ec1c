// abi/guest.h: bounds-checked access to guest memory for host functions.
// The pointer rule itself is stated in abi/host.h; this is its one
// implementation. Every accessor returns false (and records a trap message
// naming the function, pointer and length) when the range is outside memory.
//
// Cost: each accessor that succeeds adds to HostCall::bytes, which the engine
// charges as fuel (host.h): Read, Writable and the Store/Load pairs their
// length (Writable all of it, since the host may write all of it, even when
// it only checks the range: an upper bound, like fuel itself); WriteOut and
// WriteCString the length of `data`/`s`, which the host had to produce
// whatever part of it fits.
#ifndef EDGELAB_ABI_GUEST_H_
#define EDGELAB_ABI_GUEST_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "abi/host.h"

namespace edgelab::abi {

class Guest {
 public:
  Guest(HostCall& call, std::string_view fn) : call_(call), fn_(fn) {}

  uint32_t U32(int i) const { return static_cast<uint32_t>(call_.args[i]); }
  int32_t I32(int i) const { return static_cast<int32_t>(call_.args[i]); }
  uint64_t U64(int i) const { return call_.args[i]; }
  void Return(uint32_t v) { call_.results[0] = v; }
  void Return(int32_t v) { call_.results[0] = static_cast<uint32_t>(v); }
  void Return64(uint64_t v) { call_.results[0] = v; }
  // Returns `v` to the guest and ends the call normally.
  HostOutcome Answer(int32_t v) {
    Return(v);
    return HostOutcome::Return();
  }
  Context& ctx() const { return *call_.ctx; }

  // The bytes at (ptr, len) as a view, or false.
  bool Read(uint32_t ptr, uint32_t len, std::string_view* out);
  // A writable range (ptr, len), or false.
  bool Writable(uint32_t ptr, uint32_t len, uint8_t** out);
  // Writes min(data.size(), cap) bytes of data at buf after checking the
  // whole (buf, cap) range; returns data.size() (the ABI's "full length").
  bool WriteOut(uint32_t buf, uint32_t cap, std::string_view data, uint32_t* full_len);
  // Writes `s` NUL-terminated, truncated to fit cap (cap 0 writes nothing).
  bool WriteCString(uint32_t buf, uint32_t cap, std::string_view s);
  bool StoreU32(uint32_t ptr, uint32_t v);
  bool StoreU64(uint32_t ptr, uint64_t v);
  bool LoadU32(uint32_t ptr, uint32_t* v);
  bool LoadU64(uint32_t ptr, uint64_t* v);

  // The outcome for a failed accessor (or another guest fault): a trap that
  // names the function.
  HostOutcome Trap() const { return HostOutcome::Trap(trap_); }
  HostOutcome Trap(std::string_view why) const;

 private:
  // The bounds check alone; charges nothing.
  bool Check(uint32_t ptr, uint32_t len);
  void Charge(uint64_t bytes) { call_.bytes += bytes; }

  HostCall& call_;
  std::string_view fn_;
  std::string trap_;
};

}  // namespace edgelab::abi

#endif  // EDGELAB_ABI_GUEST_H_
