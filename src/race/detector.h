// race/detector.h: finds races on KV keys among observed operations
// (issue 5 items 2-4) and reports them in the shape of ThreadSanitizer's.
//
// Two kinds, both about a worker's KV keys only (Durable Object storage is
// serialized by construction and never reported):
//   kLostUpdate: request R read key K (etag e), later wrote K
//     unconditionally, and the store says that write replaced an etag other
//     than e (Op::previous_etag): another request's write landed between R's
//     read and R's write and R's write erased it. Reported with R's read and
//     write, and the overwritten write (request, time, value, site) when it
//     was observed.
//   kUnprotectedRmw (predictive): request R read K and later wrote K
//     unconditionally, whether or not anyone interleaved: the bug shows at
//     concurrency 1. A write with if_match / if_none_match is protected; so
//     is a write of a key R never read in that request.
// A request's last read of K before the write is the one that counts.
// Deletes are not writes here (a delete after a read is not reported).
//
// Which operations count: a write is a KV kWrite that stored (kOk); only an
// unconditional one (Condition::kNone) can race. The read is the request's
// last kOk read of the same (namespace, key) before the write, found or not
// (reading "absent" and then writing blindly is a read-modify-write too).
// A lost update needs the store's previous_etag, and is one when that
// differs from the etag the request last knew for the key: the etag read (""
// when absent), or its own later write's (or "" after its own delete), so a
// request that writes twice does not race with itself, and previous_etag is
// not "" (the key absent when the write landed, though the request had seen
// it: a delete or an expiry came between, and deletes are not writes here).
// The overwritten write is the observed write (any request, any condition)
// whose new etag is previous_etag.
//
// Dedupe: reports are grouped by (kind, namespace, key pattern, the sites
// involved: read, write and, for lost updates, the overwritten write's):
// the pattern is the key with every id-like token (a run of letters and
// digits that holds a digit, or 16+ hex letters) replaced by "*" (so
// "user:17" and "user:42" group, and "session:0a1b2c3d..." with its kind),
// sites compare by CallSite identity (a group holds its sites, so an address
// is never reused while grouped). Each group keeps its first report in full
// and a count; at most kMaxGroups groups are kept. Counting: the
// predictive report counts every write that does the pattern; the lost
// update counts every erased write.
//
// Threading: an Observer (race/observer.h): every method is safe from any
// thread at once. Memory: per request, its last read of each key until End;
// per key, the last kRecentWrites writes (to name the overwritten one), and
// over all keys at most kRecentWritesTotal (the oldest anywhere forgotten
// first), so a run over millions of keys stays bounded; a forgotten write
// makes a later report's overwritten_known false.
// The overwritten write's Complete may arrive after the erasing write's (the
// two race across loop threads): a lost update whose overwritten write is not
// remembered waits for it, up to 100 ms of scheduler time (at most 1024
// wait), and is reported with overwritten_known false if it never comes, or
// when Groups(), total(), Summary() or Json() is called, which report every
// waiting one first.
#ifndef EDGELAB_RACE_DETECTOR_H_
#define EDGELAB_RACE_DETECTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "race/observer.h"

