/* tests/guests/abi_probe.c: one worker that exercises every call of guest ABI v1
 * (docs/abi.md), for the host's end-to-end tests over HTTP. The request path picks the case.
 *
 * Reading results: 200 with the payload on success. A negative code from the host answers
 * "<NAME> <code>" (e.g. "ENOTFOUND -1") with status 404 ENOTFOUND, 412 EPRECONDITION,
 * 400 EINVAL, 500 EIO, 503 EUNAVAILABLE. A host that breaks the (buf, cap) rules answers 500
 * "ABI violation: ...". Unknown paths answer 404 "no such probe". Every (buf, cap) read is made
 * three times (cap 0, half, full) so each echo also checks that the host returns the full length
 * and never writes past cap.
 *
 *   /method /url /headers /body        echo that part of the request
 *   /header?name=X                     the header's value
 *   /status/N                          sets status N (outside 100-599 the host must trap)
 *   /header-out[?name=N&value=V]       adds "X-Probe: yes" (and N: V); /header-out/crlf must trap
 *   /kv/put?key=K&value=V[&meta=M][&ttl=S][&expiration=T]   "stored <etag>"
 *   /kv/get?key=K[&strong=1]           value "\n" etag (strong: with kv_get_strong)
 *   /kv/cas?key=K&etag=E&value=V       "stored <etag>" or 412 "precondition failed"
 *   /kv/create?key=K[&value=V]         if_none_match; as /kv/cas
 *   /kv/delete?key=K                   "deleted"
 *   /kv/list[?prefix=P&cursor=C&limit=L]  one key per line, then "cursor: C" ("" when complete)
 *   /kv/meta?key=K                     the key's metadata
 *   /kv/ttl?key=K&ttl=S[&value=V]      put with expiration_ttl; "stored <etag>"
 *   /kv/maxkey  /kv/bigkey[?op=get|put|delete|meta]   a 512-byte key works; 513 gives EINVAL
 *   /kv/bigmeta /kv/badhandle /kv/badopts /kv/badreserved   each must give EINVAL
 *   /kv/nobinding                      kv_open of a missing binding: ENOTFOUND
 *   /sleep/N /now /random              edgelab.sleep_ms, now_ms, random
 *   /clock /random-wasi                WASI clock_time_get, clock_res_get, random_get
 *   /log                               one line per level; /printf: stdout and stderr via WASI
 *   /exit/N                            writes "exiting N", then proc_exit(N)
 *   /global                            increments a module global and answers it
 *   /badptr/<fn>[?at=high|end|past]    calls <fn> with an out-of-bounds pointer: must trap
 *                                      (see kBadPtrCases; "high" 0xFFFFFFF0 is the default)
 * KV cases use binding "KV". */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#include "edgelab.h"

/* ---- Request-lifetime state: reset at the start of every fetch ---- */

static char* g_url;       /* the request target, NUL-terminated */
static void* g_owned[64]; /* allocations freed when the request ends */
static int g_owned_count;
static const char* g_violation; /* set when the host broke a (buf, cap) rule */
enum { kViolation = -1000 };    /* a probe-only code for that */

static unsigned g_global; /* persists across requests: isolates are reused */

static void* Alloc(size_t n) {
  void* p = malloc(n);
  if (p == NULL || g_owned_count == (int)(sizeof g_owned / sizeof g_owned[0])) abort();
  g_owned[g_owned_count++] = p;
  return p;
}

static void ReleaseAll(void) {
  while (g_owned_count > 0) free(g_owned[--g_owned_count]);
}

/* Query parameter `name`, decoded and NUL-terminated, or NULL; *len gets its length. */
static const char* ParamN(const char* name, size_t* len) {
  size_t cap = strlen(g_url) + 1; /* decoding never lengthens */
  char* out = (char*)Alloc(cap);
  int32_t n = edgelab_query_param(g_url, name, out, cap);
  if (len != NULL) *len = n < 0 ? 0 : (size_t)n;
  return n < 0 ? NULL : out;
}

static const char* Param(const char* name) { return ParamN(name, NULL); }

/* ---- Answers ---- */

