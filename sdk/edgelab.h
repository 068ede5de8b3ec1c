/* sdk/edgelab.h: the guest side of edgelab's ABI v1 for C workers (and the base of edgelab.hpp).
 *
 * docs/abi.md is the contract. This header declares its imports exactly (edgelab_raw_*) and adds
 * small inline helpers (edgelab_*) for the common cases; guests should call the helpers.
 *
 * Threading: an isolate serves one request at a time and a guest has no threads; nothing here
 * locks. Module globals persist between the requests one isolate serves.
 * Invariants: (1) every call here is valid only inside an export the host calls for a request
 *                 (`fetch`, `do_fetch`, `do_alarm`) or code it calls; the object calls (storage,
 *                 alarm, self id) only inside `do_fetch` and `do_alarm`;
 *             (2) a host call never keeps a pointer it was given after it returns.
 * Failure: a negative return is an EDGELAB_E* code; a failed precondition is a result
 * (EDGELAB_EPRECONDITION), not a fault. A pointer outside linear memory traps the guest (the call
 * never returns; the request ends with 500). Helpers that allocate call abort() when malloc
 * fails: under [limits] memory_mb that ends the request with 503 "exceeded memory limit", which
 * is the right answer for an edge function with no memory left.
 * Strings: raw calls take (ptr, len) without NUL; helpers take C strings and write NUL-terminated
 * results with snprintf's rule (the full length is returned; a result that did not fit in `cap`
 * is truncated, and the caller sees that by comparing the return with cap).
 */
#ifndef EDGELAB_SDK_EDGELAB_H_
#define EDGELAB_SDK_EDGELAB_H_

#if !defined(__wasm32__)
#error "edgelab.h is for guests: build with --target=wasm32-wasi (sdk/edgelab.cmake does)"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#define EDGELAB_STATIC_ASSERT static_assert
#else
#define EDGELAB_STATIC_ASSERT _Static_assert
#endif

/* Marks a function as a module export: EDGELAB_EXPORT("fetch") void fetch(void) { ... } */
#define EDGELAB_EXPORT(name) __attribute__((export_name(name)))

/* ---- Error codes (docs/abi.md "Error codes") ---- */
#define EDGELAB_ENOTFOUND (-1)     /* no such key / header / binding */
#define EDGELAB_EPRECONDITION (-2) /* if_match / if_none_match failed; nothing was written */
#define EDGELAB_EINVAL (-3)        /* over a KV limit, bad handle, bad option */
#define EDGELAB_EIO (-4)           /* the store failed; details in the server log */
#define EDGELAB_EUNAVAILABLE (-5)  /* shutting down, or a do_fetch limit (docs/abi.md) */
#define EDGELAB_ECYCLE (-6)        /* do_fetch: a cycle of objects waiting on each other */

/* ---- Limits the host enforces (EDGELAB_EINVAL beyond them) ---- */
#define EDGELAB_KV_MAX_KEY 512
#define EDGELAB_KV_MAX_VALUE (25u << 20)
#define EDGELAB_KV_MAX_METADATA 1024
#define EDGELAB_KV_LIST_MAX 1000
#define EDGELAB_ETAG_CAP 65 /* an etag buffer this big always holds the etag and its NUL */

/* Durable Objects: storage limits (Cloudflare's), and the length of an id (64 lower-case hex
 * characters; no NUL where the host writes one). */
#define EDGELAB_STORAGE_MAX_KEY 2048
#define EDGELAB_STORAGE_MAX_VALUE (128u << 10)
#define EDGELAB_ID_LEN 64

#define EDGELAB_LOG_DEBUG 0
#define EDGELAB_LOG_INFO 1
#define EDGELAB_LOG_WARN 2
#define EDGELAB_LOG_ERROR 3

/* edgelab_kv_put_options.condition */
#define EDGELAB_KV_PUT_ALWAYS 0
#define EDGELAB_KV_PUT_IF_MATCH 1      /* compare-and-swap: store only if the etag still matches */
#define EDGELAB_KV_PUT_IF_NONE_MATCH 2 /* create only: store only if the key does not exist */

/* The 48-byte options block of kv_put (docs/abi.md). Zero-initialize it, then set what you need:
 *   edgelab_kv_put_options o = {0};  o.condition = EDGELAB_KV_PUT_IF_MATCH; ... */
typedef struct edgelab_kv_put_options {
  uint32_t condition;   /* EDGELAB_KV_PUT_* */
  const char* etag_ptr; /* if_match: an etag from a get or an earlier put */
  uint32_t etag_len;
  const void* metadata_ptr; /* stored with the value, at most 1024 bytes; length 0 = none */
  uint32_t metadata_len;
  char* out_etag_ptr;     /* when not NULL: receives the new etag, NUL-terminated, ... */
  uint32_t out_etag_cap;  /* ... in at most this many bytes (EDGELAB_ETAG_CAP suffices) */
  uint32_t reserved;      /* must be 0 */
  int64_t expiration_ttl; /* seconds from now; 0 = never */
  int64_t expiration;     /* absolute Unix seconds; 0 = never; wins over expiration_ttl */
} edgelab_kv_put_options;