namespace edgelab::race {

inline constexpr size_t kRecentWrites = 256;
inline constexpr size_t kRecentWritesTotal = size_t{1} << 16;
// Groups kept; reports that would start more are counted in total() and the
// summary, not kept (a key pattern the masking misses, over a long serve,
// would otherwise grow a group per key).
inline constexpr size_t kMaxGroups = 1000;

// One side of a report: an operation as it was observed.
struct Access {
  RequestInfo request;  // copied: the request may be long gone
  std::string key;
  std::string space;        // namespace id
  std::string value;        // read or written (at most 256 bytes kept, then "...")
  uint64_t value_size = 0;  // the value's full size in bytes
  std::string etag;         // read, or written
  bool found = true;        // reads: the key existed
  int64_t time_ns = 0;      // start of the operation
  CallSitePtr site;         // may be null
};

struct Report {
  enum class Kind { kLostUpdate, kUnprotectedRmw };
  Kind kind = Kind::kLostUpdate;
  std::string key_pattern;
  Access read;   // R's read
  Access write;  // R's unconditional write
  // kLostUpdate: the write R erased; `overwritten_known` is false when the
  // store named an etag whose write was not observed (then only its etag is
  // in overwritten.etag).
  Access overwritten;
  bool overwritten_known = false;
};

struct ReportGroup {
  Report first;
  uint64_t count = 0;
};

class Detector : public Observer {
 public:
  struct Options {
    bool lost_updates = true;  // kLostUpdate
    bool predictive = true;    // kUnprotectedRmw
    // Called (outside the detector's lock, possibly from any loop thread,
    // never concurrently) with the text of each new group's first report.
    // Empty: nothing printed as found.
    std::function<void(const std::string& text)> on_new_group;
    // Paths in call sites are printed relative to this directory when under
    // it (default: the process's working directory at construction).
    std::string base_dir;
  };
  explicit Detector(Options opts);
  ~Detector() override;

  void Invoke(const Op& op) override;
  void Complete(const Op& op) override;
  void End(const RequestInfo& request, bool finished) override;

  // The groups so far, in the order their first reports were found.
  std::vector<ReportGroup> Groups() const;
  // Reports so far, all groups counted.
  uint64_t total() const;
  // For tests and stats: requests with state (a KV operation seen, not yet
  // Ended), and keys with remembered writes.
  size_t tracked_requests() const;
  size_t tracked_keys() const;

  // ThreadSanitizer-shaped text of one report:
  //   ==================
  //   WARNING: edgelab: lost update on KV key "k" (namespace n) in worker w
  //     <each side: what, which request (id, method path, isolate), when,
  //      value and etag, then its frames "#0 function file:line:col">
  //   SUMMARY: edgelab: lost update on KV key "k" in worker w at file:line in f
  //   ==================
  // Both kinds name the fix (if_match, or a Durable Object); kUnprotectedRmw
  // also says what will happen. A group seen more than once says how often.
  // Values are quoted, escaped (\xNN for bytes outside printable ASCII) and
  // cut at 64 bytes. Times are ms since the first operation the detector
  // saw. Paths are relative to base_dir when under it. The SUMMARY frame is
  // the write's first frame outside the SDK (a file named edgelab.hpp or
  // edgelab.h; frame 0 when all are), its function without parameters; "in
  // f" alone without file info, nothing without a site.
  std::string Format(const ReportGroup& g) const;
  // Format's SUMMARY line without "SUMMARY: edgelab: " and the newline:
  //   lost update on KV key "k" in worker w at file:line in f
  std::string SummaryLine(const ReportGroup& g) const;
  // Every group's text, then one line: "edgelab: N reports in M groups"
  // (or "edgelab: no races found").
  std::string Summary() const;
  // {"schema": "edgelab-race/1", "total": N, "groups": [{"kind":
  //  "lost-update"|"unprotected-rmw", "count", "key", "key_pattern",
  //  "namespace", "worker", "read", "write", "overwritten"?,
  //  "overwritten_known"?, "text"}]} ("overwritten" and "overwritten_known"
  // for lost updates only), where each access is {"request", "isolate",
  // "method", "path", "object", "key", "value", "value_size", "etag",
  // "found", "time_ns", "module", "frames": [{"function", "file", "line",
  // "column", "inlined"}]} ("module" and "frames" empty without a site;
  // files as the module's DWARF wrote them; time_ns the scheduler's clock).
  // Bytes that are not UTF-8 are written as U+FFFD. No trailing newline.
  std::string Json() const;

 private:
  struct State;
  // Calls on_new_group for each of `fresh`, serialized, without the lock.
  void Announce(const std::vector<ReportGroup>& fresh) const;
  // Reports every lost update still waiting for its overwritten write.
  void Settle() const;

  const Options opts_;
  std::unique_ptr<State> state_;
};

}  // namespace edgelab::race

#endif  // EDGELAB_RACE_DETECTOR_H_
