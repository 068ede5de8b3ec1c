// abi/calls.h: the host functions of ABI v1, grouped by file. Internal to
// abi/: host.cc puts them in the import table with their signatures; the
// behaviour of each is specified in docs/abi.md.
#ifndef EDGELAB_ABI_CALLS_H_
#define EDGELAB_ABI_CALLS_H_

#include <string_view>

#include "abi/host.h"

namespace edgelab::abi::calls {

// Error codes returned to guests (docs/abi.md "Error codes").
inline constexpr int32_t kENotFound = -1;
inline constexpr int32_t kEPrecondition = -2;
inline constexpr int32_t kEInval = -3;
inline constexpr int32_t kEIO = -4;
inline constexpr int32_t kEUnavailable = -5;

// request_calls.cc: request, response, time, randomness, logging.
HostOutcome ReqMethod(HostCall& c);
HostOutcome ReqUrl(HostCall& c);
HostOutcome ReqHeader(HostCall& c);
HostOutcome ReqHeaders(HostCall& c);
HostOutcome ReqBody(HostCall& c);
HostOutcome RespStatus(HostCall& c);
HostOutcome RespHeader(HostCall& c);
HostOutcome RespWrite(HostCall& c);
HostOutcome SleepMs(HostCall& c);
HostOutcome NowMs(HostCall& c);
HostOutcome Random(HostCall& c);
// Fills the guest range (args 0, 1) with random bytes; traps name `fn`.
HostOutcome FillRandom(HostCall& c, std::string_view fn);
HostOutcome Log(HostCall& c);

// kv_calls.cc
HostOutcome KvOpen(HostCall& c);
HostOutcome KvGet(HostCall& c);
HostOutcome KvGetMetadata(HostCall& c);
HostOutcome KvPut(HostCall& c);
HostOutcome KvDelete(HostCall& c);
HostOutcome KvList(HostCall& c);

// wasi_calls.cc: the WASI preview1 subset.
HostOutcome FdWrite(HostCall& c);
HostOutcome FdClose(HostCall& c);
HostOutcome FdRead(HostCall& c);
HostOutcome FdSeek(HostCall& c);
HostOutcome FdPrestatGet(HostCall& c);
HostOutcome FdPrestatDirName(HostCall& c);
HostOutcome FdFdstatGet(HostCall& c);
HostOutcome ArgsSizesGet(HostCall& c);
HostOutcome ArgsGet(HostCall& c);
HostOutcome EnvironSizesGet(HostCall& c);
HostOutcome EnvironGet(HostCall& c);
HostOutcome ClockTimeGet(HostCall& c);
HostOutcome ClockResGet(HostCall& c);
HostOutcome RandomGet(HostCall& c);
HostOutcome SchedYield(HostCall& c);
HostOutcome ProcExit(HostCall& c);

}  // namespace edgelab::abi::calls

#endif  // EDGELAB_ABI_CALLS_H_
