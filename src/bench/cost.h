// bench/cost.h: what a workload would cost on Cloudflare Workers, from what
// one run used, scaled to a monthly volume. The model and the sources of its
// default prices are in docs/cost.md; every price is an input.
//
// Threading: none; plain values in, plain values out.
// The model (docs/cost.md):
//   scale      = monthly_requests / usage.requests
//   monthly(x) = usage.x * scale
//   billed(x)  = max(0, monthly(x) - included(x))
//   total      = base_usd + sum over x of billed(x) / 1e6 * usd_per_million(x)
// for x in: requests, CPU milliseconds, KV reads, writes, deletes, lists,
// Durable Object requests, Durable Object duration (GB-s: usage.do_wall_s *
// prices.do_memory_gb), storage read units and write units. A run whose
// usage.known is false (a URL target: edgelab cannot see the server's CPU or
// storage) is costed on requests alone and says so.
#ifndef EDGELAB_BENCH_COST_H_
#define EDGELAB_BENCH_COST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace edgelab::bench {

// What one run used, as the runtime counted it (abi::UsageCounts from
// runtime::Runtime::usage(), mapped by the command; cpu_ms is the fuel at
// engine::kFuelPerMs, do_wall_s is do_wall_micros / 1e6).
struct Usage {
  bool known = false;      // false: only `requests` is meaningful
  uint64_t requests = 0;   // requests the worker served (any status)
  double cpu_ms = 0;       // worker CPU, from fuel (object turns are in do_cpu_ms)
  uint64_t kv_reads = 0;   // get and get-with-metadata calls
  uint64_t kv_writes = 0;  // put calls, conditional ones included
  uint64_t kv_deletes = 0;
  uint64_t kv_lists = 0;
  uint64_t do_requests = 0;     // stub fetches and alarm invocations
  double do_wall_s = 0;         // seconds those turns ran, summed: GB-s / do_memory_gb
  double do_cpu_ms = 0;         // object turns' CPU: shown, not priced (duration is)
  uint64_t do_read_units = 0;   // storage gets and lists, one unit per 4 KB (at least 1 a call)
  uint64_t do_write_units = 0;  // storage puts, one per 4 KB (at least 1); deletes, alarm sets 1
};

// One priced item: what a month includes, and the price above it.
struct Price {
  double included = 0;         // free units a month
  double usd_per_million = 0;  // above the included units
};

// Defaults: Cloudflare Workers Paid (Standard usage model), Workers KV and
// Durable Objects (key-value storage backend) as listed on their pricing
// pages; docs/cost.md cites each figure and the date it was read. Durable
// Object delete requests (priced like write units, with their own 1 million)
// are counted as write units here, so they share the write units' allowance.
// Duration is billed in GB-s for the memory an object is allocated whatever
// it uses: 128 MB, which Cloudflare's own examples convert as 128 MB / 1 GB
// = 0.128 GB (decimal units), not 0.125.
struct Prices {
  double base_usd = 5.00;  // the plan's monthly fee
  Price requests{10e6, 0.30};
  Price cpu_ms{30e6, 0.02};
  Price kv_reads{10e6, 0.50};
  Price kv_writes{1e6, 5.00};
  Price kv_deletes{1e6, 5.00};
  Price kv_lists{1e6, 5.00};
  Price do_requests{1e6, 0.15};
  Price do_duration_gb_s{400e3, 12.50};
  double do_memory_gb = 0.128;  // GB billed per active object: GB-s = seconds * this
  Price do_read_units{1e6, 0.20};
  Price do_write_units{1e6, 1.00};
};

// Sets one price from "KEY=VALUE": KEY is "base_usd", "do_memory_gb" or
// "<item>.included" / "<item>.usd_per_million" for an item above (e.g.
// "kv_writes.usd_per_million=4.5").
// kInvalidArgument naming the text when the key is unknown or the value is not
// a non-negative number.
Status SetPrice(std::string_view assignment, Prices* prices);
// Every KEY SetPrice accepts, with its current value, one "KEY=VALUE" each:
// base_usd and do_memory_gb first, then each item's two in the order of Prices.
std::vector<std::string> ListPrices(const Prices& prices);

struct CostLine {
  std::string item;  // "requests", "cpu_ms", "kv_reads", ..., "do_duration_gb_s", ...
  double monthly_units = 0;
  double billed_units = 0;
  double usd = 0;
};

struct Cost {
  bool complete = false;  // usage.known: CPU and storage are in
  uint64_t monthly_requests = 0;
  double monthly_usd = 0;               // base + every line
  double usd_per_million_requests = 0;  // monthly_usd / monthly_requests * 1e6
  // One per item, in the order of Prices; when !complete every line but
  // requests is zero.
  std::vector<CostLine> lines;
};

// The monthly cost of a workload of `monthly_requests` requests shaped like
// `usage`. usage.requests == 0 costs the base fee alone.
Cost MonthlyCost(const Usage& usage, uint64_t monthly_requests, const Prices& prices);

// The default monthly volume: the post's load, 10,000 requests/s for 30 days.
inline constexpr uint64_t kDefaultMonthlyRequests = 10'000ULL * 86'400 * 30;

}  // namespace edgelab::bench

#endif  // EDGELAB_BENCH_COST_H_