EDGELAB_STATIC_ASSERT(sizeof(edgelab_kv_put_options) == 48, "kv_put options are 48 bytes");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, etag_ptr) == 4, "etag_ptr at 4");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, etag_len) == 8, "etag_len at 8");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, metadata_ptr) == 12, "metadata_ptr at 12");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, metadata_len) == 16, "metadata_len at 16");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, out_etag_ptr) == 20, "out_etag_ptr at 20");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, out_etag_cap) == 24, "out_etag_cap at 24");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, reserved) == 28, "reserved at 28");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, expiration_ttl) == 32, "ttl at 32");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_kv_put_options, expiration) == 40, "expiration at 40");

/* The 32-byte request block of do_fetch (docs/abi.md). Zero-initialize it, then set what you need:
 * method_len 0 means "GET" (else 1-16 bytes of A-Z), url_len 0 means "/"; headers are
 * "name: value\n" lines. The object reads all of it with the ordinary req_* calls. */
typedef struct edgelab_do_request {
  const char* method_ptr;
  uint32_t method_len;
  const char* url_ptr; /* the request target the object sees: "/acquire?owner=x" */
  uint32_t url_len;
  const char* headers_ptr;
  uint32_t headers_len;
  const void* body_ptr;
  uint32_t body_len;
} edgelab_do_request;

EDGELAB_STATIC_ASSERT(sizeof(edgelab_do_request) == 32, "do_fetch requests are 32 bytes");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_do_request, method_len) == 4, "method_len at 4");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_do_request, url_ptr) == 8, "url_ptr at 8");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_do_request, url_len) == 12, "url_len at 12");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_do_request, headers_ptr) == 16, "headers_ptr at 16");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_do_request, headers_len) == 20, "headers_len at 20");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_do_request, body_ptr) == 24, "body_ptr at 24");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_do_request, body_len) == 28, "body_len at 28");

/* The 28-byte options block of storage_list. All zero (or a NULL pointer to it) lists every key.
 * A range is [start, end): a zero start_len starts at the first key, a zero end_len ends after the
 * last; limit 0 means no limit. */
typedef struct edgelab_storage_list_options {
  const char* prefix_ptr;
  uint32_t prefix_len;
  const char* start_ptr;
  uint32_t start_len;
  const char* end_ptr;
  uint32_t end_len;
  uint32_t limit;
} edgelab_storage_list_options;

EDGELAB_STATIC_ASSERT(sizeof(edgelab_storage_list_options) == 28, "list options are 28 bytes");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_storage_list_options, prefix_len) == 4, "prefix_len at 4");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_storage_list_options, start_ptr) == 8, "start_ptr at 8");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_storage_list_options, start_len) == 12, "start_len at 12");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_storage_list_options, end_ptr) == 16, "end_ptr at 16");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_storage_list_options, end_len) == 20, "end_len at 20");
EDGELAB_STATIC_ASSERT(offsetof(edgelab_storage_list_options, limit) == 24, "limit at 24");

/* ---- Raw imports: exactly docs/abi.md. (buf, cap) calls return the full length. ---- */
#define EDGELAB_IMPORT(n) __attribute__((import_module("edgelab"), import_name(#n)))

EDGELAB_IMPORT(req_method) int32_t edgelab_raw_req_method(char* buf, size_t cap);
EDGELAB_IMPORT(req_url) int32_t edgelab_raw_req_url(char* buf, size_t cap);
/* Returns the first value's length (name compared case-insensitively) or EDGELAB_ENOTFOUND. */
EDGELAB_IMPORT(req_header)
int32_t edgelab_raw_req_header(const char* name, size_t name_len, char* buf, size_t cap);
EDGELAB_IMPORT(req_headers) int32_t edgelab_raw_req_headers(char* buf, size_t cap);
EDGELAB_IMPORT(req_body) int32_t edgelab_raw_req_body(char* buf, size_t cap);

/* Traps on a code outside 100-599 and on CR/LF in a header name or value. */
EDGELAB_IMPORT(resp_status) void edgelab_raw_resp_status(int32_t code);
EDGELAB_IMPORT(resp_header)
void edgelab_raw_resp_header(const char* name, size_t name_len, const char* value,
                             size_t value_len);
EDGELAB_IMPORT(resp_write) void edgelab_raw_resp_write(const void* data, size_t len);