static void Printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void Printf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) edgelab_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void Fail(int32_t code) {
  if (code == kViolation) {
    edgelab_status(500);
    Printf("ABI violation: %s", g_violation);
    return;
  }
  static const int kStatus[] = {500, 404, 412, 400, 500, 503}; /* by -code */
  edgelab_status(code < 0 && code >= -5 ? kStatus[-code] : 500);
  Printf("%s %d", edgelab_strerror(code), (int)code);
}

static void Missing(const char* what) {
  edgelab_status(400);
  Printf("missing query parameter %s", what);
}

/* ---- Checked (buf, cap) reads ---- */

typedef int32_t (*ReadCall)(const void* arg, char* buf, size_t cap);

static int Violation(const char* what) {
  g_violation = what;
  return kViolation;
}

/* Reads a (buf, cap) result as docs/abi.md prescribes and checks the host keeps the rules:
 * cap 0 writes nothing and returns the full length; half a buffer gets the same length and no
 * byte past cap; a full buffer gets all, starting with the same bytes. Returns the length with
 * *out NUL-terminated (request-owned), or the code. The value must not change meanwhile. */
static int32_t ReadChecked(ReadCall call, const void* arg, char** out) {
  enum { kSlack = 16, kCanary = 0xA5 };
  unsigned char probe[kSlack];
  memset(probe, kCanary, sizeof probe);
  int32_t n = call(arg, (char*)probe, 0);
  if (n < 0) return n;
  for (size_t i = 0; i < sizeof probe; i++)
    if (probe[i] != kCanary) return Violation("wrote into a buffer of cap 0");
  size_t half = (size_t)n / 2;
  char* half_buf = (char*)Alloc((size_t)n + kSlack);
  memset(half_buf, kCanary, (size_t)n + kSlack);
  if (call(arg, half_buf, half) != n) return Violation("length changed with cap");
  for (size_t i = half; i < (size_t)n + kSlack; i++)
    if ((unsigned char)half_buf[i] != kCanary) return Violation("wrote past cap");
  char* full = (char*)Alloc((size_t)n + 1);
  if (call(arg, full, (size_t)n) != n) return Violation("length changed with cap");
  if (memcmp(full, half_buf, half) != 0) return Violation("a short buffer got other bytes");
  full[n] = '\0';
  *out = full;
  return n;
}

static int32_t CallMethod(const void* arg, char* buf, size_t cap) {
  (void)arg;
  return edgelab_raw_req_method(buf, cap);
}
static int32_t CallUrl(const void* arg, char* buf, size_t cap) {
  (void)arg;
  return edgelab_raw_req_url(buf, cap);
}
static int32_t CallHeader(const void* arg, char* buf, size_t cap) {
  const char* name = (const char*)arg;
  return edgelab_raw_req_header(name, strlen(name), buf, cap);
}
static int32_t CallHeaders(const void* arg, char* buf, size_t cap) {
  (void)arg;
  return edgelab_raw_req_headers(buf, cap);
}
static int32_t CallBody(const void* arg, char* buf, size_t cap) {
  (void)arg;
  return edgelab_raw_req_body(buf, cap);
}

typedef struct KvArgs {
  int32_t kv;
  const char* key; /* or prefix */
  const char* cursor;
  uint32_t limit;
  char* etag;
} KvArgs;

static int32_t CallKvGet(const void* arg, char* buf, size_t cap) {
  const KvArgs* a = (const KvArgs*)arg;
  return edgelab_raw_kv_get(a->kv, a->key, strlen(a->key), buf, cap, a->etag, EDGELAB_ETAG_CAP);
}
static int32_t CallKvGetStrong(const void* arg, char* buf, size_t cap) {
  const KvArgs* a = (const KvArgs*)arg;
  return edgelab_raw_kv_get_strong(a->kv, a->key, strlen(a->key), buf, cap, a->etag,
                                   EDGELAB_ETAG_CAP);
}
static int32_t CallKvMeta(const void* arg, char* buf, size_t cap) {
  const KvArgs* a = (const KvArgs*)arg;
  return edgelab_raw_kv_get_metadata(a->kv, a->key, strlen(a->key), buf, cap);
}
static int32_t CallKvList(const void* arg, char* buf, size_t cap) {
  const KvArgs* a = (const KvArgs*)arg;
  return edgelab_raw_kv_list(a->kv, a->key, strlen(a->key), a->cursor, strlen(a->cursor), a->limit,
                             buf, cap);
}

