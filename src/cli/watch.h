// cli/watch.h: what the --race, --race-json and --history flags of serve,
// bench and race attach to a worker (race/observer.h), and what they print
// and write once it stopped.
//
// Threading: Open and Finish on the controlling thread; observer() is used by
// the worker's loops while it runs.
#ifndef EDGELAB_CLI_WATCH_H_
#define EDGELAB_CLI_WATCH_H_

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "race/detector.h"
#include "race/history.h"
#include "race/observer.h"

namespace edgelab::cli {

struct WatchFlags {
  bool race = false;      // find lost updates and unprotected read-modify-writes
  std::string race_json;  // write the reports there (implies race)
  std::string history;    // record every operation there (JSON lines)
  bool any() const { return race || !race_json.empty() || !history.empty(); }
};

class Watch {
 public:
  // Opens (truncates) the history file and checks that --race-json can be
  // written, so a typo fails before any work; errors name the flag and path.
  // `on_new_group`: called with each new report's text as it is found (serve
  // prints them live); may be empty.
  static Result<std::unique_ptr<Watch>> Open(const WatchFlags& flags,
                                             std::function<void(const std::string&)> on_new_group);
  ~Watch();

  // What the worker reports to; null when no flag asks for anything.
  race::Observer* observer() { return observer_; }
  // Null without --race / --race-json.
  const race::Detector* detector() const { return detector_.get(); }
  // Reports found so far (0 without --race).
  uint64_t races() const { return detector_ ? detector_->total() : 0; }

  // Closes the history and writes --race-json. With `print_reports`, prints
  // every report group to `out` first (serve printed them live already);
  // then the summary line and what was written where.
  // Once: a second call does nothing. Safe while the worker still runs (a
  // worker abandoned at a drain timeout): operations after it are not
  // recorded; the Watch must then outlive that worker (leak it).
  Status Finish(FILE* out, bool print_reports);

 private:
  class Tee;
  Watch() = default;

  WatchFlags flags_;
  std::unique_ptr<race::Detector> detector_;
  std::unique_ptr<race::HistoryRecorder> history_;
  std::unique_ptr<Tee> tee_;
  race::Observer* observer_ = nullptr;
  bool finished_ = false;
};

// Checks that `path` can be written (or created) before any work runs: an
// output found unwritable after minutes of load is a wasted run. "" and "-"
// pass. InvalidArgument naming `flag`, the path and the reason.
Status CheckWritable(const std::string& path, const char* flag);
// Writes `text` to `path` (truncating); IOError naming the path.
Status WriteFile(const std::string& path, const std::string& text);

}  // namespace edgelab::cli

#endif  // EDGELAB_CLI_WATCH_H_