/* A handle (>= 0) or EDGELAB_ENOTFOUND. */
EDGELAB_IMPORT(kv_open) int32_t edgelab_raw_kv_open(const char* name, size_t name_len);
/* Value length, or ENOTFOUND, EINVAL, EIO, EUNAVAILABLE. etag_cap 0 writes no etag. */
EDGELAB_IMPORT(kv_get)
int32_t edgelab_raw_kv_get(int32_t kv, const char* key, size_t key_len, void* buf, size_t cap,
                           char* etag_buf, size_t etag_cap);
/* As kv_get, read at the origin: never a stale value from the serving location's cache. */
EDGELAB_IMPORT(kv_get_strong)
int32_t edgelab_raw_kv_get_strong(int32_t kv, const char* key, size_t key_len, void* buf,
                                  size_t cap, char* etag_buf, size_t etag_cap);
/* Metadata length (0 when none), or ENOTFOUND, EINVAL, EIO, EUNAVAILABLE. */
EDGELAB_IMPORT(kv_get_metadata)
int32_t edgelab_raw_kv_get_metadata(int32_t kv, const char* key, size_t key_len, void* buf,
                                    size_t cap);
/* 0 stored, or EPRECONDITION, EINVAL, EIO, EUNAVAILABLE. opts may be NULL (unconditional). */
EDGELAB_IMPORT(kv_put)
int32_t edgelab_raw_kv_put(int32_t kv, const char* key, size_t key_len, const void* value,
                           size_t value_len, const edgelab_kv_put_options* opts);
/* 0 (also when the key was missing), or EINVAL, EIO, EUNAVAILABLE. */
EDGELAB_IMPORT(kv_delete)
int32_t edgelab_raw_kv_delete(int32_t kv, const char* key, size_t key_len);
/* Length of the encoded listing (see edgelab_kv_listing), or EINVAL, EIO, EUNAVAILABLE. */
EDGELAB_IMPORT(kv_list)
int32_t edgelab_raw_kv_list(int32_t kv, const char* prefix, size_t prefix_len, const char* cursor,
                            size_t cursor_len, uint32_t limit, void* buf, size_t cap);

EDGELAB_IMPORT(sleep_ms) void edgelab_raw_sleep_ms(uint32_t ms);
EDGELAB_IMPORT(now_ms) int64_t edgelab_raw_now_ms(void);
EDGELAB_IMPORT(random) void edgelab_raw_random(void* buf, size_t len);
EDGELAB_IMPORT(log) void edgelab_raw_log(int32_t level, const char* msg, size_t msg_len);

/* Value length of edge.toml [vars] `name`, or ENOTFOUND. */
EDGELAB_IMPORT(var_get)
int32_t edgelab_raw_var_get(const char* name, size_t name_len, char* buf, size_t cap);

/* Durable Object stubs, from a worker or from inside an object. A handle (>= 0) for the
 * [[durable_objects.bindings]] `name`, or ENOTFOUND; valid for the isolate's life. */
EDGELAB_IMPORT(do_namespace) int32_t edgelab_raw_do_namespace(const char* name, size_t name_len);
/* Write an id (EDGELAB_ID_LEN bytes, no NUL) and return its length, or EINVAL (bad handle). The
 * same name gives the same id, forever. */
EDGELAB_IMPORT(do_id_from_name)
int32_t edgelab_raw_do_id_from_name(int32_t ns, const char* name, size_t name_len, char* buf,
                                    size_t cap);
EDGELAB_IMPORT(do_new_unique_id)
int32_t edgelab_raw_do_new_unique_id(int32_t ns, char* buf, size_t cap);
/* Sends `req` to object `id` and waits for its answer. Returns a response handle (>= 0), or
 * EINVAL (bad handle, malformed id, bad request values), ECYCLE (nothing was sent), EIO (the
 * object's storage write failed; its response is lost), EUNAVAILABLE. A trap in the object is
 * a response (500, or 503 for a CPU or memory limit), not an error. */
EDGELAB_IMPORT(do_fetch)
int32_t edgelab_raw_do_fetch(int32_t ns, const char* id, size_t id_len,
                             const edgelab_do_request* req);
/* Reading a response handle: EINVAL for a bad or closed one. Headers are "name: value\n" lines. */
EDGELAB_IMPORT(do_response_status) int32_t edgelab_raw_do_response_status(int32_t r);
EDGELAB_IMPORT(do_response_headers)
int32_t edgelab_raw_do_response_headers(int32_t r, char* buf, size_t cap);
EDGELAB_IMPORT(do_response_body)
int32_t edgelab_raw_do_response_body(int32_t r, void* buf, size_t cap);
/* Frees the handle early (all are freed when the request ends). 0, or EINVAL. */
EDGELAB_IMPORT(do_response_close) int32_t edgelab_raw_do_response_close(int32_t r);

/* Inside an object only (do_fetch / do_alarm exports); elsewhere EINVAL and a warning in the log.
 * Keys are 1-2048 bytes, values at most 128 KiB (else EINVAL); a failed store is EIO. */
