// CPU the Kubernetes HTTP client (src/kube/http.cc) spends per request,
// against a real API server, the way the webhook and the operator use it:
// small GETs and POSTs from several threads sharing one client, and a watch
// whose events arrive one at a time while another process writes them.
// Process CPU (user + system, getrusage) over each phase, divided by the
// requests or events of that phase: the client's work plus the TLS and the
// JSON it moves, which every implementation pays alike. Run through
// bench/kube/run.sh, which alternates two builds and prints the ratio.
//
// Usage: http_client_bench KUBECONFIG N [THREADS]
//   Creates a namespace, then N ConfigMaps (POST) and N GETs of them spread
//   over THREADS threads (default 8), then watches while a child process
//   creates N more ConfigMaps; deletes the namespace. Prints one line per
//   phase: "<phase> <count> <cpu_us_per_op> <wall_s>".
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "kube/http.h"
#include "kube/kubeconfig.h"

namespace {

using namespace execgov;
using Steady = std::chrono::steady_clock;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "http_client_bench: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<kube::HttpClient> Connect(const kube::RestConfig& rc) {
  kube::HttpConfig h;
  h.base_url = rc.server;
  h.ca_pem = rc.ca_pem;
  h.cert_pem = rc.cert_pem;
  h.key_pem = rc.key_pem;
  h.bearer_token = rc.token;
  h.insecure_skip_verify = rc.insecure_skip_verify;
  h.user_agent = "execgov-http-bench";
  auto c = kube::NewHttpClient(h);
  if (!c.ok()) Die(c.status().ToString());
  return std::move(c).value();
}

std::string ConfigMap(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
         R"("},"data":{"k":"a small value, as a replay entry or a ledger index is"}})";
}

void Expect(const StatusOr<kube::HttpResponse>& r, int status, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  if (r->status != status) Die(what + ": HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300));
}

// Runs op(i) for i in [0, n) over `threads` threads; prints the phase line.
void Phase(const char* name, int n, int threads, const std::function<void(int)>& op) {
  double cpu0 = CpuSeconds();
  auto t0 = Steady::now();
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) op(i);
    });
  }
  for (auto& t : pool) t.join();
  double cpu = CpuSeconds() - cpu0;
  double wall = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("%-6s %6d %9.1f %7.2f\n", name, n, cpu * 1e6 / n, wall);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Die("usage: http_client_bench KUBECONFIG N [THREADS]");
  auto rc = kube::LoadKubeconfig(argv[1]);
  if (!rc.ok()) Die(rc.status().ToString());
  int n = std::atoi(argv[2]);
  int threads = argc > 3 ? std::atoi(argv[3]) : 8;
  if (n <= 0 || threads <= 0) Die("N and THREADS must be positive");

  std::string ns = "http-bench-" + std::to_string(getpid());
  std::string cms = "/api/v1/namespaces/" + ns + "/configmaps";

  // The writer for the watch phase is forked first, while the process has
  // no thread (an HTTP client may start some): it waits for a byte on the
  // pipe, then creates N ConfigMaps, paced a little so that events reach the
  // watcher one by one, as Pod events reach the operator's informers.
  int go[2];
  if (pipe(go) != 0) Die("pipe");
  pid_t child = fork();
  if (child < 0) Die("fork");
  if (child == 0) {
    close(go[1]);
    char b;
    if (read(go[0], &b, 1) != 1) _exit(2);
    auto writer = Connect(*rc);
    for (int i = 0; i < n; ++i) {
      auto r = writer->Request("POST", cms, ConfigMap("w" + std::to_string(i)));
      if (!r.ok() || r->status != 201) _exit(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    _exit(0);
  }
  close(go[0]);

  auto client = Connect(*rc);
  Expect(client->Request("POST", "/api/v1/namespaces",
                         R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})"),
         201, "create namespace");
  std::printf("%-6s %6s %9s %7s\n", "phase", "ops", "cpu_us/op", "wall_s");
  {
    auto list = client->Request("GET", cms);
    Expect(list, 200, "list");
    auto rv_at = list->body.find("\"resourceVersion\":\"");
    if (rv_at == std::string::npos) Die("list without resourceVersion");
    rv_at += 19;
    std::string rv = list->body.substr(rv_at, list->body.find('"', rv_at) - rv_at);
    // Events after rv: the writer may start before the watch is open.
    if (write(go[1], "g", 1) != 1) Die("pipe write");
    close(go[1]);
    double cpu0 = CpuSeconds();
    auto t0 = Steady::now();
    int events = 0;
    std::atomic<bool> stop{false};
    auto r = client->Stream(cms + "?watch=1&resourceVersion=" + rv, std::chrono::seconds(120), &stop,
                            [&](std::string_view piece) {
                              for (char c : piece) events += c == '\n';
                              return events < n;
                            });
    double cpu = CpuSeconds() - cpu0;
    double wall = std::chrono::duration<double>(Steady::now() - t0).count();
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    Expect(r, 200, "watch");
    if (events < n) Die("watch ended after " + std::to_string(events) + " of " + std::to_string(n) + " events");
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) Die("the writer process failed");
    std::printf("%-6s %6d %9.1f %7.2f\n", "watch", n, cpu * 1e6 / n, wall);
  }

  Phase("POST", n, threads, [&](int i) { Expect(client->Request("POST", cms, ConfigMap("c" + std::to_string(i))), 201, "create"); });
  Phase("GET", n, threads, [&](int i) { Expect(client->Request("GET", cms + "/c" + std::to_string(i)), 200, "get"); });

  Expect(client->Request("DELETE", "/api/v1/namespaces/" + ns), 200, "delete namespace");
  return 0;
}
