// engine/engine.cc: Engine and Isolate on wabt's interpreter. An Engine owns
// one interp::Store (one per OS thread), a per-store copy of each module (one
// per memory cap) and the host functions every isolate imports; an Isolate
// owns its instance, its interpreter Thread (call and value stacks) and, for
// the length of one Call, the request context its host calls see.
//
// Several isolates of one engine may be mid-call at once, suspended in host
// functions on different fibers of the engine's thread, so all per-call state
// (context, stacks, exit request) is in IsolateImpl; host functions find
// their isolate through the calling instance (Instance::host_info), never
// through engine-wide "current" state.
//
// Memory: the store frees nothing by itself. Destroyed isolates leave their
// objects (instance, memory, globals, functions) unreachable until
// Store::Collect, which marks every live object. We collect when the
// garbage outweighs the live isolates or holds much linear memory, so the
// marking cost stays proportional to what is freed.
#include "engine/engine.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <utility>

#include "engine/module_impl.h"
#include "wabt/interp/interp.h"

namespace edgelab::engine {

namespace interp = wabt::interp;

namespace {

// Collect the store when destroyed isolates since the last collection reach
// max(kCollectIsolates, live isolates) or their memories reach kCollectBytes.
constexpr uint64_t kCollectIsolates = 32;
constexpr uint64_t kCollectBytes = 64u << 20;

// wabt 1.0.32 has no public way to see where a trap happened: the frames are
// in the private Thread::frames_, which a trap leaves in place. Explicit
// template instantiation may name a private member ([temp.explicit]: access
// is not checked there), so this reads it without patching wabt. The member's
// type is checked at compile time: a wabt whose Thread differs fails to build
// here rather than misbehave.
using FramesMember = std::vector<interp::Frame> interp::Thread::*;
FramesMember ThreadFrames();
template <FramesMember kMember>
struct FramesAccess {
  friend FramesMember ThreadFrames() { return kMember; }
};
template struct FramesAccess<&interp::Thread::frames_>;

uint64_t ToBits(abi::ValType type, const interp::Value& v) {
  switch (type) {
    case abi::ValType::kI32:
      return v.Get<uint32_t>();
    case abi::ValType::kI64:
      return v.Get<uint64_t>();
    case abi::ValType::kF32: {
      const float f = v.Get<float>();
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof(bits));
      return bits;
    }
    case abi::ValType::kF64: {
      const double d = v.Get<double>();
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof(bits));
      return bits;
    }
  }
  return 0;
}

interp::Value FromBits(abi::ValType type, uint64_t bits) {
  switch (type) {
    case abi::ValType::kI32:
      return interp::Value::Make(static_cast<uint32_t>(bits));
    case abi::ValType::kI64:
      return interp::Value::Make(bits);
    case abi::ValType::kF32: {
      const uint32_t b32 = static_cast<uint32_t>(bits);
      float f;
      std::memcpy(&f, &b32, sizeof(f));
      return interp::Value::Make(f);
    }
    case abi::ValType::kF64: {
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      return interp::Value::Make(d);
    }
  }
  return interp::Value();
}

std::string SignatureKey(const interp::FuncType& t) {
  std::string key;
  for (wabt::Type p : t.params) key += std::string(p.GetName()) + " ";
  key += "->";
  for (wabt::Type r : t.results) key += " " + std::string(r.GetName());
  return key;
}

// A C guest linked with --stack-first (sdk/edgelab.cmake) keeps its shadow
// stack at the bottom of memory, growing down towards 0; a frame that does
// not fit wraps the 32-bit stack pointer to just below 2^32, and its first
// access traps there (up to a frame's size below, or a static offset above).
// 16 MiB covers any plausible frame. A wild pointer a little below NULL
// lands there too, hence "likely".
constexpr uint64_t kWrappedStackWindow = 16u << 20;

// wabt's message for a load or store out of bounds (interp.cc).
constexpr char kOutOfBoundsAt[] = "out of bounds memory access: access at ";

