/* tests/guests/limits.c: a worker that breaks each per-request limit on demand, for the host's
 * fault tests (docs/abi.md "Limits"; DESIGN.md "guest faults are data"). After any of these the
 * runtime must keep serving, and the next request gets a fresh isolate:
 *
 *   /loop     spins forever            -> 503, "exceeded CPU limit"
 *   /bomb     allocates until malloc fails, then abort()  -> 503, "exceeded memory limit"
 *   /recurse  recurses until the stack runs out (--stack-first makes that a trap) -> 500
 *   /trap     __builtin_trap in limits_deliberate_trap -> 500, the log names that function
 *   /ok       "ok" (the request after a fault; proves the runtime still serves)
 * Anything else answers 404. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgelab.h"

/* Volatile so the compiler can prove nothing about these and must keep every loop and store. */
static volatile uint32_t g_spins;
static void* volatile g_hold;         /* the chain of chunks /bomb allocated */
static volatile uint32_t g_depth_cap; /* always 0; makes the recursion look bounded */

static void Loop(void) {
  for (;;) g_spins++;
}

/* 1 MiB chunks, chained so each stays reachable, touching one byte per 4 KiB page: enough to
 * make the memory real without spending the CPU limit on memset before the memory limit hits. */
static void Bomb(void) {
  enum { kChunk = 1 << 20, kPage = 4096 };
  for (;;) {
    char* chunk = (char*)malloc(kChunk);
    if (chunk == NULL) abort();
    for (size_t i = 0; i < kChunk; i += kPage) chunk[i] = (char)i;
    memcpy(chunk, (const void*)&g_hold, sizeof g_hold);
    g_hold = chunk;
  }
}

/* Not a tail call (the result is used after the call) and each frame keeps a buffer in linear
 * memory, so neither the compiler nor the engine can turn it into a loop. */
__attribute__((noinline)) static uint32_t Recurse(uint32_t depth) {
  volatile char frame[128];
  frame[depth % sizeof frame] = (char)depth;
  if (g_depth_cap != 0 && depth >= g_depth_cap) return depth;
  return Recurse(depth + 1) + frame[depth % sizeof frame];
}

/* Named and not inlined: the host's trap log must show this name. */
__attribute__((noinline)) void limits_deliberate_trap(void) { __builtin_trap(); }

EDGELAB_EXPORT("fetch") void fetch(void) {
  char url[64];
  int32_t n = edgelab_url(url, sizeof url);
  url[strcspn(url, "?")] = '\0';
  if (n < 0 || (size_t)n >= sizeof url) {
    edgelab_respond(404, "no such limit");
  } else if (strcmp(url, "/loop") == 0) {
    Loop();
  } else if (strcmp(url, "/bomb") == 0) {
    Bomb();
  } else if (strcmp(url, "/recurse") == 0) {
    edgelab_respond(200, Recurse(0) != 0 ? "recursion ended" : "recursion ended at 0");
  } else if (strcmp(url, "/trap") == 0) {
    limits_deliberate_trap();
  } else if (strcmp(url, "/ok") == 0) {
    edgelab_respond(200, "ok");
  } else {
    edgelab_respond(404, "no such limit");
  }
}
