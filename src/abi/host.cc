// abi/host.cc: the import table of ABI v1: every host function with its
// signature. The engine links imports by looking names up here.
#include "abi/host.h"

#include "abi/calls.h"

namespace edgelab::abi {
namespace {

constexpr ValType I32 = ValType::kI32;
constexpr ValType I64 = ValType::kI64;

std::vector<HostFunction> MakeTable() {
  using namespace calls;  // NOLINT: the table reads better unqualified
  const std::string_view e = kModule, w = kWasiModule;
  return {
      {e, "req_method", {I32, I32}, {I32}, ReqMethod},
      {e, "req_url", {I32, I32}, {I32}, ReqUrl},
      {e, "req_header", {I32, I32, I32, I32}, {I32}, ReqHeader},
      {e, "req_headers", {I32, I32}, {I32}, ReqHeaders},
      {e, "req_body", {I32, I32}, {I32}, ReqBody},
      {e, "resp_status", {I32}, {}, RespStatus},
      {e, "resp_header", {I32, I32, I32, I32}, {}, RespHeader},
      {e, "resp_write", {I32, I32}, {}, RespWrite},
      {e, "kv_open", {I32, I32}, {I32}, KvOpen},
      {e, "kv_get", {I32, I32, I32, I32, I32, I32, I32}, {I32}, KvGet},
      {e, "kv_get_strong", {I32, I32, I32, I32, I32, I32, I32}, {I32}, KvGetStrong},
      {e, "kv_get_metadata", {I32, I32, I32, I32, I32}, {I32}, KvGetMetadata},
      {e, "kv_put", {I32, I32, I32, I32, I32, I32}, {I32}, KvPut},
      {e, "kv_delete", {I32, I32, I32}, {I32}, KvDelete},
      {e, "kv_list", {I32, I32, I32, I32, I32, I32, I32, I32}, {I32}, KvList},
      {e, "var_get", {I32, I32, I32, I32}, {I32}, VarGet},
      {e, "do_namespace", {I32, I32}, {I32}, DoNamespace},
      {e, "do_id_from_name", {I32, I32, I32, I32, I32}, {I32}, DoIdFromName},
      {e, "do_new_unique_id", {I32, I32, I32}, {I32}, DoNewUniqueId},
      {e, "do_fetch", {I32, I32, I32, I32}, {I32}, DoFetch},
      {e, "do_response_status", {I32}, {I32}, DoResponseStatus},
      {e, "do_response_headers", {I32, I32, I32}, {I32}, DoResponseHeaders},
      {e, "do_response_body", {I32, I32, I32}, {I32}, DoResponseBody},
      {e, "do_response_close", {I32}, {I32}, DoResponseClose},
      {e, "do_self_id", {I32, I32}, {I32}, DoSelfId},
      {e, "storage_get", {I32, I32, I32, I32}, {I32}, StorageGet},
      {e, "storage_put", {I32, I32, I32, I32}, {I32}, StoragePut},
      {e, "storage_delete", {I32, I32}, {I32}, StorageDelete},
      {e, "storage_list", {I32, I32, I32}, {I32}, StorageList},
      {e, "storage_txn_begin", {}, {I32}, StorageTxnBegin},
      {e, "storage_txn_commit", {}, {I32}, StorageTxnCommit},
      {e, "storage_txn_rollback", {}, {I32}, StorageTxnRollback},
      {e, "alarm_set", {I64}, {I32}, AlarmSet},
      {e, "alarm_get", {}, {I64}, AlarmGet},
      {e, "alarm_delete", {}, {I32}, AlarmDelete},
      {e, "sleep_ms", {I32}, {}, SleepMs},
      {e, "now_ms", {}, {I64}, NowMs},
      {e, "random", {I32, I32}, {}, Random},
      {e, "log", {I32, I32, I32}, {}, Log},
      {w, "fd_write", {I32, I32, I32, I32}, {I32}, FdWrite},
      {w, "fd_close", {I32}, {I32}, FdClose},
      {w, "fd_seek", {I32, I64, I32, I32}, {I32}, FdSeek},
      {w, "fd_read", {I32, I32, I32, I32}, {I32}, FdRead},
      {w, "fd_fdstat_get", {I32, I32}, {I32}, FdFdstatGet},
      {w, "fd_prestat_get", {I32, I32}, {I32}, FdPrestatGet},
      {w, "fd_prestat_dir_name", {I32, I32, I32}, {I32}, FdPrestatDirName},
      {w, "args_sizes_get", {I32, I32}, {I32}, ArgsSizesGet},
      {w, "args_get", {I32, I32}, {I32}, ArgsGet},
      {w, "environ_sizes_get", {I32, I32}, {I32}, EnvironSizesGet},
      {w, "environ_get", {I32, I32}, {I32}, EnvironGet},
      {w, "clock_time_get", {I32, I64, I32}, {I32}, ClockTimeGet},
      {w, "clock_res_get", {I32, I32}, {I32}, ClockResGet},
      {w, "random_get", {I32, I32}, {I32}, RandomGet},
      {w, "sched_yield", {}, {I32}, SchedYield},
      {w, "proc_exit", {I32}, {}, ProcExit},
  };
}

}  // namespace

const std::vector<HostFunction>& AllHostFunctions() {
  static const std::vector<HostFunction> table = MakeTable();  // immutable once built
  return table;
}

const HostFunction* FindHostFunction(std::string_view module, std::string_view name) {
  for (const HostFunction& f : AllHostFunctions()) {
    if (f.module == module && f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace edgelab::abi
