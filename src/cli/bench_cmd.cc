// cli/bench_cmd.cc: `edgelab bench URL -n N -c C [--verify /value]`: load a
// worker, print the report, and with --verify check a counter: the number at
// the verify path is read before and after the run, and the difference is
// compared with the requests that succeeded. For the post's counter that is
// the count of lost updates.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bench/load.h"
#include "bench/report.h"
#include "cli/commands.h"
#include "sched/process.h"
#include "sched/real_scheduler.h"

namespace edgelab::cli {
namespace {

// The URL of `path` on the same server as `url`.
Result<std::string> SiblingUrl(const std::string& url, const std::string& path) {
  EDGELAB_ASSIGN_OR_RETURN(bench::Url u, bench::ParseUrl(url));
  return "http://" + u.HostHeader() + (path.empty() || path[0] != '/' ? "/" : "") + path;
}

// The integer the verify path answers (a missing counter, 404, reads as 0).
Result<int64_t> ReadCounter(const std::string& url, sched::RealScheduler& loop) {
  auto body = bench::FetchOnce(url, loop);
  if (!body.ok() && body.status().code() == Code::kNotFound) return int64_t{0};
  if (!body.ok()) return body.status();
  try {
    size_t used = 0;
    int64_t v = std::stoll(*body, &used);
    if (body->find_first_not_of(" \r\n", used) == std::string::npos) return v;
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument(url + ": --verify expects a plain decimal, got \"" +
                                 body->substr(0, 40) + "\"");
}

struct Verify {
  int64_t before = 0, after = 0, expected = 0;
};

}  // namespace

int Bench(const BenchOptions& opts) {
  bench::LoadOptions lo;
  lo.url = opts.url;
  lo.requests = opts.requests;
  lo.connections = opts.connections;
  lo.timeout_s = opts.timeout_s;
  std::string verify_url;
  if (!opts.verify.empty()) {
    auto u = SiblingUrl(opts.url, opts.verify);
    if (!u.ok()) return std::fprintf(stderr, "edgelab: %s\n", u.status().message().c_str()), 2;
    verify_url = *u;
  }
  // One descriptor per connection: -c 1000 passes Debian's soft limit of 1024.
  uint64_t files = sched::RaiseFileLimit();
  if (files != 0 && opts.connections + 64 > files) {
    std::fprintf(stderr, "edgelab: -c %u needs more open files than this process may have (%llu)\n",
                 opts.connections, static_cast<unsigned long long>(files));
    return 2;
  }
  sched::RealScheduler loop;
  Status status;
  bench::LoadReport report;
  Verify v;
  loop.Spawn([&] {
    status = [&]() -> Status {
      if (!verify_url.empty()) {
        EDGELAB_ASSIGN_OR_RETURN(v.before, ReadCounter(verify_url, loop));
      }
      EDGELAB_ASSIGN_OR_RETURN(report, bench::RunLoad(lo, loop));
      if (!verify_url.empty()) {
        EDGELAB_ASSIGN_OR_RETURN(v.after, ReadCounter(verify_url, loop));
      }
      v.expected = v.before + static_cast<int64_t>(report.completed);
      return Status::OK();
    }();
    loop.Stop();
  });
  loop.Run();
  if (!status.ok()) {
    std::fprintf(stderr, "edgelab: %s\n", status.message().c_str());
    return status.code() == Code::kInvalidArgument ? 2 : 1;
  }
  if (opts.json) {
    nlohmann::json j = bench::ToJson(report);
    if (!verify_url.empty()) {
      j["verify"] = {{"path", opts.verify},
                     {"before", v.before},
                     {"after", v.after},
                     {"expected", v.expected},
                     {"lost", v.expected - v.after}};
    }
    std::printf("%s\n", j.dump(2).c_str());
    return report.completed > 0 ? 0 : 1;
  }
  std::printf("%s", bench::FormatReport(report).c_str());
  if (!verify_url.empty()) {
    int64_t got = v.after - v.before, want = v.expected - v.before, lost = want - got;
    std::printf("verify %s: %lld (expected %lld: %lld of %lld updates kept, %lld lost%s)\n",
                opts.verify.c_str(), static_cast<long long>(v.after),
                static_cast<long long>(v.expected), static_cast<long long>(got),
                static_cast<long long>(want), static_cast<long long>(lost),
                lost > 0 ? " -- a race" : "");
  }
  // A run where nothing succeeded measured nothing: say so to scripts.
  return report.completed > 0 ? 0 : 1;
}

}  // namespace edgelab::cli