// `message`, with a hint when it is an access just below (or above) 2^32.
std::string WithStackHint(std::string message) {
  if (message.rfind(kOutOfBoundsAt, 0) != 0) return message;
  const char* digits = message.c_str() + sizeof(kOutOfBoundsAt) - 1;
  char* end = nullptr;
  errno = 0;
  const unsigned long long addr = std::strtoull(digits, &end, 10);
  if (end == digits || errno != 0) return message;
  constexpr uint64_t k4G = uint64_t{1} << 32;
  if (addr + kWrappedStackWindow >= k4G && addr < k4G + kWrappedStackWindow) {
    message += " (likely a stack overflow: the guest's shadow stack ran below address 0)";
  }
  return message;
}

CallOutcome TrapOutcome(std::string message) {
  CallOutcome out;
  out.kind = CallOutcome::Kind::kTrap;
  out.message = std::move(message);
  return out;
}

}  // namespace

class EngineImpl {
 public:
  EngineImpl() : store_(wabt::Features()) {}
  ~EngineImpl() { EDGELAB_CHECK(live_isolates_ == 0); }

  interp::Store& store() { return store_; }
  Result<std::unique_ptr<IsolateImpl>> NewIsolate(std::shared_ptr<const Module> module,
                                                  const Limits& limits, uint64_t cap_pages);
  // Records unreachable objects (a destroyed isolate, a failed
  // instantiation) and collects when enough have piled up.
  void AddGarbage(uint64_t isolates, uint64_t bytes);
  void IsolateDestroyed(uint64_t memory_bytes) {
    --live_isolates_;
    AddGarbage(1, memory_bytes);
  }
  EngineStats stats() const {
    return {live_isolates_, static_cast<uint64_t>(store_.object_count()), collections_};
  }

 private:
  interp::Module::Ptr ModuleFor(const std::shared_ptr<const Module>& module, uint64_t cap_pages);
  interp::HostFunc::Ptr HostFuncFor(const ImportBinding& binding);

  // Declared first: destroyed last, after every RefPtr below.
  interp::Store store_;
  struct CachedModule {
    std::weak_ptr<const Module> owner;
    interp::Module::Ptr module;
  };
  // By (ModuleImpl::id, memory cap in pages).
  std::map<std::pair<uint64_t, uint64_t>, CachedModule> modules_;
  std::map<const abi::HostFunction*, interp::HostFunc::Ptr> host_funcs_;
  std::map<std::string, interp::HostFunc::Ptr> enosys_stubs_;  // by signature
  uint64_t live_isolates_ = 0;
  uint64_t garbage_isolates_ = 0;
  uint64_t garbage_bytes_ = 0;
  uint64_t collections_ = 0;
};

// Also the abi::GuestStack of its host calls: Capture reads the interpreter's
// frames, which only make sense while a host call runs, as the contract
// allows (host.h: HostCall::stack lives for the call).
class IsolateImpl : public abi::GuestStack {
 public:
  IsolateImpl(EngineImpl* engine, std::shared_ptr<const Module> module, const Limits& limits,
              uint64_t cap_pages, interp::Instance::Ptr instance);
  ~IsolateImpl() override;

  // Runs the start function and `_initialize`, when present.
  Status Initialize(abi::Context* ctx);
  CallOutcome Call(std::string_view name, abi::Context* ctx);
  // The body of every imported host function.
  wabt::Result CallHost(const abi::HostFunction& fn, const interp::Values& params,
                        interp::Values& results, interp::Trap::Ptr* out_trap);
  uint64_t memory_bytes() const { return memory_->ByteSize(); }
  const Module& module() const { return *module_; }
  race::CallSitePtr Capture() const override;

 private:
  CallOutcome Run(const interp::Func::Ptr& func, abi::Context* ctx);
  // Charges a host call that returned for its work (engine.h, CPU); false
  // when that takes fuel below zero.
  bool ChargeHostCall(uint64_t bytes);
  CallOutcome Classify(const interp::Trap::Ptr& trap);
  std::string InnermostGuestFunction() const;
  Status InitStatus(const char* what, const CallOutcome& out) const;

  // Marks the isolate busy with `ctx` for one call. Also on unwinding (a
  // host function that throws, a fiber destroyed while suspended): then the
  // stack is left mid-call, so the thread is replaced.
  class CallScope {
   public:
    CallScope(IsolateImpl* iso, abi::Context* ctx)
        : iso_(iso), exceptions_(std::uncaught_exceptions()) {
      iso_->ctx_ = ctx;
      iso_->busy_ = true;
    }
    ~CallScope() {
      iso_->ctx_ = nullptr;
      iso_->busy_ = false;
      if (std::uncaught_exceptions() > exceptions_) {
        iso_->thread_ = std::make_unique<interp::Thread>(iso_->engine_->store());
      }
    }

