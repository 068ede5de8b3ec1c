;; A worker and a Durable Object class in one module, for runtime_test.cc's
;; usage counts. GET /w burns fuel and does nothing else; GET /t burns it and
;; traps. GET /d puts and gets KV key "k" and fetches object "k" of binding
;; OBJ, whose do_fetch stores a 5,000-byte value (2 write units), sets an
;; alarm in the past (1 write unit) and burns the same fuel as /w; its
;; do_alarm reads the value back (2 read units) and burns that fuel again.
(module
  (import "edgelab" "req_url" (func $req_url (param i32 i32) (result i32)))
  (import "edgelab" "kv_open" (func $kv_open (param i32 i32) (result i32)))
  (import "edgelab" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "edgelab" "kv_get" (func $kv_get (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "edgelab" "do_namespace" (func $do_namespace (param i32 i32) (result i32)))
  (import "edgelab" "do_id_from_name"
    (func $do_id_from_name (param i32 i32 i32 i32 i32) (result i32)))
  (import "edgelab" "do_fetch" (func $do_fetch (param i32 i32 i32 i32) (result i32)))
  (import "edgelab" "storage_put" (func $storage_put (param i32 i32 i32 i32) (result i32)))
  (import "edgelab" "storage_get" (func $storage_get (param i32 i32 i32 i32) (result i32)))
  (import "edgelab" "alarm_set" (func $alarm_set (param i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "KV")
  (data (i32.const 16) "OBJ")
  (data (i32.const 32) "k")
  (data (i32.const 48) "v")
  ;; 64..127: the object's id; 256..287: a GET / request (all zero);
  ;; 1024..9215: values; 9216..9231: the request url.

  ;; The fuel of `n` turns of a small loop.
  (func $burn (param $n i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))

  (func (export "fetch") (local $h i32)
    (drop (call $req_url (i32.const 9216) (i32.const 16)))
    (if (i32.eq (i32.load8_u (i32.const 9217)) (i32.const 116))  ;; "/t": trap after a loop
      (then (call $burn (i32.const 100000)) (unreachable)))
    (if (i32.ne (i32.load8_u (i32.const 9217)) (i32.const 100))  ;; not "/d"
      (then (call $burn (i32.const 100000)) (return)))
    (local.set $h (call $kv_open (i32.const 0) (i32.const 2)))
    (drop (call $kv_put (local.get $h) (i32.const 32) (i32.const 1) (i32.const 48) (i32.const 1)
                        (i32.const 0)))
    (drop (call $kv_get (local.get $h) (i32.const 32) (i32.const 1) (i32.const 1024) (i32.const 64)
                        (i32.const 0) (i32.const 0)))
    (local.set $h (call $do_namespace (i32.const 16) (i32.const 3)))
    (drop (call $do_id_from_name (local.get $h) (i32.const 32) (i32.const 1) (i32.const 64)
                                 (i32.const 64)))
    (drop (call $do_fetch (local.get $h) (i32.const 64) (i32.const 64) (i32.const 256))))

  (func (export "do_fetch")
    (drop (call $storage_put (i32.const 32) (i32.const 1) (i32.const 1024) (i32.const 5000)))
    (drop (call $alarm_set (i64.const 1)))
    (call $burn (i32.const 100000)))

  (func (export "do_alarm")
    (drop (call $storage_get (i32.const 32) (i32.const 1) (i32.const 1024) (i32.const 8192)))
    (call $burn (i32.const 100000))))
