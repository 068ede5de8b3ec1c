// bench/html_render_tool.cc: `bench_html_render IN.json OUT.html`, the page of
// bench/html.h from a saved bench document (`edgelab bench --json`), without
// running a bench. The browser check (tests/browser) renders its fixture with
// it. Exit 0 on success; 1 with a message naming the file when IN cannot be
// read or parsed or OUT cannot be written; 2 on a wrong command line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "bench/html.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: bench_html_render IN.json OUT.html\n";
    return 2;
  }
  const std::string in_path = argv[1], out_path = argv[2];
  std::ifstream in(in_path, std::ios::binary);
  if (!in) {
    std::cerr << "bench_html_render: cannot open " << in_path << " for reading\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    std::cerr << "bench_html_render: " << in_path << " is not valid JSON\n";
    return 1;
  }
  std::string page = edgelab::bench::RenderHtml(doc);
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << page;
  out.close();
  if (!out) {
    std::cerr << "bench_html_render: cannot write " << out_path << "\n";
    return 1;
  }
  return 0;
}
