#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>
#include <utility>
#include <vector>

#include "core/log.h"

namespace execgov::metrics {
namespace {

// Admission latency is dominated by one signature check (~50-100 us) and, when
// recorded, one fsync; buckets span 50 us to 1 s.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  // 2 ms is a bound of its own: the admission latency target at load.
  static const prometheus::Histogram::BucketBoundaries b = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.0025,
                                                            0.005,   0.01,   0.025,   0.05,    0.1,   0.25,  1.0};
  return b;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      admission_requests_(prometheus::BuildCounter()
                              .Name("execgov_admission_requests_total")
                              .Help("Admission requests by kind, decision and reason")
                              .Register(*registry_)),
      admission_duration_(prometheus::BuildHistogram()
                              .Name("execgov_admission_duration_seconds")
                              .Help("Time to decide and record an admission request")
                              .Register(*registry_)),
      signature_verifications_(prometheus::BuildCounter()
                                   .Name("execgov_signature_verifications_total")
                                   .Help("Artifact signature checks by algorithm and result (valid, invalid, cached)")
                                   .Register(*registry_)),
      ledger_appends_(prometheus::BuildCounter()
                          .Name("execgov_ledger_appends_total")
                          .Help("Ledger appends by result")
                          .Register(*registry_)),
      ledger_append_duration_(prometheus::BuildHistogram()
                                  .Name("execgov_ledger_append_duration_seconds")
                                  .Help("Time for one durable ledger append")
                                  .Register(*registry_)
                                  .Add({}, LatencyBuckets())),
      ledger_head_(prometheus::BuildGauge()
                       .Name("execgov_ledger_head_sequence")
                       .Help("Sequence number of the newest ledger record this process wrote")
                       .Register(*registry_)
                       .Add({})),
      reconciles_(prometheus::BuildCounter()
                      .Name("execgov_reconciles_total")
                      .Help("Reconciles by controller and result")
                      .Register(*registry_)),
      phantom_admissions_(prometheus::BuildCounter()
                              .Name("execgov_lineage_phantom_admissions_total")
                              .Help("Allowed creations whose object never appeared, marked not-created in the ledger")
                              .Register(*registry_)),
      ledger_forward_(prometheus::BuildCounter()
                          .Name("execgov_ledger_forward_records_total")
                          .Help("Ledger records forwarded between webhook replicas, by role (sent, received) and "
                                "result (stored, refused, local)")
                          .Register(*registry_)),
      retention_runs_(prometheus::BuildCounter()
                          .Name("execgov_ledger_retention_runs_total")
                          .Help("Ledger retention runs by result (ok, error)")
                          .Register(*registry_)),
      retention_segments_(prometheus::BuildCounter()
                              .Name("execgov_ledger_retention_moved_segments_total")
                              .Help("Sealed ledger segments moved out of the cluster to the archive")
                              .Register(*registry_)
                              .Add({})),
      retention_records_(prometheus::BuildCounter()
                             .Name("execgov_ledger_retention_archived_records_total")
                             .Help("Ledger records appended to the archive by retention")
                             .Register(*registry_)
                             .Add({})),
      ledger_first_(prometheus::BuildGauge()
                        .Name("execgov_ledger_first_sequence")
                        .Help("The first ledger seq the cluster still holds (older ones are in the archive)")
                        .Register(*registry_)
                        .Add({})),
      policies_loaded_(prometheus::BuildGauge()
                           .Name("execgov_policies_loaded")
                           .Help("ExecutionPolicies in the active set")
                           .Register(*registry_)
                           .Add({})),
      policy_reload_errors_(prometheus::BuildCounter()
                                .Name("execgov_policy_reload_errors_total")
                                .Help("Policy reloads refused as invalid (the last good set stays active)")
                                .Register(*registry_)
                                .Add({})),
      certificate_not_after_(prometheus::BuildGauge()
                                 .Name("execgov_tls_certificate_not_after_seconds")
                                 .Help("notAfter (Unix seconds) of the TLS serving certificate now served, by server")
                                 .Register(*registry_)) {}

void Metrics::RecordAdmission(const std::string& kind, const std::string& decision, const std::string& reason,
                              double seconds) {
  admission_requests_.Add({{"kind", kind}, {"decision", decision}, {"reason", reason}}).Increment();
  admission_duration_.Add({{"kind", kind}}, LatencyBuckets()).Observe(seconds);
}

void Metrics::RecordSignatureCheck(const std::string& algorithm, const std::string& result) {
  signature_verifications_.Add({{"algorithm", algorithm}, {"result", result}}).Increment();
}

void Metrics::RecordLedgerAppend(bool ok, double seconds, uint64_t head_seq) {
  ledger_appends_.Add({{"result", ok ? "success" : "error"}}).Increment();
  if (ok) {
    ledger_append_duration_.Observe(seconds);
    ledger_head_.Set(static_cast<double>(head_seq));
  }
}

void Metrics::RecordReconcile(const std::string& controller, const std::string& result) {
  reconciles_.Add({{"controller", controller}, {"result", result}}).Increment();
}

void Metrics::RecordPhantomAdmission(const std::string& kind) { phantom_admissions_.Add({{"kind", kind}}).Increment(); }

void Metrics::RecordLedgerForward(const char* role, const char* result, size_t records) {
  ledger_forward_.Add({{"role", role}, {"result", result}}).Increment(static_cast<double>(records));
}

void Metrics::RecordLedgerRetention(bool ok, uint64_t segments, uint64_t records, uint64_t first_seq) {
  retention_runs_.Add({{"result", ok ? "ok" : "error"}}).Increment();
  if (!ok) return;
  retention_segments_.Increment(static_cast<double>(segments));
  retention_records_.Increment(static_cast<double>(records));
  ledger_first_.Set(static_cast<double>(first_seq));
}

void Metrics::SetPoliciesLoaded(size_t n) { policies_loaded_.Set(static_cast<double>(n)); }

void Metrics::RecordPolicyReloadError() { policy_reload_errors_.Increment(); }

void Metrics::SetCertificateNotAfter(const std::string& server, int64_t not_after) {
  certificate_not_after_.Add({{"server", server}}).Set(static_cast<double>(not_after));
}

std::string Metrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  // The log counts the lines it leaves out (it sits below this module and
  // cannot call it); each scrape reads that count, so the two never differ.
  prometheus::MetricFamily left_out{"execgov_log_lines_left_out_total",
                                    "Log lines left out because stderr did not take them fast enough (the ledger "
                                    "still holds every decision)",
                                    prometheus::MetricType::Counter,
                                    {}};
  left_out.metric.emplace_back().counter.value = static_cast<double>(log::LinesLeftOut());
  families.push_back(std::move(left_out));
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, families);
  return out.str();
}

}  // namespace execgov::metrics
