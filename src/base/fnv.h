// base/fnv.h: FNV-1a, 64 bits: a hash that is the same on every platform and
// run, for traces that must compare equal across processes (sched/,
// sim/). Not for hash tables of untrusted keys.
#ifndef EDGELAB_BASE_FNV_H_
#define EDGELAB_BASE_FNV_H_

#include <cstdint>
#include <string_view>

namespace edgelab {

inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;
inline constexpr uint64_t kFnvPrime = 1099511628211ull;

// Folds `bytes` into `hash`.
inline void FnvFold(uint64_t& hash, std::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= kFnvPrime;
  }
}

// Folds `value`'s eight bytes, least significant first, into `hash`.
inline void FnvFold(uint64_t& hash, uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (value >> (8 * i)) & 0xff;
    hash *= kFnvPrime;
  }
}

}  // namespace edgelab

#endif  // EDGELAB_BASE_FNV_H_