/* Answers the checked read's bytes, or its code. */
static void Echo(ReadCall call, const void* arg) {
  char* out;
  int32_t n = ReadChecked(call, arg, &out);
  if (n < 0) {
    Fail(n);
    return;
  }
  edgelab_write(out, (size_t)n);
}

/* ---- Request and response probes ---- */

static void ProbeMethod(const char* rest) {
  (void)rest;
  Echo(CallMethod, NULL);
}
static void ProbeUrl(const char* rest) {
  (void)rest;
  Echo(CallUrl, NULL);
}
static void ProbeHeaders(const char* rest) {
  (void)rest;
  Echo(CallHeaders, NULL);
}
static void ProbeBody(const char* rest) {
  (void)rest;
  Echo(CallBody, NULL);
}

static void ProbeHeader(const char* rest) {
  (void)rest;
  const char* name = Param("name");
  if (name == NULL) {
    Missing("name");
    return;
  }
  Echo(CallHeader, name);
}

static void ProbeStatus(const char* rest) {
  long code = strtol(rest, NULL, 10);
  edgelab_status((int32_t)code); /* outside 100-599 this call must not return */
  Printf("status %ld", code);
}

static void ProbeHeaderOut(const char* rest) {
  edgelab_set_header("X-Probe", "yes");
  if (strcmp(rest, "/crlf") == 0) {
    edgelab_set_header("X-Split", "a\r\nInjected: 1"); /* must trap */
    edgelab_write_str("NOT TRAPPED: CR/LF in a header value was accepted");
    return;
  }
  const char* name = Param("name");
  const char* value = Param("value");
  if (name != NULL) edgelab_set_header(name, value != NULL ? value : "");
  edgelab_write_str("headers set");
}

/* ---- KV probes (binding "KV") ---- */

/* The KV handle, or 0 after answering the error (handles are >= 0, so *kv < 0 is a failure). */
static int OpenKv(int32_t* kv) {
  *kv = edgelab_kv_open("KV");
  if (*kv < 0) Fail(*kv);
  return *kv >= 0;
}

static void AnswerPut(int32_t rc, const char* etag) {
  if (rc == EDGELAB_EPRECONDITION) {
    edgelab_status(412);
    edgelab_write_str("precondition failed");
  } else if (rc < 0) {
    Fail(rc);
  } else {
    Printf("stored %s", etag);
  }
}

/* Puts key=value with `condition`; metadata and expiry come from the query when present. */
static void PutFromQuery(uint32_t condition, const char* etag_in, int64_t ttl) {
  int32_t kv;
  if (!OpenKv(&kv)) return;
  size_t value_len = 0, meta_len = 0;
  const char* key = Param("key");
  const char* value = ParamN("value", &value_len);
  const char* meta = ParamN("meta", &meta_len);
  const char* expiration = Param("expiration");
  if (key == NULL) {
    Missing("key");
    return;
  }
  char etag[EDGELAB_ETAG_CAP] = "";
  edgelab_kv_put_options o = {0};
  o.condition = condition;
  o.etag_ptr = etag_in;
  o.etag_len = etag_in != NULL ? (uint32_t)strlen(etag_in) : 0;
  o.metadata_ptr = meta;
  o.metadata_len = (uint32_t)meta_len;
  o.out_etag_ptr = etag;
  o.out_etag_cap = sizeof etag;
  o.expiration_ttl = ttl;
  o.expiration = expiration != NULL ? strtoll(expiration, NULL, 10) : 0;
  AnswerPut(edgelab_raw_kv_put(kv, key, strlen(key), value != NULL ? value : "", value_len, &o),
            etag);
}

static void ProbeKvPut(const char* rest) {
  (void)rest;
  const char* ttl = Param("ttl");
  PutFromQuery(EDGELAB_KV_PUT_ALWAYS, NULL, ttl != NULL ? strtoll(ttl, NULL, 10) : 0);
}

