// cli/check_cmd.cc: `edgelab check FILE [--model M] [--timeout S]`: reads a
// history (edgelab JSON lines or a Jepsen log), decides each key's
// linearizability (check/linearizable.h) and prints one line a key, with the
// explanation of a violation. Exit: 0 every key linearizable, 1 some key is
// not, 2 bad input, 3 undecided within --timeout (no key found bad).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "check/history.h"
#include "check/linearizable.h"
#include "cli/commands.h"
#include "sched/process.h"

namespace edgelab::cli {

int Check(const CheckOptions& opts) {
  const bool auto_model = opts.model == "auto";
  Result<check::Model> model = check::Model::kRegister;
  if (!auto_model) model = check::ParseModel(opts.model);
  if (!model.ok()) return Fail(model.status(), 2);
  std::ifstream in(opts.file, std::ios::binary);
  if (!in) return Fail(Status::InvalidArgument(opts.file + ": cannot read the history"), 2);
  std::stringstream text;
  text << in.rdbuf();
  auto history = check::ParseHistory(text.str());
  if (!history.ok())
    return Fail(Status::InvalidArgument(opts.file + ": " + history.status().message()), 2);
  // A file with lines and no operation is a log this reader skipped whole
  // (etcd logs with spaces did, before they were read): "linearizable" would
  // be a verdict on nothing.
  if (history->ops.empty() && text.str().find_first_not_of(" \t\r\n") != std::string::npos) {
    return Fail(Status::InvalidArgument(
                    opts.file + ": no operations: every line was skipped (not edgelab JSON "
                                "lines, nor Jepsen :invoke/:ok/:fail/:info lines of a client)"),
                2);
  }
  if (auto_model) model = check::AutoModel(*history);
  const int64_t deadline =
      opts.timeout_s > 0 ? sched::MonotonicMillis() + static_cast<int64_t>(opts.timeout_s * 1000)
                         : 0;
  auto out_of_time = [deadline] { return deadline != 0 && sched::MonotonicMillis() >= deadline; };
  auto result = check::CheckLinearizable(*history, *model, out_of_time);
  if (!result.ok())
    return Fail(Status::InvalidArgument(opts.file + ": " + result.status().message()), 2);
  std::printf("%s: %zu operations, %zu keys, model %s%s\n", opts.file.c_str(), history->ops.size(),
              result->keys.size(), check::ModelName(*model),
              auto_model ? " (auto; --model to choose)" : "");
  for (const check::KeyResult& k : result->keys) {
    std::printf("key %s: %s (%zu operations)\n", k.key.empty() ? "\"\"" : k.key.c_str(),
                check::VerdictName(k.verdict), k.op_count);
    if (!k.explanation.empty()) std::printf("  %s\n", k.explanation.c_str());
  }
  switch (result->verdict) {
    case check::Verdict::kLinearizable:
      std::printf("linearizable\n");
      return 0;
    case check::Verdict::kNotLinearizable:
      std::printf("NOT linearizable\n");
      return 1;
    case check::Verdict::kUnknown:
      std::printf("unknown: not decided within --timeout %.0f s\n", opts.timeout_s);
      return 3;
  }
  return 3;
}

}  // namespace edgelab::cli
