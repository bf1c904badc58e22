// A writer process for the multi-process and kill -9 tests:
//   ledger_writer URL KEY_PATH WRITER_ID COUNT [THREADS]
// appends COUNT entries from THREADS threads (default 4, so appends batch)
// and prints "ack <seq> <hash>" for each, only after Append returned, i.e.
// after the record is durable. Exit 0 after a clean Close, 1 on any error.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: ledger_writer URL KEY_PATH WRITER_ID COUNT [THREADS]\n");
    return 2;
  }
  std::string url = argv[1], key = argv[2], id = argv[3];
  long count = std::stol(argv[4]);
  int threads = argc > 5 ? std::stoi(argv[5]) : 4;
  execgov::ledger::LedgerOptions o;
  o.signing_key_path = key;
  o.checkpoint_every_records = 500;
  auto ledger = execgov::ledger::OpenLedger(url, o);
  if (!ledger.ok()) {
    std::fprintf(stderr, "open: %s\n", ledger.status().ToString().c_str());
    return 1;
  }
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (long i; (i = next++) < count && !failed;) {
        nlohmann::json entry = {{"type", "execution"},
                                {"decision", "allowed"},
                                {"reason", "Allowed"},
                                {"object", {{"kind", "Job"}, {"namespace", "load"}, {"name", id + "-" + std::to_string(i)},
                                            {"uid", id + "-" + std::to_string(i)}, {"operation", "CREATE"}}}};
        auto a = (*ledger)->Append(entry);
        if (!a.ok()) {
          std::fprintf(stderr, "append: %s\n", a.status().ToString().c_str());
          failed = true;
          return;
        }
        // One write(2) per line: a kill -9 cuts between acks, never inside one.
        std::string line = "ack " + std::to_string(a->seq) + " " + a->hash + "\n";
        if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) failed = true;
      }
    });
  }
  for (auto& t : pool) t.join();
  auto st = (*ledger)->Close();
  if (!st.ok()) std::fprintf(stderr, "close: %s\n", st.ToString().c_str());
  return failed || !st.ok() ? 1 : 0;
}