static void ProbeKvTtl(const char* rest) {
  (void)rest;
  const char* ttl = Param("ttl");
  if (ttl == NULL) {
    Missing("ttl");
    return;
  }
  PutFromQuery(EDGELAB_KV_PUT_ALWAYS, NULL, strtoll(ttl, NULL, 10));
}

static void ProbeKvCas(const char* rest) {
  (void)rest;
  const char* etag = Param("etag");
  if (etag == NULL) {
    Missing("etag");
    return;
  }
  PutFromQuery(EDGELAB_KV_PUT_IF_MATCH, etag, 0);
}

static void ProbeKvCreate(const char* rest) {
  (void)rest;
  PutFromQuery(EDGELAB_KV_PUT_IF_NONE_MATCH, NULL, 0);
}

static void ProbeKvGet(const char* rest) {
  (void)rest;
  char etag[EDGELAB_ETAG_CAP] = "";
  KvArgs a = {0, Param("key"), NULL, 0, etag};
  if (a.key == NULL) {
    Missing("key");
    return;
  }
  if (!OpenKv(&a.kv)) return;
  char* value;
  int32_t n = ReadChecked(Param("strong") != NULL ? CallKvGetStrong : CallKvGet, &a, &value);
  if (n < 0) {
    Fail(n);
    return;
  }
  if (memchr(etag, '\0', sizeof etag) == NULL) {
    Fail(Violation("etag not NUL-terminated"));
    return;
  }
  edgelab_write(value, (size_t)n);
  Printf("\n%s", etag);
}

static void ProbeKvMeta(const char* rest) {
  (void)rest;
  KvArgs a = {0, Param("key"), NULL, 0, NULL};
  if (a.key == NULL) {
    Missing("key");
    return;
  }
  if (!OpenKv(&a.kv)) return;
  Echo(CallKvMeta, &a);
}

static void ProbeKvDelete(const char* rest) {
  (void)rest;
  int32_t kv;
  const char* key = Param("key");
  if (key == NULL) {
    Missing("key");
    return;
  }
  if (!OpenKv(&kv)) return;
  int32_t rc = edgelab_kv_delete(kv, key);
  if (rc < 0) {
    Fail(rc);
    return;
  }
  edgelab_write_str("deleted");
}

static void ProbeKvList(const char* rest) {
  (void)rest;
  const char* prefix = Param("prefix");
  const char* cursor = Param("cursor");
  const char* limit = Param("limit");
  KvArgs a = {0, prefix ? prefix : "", cursor ? cursor : "",
              limit ? (uint32_t)strtoul(limit, NULL, 10) : 0, NULL};
  if (!OpenKv(&a.kv)) return;
  char* raw;
  int32_t n = ReadChecked(CallKvList, &a, &raw);
  if (n < 0) {
    Fail(n);
    return;
  }
  edgelab_kv_listing l;
  if (edgelab_kv_listing_init(&l, raw, (size_t)n) < 0) {
    Fail(Violation("bad listing"));
    return;
  }
  const char* key;
  uint32_t key_len;
  int32_t rc;
  while ((rc = edgelab_kv_listing_next(&l, &key, &key_len)) == 1) {
    edgelab_write(key, key_len);
    edgelab_write_str("\n");
  }
  if (rc < 0) {
    Fail(Violation("bad listing"));
    return;
  }
  edgelab_write_str("cursor: ");
  edgelab_write(l.cursor, l.cursor_len);
}

/* A key of `len` bytes, 'k' repeated. */
static char* KeyOf(size_t len) {
  char* key = (char*)Alloc(len + 1);
  memset(key, 'k', len);
  key[len] = '\0';
  return key;
}

static void ProbeKvMaxKey(const char* rest) {
  (void)rest;
  int32_t kv;
  if (!OpenKv(&kv)) return;
  char etag[EDGELAB_ETAG_CAP] = "";
  edgelab_kv_put_options o = {0};
  o.out_etag_ptr = etag;
  o.out_etag_cap = sizeof etag;
  AnswerPut(edgelab_kv_put(kv, KeyOf(EDGELAB_KV_MAX_KEY), "max", 3, &o), etag);
}