EDGELAB_IMPORT(do_self_id) int32_t edgelab_raw_do_self_id(char* buf, size_t cap);
/* Value length, or ENOTFOUND, EINVAL, EIO. */
EDGELAB_IMPORT(storage_get)
int32_t edgelab_raw_storage_get(const char* key, size_t key_len, void* buf, size_t cap);
/* 0, or EINVAL, EIO. */
EDGELAB_IMPORT(storage_put)
int32_t edgelab_raw_storage_put(const char* key, size_t key_len, const void* value,
                                size_t value_len);
/* 1 when the key existed, 0 when not; EINVAL, EIO. */
EDGELAB_IMPORT(storage_delete) int32_t edgelab_raw_storage_delete(const char* key, size_t key_len);
/* Length of the encoded listing (see edgelab_storage_listing), or EINVAL, EIO. opts may be NULL. */
EDGELAB_IMPORT(storage_list)
int32_t edgelab_raw_storage_list(const edgelab_storage_list_options* opts, void* buf, size_t cap);
/* 0, or EINVAL: begin when one is open (no nesting), commit/rollback when none is. */
EDGELAB_IMPORT(storage_txn_begin) int32_t edgelab_raw_storage_txn_begin(void);
EDGELAB_IMPORT(storage_txn_commit) int32_t edgelab_raw_storage_txn_commit(void);
EDGELAB_IMPORT(storage_txn_rollback) int32_t edgelab_raw_storage_txn_rollback(void);
/* The alarm, in Unix ms; not part of transactions. set: 0, or EINVAL for time_ms <= 0; it
 * replaces any alarm. get: the time, -1 when none, or EIO (EINVAL outside an object) as an i64.
 * delete: 0, or EIO. */
EDGELAB_IMPORT(alarm_set) int32_t edgelab_raw_alarm_set(int64_t time_ms);
EDGELAB_IMPORT(alarm_get) int64_t edgelab_raw_alarm_get(void);
EDGELAB_IMPORT(alarm_delete) int32_t edgelab_raw_alarm_delete(void);

/* ---- Request helpers ---- */

/* Internal: NUL-terminates a (buf, cap-1) raw result; passes errors through. */
static inline int32_t edgelab_internal_terminate(int32_t n, char* buf, size_t cap) {
  if (n >= 0 && cap > 0) buf[(size_t)n < cap ? (size_t)n : cap - 1] = '\0';
  return n;
}

/* Writes the method ("GET", ...) into buf as a C string; returns its full length. */
static inline int32_t edgelab_method(char* buf, size_t cap) {
  return edgelab_internal_terminate(edgelab_raw_req_method(buf, cap ? cap - 1 : 0), buf, cap);
}

/* Writes the request target as sent ("/path?query") into buf; returns its full length. */
static inline int32_t edgelab_url(char* buf, size_t cap) {
  return edgelab_internal_terminate(edgelab_raw_req_url(buf, cap ? cap - 1 : 0), buf, cap);
}

/* Writes header `name`'s first value into buf; returns its full length or EDGELAB_ENOTFOUND. */
static inline int32_t edgelab_header(const char* name, char* buf, size_t cap) {
  int32_t n = edgelab_raw_req_header(name, strlen(name), buf, cap ? cap - 1 : 0);
  return edgelab_internal_terminate(n, buf, cap);
}

/* Internal: one decoded byte of a URL query component at s[*i] ('+' is a space, %XX a byte). */
static inline char edgelab_internal_unescape(const char* s, size_t len, size_t* i) {
  char c = s[(*i)++];
  if (c == '+') return ' ';
  if (c != '%' || *i + 2 > len) return c;
  int v = 0;
  for (size_t k = 0; k < 2; k++) {
    char h = s[*i + k];
    int d = h >= '0' && h <= '9'   ? h - '0'
            : h >= 'a' && h <= 'f' ? h - 'a' + 10
            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                   : -1;
    if (d < 0) return c; /* not an escape: keep the '%' literally */
    v = v * 16 + d;
  }
  *i += 2;
  return (char)v;
}

/* Finds query parameter `name` in `url` (as from edgelab_url) and writes its percent-decoded
 * value into out; returns the value's full length (0 for "?name" or "?name="), or
 * EDGELAB_ENOTFOUND. Names compare after decoding; the first match wins. */
static inline int32_t edgelab_query_param(const char* url, const char* name, char* out,
                                          size_t cap) {
  const char* q = strchr(url, '?');
  if (q == NULL) return EDGELAB_ENOTFOUND;
  size_t name_len = strlen(name);
  for (const char* part = q + 1; *part != '\0';) {
    size_t len = strcspn(part, "&#");
    size_t key_end = strcspn(part, "=&#");
    size_t i = 0, j = 0;
    while (i < key_end && j < name_len && edgelab_internal_unescape(part, key_end, &i) == name[j])
      j++;
    if (i == key_end && j == name_len) {
      size_t n = 0;
      for (i = key_end < len ? key_end + 1 : len; i < len; n++) {
        char c = edgelab_internal_unescape(part, len, &i);
        if (n + 1 < cap) out[n] = c;
      }
      if (cap > 0) out[n < cap ? n : cap - 1] = '\0';
      return (int32_t)n;
    }
    if (part[len] != '&') break;
    part += len + 1;
  }
  return EDGELAB_ENOTFOUND;
}

