// The execgov_* metrics of docs/design.md §9.3 on prometheus-cpp, exposed as text by
// the ops server. Names carry units (_seconds, _total); one registry per
// process, passed to whoever records.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>

namespace execgov::metrics {

class Metrics {
 public:
  Metrics();

  void RecordAdmission(const std::string& kind, const std::string& decision, const std::string& reason, double seconds);
  void RecordSignatureCheck(const std::string& algorithm, const std::string& result);
  void RecordLedgerAppend(bool ok, double seconds, uint64_t head_seq);
  void RecordReconcile(const std::string& controller, const std::string& result);
  // An allowed creation of `kind` whose object never appeared, marked
  // not-created in the ledger by the lineage controller.
  void RecordPhantomAdmission(const std::string& kind);
  // One retention run (ledger/retention.h): what it moved out of the
  // cluster, and the first seq the cluster then holds.
  void RecordLedgerRetention(bool ok, uint64_t segments, uint64_t records, uint64_t first_seq);
  // Ledger records one webhook replica forwarded to the replica writing the
  // tail (role "sent": result stored, refused, or local when the writer did
  // not answer and the record was appended here), or took from another
  // (role "received": stored, refused).
  void RecordLedgerForward(const char* role, const char* result, size_t records);
  void SetPoliciesLoaded(size_t n);
  void RecordPolicyReloadError();
  // The notAfter (Unix seconds) of the certificate `server` ("webhook")
  // serves now: set when it is loaded and again on every reload.
  void SetCertificateNotAfter(const std::string& server, int64_t not_after);

  // The Prometheus text exposition of every metric, with
  // execgov_log_lines_left_out_total read from the log.
  std::string Serialize() const;
  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& admission_requests_;
  prometheus::Family<prometheus::Histogram>& admission_duration_;
  prometheus::Family<prometheus::Counter>& signature_verifications_;
  prometheus::Family<prometheus::Counter>& ledger_appends_;
  prometheus::Histogram& ledger_append_duration_;
  prometheus::Gauge& ledger_head_;
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Family<prometheus::Counter>& phantom_admissions_;
  prometheus::Family<prometheus::Counter>& ledger_forward_;
  prometheus::Family<prometheus::Counter>& retention_runs_;
  prometheus::Counter& retention_segments_;
  prometheus::Counter& retention_records_;
  prometheus::Gauge& ledger_first_;
  prometheus::Gauge& policies_loaded_;
  prometheus::Counter& policy_reload_errors_;
  prometheus::Family<prometheus::Gauge>& certificate_not_after_;
};

}  // namespace execgov::metrics