static void ProbeKvBigKey(const char* rest) {
  (void)rest;
  int32_t kv;
  if (!OpenKv(&kv)) return;
  const char* op = Param("op");
  const char* key = KeyOf(EDGELAB_KV_MAX_KEY + 1);
  char etag[EDGELAB_ETAG_CAP];
  char buf[8];
  int32_t rc;
  if (op == NULL || strcmp(op, "get") == 0) {
    rc = edgelab_raw_kv_get(kv, key, strlen(key), buf, sizeof buf, etag, sizeof etag);
  } else if (strcmp(op, "put") == 0) {
    rc = edgelab_kv_put(kv, key, "v", 1, NULL);
  } else if (strcmp(op, "delete") == 0) {
    rc = edgelab_kv_delete(kv, key);
  } else if (strcmp(op, "meta") == 0) {
    rc = edgelab_raw_kv_get_metadata(kv, key, strlen(key), buf, sizeof buf);
  } else {
    Missing("op=get|put|delete|meta");
    return;
  }
  Fail(rc < 0 ? rc : Violation("a 513-byte key was accepted"));
}

static void ProbeKvBigMeta(const char* rest) {
  (void)rest;
  int32_t kv;
  if (!OpenKv(&kv)) return;
  edgelab_kv_put_options o = {0};
  o.metadata_ptr = KeyOf(EDGELAB_KV_MAX_METADATA + 1);
  o.metadata_len = EDGELAB_KV_MAX_METADATA + 1;
  int32_t rc = edgelab_kv_put(kv, "bigmeta", "v", 1, &o);
  Fail(rc < 0 ? rc : Violation("1025 bytes of metadata were accepted"));
}

static void ProbeKvBadHandle(const char* rest) {
  (void)rest;
  char buf[8];
  int32_t rc = edgelab_raw_kv_get(12345, "k", 1, buf, sizeof buf, NULL, 0);
  Fail(rc < 0 ? rc : Violation("handle 12345 was accepted"));
}

/* Options the host must refuse: an unknown condition, or a non-zero reserved word. */
static void PutBadOptions(uint32_t condition, uint32_t reserved) {
  int32_t kv;
  if (!OpenKv(&kv)) return;
  edgelab_kv_put_options o = {0};
  o.condition = condition;
  o.reserved = reserved;
  int32_t rc = edgelab_kv_put(kv, "badopts", "v", 1, &o);
  Fail(rc < 0 ? rc : Violation("bad kv_put options were accepted"));
}

static void ProbeKvBadOpts(const char* rest) {
  (void)rest;
  PutBadOptions(3, 0);
}

static void ProbeKvBadReserved(const char* rest) {
  (void)rest;
  PutBadOptions(EDGELAB_KV_PUT_ALWAYS, 1);
}

static void ProbeKvNoBinding(const char* rest) {
  (void)rest;
  int32_t h = edgelab_kv_open("NO_SUCH_BINDING");
  Fail(h < 0 ? h : Violation("a missing binding opened"));
}

/* ---- Time, randomness, logging, WASI ---- */

static void ProbeSleep(const char* rest) {
  uint32_t ms = (uint32_t)strtoul(rest, NULL, 10);
  /* Tests wait for this line to know the request is in flight. */
  char line[48];
  snprintf(line, sizeof(line), "sleeping %u ms", (unsigned)ms);
  edgelab_log(1, line);
  edgelab_sleep_ms(ms);
  Printf("slept %u", (unsigned)ms);
}

static void ProbeNow(const char* rest) {
  (void)rest;
  Printf("%lld", (long long)edgelab_now_ms());
}

static void ProbeRandom(const char* rest) {
  (void)rest;
  unsigned char b[16];
  edgelab_raw_random(b, sizeof b);
  for (size_t i = 0; i < sizeof b; i++) Printf("%02x", (unsigned)b[i]);
}

static void ProbeRandomWasi(const char* rest) {
  (void)rest;
  unsigned char b[16];
  if (getentropy(b, sizeof b) != 0) {
    Fail(EDGELAB_EIO);
    return;
  }
  for (size_t i = 0; i < sizeof b; i++) Printf("%02x", (unsigned)b[i]);
}

