// The console over a large ledger: how long the index takes to build, what
// it holds, and how long the API's answers take, through the same handler
// the HTTPS server calls (the browser adds only the round trip). The limit
// (issue 22): the first page under a second on a 1,000,000-record ledger.
//
//   console_bench DIR RECORDS
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "console/console_server.h"
#include "console/ledger_index.h"
#include "crypto/keys.h"
#include "ledger/chain_state.h"
#include "ledger/checkpoint.h"
#include "ledger/record.h"

namespace {

using namespace execgov;
using Steady = std::chrono::steady_clock;

// Executions of four records each (ExecutionRequest, Job, two Pods, one
// artifact), every tenth request refused instead.
nlohmann::json Entry(long i) {
  static const char* kKinds[] = {"ExecutionRequest", "Job", "Pod", "Pod"};
  const long exec = i / 4;
  const bool denied = exec % 10 == 9;
  const std::string name = "rotate-" + std::to_string(exec) + (i % 4 == 0 ? "" : i % 4 == 1 ? "-job" : "-job-pod" + std::to_string(i % 4));
  nlohmann::json e = {{"type", "admission"},
                      {"decision", denied ? "denied" : "allowed"},
                      {"reason", denied ? "ReplayDetected" : "Allowed"},
                      {"object", {{"kind", kKinds[i % 4]}, {"namespace", "team-" + std::to_string(exec % 50)},
                                  {"name", name}, {"uid", "6f1c2a9e-0000-4000-8000-" + std::to_string(100000000000 + i)},
                                  {"operation", "CREATE"}}},
                      {"user", "system:serviceaccount:kube-system:job-controller"},
                      {"artifact", {{"iss", "ops-authority"}, {"sub", "agent:deployer"}, {"kid", "ops-2026-11"},
                                    {"jti", "b7f3c1d2e4a5968778695a4b3c2d1e0f-" + std::to_string(exec)},
                                    {"digest", "sha256:dd10cff05d3f711e43098d458848787800cd28b3f4110852a021461190a580a9"}}},
                      {"policy", {{"name", "default"}, {"generation", 3}}}};
  return e;
}

long MaxRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// The median of `runs` answers, in milliseconds; the status of the last.
double Time(const console::Console& c, const std::string& target, int runs, int* status, size_t* bytes) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    webhook::HttpRequest r;
    r.method = "GET";
    r.target = target;
    r.authorization = "Bearer bench-token-0123456789abcdef";
    auto start = Steady::now();
    auto out = c.Handle(r);
    ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
    *status = out.status;
    *bytes = out.body.size();
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: console_bench DIR RECORDS\n");
    return 2;
  }
  const std::string dir = argv[1];
  const long records = std::stol(argv[2]);
  const std::string path = dir + "/console-bench.jsonl";
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  {
    std::ofstream out(path, std::ios::trunc);
    ledger::ChainState s;
    auto t = std::chrono::system_clock::now();
    long entry = 0;
    for (long i = 0; i < records; ++i) {
      std::string bytes;
      if (s.size > 0 && s.size % 1001 == 1000) {
        auto note = ledger::SignCheckpoint({"execgov.local/bench", s.size, s.tree.Root()}, *key);
        bytes = *ledger::BuildCheckpointRecord(*note, s.size, s.last, t);
      } else {
        bytes = *ledger::BuildRecord(Entry(entry++), s.size, s.last, t + std::chrono::milliseconds(i));
      }
      if (!s.Apply(bytes).ok()) return 1;
      out << bytes << '\n';
    }
  }
  const double mb = std::filesystem::file_size(path) / 1e6;
  const long rss_before = MaxRssMb();
  auto start = Steady::now();
  auto index = console::LedgerIndex::Open("file:" + path);
  const double open_s = std::chrono::duration<double>(Steady::now() - start).count();
  if (!index.ok()) {
    std::fprintf(stderr, "%s\n", index.status().message().c_str());
    return 1;
  }
  std::printf("ledger: %ld records, %.0f MB; index built in %.2f s (%.0f records/s), max RSS %ld MB (%ld MB before)\n",
              records, mb, open_s, records / open_s, MaxRssMb(), rss_before);

  const std::string assets = dir + "/console-bench-assets";
  std::filesystem::create_directories(assets);
  std::ofstream(assets + "/index.html") << "<html></html>";
  std::ofstream(assets + "/login.html") << "<html></html>";
  auto c = console::Console::Create({index->get(), "bench-token-0123456789abcdef", assets});
  if (!c.ok()) return 1;
  long last = records - 2;  // a record, not a checkpoint (every 1001st), near the end
  if (last % 1001 == 1000) --last;
  const long exec_mid = (records / 2) / 4;
  struct Case {
    const char* what;
    std::string target;
    int runs;
  };
  const std::vector<Case> cases = {
      {"first page (50, newest first)", "/api/records?limit=50", 9},
      {"first page of 200", "/api/records?limit=200", 9},
      {"a page deep in the ledger", "/api/records?limit=50&before=" + std::to_string(records / 2), 9},
      {"kind=Job, first page", "/api/records?kind=Job&limit=50", 9},
      {"decision=denied, first page", "/api/records?decision=denied&limit=50", 9},
      {"name of a record in the middle (scan to it)", "/api/records?name=rotate-" + std::to_string(exec_mid) + "-job", 5},
      {"uid matching nothing (the whole ledger scanned)", "/api/records?uid=no-such-uid", 5},
      {"jti of an execution in the middle",
       "/api/records?jti=b7f3c1d2e4a5968778695a4b3c2d1e0f-" + std::to_string(exec_mid), 5},
      {"one record", "/api/record?seq=" + std::to_string(last), 9},
      {"story of a record", "/api/story?seq=" + std::to_string(last), 3},
      {"inclusion proof", "/api/proof?seq=" + std::to_string(last / 2), 3},
      {"consistency proof", "/api/consistency?from=" + std::to_string(records / 3) + "&to=" + std::to_string(records - 1), 3},
  };
  std::printf("%-50s %10s %8s %10s\n", "answer", "median ms", "status", "bytes");
  for (const auto& k : cases) {
    int status = 0;
    size_t bytes = 0;
    double ms = Time(**c, k.target, k.runs, &status, &bytes);
    std::printf("%-50s %10.2f %8d %10zu\n", k.what, ms, status, bytes);
  }
  std::printf("limit: the first page under 1000 ms\n");
  std::filesystem::remove(path);
  std::filesystem::remove_all(assets);
  return 0;
}
