// runtime/object_host.cc: Durable Object classes on the engine (object_host.h).
#include "runtime/object_host.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

namespace edgelab::runtime {
namespace {

constexpr size_t kIdHexChars = 64;

std::string Hex(const uint8_t* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

// The object's instance: an isolate of its class's module.
struct ObjectIsolate final : objects::Instance {
  std::unique_ptr<engine::Isolate> isolate;
  uint64_t id = 0;  // from the runtime's isolate ids, when observed
};

}  // namespace

ClassNamespace::ClassNamespace(std::string class_name, std::shared_ptr<const engine::Module> module,
                               const ClassServices* services)
    : class_name_(std::move(class_name)), module_(std::move(module)), services_(services) {}

std::string ClassNamespace::IdFromName(std::string_view name) const {
  // The NUL keeps ("ab", "c") and ("a", "bc") apart; the prefix versions it.
  std::string input = "edgelab.do.v1\n" + class_name_ + '\0' + std::string(name);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string ClassNamespace::NewUniqueId(abi::Context& caller) const {
  // From OpenSSL's CSPRNG, not the scheduler's generator: a guest sees that
  // one's output (`random`) and could predict other users' ids from it. Under
  // a seeded simulation from the seed, so the run replays (nobody to guess).
  uint8_t bytes[32];
  if (caller.sched().seeded() || RAND_bytes(bytes, sizeof bytes) != 1) {
    for (size_t i = 0; i < sizeof bytes; i += 8) {  // no entropy source: still unique
      uint64_t r = caller.sched().Random();
      for (size_t j = 0; j < 8; ++j) bytes[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  }
  return Hex(bytes, sizeof bytes);
}

bool ClassNamespace::ValidId(std::string_view id) const {
  if (id.size() != kIdHexChars) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ClassNamespace::Who(const objects::Object& object) const {
  return services_->worker + " do=" + class_name_ + "/" + object.key().id.substr(0, 12);
}

abi::Context ClassNamespace::ContextFor(objects::Object& object, const std::string& who,
                                        int depth) {
  const ClassServices& s = *services_;
  Log* log = s.log;
  abi::Context ctx(s.scheds[object.home()], s.kv,
                   [log, who](abi::LogLevel level, std::string_view msg) {
                     log->Line(who + " " + LevelName(level) + ": " + GuestText(msg));
                   });
  ctx.set_objects(s.objects);
  ctx.set_vars(s.vars);
  ctx.set_usage(s.usage);
  ctx.set_object({&object.key(), &object.storage(), depth});
  ctx.max_response_bytes = s.max_response_bytes;
  if (s.observer != nullptr) {
    ctx.set_observer(s.observer);
    ctx.info.id = (*s.next_request_id)++;
    ctx.info.worker = s.worker;
    ctx.info.object = object.key().ToString();
  }
  return ctx;
}

engine::CallOutcome ClassNamespace::Run(objects::Object& object, abi::Context& ctx,
                                        std::string_view fn) {
  auto* inst = static_cast<ObjectIsolate*>(object.instance().get());
  if (inst == nullptr) {
    abi::Context init = ctx.ForInit();
    init.set_object(ctx.object());
    auto iso = services_->engines[object.home()]->Instantiate(module_, services_->limits, &init);
    if (!iso.ok()) {
      engine::CallOutcome failed;
      failed.kind = engine::CallOutcome::Kind::kTrap;
      failed.message = "cannot start the object's instance: " + iso.status().message();
      return failed;
    }
    auto fresh = std::make_unique<ObjectIsolate>();
    fresh->isolate = std::move(*iso);
    if (services_->next_isolate_id != nullptr) fresh->id = (*services_->next_isolate_id)++;
    inst = fresh.get();
    object.instance() = std::move(fresh);
  }
  ctx.info.isolate = inst->id;
  engine::CallOutcome out = inst->isolate->Call(fn, &ctx);
  if (!out.ok()) object.ResetInstance();
  if (services_->observer != nullptr) services_->observer->End(ctx.info, out.ok());
  return out;
}

Result<abi::Response> ClassNamespace::Fetch(abi::Context& caller, std::string_view id,
                                            abi::Request req) {
  if (!ValidId(id)) {
    return Status::InvalidArgument("not a Durable Object id (64 lower-case hex characters)");
  }
  const int depth = caller.object().depth + 1;
  if (depth > kMaxCallDepth) {
    std::string why = "a chain of " + std::to_string(depth) + " Durable Object calls: more than " +
                      std::to_string(kMaxCallDepth) + " deep";
    services_->log->Line("warn: " + services_->worker + " do=" + class_name_ + ": " + why);
    return Status::Unavailable(why);
  }
  objects::ObjectKey key{class_name_, std::string(id)};
  abi::Response response;
  auto turn = [&](objects::Object& object) {
    std::string who = Who(object);
    abi::Context ctx = ContextFor(object, who, depth);
    ctx.request = std::move(req);
    if (ctx.observer() != nullptr) {  // copies only for an observer (ContextFor)
      ctx.info.method = ctx.request.method;
      ctx.info.path = ctx.request.url.substr(0, ctx.request.url.find('?'));
    }
    // The turn's wall time is the object's active time, which Cloudflare
    // bills as duration. Turns of one object are serial (objects/registry.h,
    // rule 2), so the sum never counts a moment twice.
    const int64_t start = ctx.sched().NowMicros();
    engine::CallOutcome out = Run(object, ctx, "do_fetch");
    const int64_t wall = ctx.sched().NowMicros() - start;
    ctx.Count(&abi::Usage::do_cpu_fuel, out.fuel_used);  // the request is counted by do_fetch
    ctx.Count(&abi::Usage::do_wall_micros, static_cast<uint64_t>(wall));
    response = OutcomeResponse(out, ctx, who, services_->limit_names, services_->log);
    if (!services_->log->quiet()) {
      std::string path = ctx.request.url.substr(0, ctx.request.url.find('?'));
      services_->log->Access(who + " " + ctx.request.method + " " + path + " " +
                             std::to_string(response.status) + " " + Millis(wall) +
                             " cpu=" + CpuMillis(out.fuel_used));
    }
  };
  EDGELAB_RETURN_IF_ERROR(
      services_->registry->Call(caller.sched(), key, caller.object().key, std::move(turn)));
  return response;
}

Status ClassNamespace::RunAlarm(objects::Object& object, int retry) {
  std::string who = Who(object);
  if (!module_->HasExport("do_alarm")) {
    services_->log->Line("warn: " + who + ": alarm fired but class " + class_name_ +
                         " exports no do_alarm: dropped");
    return Status::OK();
  }
  abi::Context ctx = ContextFor(object, who, /*depth=*/1);
  ctx.request.method = "ALARM";
  if (ctx.observer() != nullptr) ctx.info.method = "ALARM";
  ctx.request.headers.emplace_back("x-edgelab-alarm-retry", std::to_string(retry));
  const int64_t start = ctx.sched().NowMicros();
  engine::CallOutcome out = Run(object, ctx, "do_alarm");
  const int64_t wall = ctx.sched().NowMicros() - start;
  // Cloudflare bills each alarm invocation as a Durable Object request; a
  // retry is another invocation. Its run is active time, billed as duration.
  ctx.Count(&abi::Usage::do_requests);
  ctx.Count(&abi::Usage::do_cpu_fuel, out.fuel_used);
  ctx.Count(&abi::Usage::do_wall_micros, static_cast<uint64_t>(wall));
  abi::Response r =
      OutcomeResponse(out, ctx, who + " alarm", services_->limit_names, services_->log);
  if (out.ok() || (out.kind == engine::CallOutcome::Kind::kExit && out.exit_code == 0)) {
    return Status::OK();
  }
  return Status::Trap(r.body.substr(0, r.body.find('\n')));
}

}  // namespace edgelab::runtime
