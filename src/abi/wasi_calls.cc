// abi/wasi_calls.cc: the WASI preview1 subset wasi-libc needs (docs/abi.md).
// There is no file system: stdout and stderr become log lines, every other
// descriptor is EBADF, arguments and environment are empty.
#include <cstring>

#include "abi/calls.h"
#include "abi/context.h"
#include "abi/guest.h"
#include "sched/scheduler.h"

namespace edgelab::abi::calls {
namespace {

constexpr int32_t kEsuccess = 0;
constexpr int32_t kEbadf = 8;
constexpr int32_t kEinval = 28;
constexpr uint8_t kFiletypeCharacterDevice = 2;

// Appends `data` to the fd's pending line and logs each completed line,
// charging each line's cost to the call (a buffer of newlines is cheap to
// pass and dear to log).
void WriteLines(HostCall& c, int fd, std::string_view data) {
  Context& ctx = *c.ctx;
  std::string& line = fd == 1 ? ctx.stdout_line : ctx.stderr_line;
  LogLevel level = fd == 1 ? LogLevel::kInfo : LogLevel::kError;
  for (char ch : data) {
    if (ch == '\n') {
      ctx.Log(level, line);
      line.clear();
      c.bytes += kLogLineCost;
    } else if (line.size() < 64 * 1024) {  // a line without end stays bounded
      line.push_back(ch);
    }
  }
}

}  // namespace

HostOutcome FdWrite(HostCall& c) {
  Guest g(c, "fd_write");
  uint32_t fd = g.U32(0), n = g.U32(2);
  // The whole iovec array first, in 64-bit: iovs + i * 8 must not wrap.
  uint64_t array_bytes = uint64_t{n} * 8;
  std::string_view array;
  if (array_bytes > UINT32_MAX || !g.Read(g.U32(1), static_cast<uint32_t>(array_bytes), &array)) {
    return g.Trap();
  }
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t iov[2];  // ptr, len
    std::memcpy(iov, array.data() + uint64_t{i} * 8, 8);
    std::string_view data;
    if (!g.Read(iov[0], iov[1], &data)) return g.Trap();
    if (fd == 1 || fd == 2) WriteLines(c, static_cast<int>(fd), data);
    total += iov[1];
  }
  if (fd != 1 && fd != 2) return g.Answer(kEbadf);
  if (!g.StoreU32(g.U32(3), static_cast<uint32_t>(total))) return g.Trap();
  return g.Answer(kEsuccess);
}

// The fd_* calls on files there are none of: check the guest's ranges (the
// pointer rule has no exceptions), then answer EBADF.
HostOutcome FdClose(HostCall& c) {
  Guest g(c, "fd_close");
  return g.Answer(kEbadf);
}

HostOutcome FdRead(HostCall& c) {
  Guest g(c, "fd_read");
  uint8_t* unused;
  uint64_t array_bytes = uint64_t{g.U32(2)} * 8;
  if (array_bytes > UINT32_MAX ||
      !g.Writable(g.U32(1), static_cast<uint32_t>(array_bytes), &unused) ||
      !g.Writable(g.U32(3), 4, &unused)) {
    return g.Trap();
  }
  return g.Answer(kEbadf);
}

HostOutcome FdSeek(HostCall& c) {
  Guest g(c, "fd_seek");
  uint8_t* unused;
  if (!g.Writable(g.U32(3), 8, &unused)) return g.Trap();
  return g.Answer(kEbadf);
}

HostOutcome FdPrestatGet(HostCall& c) {
  Guest g(c, "fd_prestat_get");
  uint8_t* unused;
  if (!g.Writable(g.U32(1), 8, &unused)) return g.Trap();
  return g.Answer(kEbadf);
}

HostOutcome FdPrestatDirName(HostCall& c) {
  Guest g(c, "fd_prestat_dir_name");
  uint8_t* unused;
  if (!g.Writable(g.U32(1), g.U32(2), &unused)) return g.Trap();
  return g.Answer(kEbadf);
}

HostOutcome FdFdstatGet(HostCall& c) {
  Guest g(c, "fd_fdstat_get");
  if (g.U32(0) > 2) return g.Answer(kEbadf);
  uint8_t* p;
  if (!g.Writable(g.U32(1), 24, &p)) return g.Trap();
  std::memset(p, 0, 24);
  p[0] = kFiletypeCharacterDevice;
  uint64_t rights = 1u << 6;  // fd_write only (rights_base at offset 8)
  std::memcpy(p + 8, &rights, 8);
  return g.Answer(kEsuccess);
}

namespace {

// args_sizes_get and environ_sizes_get: zero entries, zero bytes.
HostOutcome ZeroSizes(HostCall& c, std::string_view fn) {
  Guest g(c, fn);
  if (!g.StoreU32(g.U32(0), 0) || !g.StoreU32(g.U32(1), 0)) return g.Trap();
  return g.Answer(kEsuccess);
}

// args_get and environ_get: zero entries, so nothing to write (and the
// ranges they would write are empty).
HostOutcome NoEntries(HostCall& c, std::string_view fn) {
  Guest g(c, fn);
  return g.Answer(kEsuccess);
}

}  // namespace

HostOutcome ArgsSizesGet(HostCall& c) { return ZeroSizes(c, "args_sizes_get"); }
HostOutcome EnvironSizesGet(HostCall& c) { return ZeroSizes(c, "environ_sizes_get"); }
HostOutcome ArgsGet(HostCall& c) { return NoEntries(c, "args_get"); }
HostOutcome EnvironGet(HostCall& c) { return NoEntries(c, "environ_get"); }

HostOutcome ClockTimeGet(HostCall& c) {
  Guest g(c, "clock_time_get");
  uint32_t id = g.U32(0);
  if (id > 3) return g.Answer(kEinval);
  sched::Scheduler& s = c.ctx->sched();
  // 0 realtime; 1 monotonic; 2, 3 process/thread CPU time, served as monotonic.
  uint64_t ns = id == 0 ? static_cast<uint64_t>(s.WallMillis()) * 1'000'000
                        : static_cast<uint64_t>(s.NowMicros()) * 1'000;
  if (!g.StoreU64(g.U32(2), ns)) return g.Trap();
  return g.Answer(kEsuccess);
}

HostOutcome ClockResGet(HostCall& c) {
  Guest g(c, "clock_res_get");
  if (g.U32(0) > 3) return g.Answer(kEinval);
  if (!g.StoreU64(g.U32(1), 1000)) return g.Trap();
  return g.Answer(kEsuccess);
}

HostOutcome RandomGet(HostCall& c) {
  HostOutcome out = FillRandom(c, "random_get");
  if (out.kind != HostOutcome::Kind::kReturn) return out;
  Guest g(c, "random_get");
  return g.Answer(kEsuccess);
}

HostOutcome SchedYield(HostCall& c) {
  Guest g(c, "sched_yield");
  c.ctx->sched().SleepFor(0);
  return g.Answer(kEsuccess);
}

HostOutcome ProcExit(HostCall& c) {
  Guest g(c, "proc_exit");
  return HostOutcome::Exit(g.I32(0));
}

}  // namespace edgelab::abi::calls
