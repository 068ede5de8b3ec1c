// tests/guests/do_probe.cc: a worker and a Durable Object class (Probe) that expose each rule of
// docs/abi.md "How an object runs" over HTTP, for tests/do_e2e_test.cc. Built with the C++ SDK
// (sdk/edgelab.hpp), so the tests also check the SDK's object calls end to end.
//
// Bindings the edge.toml must give: PROBE and PROBE2 (both class "Probe", this module), LOCK
// (class "CounterLock", examples/lock's module) and KV binding "KV".
//
// The worker:
//   /o/<name>/<rest>[?query]   forwards "/<rest>[?query]" (method, body and an X-Probe header
//                              too) to the Probe object named <name> and answers what it
//                              answered (status and body). With `via=2` in the query it goes
//                              through binding PROBE2 instead; with `announce=X` it first logs
//                              "probe: forwarding X;" (the access log is off under --quiet), so a
//                              test can tell the request reached the object's mailbox (with one
//                              loop thread nothing runs in between).
//   /lock/<name>/<op>?owner=O  forwards "/<op>?owner=O" to the CounterLock named <name>
//   /holdtrap?lock=N&owner=O   acquires lock N for O, then traps while holding it (a holder that
//                              dies); 409 "not granted" when the lock said false
//   /kvput?k=K&v=V  /kvget?k=K   KV binding "KV" from the worker ("stored"; the value or 404)
//   /var?name=X                the var's value, or 404 "no var X"
//   /storage                   a storage call from the worker: must fail ("EINVAL")
// A stub call that got no answer is 500 (503 for EUNAVAILABLE) "stub error <NAME>".
//
// The object (paths below are what it sees):
//   /enter        counts its concurrent entries in a member, yields (SleepMs 0 or 1), records
//                 the largest count seen in storage "max" and every entry in "entries";
//                 answers "<turns inside now> <member counter>"
//   /max /entries the stored values ("0" when unset)
//   /seq?n=N      appends "N," to storage "seq"; /seqlog answers it
//   /hold?flag=K[&tag=T]   waits (SleepMs 2, at most 30 s) until KV key K exists, holding the
//                 object; with a tag it first logs "probe: holding T;"
//   /txn?v=V[&fail=mid|end|rollback]   in one transaction puts a=V, b=V and commits; `mid`
//                 traps between the two puts, `end` after both before the commit, `rollback`
//                 rolls back; answers "committed", or "rolled back"
//   /trap         bumps the member counter and storage "traps", then traps (500)
//   /member       bumps the member counter and answers it (in-memory state: 1 after a reset)
//   /put?k=&v=  /get?k=  /del?k=   storage ("stored"; the value or 404 "missing"; "1"/"0")
//   /list[?prefix=&start=&end=&limit=]   one "key=value" line per pair
//   /spin         bumps the member counter and storage "spins", then loops until the CPU limit
//   /alarm?in_ms=T[&traps=N][&trap=1]   sets the alarm for now + T and answers that time (Unix
//                 ms), or with trap=1 traps right after setting it; the handler appends
//                 "<attempt>:<retry header>;" to storage "alarm_log", stores its NowMs in
//                 "alarm_fired_ms", logs "probe: alarm attempt <attempt>" and traps while
//                 attempt <= N ("alarm_attempts" counts)
//   /alarms       the alarm log; /alarm-fired: the last firing's time; /alarm-get: the alarm's
//                 time or "none"
//   /alarm-delete deletes the alarm ("deleted")
//   /call?to=NAME&path=P[&via=2][&hold=K&tag=T][&sleep=MS]   fetches P from the Probe named NAME
//                 (PROBE, or PROBE2), after /hold?flag=K&tag=T when `hold` is given and after
//                 SleepMs(MS) when `sleep` is: "ok <status> <body>" or "error <NAME>"
//   /lock?name=N&op=OP&owner=O     calls CounterLock N (another class) the same way
//   /kvput?k=&v=  /kvget?k=        KV from inside the object
//   /var?name=X   the var's value, or 404
//   /id           the object's id
//   /echo         "<method> <body> <header x-probe>"
// Storage failures answer 500 "storage error <NAME>". Unknown paths: 404 "no such probe".
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "edgelab.hpp"