/* ---- Reading a result of unknown length into a malloc'd buffer ---- */

/* Internal: which (buf, cap) call edgelab_internal_read_alloc makes, with its arguments. */
typedef enum edgelab_internal_op {
  EDGELAB_READ_BODY,
  EDGELAB_READ_HEADERS,
  EDGELAB_READ_KV_GET,
  EDGELAB_READ_KV_GET_STRONG,
  EDGELAB_READ_KV_META,
  EDGELAB_READ_KV_LIST,
  EDGELAB_READ_DO_BODY,
  EDGELAB_READ_STORAGE_GET,
  EDGELAB_READ_STORAGE_LIST
} edgelab_internal_op;

typedef struct edgelab_internal_read {
  edgelab_internal_op op;
  int32_t handle; /* KV or do_fetch response handle */
  const char* a;  /* key or prefix */
  size_t a_len;
  const char* b; /* cursor */
  size_t b_len;
  uint32_t limit;
  char* etag; /* EDGELAB_ETAG_CAP bytes or NULL */
  const edgelab_storage_list_options* list;
} edgelab_internal_read;

static inline int32_t edgelab_internal_call(const edgelab_internal_read* r, char* buf, size_t cap) {
  switch (r->op) {
    case EDGELAB_READ_BODY:
      return edgelab_raw_req_body(buf, cap);
    case EDGELAB_READ_HEADERS:
      return edgelab_raw_req_headers(buf, cap);
    case EDGELAB_READ_KV_GET:
      return edgelab_raw_kv_get(r->handle, r->a, r->a_len, buf, cap, r->etag,
                                r->etag ? EDGELAB_ETAG_CAP : 0);
    case EDGELAB_READ_KV_GET_STRONG:
      return edgelab_raw_kv_get_strong(r->handle, r->a, r->a_len, buf, cap, r->etag,
                                       r->etag ? EDGELAB_ETAG_CAP : 0);
    case EDGELAB_READ_KV_META:
      return edgelab_raw_kv_get_metadata(r->handle, r->a, r->a_len, buf, cap);
    case EDGELAB_READ_KV_LIST:
      return edgelab_raw_kv_list(r->handle, r->a, r->a_len, r->b, r->b_len, r->limit, buf, cap);
    case EDGELAB_READ_DO_BODY:
      return edgelab_raw_do_response_body(r->handle, buf, cap);
    case EDGELAB_READ_STORAGE_GET:
      return edgelab_raw_storage_get(r->a, r->a_len, buf, cap);
    case EDGELAB_READ_STORAGE_LIST:
      return edgelab_raw_storage_list(r->list, buf, cap);
  }
  return EDGELAB_EINVAL;
}

/* Internal: makes the call, and again with a buffer of the returned length while it did not fit.
 * The first guess covers typical counters, headers and small bodies in one call. It loops rather
 * than calling twice because another isolate may grow a value between the calls; each round
 * uses the newest length, so it ends as soon as the value stops growing. */
static inline int32_t edgelab_internal_read_alloc(const edgelab_internal_read* r, char** out) {
  size_t cap = 256;
  char* buf = NULL;
  for (;;) {
    char* grown = (char*)realloc(buf, cap + 1);
    if (grown == NULL) abort();
    buf = grown;
    int32_t n = edgelab_internal_call(r, buf, cap);
    if (n < 0) {
      free(buf);
      *out = NULL;
      return n;
    }
    if ((size_t)n <= cap) {
      buf[n] = '\0';
      *out = buf;
      return n;
    }
    cap = (size_t)n;
  }
}

/* Reads the request body. Returns its length; *body is malloc'd and NUL-terminated (the body
 * itself may hold NULs); the caller frees it. */
static inline int32_t edgelab_body(char** body) {
  edgelab_internal_read r = {EDGELAB_READ_BODY, 0, NULL, 0, NULL, 0, 0, NULL, NULL};
  return edgelab_internal_read_alloc(&r, body);
}

/* Reads all request headers as "name: value\n" lines, like edgelab_body. */
static inline int32_t edgelab_headers(char** headers) {
  edgelab_internal_read r = {EDGELAB_READ_HEADERS, 0, NULL, 0, NULL, 0, 0, NULL, NULL};
  return edgelab_internal_read_alloc(&r, headers);
}

/* ---- Response helpers ---- */

static inline void edgelab_status(int32_t code) { edgelab_raw_resp_status(code); }

