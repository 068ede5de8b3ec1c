// bench/cost.cc: the monthly cost model of cost.h (docs/cost.md).
//
// Every item is one row of kItems, so MonthlyCost, SetPrice and ListPrices
// walk the same list in the same order: an item added to Prices and Usage
// is priced, settable and listed by adding one row. A price that is one
// number rather than an item (base_usd, do_memory_gb) is a row of kScalars.
#include "bench/cost.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace edgelab::bench {
namespace {

struct Item {
  const char* name;  // the CostLine and SetPrice name
  Price Prices::*price;
  double (*units)(const Usage&, const Prices&);  // what one run used
};

template <uint64_t Usage::*field>
double Count(const Usage& u, const Prices&) {
  return static_cast<double>(u.*field);
}

// In the order of Prices (cost.h promises the lines in that order).
const std::array<Item, 10> kItems = {{
    {"requests", &Prices::requests, Count<&Usage::requests>},
    {"cpu_ms", &Prices::cpu_ms, [](const Usage& u, const Prices&) { return u.cpu_ms; }},
    {"kv_reads", &Prices::kv_reads, Count<&Usage::kv_reads>},
    {"kv_writes", &Prices::kv_writes, Count<&Usage::kv_writes>},
    {"kv_deletes", &Prices::kv_deletes, Count<&Usage::kv_deletes>},
    {"kv_lists", &Prices::kv_lists, Count<&Usage::kv_lists>},
    {"do_requests", &Prices::do_requests, Count<&Usage::do_requests>},
    {"do_duration_gb_s", &Prices::do_duration_gb_s,
     [](const Usage& u, const Prices& p) { return u.do_wall_s * p.do_memory_gb; }},
    {"do_read_units", &Prices::do_read_units, Count<&Usage::do_read_units>},
    {"do_write_units", &Prices::do_write_units, Count<&Usage::do_write_units>},
}};

struct Scalar {
  std::string_view name;  // the whole SetPrice key
  double Prices::*field;
};

// In the order ListPrices lists them, before the items.
const std::array<Scalar, 2> kScalars = {{
    {"base_usd", &Prices::base_usd},
    {"do_memory_gb", &Prices::do_memory_gb},
}};

constexpr std::string_view kIncluded = ".included";
constexpr std::string_view kPerMillion = ".usd_per_million";

// The price field `key` names (a scalar's name, "<item>.included" or
// "<item>.usd_per_million"), or null.
double* Field(std::string_view key, Prices* prices) {
  for (const Scalar& scalar : kScalars) {
    if (key == scalar.name) return &(prices->*scalar.field);
  }
  for (const Item& item : kItems) {
    std::string_view name = item.name;
    if (key.substr(0, name.size()) != name) continue;
    std::string_view rest = key.substr(name.size());
    if (rest == kIncluded) return &(prices->*item.price).included;
    if (rest == kPerMillion) return &(prices->*item.price).usd_per_million;
  }
  return nullptr;
}

// `v` as the shortest fixed-point text that parses back to exactly `v`.
std::string Format(double v) {
  char buf[400];  // fixed notation of the largest double: 309 digits
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string KeyList() {
  std::string items;
  for (const Item& item : kItems) items += std::string(items.empty() ? "" : ", ") + item.name;
  std::string scalars;
  for (const Scalar& scalar : kScalars) scalars += std::string(scalar.name) + ", ";
  return scalars + "or ITEM.included / ITEM.usd_per_million with ITEM one of " + items;
}

}  // namespace

Status SetPrice(std::string_view assignment, Prices* prices) {
  const std::string quoted = "price \"" + std::string(assignment) + "\"";
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument(quoted + ": want KEY=VALUE, KEY being " + KeyList());
  }
  std::string_view key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  double* field = Field(key, prices);
  if (field == nullptr) {
    return Status::InvalidArgument(quoted + ": unknown key \"" + std::string(key) +
                                   "\"; keys are " + KeyList());
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < 0) {
    return Status::InvalidArgument(quoted + ": \"" + std::string(text) +
                                   "\" is not a non-negative number (e.g. 0.5 or 1e6)");
  }
  *field = value;
  return Status::OK();
}

std::vector<std::string> ListPrices(const Prices& prices) {
  std::vector<std::string> out;
  for (const Scalar& scalar : kScalars) {
    out.push_back(std::string(scalar.name) + "=" + Format(prices.*scalar.field));
  }
  for (const Item& item : kItems) {
    const Price& p = prices.*item.price;
    out.push_back(item.name + std::string(kIncluded) + "=" + Format(p.included));
    out.push_back(item.name + std::string(kPerMillion) + "=" + Format(p.usd_per_million));
  }
  return out;
}

Cost MonthlyCost(const Usage& usage, uint64_t monthly_requests, const Prices& prices) {
  Cost cost;
  cost.complete = usage.known;
  cost.monthly_requests = monthly_requests;
  cost.monthly_usd = prices.base_usd;
  const double scale =
      usage.requests == 0 ? 0 : static_cast<double>(monthly_requests) / usage.requests;
  for (const Item& item : kItems) {
    CostLine line;
    line.item = item.name;
    if (item.price == &Prices::requests) {
      // Exactly the volume asked for, not usage.requests * scale rounded.
      line.monthly_units = usage.requests == 0 ? 0 : static_cast<double>(monthly_requests);
    } else if (usage.known) {  // else only `requests` means anything (cost.h)
      line.monthly_units = item.units(usage, prices) * scale;
    }
    const Price& p = prices.*item.price;
    line.billed_units = std::max(0.0, line.monthly_units - p.included);
    line.usd = line.billed_units / 1e6 * p.usd_per_million;
    cost.monthly_usd += line.usd;
    cost.lines.push_back(std::move(line));
  }
  cost.usd_per_million_requests =
      monthly_requests == 0 ? 0 : cost.monthly_usd / static_cast<double>(monthly_requests) * 1e6;
  return cost;
}

}  // namespace edgelab::bench
