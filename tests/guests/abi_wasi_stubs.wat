;; tests/guests/abi_wasi_stubs.wat: the WASI preview1 calls of guest ABI v1 (docs/abi.md) that
;; tests/guests/abi_probe.c cannot reach through wasi-libc, called raw, for
;; tests/abi_probe_test.cc. Written in WAT because wasi-libc never calls fd_read, fd_prestat_*,
;; args_get or environ_get with an argument the test picks. Built by tests/CMakeLists.txt.
;;
;; The request path is "/<call><where>":
;;   call   a fd_read(0, P, 1, P)              e fd_close(3)          i path_open (not in the
;;          b fd_seek(0, 0, 0, P)              f sched_yield()          subset: the ENOSYS stub)
;;          c fd_prestat_get(3, P)             g args_get(P, P)
;;          d fd_prestat_dir_name(3, P, 8)     h environ_get(P, P)
;;   where  o P = 1024, inside memory; h P = 0xFFFFFFF0; p P = 65536, just past the one page
;; The answer is the call's result in decimal ("?" for an unknown path), followed by " wrote"
;; when the host changed any of the 16 bytes at 1024. A call that traps answers nothing: the
;; host's 500 is the answer.
(module
  (import "edgelab" "req_url" (func $req_url (param i32 i32) (result i32)))
  (import "edgelab" "resp_write" (func $resp_write (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek"
    (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get"
    (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
    (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 200) "? wrote")

  ;; The pointer the path's third byte asks for.
  (func $ptr (result i32)
    (local $where i32)
    (local.set $where (i32.load8_u (i32.const 2)))
    (if (i32.eq (local.get $where) (i32.const 0x68)) (then (return (i32.const 0xFFFFFFF0))))
    (if (i32.eq (local.get $where) (i32.const 0x70)) (then (return (i32.const 65536))))
    (i32.const 1024))

  ;; Writes rc in decimal when it is 0-99, "?" otherwise.
  (func $answer (param $rc i32)
    (if (i32.ge_u (local.get $rc) (i32.const 100))
      (then (call $resp_write (i32.const 200) (i32.const 1)) (return)))
    (if (i32.ge_u (local.get $rc) (i32.const 10))
      (then
        (i32.store8 (i32.const 300)
          (i32.add (i32.const 0x30) (i32.div_u (local.get $rc) (i32.const 10))))
        (i32.store8 (i32.const 301)
          (i32.add (i32.const 0x30) (i32.rem_u (local.get $rc) (i32.const 10))))
        (call $resp_write (i32.const 300) (i32.const 2)))
      (else
        (i32.store8 (i32.const 300) (i32.add (i32.const 0x30) (local.get $rc)))
        (call $resp_write (i32.const 300) (i32.const 1)))))

  (func (export "fetch")
    (local $call i32) (local $p i32) (local $rc i32)
    (i64.store (i32.const 0) (i64.const 0))  ;; a short path must not see the last one's bytes
    (drop (call $req_url (i32.const 0) (i32.const 64)))
    (local.set $call (i32.load8_u (i32.const 1)))
    (local.set $p (call $ptr))
    (i64.store (i32.const 1024) (i64.const 0xA5A5A5A5A5A5A5A5))
    (i64.store (i32.const 1032) (i64.const 0xA5A5A5A5A5A5A5A5))
    (local.set $rc (i32.const -1))
    (if (i32.eq (local.get $call) (i32.const 0x61))
      (then (local.set $rc
        (call $fd_read (i32.const 0) (local.get $p) (i32.const 1) (local.get $p)))))
    (if (i32.eq (local.get $call) (i32.const 0x62))
      (then (local.set $rc
        (call $fd_seek (i32.const 0) (i64.const 0) (i32.const 0) (local.get $p)))))
    (if (i32.eq (local.get $call) (i32.const 0x63))
      (then (local.set $rc (call $fd_prestat_get (i32.const 3) (local.get $p)))))
    (if (i32.eq (local.get $call) (i32.const 0x64))
      (then (local.set $rc
        (call $fd_prestat_dir_name (i32.const 3) (local.get $p) (i32.const 8)))))
    (if (i32.eq (local.get $call) (i32.const 0x65))
      (then (local.set $rc (call $fd_close (i32.const 3)))))
    (if (i32.eq (local.get $call) (i32.const 0x66))
      (then (local.set $rc (call $sched_yield))))
    (if (i32.eq (local.get $call) (i32.const 0x67))
      (then (local.set $rc (call $args_get (local.get $p) (local.get $p)))))
    (if (i32.eq (local.get $call) (i32.const 0x68))
      (then (local.set $rc (call $environ_get (local.get $p) (local.get $p)))))
    (if (i32.eq (local.get $call) (i32.const 0x69))
      (then (local.set $rc
        (call $path_open (i32.const 3) (i32.const 0) (i32.const 1024) (i32.const 1) (i32.const 0)
          (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 1024)))))
    (call $answer (local.get $rc))
    (if (i32.or
          (i64.ne (i64.load (i32.const 1024)) (i64.const 0xA5A5A5A5A5A5A5A5))
          (i64.ne (i64.load (i32.const 1032)) (i64.const 0xA5A5A5A5A5A5A5A5)))
      (then (call $resp_write (i32.const 201) (i32.const 6)))))
)