static inline void edgelab_set_header(const char* name, const char* value) {
  edgelab_raw_resp_header(name, strlen(name), value, strlen(value));
}

static inline void edgelab_write(const void* data, size_t len) {
  edgelab_raw_resp_write(data, len);
}

static inline void edgelab_write_str(const char* s) { edgelab_raw_resp_write(s, strlen(s)); }

/* The whole response in one call: status, a text/plain content type, and `text` as the body. */
static inline void edgelab_respond(int32_t status, const char* text) {
  edgelab_raw_resp_status(status);
  edgelab_set_header("Content-Type", "text/plain; charset=utf-8");
  edgelab_write_str(text);
}

/* ---- KV helpers (keys as C strings; use the raw calls for keys holding NUL) ---- */

/* Returns a handle for the edge.toml binding, or EDGELAB_ENOTFOUND. Handles stay valid for the
 * isolate's life, so a worker may open once and keep the handle in a global. */
static inline int32_t edgelab_kv_open(const char* binding) {
  return edgelab_raw_kv_open(binding, strlen(binding));
}

/* Reads `key`. Returns the value's length with *value malloc'd and NUL-terminated (the caller
 * frees it) and, when etag is not NULL, the value's etag in etag[EDGELAB_ETAG_CAP].
 * Errors (*value = NULL): ENOTFOUND (no such key), EINVAL (key over 512 bytes or bad handle),
 * EIO, EUNAVAILABLE. */
static inline int32_t edgelab_kv_get(int32_t kv, const char* key, char** value, char* etag) {
  edgelab_internal_read r = {EDGELAB_READ_KV_GET, kv, key, strlen(key), NULL, 0, 0, etag, NULL};
  return edgelab_internal_read_alloc(&r, value);
}

/* Reads `key` like edgelab_kv_get, but at the origin: it sees every write completed before it,
 * where edgelab_kv_get may answer from the serving location's cache, up to [kv] cache_ttl_ms
 * stale (docs/abi.md "KV"). Read an etag for if_match with this. */
static inline int32_t edgelab_kv_get_strong(int32_t kv, const char* key, char** value, char* etag) {
  edgelab_internal_read r = {
      EDGELAB_READ_KV_GET_STRONG, kv, key, strlen(key), NULL, 0, 0, etag, NULL};
  return edgelab_internal_read_alloc(&r, value);
}

/* Reads `key`'s metadata like edgelab_kv_get (length 0 when it has none). */
static inline int32_t edgelab_kv_get_metadata(int32_t kv, const char* key, char** metadata) {
  edgelab_internal_read r = {EDGELAB_READ_KV_META, kv, key, strlen(key), NULL, 0, 0, NULL, NULL};
  return edgelab_internal_read_alloc(&r, metadata);
}

/* Writes `key`. opts may be NULL (unconditional). Returns 0 when stored, EDGELAB_EPRECONDITION
 * when opts' condition failed (nothing was written), EINVAL (over a limit, bad handle or
 * option), EIO, EUNAVAILABLE. */
static inline int32_t edgelab_kv_put(int32_t kv, const char* key, const void* value,
                                     size_t value_len, const edgelab_kv_put_options* opts) {
  return edgelab_raw_kv_put(kv, key, strlen(key), value, value_len, opts);
}

/* Deletes `key`. Returns 0 (also when it was missing), EINVAL, EIO, EUNAVAILABLE. */
static inline int32_t edgelab_kv_delete(int32_t kv, const char* key) {
  return edgelab_raw_kv_delete(kv, key, strlen(key));
}

/* Lists up to `limit` keys (1-1000; 0 means 1000; more is EINVAL) starting with `prefix`, after
 * `cursor` (NULL/0 to start; else the cursor of the previous page), in key order. Returns the
 * encoded listing's length with *listing malloc'd (the caller frees it; read it with
 * edgelab_kv_listing), or EINVAL, EIO, EUNAVAILABLE. */
static inline int32_t edgelab_kv_list(int32_t kv, const char* prefix, const char* cursor,
                                      size_t cursor_len, uint32_t limit, char** listing) {
  edgelab_internal_read r = {
      EDGELAB_READ_KV_LIST, kv, prefix, strlen(prefix), cursor, cursor_len, limit, NULL, NULL};
  return edgelab_internal_read_alloc(&r, listing);
}

/* A reader over one encoded listing page: u32 count, u32 cursor_len, cursor bytes, then count
 * times (u32 key_len, key bytes), all little-endian. It points into the listing buffer. */
typedef struct edgelab_kv_listing {
  uint32_t count;      /* keys in this page */
  const char* cursor;  /* continue from here; not NUL-terminated */
  uint32_t cursor_len; /* 0: the listing is complete */
  const char* next;    /* the next key entry */
  const char* end;
} edgelab_kv_listing;

