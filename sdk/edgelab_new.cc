// sdk/edgelab_new.cc: operator new and delete for C++ guests, linked in by edgelab_add_worker
// (sdk/edgelab.cmake): blocks of up to 256 bytes come from free lists, one per size class; larger
// ones from malloc.
//
// Why: guests run on an interpreter, where wasi-libc's malloc (dlmalloc) and free cost ~260
// interpreted instructions per allocation, wrappers included; a pop from a free list and a push
// back cost ~38 each, most of it the engine's fuel check and call overhead. Fuel was worse
// still: the engine charges a function's whole loop-free body at its entry, ~2,760 for dlmalloc,
// so allocations were charged ten times the instructions they ran. Measured on
// examples/counter-do, worker and object turn of one request together, 2026-11-27: its 7
// allocations went from ~1,830 instructions and ~24,900 fuel (of ~41,000 for the request) to
// ~530 instructions and ~600 fuel.
//
// Layout: small blocks are carved from 16 KiB chunks that come from aligned_alloc, each chunk
// for one size class, which its first 16 bytes name. A bitmap with one bit per 16 KiB of the
// 4 GiB address space (32 KiB) marks the chunks, so delete tells its blocks from malloc's without
// a header in front of every block.
// Policy: a freed small block goes back to its class's free list, never to malloc. An isolate
// serves request after request allocating the same sizes, which reuse them; the price is that
// memory once used for a class's peak stays with that class (at most what the guest held at once,
// plus one partly used chunk per class).
// Threading: a guest has no threads; nothing here locks. Out of memory aborts (as libc++'s
// operator new does without exceptions), which ends the request with 503.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

constexpr size_t kChunkShift = 14;
constexpr size_t kChunkSize = size_t{1} << kChunkShift;
constexpr size_t kChunkHeader = __STDCPP_DEFAULT_NEW_ALIGNMENT__;  // keeps blocks aligned
// Classes 16, 32, 64, 128 and 256 bytes: most of what a request allocates (strings past the 10
// bytes libc++ keeps inline on wasm32, a vector of a few headers) is under 256.
constexpr size_t kMinShift = 4;
constexpr size_t kClasses = 5;
constexpr size_t kMaxSmall = size_t{16} << (kClasses - 1);

static_assert(kMinShift >= 4 && (size_t{1} << kMinShift) >= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
              "every class must keep operator new's alignment");
static_assert(sizeof(void*) == 4, "the chunk bitmap covers a 32-bit address space");

struct FreeBlock {
  FreeBlock* next;
};

// Per class: blocks given back by delete, and the never-used rest of its newest chunk,
// [next, end). Free lists apart from the rest so that the fast paths index them with a shift.
FreeBlock* free_lists[kClasses];
char* chunk_next[kClasses];
char* chunk_end[kClasses];
uint32_t chunk_bits[(size_t{1} << (32 - kChunkShift)) / 32];

// The class of an n-byte block (Requires: n <= kMaxSmall), from a table indexed by ceil(n / 16):
// 6 interpreted instructions, where count-leading-zeros and its edge cases took 11.
constexpr uint8_t kClassBySixteenths[kMaxSmall / 16 + 1] = {0, 0, 1, 2, 2, 3, 3, 3, 3,
                                                            4, 4, 4, 4, 4, 4, 4, 4};
size_t ClassOf(size_t n) { return kClassBySixteenths[(n + 15) >> 4]; }

// Everything but a pop from a free list: malloc for large blocks, else the class's unused part
// of its chunk, or a new chunk. Kept out of line because the engine charges fuel for a whole
// function body at its entry: inlined, this path would cost every allocation ~70 fuel more.
[[gnu::noinline]] void* AllocateSlow(size_t n) {
  if (n > kMaxSmall) return malloc(n);
  const size_t c = ClassOf(n);
  const size_t size = size_t{1} << (c + kMinShift);
  if (static_cast<size_t>(chunk_end[c] - chunk_next[c]) < size) {
    char* chunk = static_cast<char*>(aligned_alloc(kChunkSize, kChunkSize));
    if (chunk == nullptr) return nullptr;
    *reinterpret_cast<FreeBlock***>(chunk) = &free_lists[c];
    const uint32_t index = reinterpret_cast<uintptr_t>(chunk) >> kChunkShift;
    chunk_bits[index / 32] |= uint32_t{1} << (index % 32);
    chunk_next[c] = chunk + kChunkHeader;
    chunk_end[c] = chunk + kChunkSize;
  }
  void* b = chunk_next[c];
  chunk_next[c] += size;
  return b;
}

inline void* Allocate(size_t n) {
  if (n <= kMaxSmall) {
    FreeBlock** list = &free_lists[ClassOf(n)];
    if (FreeBlock* b = *list) {
      *list = b->next;
      return b;
    }
  }
  return AllocateSlow(n);
}

inline void Release(void* p) {
  const uint32_t index = reinterpret_cast<uintptr_t>(p) >> kChunkShift;
  if ((chunk_bits[index / 32] & (uint32_t{1} << (index % 32))) == 0) {
    free(p);  // also nullptr, which is never in a chunk
    return;
  }
  // The chunk's header points at its class's free list.
  const auto chunk = reinterpret_cast<uintptr_t>(p) & ~(uintptr_t{kChunkSize} - 1);
  FreeBlock** list = *reinterpret_cast<FreeBlock** const*>(chunk);
  auto* b = static_cast<FreeBlock*>(p);
  b->next = *list;
  *list = b;
}

inline void* AllocateOrAbort(size_t n) {
  void* p = Allocate(n);
  if (p == nullptr) abort();
  return p;
}

}  // namespace

// Every non-aligned form, so that none of libc++'s (which call malloc themselves) is linked in.
// The aligned forms stay libc++'s: they use aligned_alloc and free, and Release hands any block
// outside its chunks to free.
void* operator new(size_t n) { return AllocateOrAbort(n); }
void* operator new[](size_t n) { return AllocateOrAbort(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, size_t) noexcept { Release(p); }
void operator delete[](void* p, size_t) noexcept { Release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Release(p); }