static void ProbeClock(const char* rest) {
  (void)rest;
  struct timespec rt, mono, res;
  if (clock_gettime(CLOCK_REALTIME, &rt) != 0 || clock_gettime(CLOCK_MONOTONIC, &mono) != 0 ||
      clock_getres(CLOCK_MONOTONIC, &res) != 0) {
    Fail(EDGELAB_EIO);
    return;
  }
  Printf("realtime %lld\nmonotonic %lld\nres %lld", (long long)rt.tv_sec * 1000000000 + rt.tv_nsec,
         (long long)mono.tv_sec * 1000000000 + mono.tv_nsec,
         (long long)res.tv_sec * 1000000000 + res.tv_nsec);
}

static void ProbeLog(const char* rest) {
  (void)rest;
  edgelab_log(EDGELAB_LOG_DEBUG, "abi_probe log debug");
  edgelab_log(EDGELAB_LOG_INFO, "abi_probe log info");
  edgelab_log(EDGELAB_LOG_WARN, "abi_probe log warn");
  edgelab_log(EDGELAB_LOG_ERROR, "abi_probe log error");
  edgelab_write_str("logged");
}

/* A line split over two writes checks the host joins them; the flushes make the writes happen in
 * this request (the isolate outlives it). */
static void ProbePrintf(const char* rest) {
  (void)rest;
  printf("abi_probe stdout\n");
  printf("abi_probe partial ");
  fflush(stdout);
  printf("line\n");
  fflush(stdout);
  fprintf(stderr, "abi_probe stderr\n");
  fflush(stderr);
  edgelab_write_str("printed");
}

static void ProbeExit(const char* rest) {
  int code = (int)strtol(rest, NULL, 10);
  Printf("exiting %d", code);
  __wasi_proc_exit((__wasi_exitcode_t)code);
}

static void ProbeGlobal(const char* rest) {
  (void)rest;
  Printf("%u", ++g_global);
}

/* ---- Bad pointers: each case must trap; answering at all is the failure ---- */

static uint32_t BadPtr(void) {
  uint32_t end = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
  const char* at = Param("at");
  if (at != NULL && strcmp(at, "end") == 0) return end - 2; /* straddles the end */
  if (at != NULL && strcmp(at, "past") == 0) return end;    /* just outside */
  return 0xFFFFFFF0u;                                       /* ptr + 64 wraps in 32 bits */
}

enum { kBadLen = 64 };

/* Runs bad-pointer case `fn`; returns what the call returned (it should not return) and sets
 * *known to 0 for an unknown case. One flat list, one line per case, so a new import gets its
 * case added beside its siblings; longer than a screen for that reason. */