static inline uint32_t edgelab_internal_u32le(const char* p) {
  uint32_t v; /* wasm32 is little-endian; memcpy because p need not be aligned */
  memcpy(&v, p, sizeof v);
  return v;
}

/* Starts reading `len` listing bytes. Returns 0, or EDGELAB_EIO when they are malformed (a host
 * bug; checked anyway so a bad listing never reads past the buffer). */
static inline int32_t edgelab_kv_listing_init(edgelab_kv_listing* l, const char* data, size_t len) {
  if (len < 8) return EDGELAB_EIO;
  l->count = edgelab_internal_u32le(data);
  l->cursor_len = edgelab_internal_u32le(data + 4);
  if (l->cursor_len > len - 8) return EDGELAB_EIO;
  l->cursor = data + 8;
  l->next = l->cursor + l->cursor_len;
  l->end = data + len;
  return 0;
}

/* Reads the next key: returns 1 with *key and *key_len set (not NUL-terminated), 0 after the last
 * key, EDGELAB_EIO when the listing is malformed. */
static inline int32_t edgelab_kv_listing_next(edgelab_kv_listing* l, const char** key,
                                              uint32_t* key_len) {
  if (l->count == 0) return 0;
  if (l->end - l->next < 4) return EDGELAB_EIO;
  uint32_t n = edgelab_internal_u32le(l->next);
  if (n > (size_t)(l->end - l->next) - 4) return EDGELAB_EIO;
  *key = l->next + 4;
  *key_len = n;
  l->next += 4 + n;
  l->count--;
  return 1;
}

/* ---- Vars (edge.toml [vars]) ---- */

/* Writes var `name`'s value into buf as a C string; returns its full length, or
 * EDGELAB_ENOTFOUND. Numbers and booleans in edge.toml arrive as their text. */
static inline int32_t edgelab_var(const char* name, char* buf, size_t cap) {
  int32_t n = edgelab_raw_var_get(name, strlen(name), buf, cap ? cap - 1 : 0);
  return edgelab_internal_terminate(n, buf, cap);
}

/* ---- Durable Objects: reaching one (from a worker or from inside an object) ---- */

/* Returns a handle for the [[durable_objects.bindings]] `name`, or EDGELAB_ENOTFOUND. Like KV
 * handles, it stays valid for the isolate's life. */
static inline int32_t edgelab_do_namespace(const char* binding) {
  return edgelab_raw_do_namespace(binding, strlen(binding));
}

/* Writes the id of the object named `name` into id as a C string; returns EDGELAB_ID_LEN, or
 * EDGELAB_EINVAL for a bad handle. */
static inline int32_t edgelab_do_id_from_name(int32_t ns, const char* name,
                                              char id[EDGELAB_ID_LEN + 1]) {
  int32_t n = edgelab_raw_do_id_from_name(ns, name, strlen(name), id, EDGELAB_ID_LEN);
  return edgelab_internal_terminate(n, id, EDGELAB_ID_LEN + 1);
}

/* Sends `method` (NULL: GET) `url` ("/path?query") with `body` and no headers to object `id` (a
 * C string from edgelab_do_id_from_name) and waits for its answer. Returns a response handle
 * (read it with edgelab_raw_do_response_status and edgelab_do_response_body) or an error as
 * edgelab_raw_do_fetch: EINVAL, ECYCLE, EIO, EUNAVAILABLE. */
static inline int32_t edgelab_do_fetch_simple(int32_t ns, const char* id, const char* method,
                                              const char* url, const void* body, size_t body_len) {
  edgelab_do_request req = {
      .method_ptr = method,
      .method_len = method ? (uint32_t)strlen(method) : 0,
      .url_ptr = url,
      .url_len = (uint32_t)strlen(url),
      .headers_ptr = NULL,
      .headers_len = 0,
      .body_ptr = body,
      .body_len = (uint32_t)body_len,
  };
  return edgelab_raw_do_fetch(ns, id, strlen(id), &req);
}

/* Reads response handle r's body like edgelab_body (the caller frees *body). EDGELAB_EINVAL for
 * a bad or closed handle. */
static inline int32_t edgelab_do_response_body(int32_t r, char** body) {
  edgelab_internal_read rd = {EDGELAB_READ_DO_BODY, r, NULL, 0, NULL, 0, 0, NULL, NULL};
  return edgelab_internal_read_alloc(&rd, body);
}

/* ---- Inside a Durable Object (the do_fetch and do_alarm exports) ----
 * Writes outside a transaction apply one by one, at once; between edgelab_raw_storage_txn_begin
 * and _commit they are seen by reads inside it and applied all together by the commit. A
 * transaction still open when the export returns or traps is rolled back. The response leaves
 * the object only once the writes it follows are durable. */

/* Reads `key` like edgelab_kv_get: the value's length with *value malloc'd and NUL-terminated,
 * or ENOTFOUND, EINVAL (empty key or over 2048 bytes; outside an object), EIO. */
