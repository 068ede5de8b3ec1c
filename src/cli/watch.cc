// cli/watch.cc: see watch.h.
#include "cli/watch.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace edgelab::cli {

namespace fs = std::filesystem;

// Both observers at once: --race and --history together.
class Watch::Tee final : public race::Observer {
 public:
  Tee(race::Observer* a, race::Observer* b) : a_(a), b_(b) {}
  void Invoke(const race::Op& op) override {
    a_->Invoke(op);
    b_->Invoke(op);
  }
  void Complete(const race::Op& op) override {
    a_->Complete(op);
    b_->Complete(op);
  }
  void End(const race::RequestInfo& request, bool finished) override {
    a_->End(request, finished);
    b_->End(request, finished);
  }

 private:
  race::Observer* const a_;
  race::Observer* const b_;
};

Status CheckWritable(const std::string& path, const char* flag) {
  if (path.empty() || path == "-") return Status::OK();
  fs::path p = fs::absolute(path);
  std::error_code ec;
  bool exists = fs::exists(p, ec);
  std::string dir = p.parent_path().string();
  if (exists && fs::is_directory(p, ec)) {
    return Status::InvalidArgument(std::string(flag) + " " + path + ": is a directory");
  }
  if (exists ? access(p.c_str(), W_OK) != 0 : access(dir.c_str(), W_OK) != 0) {
    return Status::InvalidArgument(std::string(flag) + " " + path +
                                   ": cannot write there: " + std::strerror(errno));
  }
  return Status::OK();
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IOError(path + ": cannot write: " + std::strerror(errno));
  return Status::OK();
}

Result<std::unique_ptr<Watch>> Watch::Open(const WatchFlags& flags,
                                           std::function<void(const std::string&)> on_new_group) {
  std::unique_ptr<Watch> w(new Watch());
  w->flags_ = flags;
  if (flags.race_json == "-") {
    return Status::InvalidArgument("--race-json needs a file (stdout carries the reports' text)");
  }
  EDGELAB_RETURN_IF_ERROR(CheckWritable(flags.race_json, "--race-json"));
  if (flags.race || !flags.race_json.empty()) {
    race::Detector::Options opts;
    opts.on_new_group = std::move(on_new_group);
    w->detector_ = std::make_unique<race::Detector>(std::move(opts));
  }
  if (!flags.history.empty()) {
    auto rec = race::HistoryRecorder::Open(flags.history);
    if (!rec.ok()) return Status::InvalidArgument("--history: " + rec.status().message());
    w->history_ = std::move(*rec);
  }
  if (w->detector_ && w->history_) {
    w->tee_ = std::make_unique<Tee>(w->detector_.get(), w->history_.get());
    w->observer_ = w->tee_.get();
  } else if (w->detector_) {
    w->observer_ = w->detector_.get();
  } else {
    w->observer_ = w->history_.get();
  }
  return w;
}

Watch::~Watch() = default;

Status Watch::Finish(FILE* out, bool print_reports) {
  if (finished_) return Status::OK();  // said and written once
  finished_ = true;
  Status first;
  if (history_) {
    Status s = history_->Close();  // first: it closes cut-off operations with lines of its own
    const uint64_t lines = history_->lines();
    if (s.ok()) {
      std::fprintf(out, "history: %s (%llu lines; check it with: edgelab check %s)\n",
                   flags_.history.c_str(), static_cast<unsigned long long>(lines),
                   flags_.history.c_str());
    } else {
      first = s;
    }
  }
  if (detector_) {
    // Summary(): every group's text, then its one-line count.
    std::string summary = detector_->Summary();
    if (!print_reports) {
      size_t last = summary.find_last_of('\n', summary.size() >= 2 ? summary.size() - 2 : 0);
      if (last != std::string::npos) summary.erase(0, last + 1);
    }
    std::fprintf(out, "%s", summary.c_str());
    if (!flags_.race_json.empty()) {
      if (Status s = WriteFile(flags_.race_json, detector_->Json() + "\n"); !s.ok()) {
        if (first.ok()) first = s;
      } else {
        std::fprintf(out, "race json: %s\n", flags_.race_json.c_str());
      }
    }
  }
  std::fflush(out);
  return first;
}

}  // namespace edgelab::cli
