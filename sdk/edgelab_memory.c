/* sdk/edgelab_memory.c: memcpy, memmove, memset, memchr, memcmp and strlen for guests, linked
 * into every guest by edgelab_add_worker (sdk/edgelab.cmake) in place of wasi-libc's.
 *
 * Guests run on an interpreter (~140 wasm instructions per microsecond), where the cost is the
 * instructions executed. wasi-libc's versions are musl's C loops, built without bulk memory or
 * SIMD: bytes up to word alignment, then words, then bytes, and each loop iteration also pays the
 * engine's 8-instruction fuel check. Here:
 *   - memcpy, memmove and memset are memory.copy / memory.fill, one instruction the interpreter
 *     does with the host's memmove / memset (the engine charges them one fuel per 64 bytes and a
 *     call of its own, src/engine/rewrite.h);
 *   - memchr, strlen and memcmp look at 16 bytes per SIMD instruction.
 * Measured on examples/counter-do and counter-lock, 2026-11-27, in interpreted instructions:
 * memcpy and memmove ~1,290 per counter-do request (18 calls) -> ~240; memchr on a 40-byte header
 * block ~330 -> ~70; memcmp of "GET" and "GET" 107 -> 51; strlen of a 12-26 byte string ~160
 * -> ~53.
 *
 * Reading past the end of a buffer: memchr and strlen load whole aligned 16-byte blocks, which
 * may extend past the buffer or string but never past the end of linear memory (its size is a
 * multiple of 64 KiB), so they cannot trap; bytes outside the range are masked off. memcmp does
 * the same for a tail shorter than 16 bytes only when memory.size shows that both 16-byte loads
 * stay inside memory. That is defined in wasm, which has no protection inside linear memory; in
 * C terms it is what a libc may do and a guest may not.
 *
 * Requires: -mbulk-memory (else __builtin_memcpy may become a call to memcpy, that is, to
 * itself) and -msimd128; edgelab.cmake passes both. wasm-ld takes these before libc.a's, so libc's
 * own callers (and libc++'s, which is prebuilt) use them too. */
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#if !defined(__wasm_bulk_memory__) || !defined(__wasm_simd128__)
#error "edgelab_memory.c needs -mbulk-memory -msimd128 (sdk/edgelab.cmake passes them)"
#endif

void* memcpy(void* restrict dst, const void* restrict src, size_t n) {
  __builtin_memcpy(dst, src, n); /* memory.copy */
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  __builtin_memmove(dst, src, n); /* memory.copy, which allows overlap */
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  __builtin_memset(dst, c, n); /* memory.fill */
  return dst;
}

/* Bit i set when byte i of the aligned 16-byte block at `block` equals the byte in `c`'s lanes. */
static inline uint32_t BlockMatches(uintptr_t block, v128_t c) {
  return (uint32_t)wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load((const void*)block), c));
}

void* memchr(const void* src, int c, size_t n) {
  if (n == 0) return NULL;
  const uintptr_t start = (uintptr_t)src;
  uintptr_t end = start + n;
  if (end < start) end = UINTPTR_MAX; /* "search until found" */
  const v128_t want = wasm_i8x16_splat((int8_t)c);
  uintptr_t block = start & ~(uintptr_t)15;
  uint32_t hits = BlockMatches(block, want) & (0xFFFFu << (start & 15));
  while (hits == 0) {
    block += 16;
    if (block >= end) return NULL;
    hits = BlockMatches(block, want);
  }
  const uintptr_t at = block + (uintptr_t)__builtin_ctz(hits);
  return at < end ? (void*)at : NULL;
}

size_t strlen(const char* s) {
  const uintptr_t start = (uintptr_t)s;
  const v128_t zero = wasm_i8x16_splat(0);
  uintptr_t block = start & ~(uintptr_t)15;
  uint32_t hits = BlockMatches(block, zero) & (0xFFFFu << (start & 15));
  while (hits == 0) {
    block += 16;
    hits = BlockMatches(block, zero);
  }
  return block + (uintptr_t)__builtin_ctz(hits) - start;
}

/* The lanes where the 16 bytes at `l` and `r` differ (unaligned loads). */
static inline uint32_t Differences(const unsigned char* l, const unsigned char* r) {
  return (uint32_t)wasm_i8x16_bitmask(wasm_i8x16_ne(wasm_v128_load(l), wasm_v128_load(r)));
}

int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char* l = a;
  const unsigned char* r = b;
  for (; n >= 16; n -= 16, l += 16, r += 16) {
    const uint32_t diff = Differences(l, r);
    if (diff != 0) return l[__builtin_ctz(diff)] - r[__builtin_ctz(diff)];
  }
  if (n == 0) return 0;
  /* The tail in one step, when both loads stay inside memory (nearly always: memory ends at
   * least a page past any buffer but the last). */
  const uintptr_t memory_end = (uintptr_t)__builtin_wasm_memory_size(0) << 16;
  if ((uintptr_t)l + 16 <= memory_end && (uintptr_t)r + 16 <= memory_end) {
    const uint32_t diff = Differences(l, r) & ((1u << n) - 1);
    return diff == 0 ? 0 : l[__builtin_ctz(diff)] - r[__builtin_ctz(diff)];
  }
  for (; n != 0; --n, ++l, ++r) {
    if (*l != *r) return *l - *r;
  }
  return 0;
}