static int64_t CallWithBadPtr(const char* fn, int32_t kv, int* known) {
  static char buf[8];
  static char etag[EDGELAB_ETAG_CAP];
  edgelab_kv_put_options o = {0};
  __wasi_ciovec_t iov = {(const uint8_t*)"x", 1};
  __wasi_size_t size;
  char* const bad = (char*)(uintptr_t)BadPtr();
  *known = 1;
  /* Keys the buffer cases read must exist, so the host has something to write. */
  if (strncmp(fn, "kv_get", 6) == 0) (void)edgelab_kv_put(kv, "badptr", "value", 5, NULL);
#define CASE(name, call) \
  if (strcmp(fn, name) == 0) return (call)
  CASE("req_method", edgelab_raw_req_method(bad, kBadLen));
  CASE("req_url", edgelab_raw_req_url(bad, kBadLen));
  CASE("req_header", edgelab_raw_req_header(bad, kBadLen, buf, sizeof buf));
  CASE("req_header_buf", edgelab_raw_req_header("host", 4, bad, kBadLen));
  CASE("req_headers", edgelab_raw_req_headers(bad, kBadLen));
  CASE("req_body", edgelab_raw_req_body(bad, kBadLen));
  CASE("resp_header", (edgelab_raw_resp_header(bad, kBadLen, "v", 1), 0));
  CASE("resp_header_value", (edgelab_raw_resp_header("X-Bad", 5, bad, kBadLen), 0));
  CASE("resp_write", (edgelab_raw_resp_write(bad, kBadLen), 0));
  CASE("kv_open", edgelab_raw_kv_open(bad, kBadLen));
  CASE("kv_get", edgelab_raw_kv_get(kv, bad, kBadLen, buf, sizeof buf, etag, sizeof etag));
  CASE("kv_get_buf", edgelab_raw_kv_get(kv, "badptr", 6, bad, kBadLen, etag, sizeof etag));
  CASE("kv_get_etag", edgelab_raw_kv_get(kv, "badptr", 6, buf, sizeof buf, bad, kBadLen));
  CASE("kv_get_strong",
       edgelab_raw_kv_get_strong(kv, bad, kBadLen, buf, sizeof buf, etag, sizeof etag));
  CASE("kv_get_strong_buf",
       edgelab_raw_kv_get_strong(kv, "badptr", 6, bad, kBadLen, etag, sizeof etag));
  CASE("kv_get_strong_etag",
       edgelab_raw_kv_get_strong(kv, "badptr", 6, buf, sizeof buf, bad, kBadLen));
  CASE("kv_get_metadata", edgelab_raw_kv_get_metadata(kv, bad, kBadLen, buf, sizeof buf));
  CASE("kv_get_metadata_buf", edgelab_raw_kv_get_metadata(kv, "badptr", 6, bad, kBadLen));
  CASE("kv_put", edgelab_raw_kv_put(kv, bad, kBadLen, "v", 1, NULL));
  CASE("kv_put_value", edgelab_raw_kv_put(kv, "badptr", 6, bad, kBadLen, NULL));
  CASE("kv_put_opts",
       edgelab_raw_kv_put(kv, "badptr", 6, "v", 1, (const edgelab_kv_put_options*)bad));
  /* Pointers inside the options block are guest pointers too. */
  o.condition = EDGELAB_KV_PUT_IF_MATCH, o.etag_ptr = bad, o.etag_len = kBadLen;
  CASE("kv_put_opts_etag", edgelab_raw_kv_put(kv, "badptr", 6, "v", 1, &o));
  o.condition = 0, o.etag_ptr = NULL, o.etag_len = 0;
  o.metadata_ptr = bad, o.metadata_len = kBadLen;
  CASE("kv_put_opts_metadata", edgelab_raw_kv_put(kv, "badptr", 6, "v", 1, &o));
  o.metadata_ptr = NULL, o.metadata_len = 0;
  o.out_etag_ptr = bad, o.out_etag_cap = kBadLen;
  CASE("kv_put_opts_out_etag", edgelab_raw_kv_put(kv, "badptr", 6, "v", 1, &o));
  CASE("kv_delete", edgelab_raw_kv_delete(kv, bad, kBadLen));
  CASE("kv_list", edgelab_raw_kv_list(kv, bad, kBadLen, "", 0, 0, buf, sizeof buf));
  CASE("kv_list_cursor", edgelab_raw_kv_list(kv, "", 0, bad, kBadLen, 0, buf, sizeof buf));
  CASE("kv_list_buf", edgelab_raw_kv_list(kv, "", 0, "", 0, 0, bad, kBadLen));
  CASE("random", (edgelab_raw_random(bad, kBadLen), 0));
  CASE("log", (edgelab_raw_log(EDGELAB_LOG_INFO, bad, kBadLen), 0));
  CASE("fd_write", __wasi_fd_write(1, (const __wasi_ciovec_t*)bad, 4, &size));
  iov.buf = (const uint8_t*)bad, iov.buf_len = kBadLen;
  CASE("fd_write_buf", __wasi_fd_write(1, &iov, 1, &size));
  iov.buf = (const uint8_t*)"x", iov.buf_len = 1;
  CASE("fd_write_nwritten", __wasi_fd_write(1, &iov, 1, (__wasi_size_t*)bad));
  CASE("random_get", __wasi_random_get((uint8_t*)bad, kBadLen));
  CASE("clock_time_get", __wasi_clock_time_get(0, 1, (__wasi_timestamp_t*)bad));
  CASE("clock_res_get", __wasi_clock_res_get(0, (__wasi_timestamp_t*)bad));
  CASE("fd_fdstat_get", __wasi_fd_fdstat_get(1, (__wasi_fdstat_t*)bad));
  CASE("args_sizes_get", __wasi_args_sizes_get((__wasi_size_t*)bad, &size));
  CASE("environ_sizes_get", __wasi_environ_sizes_get(&size, (__wasi_size_t*)bad));
#undef CASE
  *known = 0;
  return 0;
}

