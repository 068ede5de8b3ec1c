// testing/fault_vfs.h: a SQLite VFS that wraps the default one and fails the
// Nth write or sync with SQLITE_IOERR, for fault loops over storage code (as
// SQLite's own tests do): fail at step 1, 2, 3, ... and check that nothing
// reported durable is lost, until a run finishes with no fault injected.
//
// While a FaultVfs lives it is SQLite's default VFS, so code under test needs
// no hook. Only one may live at a time, and every connection opened through
// it must be closed before it dies.
// Threading: arm and read it from the test thread; the counters are atomic
// so connections on other threads may run meanwhile.
// Fault model: the failing call returns an error and, in torn mode, a write
// first stores the first half of its bytes (a torn page); every other call
// passes through untouched. Files opened before the VFS was registered are
// not affected.
#ifndef EDGELAB_TESTING_FAULT_VFS_H_
#define EDGELAB_TESTING_FAULT_VFS_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>

#include "base/status.h"

namespace edgelab::test {

class FaultVfs {
 public:
  FaultVfs() : real_(sqlite3_vfs_find(nullptr)) {
    EDGELAB_CHECK(real_ != nullptr);
    EDGELAB_CHECK(sqlite3_vfs_find(kName) == nullptr);  // one at a time
    vfs_ = *real_;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.pNext = nullptr;
    vfs_.zName = kName;
    vfs_.pAppData = this;
    vfs_.xOpen = &Open;
    // The rest pass the real VFS through; dlopen and system-call hooks are
    // copied as they are (the unix VFS ignores its vfs argument in them).
    vfs_.xDelete = [](sqlite3_vfs* v, const char* name, int sync_dir) {
      return Real(v)->xDelete(Real(v), name, sync_dir);
    };
    vfs_.xAccess = [](sqlite3_vfs* v, const char* name, int flags, int* out) {
      return Real(v)->xAccess(Real(v), name, flags, out);
    };
    vfs_.xFullPathname = [](sqlite3_vfs* v, const char* name, int n, char* out) {
      return Real(v)->xFullPathname(Real(v), name, n, out);
    };
    vfs_.xRandomness = [](sqlite3_vfs* v, int n, char* out) {
      return Real(v)->xRandomness(Real(v), n, out);
    };
    vfs_.xSleep = [](sqlite3_vfs* v, int us) { return Real(v)->xSleep(Real(v), us); };
    vfs_.xCurrentTime = [](sqlite3_vfs* v, double* t) { return Real(v)->xCurrentTime(Real(v), t); };
    vfs_.xGetLastError = [](sqlite3_vfs* v, int n, char* out) {
      return Real(v)->xGetLastError(Real(v), n, out);
    };
    vfs_.xCurrentTimeInt64 = [](sqlite3_vfs* v, sqlite3_int64* t) {
      return Real(v)->xCurrentTimeInt64(Real(v), t);
    };
    EDGELAB_CHECK(sqlite3_vfs_register(&vfs_, /*makeDflt=*/1) == SQLITE_OK);
  }

  ~FaultVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, /*makeDflt=*/1);
  }
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  // Fails the `n`th xWrite/xSync from now on (1 = the next one); 0 disarms.
  void FailAt(int64_t n, bool torn = false) {
    calls_ = 0;
    fail_at_ = n;
    torn_ = torn;
    fired_ = false;
  }
  // Whether the armed fault has been injected.
  bool fired() const { return fired_; }
  // xWrite/xSync calls since the last FailAt.
  int64_t calls() const { return calls_; }

 private:
  static constexpr const char* kName = "edgelab-fault";

  struct File {
    sqlite3_file base;
    sqlite3_file* real;  // points just past this struct
    FaultVfs* vfs;
  };

  static sqlite3_vfs* Real(sqlite3_vfs* v) { return static_cast<FaultVfs*>(v->pAppData)->real_; }
  static File* Cast(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
  static sqlite3_file* R(sqlite3_file* f) { return Cast(f)->real; }

  bool ShouldFail() {
    const int64_t n = ++calls_;
    if (fail_at_ == 0 || n != fail_at_) return false;
    fired_ = true;
    return true;
  }

  static int Open(sqlite3_vfs* v, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
    File* file = Cast(f);
    file->base.pMethods = nullptr;
    file->real = reinterpret_cast<sqlite3_file*>(file + 1);
    file->vfs = static_cast<FaultVfs*>(v->pAppData);
    const int rc = Real(v)->xOpen(Real(v), name, file->real, flags, out);
    // SQLite calls xClose whenever pMethods is set, even after a failed open.
    if (file->real->pMethods != nullptr) file->base.pMethods = &kMethods;
    return rc;
  }

  static int Write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
    File* file = Cast(f);
    if (!file->vfs->ShouldFail()) return R(f)->pMethods->xWrite(R(f), data, n, off);
    if (file->vfs->torn_ && n > 1) R(f)->pMethods->xWrite(R(f), data, n / 2, off);
    return SQLITE_IOERR_WRITE;
  }

  static int Sync(sqlite3_file* f, int flags) {
    if (Cast(f)->vfs->ShouldFail()) return SQLITE_IOERR_FSYNC;
    return R(f)->pMethods->xSync(R(f), flags);
  }

  static inline const sqlite3_io_methods kMethods = {
      3,
      [](sqlite3_file* f) { return R(f)->pMethods->xClose(R(f)); },
      [](sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
        return R(f)->pMethods->xRead(R(f), p, n, off);
      },
      &Write,
      [](sqlite3_file* f, sqlite3_int64 size) { return R(f)->pMethods->xTruncate(R(f), size); },
      &Sync,
      [](sqlite3_file* f, sqlite3_int64* size) { return R(f)->pMethods->xFileSize(R(f), size); },
      [](sqlite3_file* f, int lock) { return R(f)->pMethods->xLock(R(f), lock); },
      [](sqlite3_file* f, int lock) { return R(f)->pMethods->xUnlock(R(f), lock); },
      [](sqlite3_file* f, int* out) { return R(f)->pMethods->xCheckReservedLock(R(f), out); },
      [](sqlite3_file* f, int op, void* arg) {
        return R(f)->pMethods->xFileControl(R(f), op, arg);
      },
      [](sqlite3_file* f) { return R(f)->pMethods->xSectorSize(R(f)); },
      [](sqlite3_file* f) { return R(f)->pMethods->xDeviceCharacteristics(R(f)); },
      [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
        return R(f)->pMethods->xShmMap(R(f), page, size, extend, out);
      },
      [](sqlite3_file* f, int offset, int n, int flags) {
        return R(f)->pMethods->xShmLock(R(f), offset, n, flags);
      },
      [](sqlite3_file* f) { R(f)->pMethods->xShmBarrier(R(f)); },
      [](sqlite3_file* f, int delete_flag) { return R(f)->pMethods->xShmUnmap(R(f), delete_flag); },
      [](sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
        return R(f)->pMethods->xFetch(R(f), off, n, out);
      },
      [](sqlite3_file* f, sqlite3_int64 off, void* p) {
        return R(f)->pMethods->xUnfetch(R(f), off, p);
      },
  };

  sqlite3_vfs* const real_;
  sqlite3_vfs vfs_;
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> fail_at_{0};
  std::atomic<bool> torn_{false};
  std::atomic<bool> fired_{false};
};

}  // namespace edgelab::test

#endif  // EDGELAB_TESTING_FAULT_VFS_H_