   private:
    IsolateImpl* const iso_;
    const int exceptions_;
  };

  // Fixed after construction.
  EngineImpl* const engine_;
  const std::shared_ptr<const Module> module_;
  const ModuleImpl& m_;
  const Limits limits_;
  const uint64_t cap_pages_;
  interp::Instance::Ptr instance_;
  interp::Memory::Ptr memory_;
  interp::Global::Ptr fuel_;
  interp::Global::Ptr grow_failed_;
  // Replaced after a failed call: a trap leaves its frames on the stack.
  std::unique_ptr<interp::Thread> thread_;
  // Valid during a Call only.
  abi::Context* ctx_ = nullptr;
  bool busy_ = false;
  std::optional<int32_t> exit_code_;  // set by a host call that ended kExit
};

// ---- EngineImpl ----

interp::Module::Ptr EngineImpl::ModuleFor(const std::shared_ptr<const Module>& module,
                                          uint64_t cap_pages) {
  const ModuleImpl& m = module->impl();
  const auto key = std::make_pair(m.id, cap_pages);
  auto it = modules_.find(key);
  if (it != modules_.end()) return it->second.module;
  for (auto i = modules_.begin(); i != modules_.end();) {
    i = i->second.owner.expired() ? modules_.erase(i) : std::next(i);
  }
  // The cap goes into the memory's declared maximum, so the interpreter's own
  // memory.grow refuses to pass it, exactly as for a module-declared max.
  interp::ModuleDesc desc = m.desc;
  wabt::Limits& pages = desc.memories.at(0).type.limits;
  pages.max = cap_pages;
  pages.has_max = true;
  interp::Module::Ptr mod = interp::Module::New(store_, std::move(desc));
  modules_.emplace(key, CachedModule{module, mod});
  return mod;
}

namespace {

// The callback of every host function the engine imports: finds the calling
// isolate through the calling instance (each isolate runs on its own
// interp::Thread, possibly interleaved with others on fibers).
wabt::Result CallFromGuest(const abi::HostFunction* fn, interp::Thread& thread,
                           const interp::Values& params, interp::Values& results,
                           interp::Trap::Ptr* out_trap) {
  interp::Instance* caller = thread.GetCallerInstance();
  if (caller == nullptr) {  // re-exported and called directly: no isolate to serve it
    *out_trap = interp::Trap::New(thread.store(), "a host function cannot be called directly");
    return wabt::Result::Error;
  }
  return static_cast<IsolateImpl*>(caller->host_info())->CallHost(*fn, params, results, out_trap);
}

wabt::Result Enosys(interp::Thread&, const interp::Values&, interp::Values& results,
                    interp::Trap::Ptr*) {
  results[0] = interp::Value::Make(abi::kWasiENOSYS);
  return wabt::Result::Ok;
}

}  // namespace

interp::HostFunc::Ptr EngineImpl::HostFuncFor(const ImportBinding& b) {
  if (b.host == nullptr) {
    interp::HostFunc::Ptr& stub = enosys_stubs_[SignatureKey(b.type)];
    if (!stub) stub = interp::HostFunc::New(store_, b.type, Enosys);
    return stub;
  }
  interp::HostFunc::Ptr& slot = host_funcs_[b.host];
  if (!slot) {
    const abi::HostFunction* fn = b.host;
    slot = interp::HostFunc::New(store_, b.type,
                                 [fn](interp::Thread& thread, const interp::Values& params,
                                      interp::Values& results, interp::Trap::Ptr* out_trap) {
                                   return CallFromGuest(fn, thread, params, results, out_trap);
                                 });
  }
  return slot;
}

