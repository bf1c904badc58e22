// Reading an AdmissionReview, on one core, for bodies a real kube-apiserver
// sent (tests/unit/webhook/testdata/apiserver): nlohmann's own parse (the
// reference), the fast parse building the whole value, and the webhook's
// decode, which leaves out what no decision reads (managedFields, status). The three
// alternate in rounds and each keeps its best, so a slow moment of the host
// does not land on one of them.
//   decode_bench [SECONDS]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "bench/rate.h"
#include "core/file.h"
#include "core/json_fast.h"
#include "webhook/admission_review.h"

namespace {

// bench::Rate of an operation that must succeed: a failure ends the run.
double Rate(double seconds, const std::function<bool()>& op) {
  return execgov::bench::Rate(seconds, [&](size_t) {
    if (!op()) {
      std::fprintf(stderr, "decode_bench: an operation failed\n");
      std::exit(1);
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace execgov;
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  const int rounds = 5;
  std::printf("%-34s %7s %14s %14s %14s\n", "body (one core)", "bytes", "nlohmann/s", "fast, all/s", "decode/s");
  for (const char* name : {"pod-create-by-job-controller.json", "job-create.json", "pod-update.json"}) {
    auto body = ReadFile(std::string(EXECGOV_SOURCE_DIR) + "/tests/unit/webhook/testdata/apiserver/" + name);
    if (!body.ok()) {
      std::fprintf(stderr, "decode_bench: %s\n", body.status().ToString().c_str());
      return 1;
    }
    const std::string& text = *body;
    double reference = 0, fast = 0, decode = 0;
    for (int r = 0; r < rounds; ++r) {
      reference = std::max(reference, Rate(seconds / rounds / 3, [&] {
        return !nlohmann::json::parse(text, nullptr, false).is_discarded();
      }));
      fast = std::max(fast, Rate(seconds / rounds / 3, [&] { return ParseJsonFast(text).has_value(); }));
      decode = std::max(decode, Rate(seconds / rounds / 3, [&] { return webhook::DecodeAdmissionReview(text).ok(); }));
    }
    std::printf("%-34s %7zu %14.0f %14.0f %14.0f   (%.1f / %.1f / %.1f us)\n", name, text.size(), reference, fast,
                decode, 1e6 / reference, 1e6 / fast, 1e6 / decode);
  }
  return 0;
}