static void ProbeBadPtr(const char* fn) {
  int32_t kv = edgelab_kv_open("KV"); /* < 0 is fine for the non-KV cases */
  int known;
  int64_t rc = CallWithBadPtr(fn, kv, &known);
  if (!known) {
    edgelab_status(404);
    Printf("no bad-pointer case %s", fn);
    return;
  }
  edgelab_status(200);
  Printf("NOT TRAPPED: %s with a bad pointer returned %lld", fn, (long long)rc);
}

/* ---- Dispatch ---- */

typedef void (*Probe)(const char* rest);

static const struct Route {
  const char* path;
  int prefix; /* 1: matches path + anything; `rest` is what follows */
  Probe probe;
} kRoutes[] = {
    {"/method", 0, ProbeMethod},
    {"/url", 0, ProbeUrl},
    {"/header", 0, ProbeHeader},
    {"/headers", 0, ProbeHeaders},
    {"/body", 0, ProbeBody},
    {"/status/", 1, ProbeStatus},
    {"/header-out", 1, ProbeHeaderOut},
    {"/kv/put", 0, ProbeKvPut},
    {"/kv/get", 0, ProbeKvGet},
    {"/kv/cas", 0, ProbeKvCas},
    {"/kv/create", 0, ProbeKvCreate},
    {"/kv/delete", 0, ProbeKvDelete},
    {"/kv/list", 0, ProbeKvList},
    {"/kv/meta", 0, ProbeKvMeta},
    {"/kv/ttl", 0, ProbeKvTtl},
    {"/kv/maxkey", 0, ProbeKvMaxKey},
    {"/kv/bigkey", 0, ProbeKvBigKey},
    {"/kv/bigmeta", 0, ProbeKvBigMeta},
    {"/kv/badhandle", 0, ProbeKvBadHandle},
    {"/kv/badopts", 0, ProbeKvBadOpts},
    {"/kv/badreserved", 0, ProbeKvBadReserved},
    {"/kv/nobinding", 0, ProbeKvNoBinding},
    {"/sleep/", 1, ProbeSleep},
    {"/now", 0, ProbeNow},
    {"/random", 0, ProbeRandom},
    {"/random-wasi", 0, ProbeRandomWasi},
    {"/clock", 0, ProbeClock},
    {"/log", 0, ProbeLog},
    {"/printf", 0, ProbePrintf},
    {"/exit/", 1, ProbeExit},
    {"/global", 0, ProbeGlobal},
    {"/badptr/", 1, ProbeBadPtr},
};

static void Route(const char* path, size_t path_len) {
  for (size_t i = 0; i < sizeof kRoutes / sizeof kRoutes[0]; i++) {
    const struct Route* r = &kRoutes[i];
    size_t n = strlen(r->path);
    if (path_len < n || memcmp(path, r->path, n) != 0) continue;
    if (!r->prefix && path_len != n) continue;
    char* rest = (char*)Alloc(path_len - n + 1);
    memcpy(rest, path + n, path_len - n);
    rest[path_len - n] = '\0';
    r->probe(rest);
    return;
  }
  edgelab_status(404);
  edgelab_write_str("no such probe");
}

EDGELAB_EXPORT("fetch") void fetch(void) {
  ReleaseAll(); /* what a request that ended early left */
  g_violation = NULL;
  char* url;
  int32_t n = ReadChecked(CallUrl, NULL, &url);
  if (n < 0) {
    Fail(n);
    return;
  }
  g_url = url;
  Route(url, strcspn(url, "?"));
  ReleaseAll();
}