Result<std::unique_ptr<IsolateImpl>> EngineImpl::NewIsolate(std::shared_ptr<const Module> module,
                                                            const Limits& limits,
                                                            uint64_t cap_pages) {
  const ModuleImpl& m = module->impl();
  interp::Module::Ptr mod = ModuleFor(module, cap_pages);
  interp::RefVec imports;
  for (const ImportBinding& b : m.imports) imports.push_back(HostFuncFor(b).ref());
  interp::Trap::Ptr trap;
  interp::Instance::Ptr instance = interp::Instance::Instantiate(store_, mod.ref(), imports, &trap);
  if (!instance) {
    AddGarbage(1, 0);
    return Status::Trap(m.name + ": instantiation failed: " +
                        (trap ? trap->message() : std::string("unknown error")));
  }
  ++live_isolates_;
  return std::make_unique<IsolateImpl>(this, std::move(module), limits, cap_pages,
                                       std::move(instance));
}

void EngineImpl::AddGarbage(uint64_t isolates, uint64_t bytes) {
  garbage_isolates_ += isolates;
  garbage_bytes_ += bytes;
  if (garbage_bytes_ < kCollectBytes &&
      garbage_isolates_ < std::max(kCollectIsolates, live_isolates_)) {
    return;
  }
  // Safe while other isolates are suspended mid-call: their instances are
  // rooted by their IsolateImpl and their stacks are marked through
  // store.threads(); only unreachable objects go.
  store_.Collect();
  ++collections_;
  garbage_isolates_ = 0;
  garbage_bytes_ = 0;
}

// ---- IsolateImpl ----

IsolateImpl::IsolateImpl(EngineImpl* engine, std::shared_ptr<const Module> module,
                         const Limits& limits, uint64_t cap_pages, interp::Instance::Ptr instance)
    : engine_(engine),
      module_(std::move(module)),
      m_(module_->impl()),
      limits_(limits),
      cap_pages_(cap_pages),
      instance_(std::move(instance)),
      thread_(std::make_unique<interp::Thread>(engine->store())) {
  interp::Store& store = engine_->store();
  memory_ = store.UnsafeGet<interp::Memory>(instance_->memories().at(0));
  fuel_ = store.UnsafeGet<interp::Global>(instance_->globals().at(m_.fuel_global));
  grow_failed_ = store.UnsafeGet<interp::Global>(instance_->globals().at(m_.grow_failed_global));
  instance_->set_host_info(this);
}

IsolateImpl::~IsolateImpl() {
  EDGELAB_CHECK(!busy_);
  const uint64_t bytes = memory_->ByteSize();
  // Drop our roots first so the collection below can free this isolate.
  thread_.reset();
  grow_failed_.reset();
  fuel_.reset();
  memory_.reset();
  instance_.reset();
  engine_->IsolateDestroyed(bytes);
}

Status IsolateImpl::InitStatus(const char* what, const CallOutcome& out) const {
  if (out.ok()) return Status::OK();
  std::string msg = m_.name + ": " + what + ": " + out.message;
  if (!out.function.empty()) msg += " (in " + out.function + ")";
  const bool limit =
      out.kind == CallOutcome::Kind::kOutOfFuel || out.kind == CallOutcome::Kind::kOutOfMemory;
  return limit ? Status::ResourceExhausted(msg) : Status::Trap(msg);
}

Status IsolateImpl::Initialize(abi::Context* ctx) {
  if (m_.start_func) {
    interp::Func::Ptr start =
        engine_->store().UnsafeGet<interp::Func>(instance_->funcs().at(*m_.start_func));
    EDGELAB_RETURN_IF_ERROR(InitStatus("start function", Run(start, ctx)));
  }
  if (m_.func_exports.count("_initialize") != 0) {
    EDGELAB_RETURN_IF_ERROR(InitStatus("_initialize", Call("_initialize", ctx)));
  }
  return Status::OK();
}

CallOutcome IsolateImpl::Call(std::string_view name, abi::Context* ctx) {
  if (busy_) return TrapOutcome("isolate is already running a call (on another fiber)");
  auto it = m_.func_exports.find(name);
  if (it == m_.func_exports.end()) {
    return TrapOutcome(m_.name + ": no exported function \"" + std::string(name) + "\"");
  }
  interp::Func::Ptr func =
      engine_->store().UnsafeGet<interp::Func>(instance_->exports()[it->second]);
  if (!func->type().params.empty() || !func->type().results.empty()) {
    return TrapOutcome(m_.name + ": export \"" + std::string(name) +
                       "\" is not a function () -> ()");
  }
  return Run(func, ctx);
}

