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
inline constexpr int32_t kECycle = -6;

// Work a host function does beyond the guest bytes it touches, in
// HostCall::bytes units (engine::kBytesPerFuel = 8 bytes per fuel unit, and
// ~140 fuel per microsecond). Measured 2026-11-27 on the reference machine
// with SqliteStore directly (20,000 ops on 100 keys): a put ~27 us, a get
// ~2.5 us; a log line is one write(2), ~0.2 us to /dev/null and a few us to a
// pipe or terminal. The memory store is cheaper; one price keeps it simple.
inline constexpr uint64_t kLogLineCost = 8 * 300;
inline constexpr uint64_t kKvReadCost = 8 * 400;
inline constexpr uint64_t kKvWriteCost = 8 * 4000;

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
HostOutcome KvGetStrong(HostCall& c);
HostOutcome KvGetMetadata(HostCall& c);
HostOutcome KvPut(HostCall& c);
HostOutcome KvDelete(HostCall& c);
HostOutcome KvList(HostCall& c);

// object_calls.cc: vars, and Durable Object stubs (reaching an object from a
// worker or from another object, and the responses it gave).
HostOutcome VarGet(HostCall& c);
HostOutcome DoNamespace(HostCall& c);
HostOutcome DoIdFromName(HostCall& c);
HostOutcome DoNewUniqueId(HostCall& c);
HostOutcome DoFetch(HostCall& c);
HostOutcome DoResponseStatus(HostCall& c);
HostOutcome DoResponseHeaders(HostCall& c);
HostOutcome DoResponseBody(HostCall& c);
HostOutcome DoResponseClose(HostCall& c);

// storage_calls.cc: inside a Durable Object (EINVAL elsewhere): its id, its
// storage, transactions and its alarm.
HostOutcome DoSelfId(HostCall& c);
HostOutcome StorageGet(HostCall& c);
HostOutcome StoragePut(HostCall& c);
HostOutcome StorageDelete(HostCall& c);
HostOutcome StorageList(HostCall& c);
HostOutcome StorageTxnBegin(HostCall& c);
HostOutcome StorageTxnCommit(HostCall& c);
HostOutcome StorageTxnRollback(HostCall& c);
HostOutcome AlarmSet(HostCall& c);
HostOutcome AlarmGet(HostCall& c);
HostOutcome AlarmDelete(HostCall& c);

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