static inline int32_t edgelab_storage_get(const char* key, char** value) {
  edgelab_internal_read r = {EDGELAB_READ_STORAGE_GET, 0, key, strlen(key), NULL, 0, 0, NULL, NULL};
  return edgelab_internal_read_alloc(&r, value);
}

/* Writes `key`. Returns 0, or EINVAL (key empty or over 2048 bytes, value over 128 KiB), EIO. */
static inline int32_t edgelab_storage_put(const char* key, const void* value, size_t value_len) {
  return edgelab_raw_storage_put(key, strlen(key), value, value_len);
}

/* Deletes `key`. Returns 1 when it existed, 0 when not, or EINVAL, EIO. */
static inline int32_t edgelab_storage_delete(const char* key) {
  return edgelab_raw_storage_delete(key, strlen(key));
}

/* Lists the pairs `opts` selects (NULL: all), in key byte order. Returns the encoded listing's
 * length with *listing malloc'd (the caller frees it; read it with edgelab_storage_listing), or
 * EINVAL, EIO. */
static inline int32_t edgelab_storage_list(const edgelab_storage_list_options* opts,
                                           char** listing) {
  edgelab_internal_read r = {EDGELAB_READ_STORAGE_LIST, 0, NULL, 0, NULL, 0, 0, NULL, opts};
  return edgelab_internal_read_alloc(&r, listing);
}

/* A reader over one encoded storage listing: u32 count, then count times (u32 key_len, key
 * bytes, u32 value_len, value bytes), all little-endian. It points into the listing buffer. */
typedef struct edgelab_storage_listing {
  uint32_t count;   /* pairs not read yet */
  const char* next; /* the next pair */
  const char* end;
} edgelab_storage_listing;

/* Starts reading `len` listing bytes. Returns 0, or EDGELAB_EIO when they are malformed. */
static inline int32_t edgelab_storage_listing_init(edgelab_storage_listing* l, const char* data,
                                                   size_t len) {
  if (len < 4) return EDGELAB_EIO;
  l->count = edgelab_internal_u32le(data);
  l->next = data + 4;
  l->end = data + len;
  return 0;
}

/* Internal: reads one (u32 length, bytes) field; 0 when it runs past the end. */
static inline int edgelab_internal_listing_field(edgelab_storage_listing* l, const char** p,
                                                 uint32_t* len) {
  if (l->end - l->next < 4) return 0;
  uint32_t n = edgelab_internal_u32le(l->next);
  if (n > (size_t)(l->end - l->next) - 4) return 0;
  *p = l->next + 4;
  *len = n;
  l->next += 4 + n;
  return 1;
}

/* Reads the next pair: returns 1 with key and value set (not NUL-terminated), 0 after the last,
 * EDGELAB_EIO when the listing is malformed. */
static inline int32_t edgelab_storage_listing_next(edgelab_storage_listing* l, const char** key,
                                                   uint32_t* key_len, const char** value,
                                                   uint32_t* value_len) {
  if (l->count == 0) return 0;
  if (!edgelab_internal_listing_field(l, key, key_len) ||
      !edgelab_internal_listing_field(l, value, value_len)) {
    return EDGELAB_EIO;
  }
  l->count--;
  return 1;
}

/* ---- Time, randomness, logging ---- */

/* Waits without holding a host thread: other requests run meanwhile. */
static inline void edgelab_sleep_ms(uint32_t ms) { edgelab_raw_sleep_ms(ms); }

/* Wall-clock time in Unix milliseconds (simulated time under `edgelab test`). */
static inline int64_t edgelab_now_ms(void) { return edgelab_raw_now_ms(); }

static inline uint64_t edgelab_random_u64(void) {
  uint64_t v;
  edgelab_raw_random(&v, sizeof v);
  return v;
}

/* One line in the server log at EDGELAB_LOG_* level. */
static inline void edgelab_log(int32_t level, const char* msg) {
  edgelab_raw_log(level, msg, strlen(msg));
}

/* The code's name ("ENOTFOUND", ...), "OK" for 0 and positive values, "E?" for unknown codes. */
static inline const char* edgelab_strerror(int32_t code) {
  switch (code) {
    case EDGELAB_ENOTFOUND:
      return "ENOTFOUND";
    case EDGELAB_EPRECONDITION:
      return "EPRECONDITION";
    case EDGELAB_EINVAL:
      return "EINVAL";
    case EDGELAB_EIO:
      return "EIO";
    case EDGELAB_EUNAVAILABLE:
      return "EUNAVAILABLE";
    case EDGELAB_ECYCLE:
      return "ECYCLE";
    default:
      return code >= 0 ? "OK" : "E?";
  }
}

#ifdef __cplusplus
} /* extern "C" */
#endif
#undef EDGELAB_STATIC_ASSERT

#endif /* EDGELAB_SDK_EDGELAB_H_ */