CallOutcome IsolateImpl::Run(const interp::Func::Ptr& func, abi::Context* ctx) {
  const int64_t budget = static_cast<int64_t>(std::min<uint64_t>(limits_.fuel, INT64_MAX));
  fuel_->UnsafeSet(interp::Value::Make(budget));
  grow_failed_->UnsafeSet(interp::Value::Make(uint32_t{0}));
  exit_code_.reset();
  interp::Values results;
  interp::Trap::Ptr trap;
  wabt::Result r = wabt::Result::Error;
  {
    CallScope scope(this, ctx);
    r = func->Call(*thread_, interp::Values(), results, &trap);
  }
  CallOutcome out = wabt::Succeeded(r) ? CallOutcome() : Classify(trap);
  const int64_t left = fuel_->UnsafeGet<int64_t>();
  out.fuel_used = static_cast<uint64_t>(budget - std::max<int64_t>(left, 0));
  if (!out.ok()) thread_ = std::make_unique<interp::Thread>(engine_->store());
  return out;
}

CallOutcome IsolateImpl::Classify(const interp::Trap::Ptr& trap) {
  CallOutcome out;
  out.function = InnermostGuestFunction();
  const std::string message = trap ? WithStackHint(trap->message()) : std::string("unknown trap");
  if (exit_code_) {
    out.kind = CallOutcome::Kind::kExit;
    out.exit_code = *exit_code_;
    out.message = "proc_exit(" + std::to_string(*exit_code_) + ")";
  } else if (fuel_->UnsafeGet<int64_t>() < 0) {
    out.kind = CallOutcome::Kind::kOutOfFuel;
    out.message = "exceeded CPU limit";
  } else if (grow_failed_->UnsafeGet<uint32_t>() != 0) {
    // A grow past the cap failed and then the guest trapped: almost always
    // a failed allocation it could not handle.
    out.kind = CallOutcome::Kind::kOutOfMemory;
    out.message = "exceeded memory limit (" + std::to_string(cap_pages_) +
                  " pages of 64 KiB); then: " + message;
  } else {
    out.kind = CallOutcome::Kind::kTrap;
    out.message = message;
  }
  return out;
}

// The innermost frame that runs the guest's own code: host functions and the
// rewrite's helpers (metering, grow) are skipped, so the caller is named.
std::string IsolateImpl::InnermostGuestFunction() const {
  const std::vector<interp::Frame>& frames = (*thread_).*ThreadFrames();
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    if (it->inst == nullptr) continue;
    const interp::RefVec& funcs = it->inst->funcs();
    auto pos = std::find(funcs.begin(), funcs.end(), it->func);
    if (pos == funcs.end()) continue;
    const auto index = static_cast<uint32_t>(pos - funcs.begin());
    if (index >= m_.first_internal_func) continue;
    return FunctionName(m_, index);
  }
  return "";
}

// Istream pcs of this instance's frames, innermost first: each frame not
// innermost stands just after its call (call_map.h). Host frames (inst ==
// null) are skipped; the rewrite's helpers are dropped by CallSites. Runs on
// the request's fiber: it only reads frames and looks them up.
race::CallSitePtr IsolateImpl::Capture() const {
  if (m_.call_sites == nullptr) return nullptr;  // loaded without call sites
  const std::vector<interp::Frame>& frames = (*thread_).*ThreadFrames();
  std::array<uint32_t, CallSites::kMaxFrames> pcs;
  size_t n = 0;
  for (auto it = frames.rbegin(); it != frames.rend() && n < pcs.size(); ++it) {
    if (it->inst == instance_.get()) pcs[n++] = it->offset;
  }
  return m_.call_sites->Resolve(pcs.data(), n);
}

namespace {

std::string HostName(const abi::HostFunction& fn) {
  return std::string(fn.module) + "." + std::string(fn.name);
}

// Runs `fn`, turning an exception it throws into a trap: left alone it would
// unwind through the interpreter and the fiber's entry, where nothing can
// catch it, and end the process. Only std::exception: Boost.Context's
// forced_unwind (a suspended fiber being destroyed) is no std::exception and
// must pass through, as CallScope expects.
abi::HostOutcome InvokeHost(const abi::HostFunction& fn, abi::HostCall& call) {
  try {
    return fn.fn(call);
  } catch (const std::bad_alloc&) {
    return abi::HostOutcome::Trap(HostName(fn) + ": out of host memory");
  } catch (const std::exception& e) {
    return abi::HostOutcome::Trap(HostName(fn) + ": " + e.what());
  }
}

}  // namespace