namespace {

using edgelab::Error;
using edgelab::Response;

Response Text(std::string body, int status = 200) {
  return Response::Text(std::move(body), status);
}

Response StorageError(Error e) {
  return Text(std::string("storage error ") + edgelab::ErrorName(e), 500);
}

std::string Q(const edgelab::Request& req, std::string_view name) {
  return req.query(name).value_or("");
}

// A decimal query value, or `fallback` when missing or not a number.
int64_t QInt(const edgelab::Request& req, std::string_view name, int64_t fallback = 0) {
  std::string s = Q(req, name);
  if (s.empty()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  return *end == '\0' ? v : fallback;
}

// An answer to a stub call as the caller's: status and body.
Response Forward(edgelab::StubResponse r) {
  if (!r.ok()) {
    return Text(std::string("stub error ") + edgelab::ErrorName(r.error),
                r.error == Error::kUnavailable ? 503 : 500);
  }
  Response out;
  out.status = r.status;
  out.body = std::move(r.body);
  return out;
}

// "ok <status> <body>" or "error <NAME>", for calls made from inside an object.
std::string Describe(const edgelab::StubResponse& r) {
  if (!r.ok()) return std::string("error ") + edgelab::ErrorName(r.error);
  return "ok " + std::to_string(r.status) + " " + r.body;
}

const std::optional<edgelab::Kv>& KvBinding() {
  static const auto kv = edgelab::Kv::Open("KV");
  return kv;
}

std::optional<edgelab::DurableObjectNamespace> Namespace(std::string_view binding) {
  return edgelab::DurableObjectNamespace::Open(binding);
}

Response KvPut(const edgelab::Request& req) {
  if (!KvBinding()) return Text("no KV binding", 500);
  auto put = KvBinding()->Put(Q(req, "k"), Q(req, "v"));
  if (!put.stored()) return Text(std::string("kv error ") + edgelab::ErrorName(put.error), 500);
  return Text("stored");
}

Response KvGet(const edgelab::Request& req) {
  if (!KvBinding()) return Text("no KV binding", 500);
  auto got = KvBinding()->Get(Q(req, "k"));
  if (!got.ok()) return Text(std::string("kv error ") + edgelab::ErrorName(got.error), 500);
  if (!got.value) return Text("missing", 404);
  return Text(*got.value);
}

Response VarValue(const edgelab::Request& req) {
  std::string name = Q(req, "name");
  std::optional<std::string> v = edgelab::Var(name);
  if (!v) return Text("no var " + name, 404);
  return Text(*v);
}

// ---- The class ----

class Probe {
 public:
  explicit Probe(edgelab::State& state) : state_(state), storage_(state.storage()) {}

  Response Fetch(const edgelab::Request& req) {
    std::string_view p = req.path();
    if (p == "/enter") return Enter();
    if (p == "/max") return Stored("max");
    if (p == "/entries") return Stored("entries");
    if (p == "/seq") return Append("seq", Q(req, "n") + ",");
    if (p == "/seqlog") return Stored("seq");
    if (p == "/hold") return Hold(Q(req, "flag"), Q(req, "tag"));
    if (p == "/txn") return Txn(Q(req, "v"), Q(req, "fail"));
    if (p == "/trap") return Trap();
    if (p == "/member") return Text(std::to_string(++member_));
    if (p == "/put") return Put(Q(req, "k"), Q(req, "v"));
    if (p == "/get") return Get(Q(req, "k"));
    if (p == "/del") return Del(Q(req, "k"));
    if (p == "/list") return List(req);
    if (p == "/spin") return Spin();
    if (p == "/alarm") {
      Response r = SetAlarm(QInt(req, "in_ms"), QInt(req, "traps"));
      if (Q(req, "trap") == "1") abort();
      return r;
    }
    if (p == "/alarms") return Stored("alarm_log");
    if (p == "/alarm-fired") return Stored("alarm_fired_ms");
    if (p == "/alarm-get") return GetAlarm();
    if (p == "/alarm-delete") return DeleteAlarm();
    if (p == "/call") return Call(req);
    if (p == "/lock") return Lock(req);
    if (p == "/kvput") return KvPut(req);
    if (p == "/kvget") return KvGet(req);
    if (p == "/var") return VarValue(req);
    if (p == "/id") return Text(state_.id());
    if (p == "/echo") {
      return Text(req.method() + " " + req.body() + " " + req.header("x-probe").value_or("-"));
    }
    return Text("no such probe", 404);
  }

  // Records each attempt before deciding whether to fail it, so the test sees every run even
  // though a trap resets the instance: what it knows lives in storage.
  void Alarm() {
    edgelab::Request req = edgelab::Request::FromHost();
    int64_t attempt = Number("alarm_attempts") + 1;
    if (storage_.Put("alarm_attempts", std::to_string(attempt)) != Error::kNone) abort();
    std::string retry = req.header("x-edgelab-alarm-retry").value_or("?");
    if (Append("alarm_log", std::to_string(attempt) + ":" + retry + ";").status != 200) abort();
    if (storage_.Put("alarm_fired_ms", std::to_string(edgelab::NowMs())) != Error::kNone) abort();
    edgelab::Log(edgelab::LogLevel::kInfo, "probe: alarm attempt " + std::to_string(attempt));
    if (attempt <= Number("alarm_traps")) abort();
  }

 private:
  // A stored decimal, 0 when missing or unreadable.
  int64_t Number(std::string_view key) {
    auto got = storage_.Get(key);
    if (!got.ok() || !got.value) return 0;
    return std::strtoll(got.value->c_str(), nullptr, 10);
  }

  Response Stored(std::string_view key) {
    auto got = storage_.Get(key);
    if (!got.ok()) return StorageError(got.error);
    return Text(got.value.value_or(key == "max" || key == "entries" ? "0" : ""));
  }

  Response Append(std::string_view key, const std::string& tail) {
    auto got = storage_.Get(key);
    if (!got.ok()) return StorageError(got.error);
    std::string next = got.value.value_or("") + tail;
    if (Error e = storage_.Put(key, next); e != Error::kNone) return StorageError(e);
    return Text(next);
  }

  // The input gate's witness: two turns inside at once would both be counted here.
  Response Enter() {
    int now = ++inside_;
    if (now > Number("max")) {
      if (Error e = storage_.Put("max", std::to_string(now)); e != Error::kNone) {
        --inside_;
        return StorageError(e);
      }
    }
    Error e = storage_.Put("entries", std::to_string(Number("entries") + 1));
    edgelab::SleepMs(static_cast<uint32_t>(edgelab::RandomU64() % 2));
    --inside_;
    if (e != Error::kNone) return StorageError(e);
    return Text(std::to_string(now) + " " + std::to_string(++member_));
  }

  Response Hold(const std::string& flag, const std::string& tag) {
    if (!KvBinding()) return Text("no KV binding", 500);
    if (!tag.empty()) edgelab::Log(edgelab::LogLevel::kInfo, "probe: holding " + tag + ";");
    int64_t deadline = edgelab::NowMs() + 30'000;
    while (edgelab::NowMs() < deadline) {
      auto got = KvBinding()->Get(flag);
      if (got.ok() && got.value) return Text("released");
      edgelab::SleepMs(2);
    }
    return Text("hold timed out", 504);
  }

  Response Txn(const std::string& v, const std::string& fail) {
    if (Error e = storage_.Begin(); e != Error::kNone) return StorageError(e);
    if (Error e = storage_.Put("a", v); e != Error::kNone) return StorageError(e);
    if (fail == "mid") abort();
    if (Error e = storage_.Put("b", v); e != Error::kNone) return StorageError(e);
    if (fail == "end") abort();
    if (fail == "rollback") {
      if (Error e = storage_.Rollback(); e != Error::kNone) return StorageError(e);
      return Text("rolled back");
    }
    if (Error e = storage_.Commit(); e != Error::kNone) return StorageError(e);
    return Text("committed");
  }

  Response Trap() {
    ++member_;
    if (Error e = storage_.Put("traps", std::to_string(Number("traps") + 1)); e != Error::kNone) {
      return StorageError(e);
    }
    abort();
  }

  Response Spin() {
    ++member_;
    if (Error e = storage_.Put("spins", std::to_string(Number("spins") + 1)); e != Error::kNone) {
      return StorageError(e);
    }
    for (volatile uint64_t i = 0;; i = i + 1) {
    }
  }

  Response Put(const std::string& k, const std::string& v) {
    if (Error e = storage_.Put(k, v); e != Error::kNone) return StorageError(e);
    return Text("stored");
  }

  Response Get(const std::string& k) {
    auto got = storage_.Get(k);
    if (!got.ok()) return StorageError(got.error);
    if (!got.value) return Text("missing", 404);
    return Text(*got.value);
  }

  Response Del(const std::string& k) {
    auto d = storage_.Delete(k);
    if (!d.ok()) return StorageError(d.error);
    return Text(d.existed ? "1" : "0");
  }

  Response List(const edgelab::Request& req) {
    std::string prefix = Q(req, "prefix"), start = Q(req, "start"), end = Q(req, "end");
    auto listed = storage_.List({.prefix = prefix,
                                 .start = start,
                                 .end = end,
                                 .limit = static_cast<uint32_t>(QInt(req, "limit"))});
    if (!listed.ok()) return StorageError(listed.error);
    std::string out;
    for (const auto& [k, v] : listed.entries) out += k + "=" + v + "\n";
    return Text(out);
  }

  Response SetAlarm(int64_t in_ms, int64_t traps) {
    if (Error e = storage_.Put("alarm_traps", std::to_string(traps)); e != Error::kNone) {
      return StorageError(e);
    }
    if (Error e = storage_.Put("alarm_attempts", "0"); e != Error::kNone) return StorageError(e);
    int64_t at = edgelab::NowMs() + in_ms;
    if (Error e = storage_.SetAlarm(at); e != Error::kNone) return StorageError(e);
    return Text(std::to_string(at));
  }

  Response GetAlarm() {
    auto a = storage_.GetAlarm();
    if (!a.ok()) return StorageError(a.error);
    return Text(a.unix_ms ? std::to_string(*a.unix_ms) : "none");
  }

  Response DeleteAlarm() {
    if (Error e = storage_.DeleteAlarm(); e != Error::kNone) return StorageError(e);
    return Text("deleted");
  }

  Response Call(const edgelab::Request& req) {
    auto ns = Namespace(Q(req, "via") == "2" ? "PROBE2" : "PROBE");
    if (!ns) return Text("no binding", 500);
    if (std::string flag = Q(req, "hold"); !flag.empty()) {
      Response held = Hold(flag, Q(req, "tag"));
      if (held.status != 200) return held;
    }
    if (int64_t ms = QInt(req, "sleep"); ms > 0) edgelab::SleepMs(static_cast<uint32_t>(ms));
    std::string path = Q(req, "path");
    return Text(Describe(ns->GetByName(Q(req, "to")).Fetch(path.empty() ? "/" : path)));
  }

  Response Lock(const edgelab::Request& req) {
    auto ns = Namespace("LOCK");
    if (!ns) return Text("no LOCK binding", 500);
    std::string url = "/" + Q(req, "op") + "?owner=" + Q(req, "owner");
    return Text(Describe(ns->GetByName(Q(req, "name")).Fetch(url, {.method = "POST"})));
  }

  edgelab::State& state_;
  edgelab::Storage& storage_;  // the State's, which outlives the instance
  uint64_t member_ = 0;        // in-memory state: lost on a trap or an eviction
  int inside_ = 0;             // turns inside Enter right now: never above 1
};

// ---- The worker ----

// "/o/<name>/<rest>?q" -> ("<name>", "/<rest>?q"); nullopt for other targets.
std::optional<std::pair<std::string, std::string>> SplitObjectUrl(std::string_view url,
                                                                  std::string_view prefix) {
  if (url.substr(0, prefix.size()) != prefix) return std::nullopt;
  url.remove_prefix(prefix.size());
  size_t slash = url.find_first_of("/?");
  std::string name(url.substr(0, slash));
  std::string rest = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (rest[0] == '?') rest = "/" + rest;
  if (name.empty()) return std::nullopt;
  return std::make_pair(std::move(name), std::move(rest));
}

Response ToObject(const edgelab::Request& req, const std::string& name, const std::string& rest) {
  auto ns = Namespace(Q(req, "via") == "2" ? "PROBE2" : "PROBE");
  if (!ns) return Text("no PROBE binding", 500);
  if (auto announce = req.query("announce")) {
    edgelab::Log(edgelab::LogLevel::kInfo, "probe: forwarding " + *announce + ";");
  }
  edgelab::FetchOptions opts{.method = req.method(), .body = req.body()};
  if (auto h = req.header("x-probe")) opts.headers.emplace_back("X-Probe", *h);
  return Forward(ns->GetByName(name).Fetch(rest, opts));
}

Response ToLock(const std::string& name, const std::string& rest) {
  auto ns = Namespace("LOCK");
  if (!ns) return Text("no LOCK binding", 500);
  return Forward(ns->GetByName(name).Fetch(rest, {.method = "POST"}));
}

Response HoldAndTrap(const edgelab::Request& req) {
  auto ns = Namespace("LOCK");
  if (!ns) return Text("no LOCK binding", 500);
  auto r =
      ns->GetByName(Q(req, "lock")).Fetch("/acquire?owner=" + Q(req, "owner"), {.method = "POST"});
  if (!r.ok() || r.status != 200) return Forward(std::move(r));
  if (r.body != "true") return Text("not granted", 409);
  edgelab::Log(edgelab::LogLevel::kInfo, "probe: holding the lock, trapping");
  abort();
}

Response Handle(const edgelab::Request& req) {
  if (auto to = SplitObjectUrl(req.url(), "/o/")) return ToObject(req, to->first, to->second);
  if (auto to = SplitObjectUrl(req.url(), "/lock/")) return ToLock(to->first, to->second);
  std::string_view p = req.path();
  if (p == "/holdtrap") return HoldAndTrap(req);
  if (p == "/kvput") return KvPut(req);
  if (p == "/kvget") return KvGet(req);
  if (p == "/var") return VarValue(req);
  if (p == "/storage") {
    auto got = edgelab::State::FromHost().storage().Get("x");
    return Text(got.ok() ? "ok" : edgelab::ErrorName(got.error));
  }
  return Text("no such probe", 404);
}

}  // namespace

EDGELAB_HANDLER(Handle)
EDGELAB_DURABLE_OBJECT(Probe)