bool IsolateImpl::ChargeHostCall(uint64_t bytes) {
  const auto cost = static_cast<int64_t>(kHostCallFuel + bytes / kBytesPerFuel);
  const int64_t left = fuel_->UnsafeGet<int64_t>() - cost;
  fuel_->UnsafeSet(interp::Value::Make(left));
  return left >= 0;
}

wabt::Result IsolateImpl::CallHost(const abi::HostFunction& fn, const interp::Values& params,
                                   interp::Values& results, interp::Trap::Ptr* out_trap) {
  interp::Store& store = engine_->store();
  if (ctx_ == nullptr) {
    *out_trap = interp::Trap::New(store, HostName(fn) + ": called with no request context");
    return wabt::Result::Error;
  }
  std::array<uint64_t, kMaxHostValues> args{}, res{};
  for (size_t i = 0; i < params.size(); ++i) args[i] = ToBits(fn.params[i], params[i]);
  // The view is rebuilt for every call: memory.grow moves the data.
  abi::HostCall call{ctx_, abi::Memory{memory_->UnsafeData(), memory_->ByteSize()}, args.data(),
                     res.data()};
  call.stack = this;
  abi::HostOutcome out = InvokeHost(fn, call);
  switch (out.kind) {
    case abi::HostOutcome::Kind::kReturn:
      // Charged only when the call returns: one that traps or exits ends the
      // guest's call anyway, and its own reason is the more useful report.
      if (!ChargeHostCall(call.bytes)) {
        *out_trap = interp::Trap::New(store, HostName(fn) + ": exceeded CPU limit");
        return wabt::Result::Error;  // Classify sees fuel < 0: kOutOfFuel
      }
      for (size_t i = 0; i < results.size(); ++i) results[i] = FromBits(fn.results[i], res[i]);
      return wabt::Result::Ok;
    case abi::HostOutcome::Kind::kTrap:
      *out_trap = interp::Trap::New(store, out.message);
      return wabt::Result::Error;
    case abi::HostOutcome::Kind::kExit:
      exit_code_ = out.exit_code;
      *out_trap = interp::Trap::New(store, HostName(fn) + ": exit");
      return wabt::Result::Error;
  }
  return wabt::Result::Error;
}

// ---- Engine, Isolate ----

Engine::Engine() : impl_(std::make_unique<EngineImpl>()) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Isolate>> Engine::Instantiate(std::shared_ptr<const Module> module,
                                                     const Limits& limits, abi::Context* ctx) {
  const ModuleImpl& m = module->impl();
  if (m.initial_pages > limits.max_memory_pages) {
    return Status::ResourceExhausted(
        m.name + ": the module starts with " + std::to_string(m.initial_pages) +
        " pages of memory; the limit is " + std::to_string(limits.max_memory_pages) +
        " (raise [limits] memory_mb)");
  }
  const uint64_t cap = std::min<uint64_t>(m.declared_max_pages, limits.max_memory_pages);
  EDGELAB_ASSIGN_OR_RETURN(std::unique_ptr<IsolateImpl> impl,
                           impl_->NewIsolate(std::move(module), limits, cap));
  EDGELAB_RETURN_IF_ERROR(impl->Initialize(ctx));
  return std::unique_ptr<Isolate>(new Isolate(std::move(impl)));
}

EngineStats Engine::stats() const { return impl_->stats(); }

Isolate::Isolate(std::unique_ptr<IsolateImpl> impl) : impl_(std::move(impl)) {}
Isolate::~Isolate() = default;

CallOutcome Isolate::Call(std::string_view name, abi::Context* ctx) {
  return impl_->Call(name, ctx);
}

uint64_t Isolate::memory_bytes() const { return impl_->memory_bytes(); }

const Module& Isolate::module() const { return impl_->module(); }

}  // namespace edgelab::engine
