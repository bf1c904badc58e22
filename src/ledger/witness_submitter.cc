#include "ledger/witness_submitter.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "core/file.h"
#include "core/log.h"
#include "kube/kubeconfig.h"
#include "ledger/configmap_backend.h"
#include "ledger/checkpoint.h"
#include "ledger/record.h"
#include "ledger/witness_client.h"

namespace execgov::ledger {
namespace {

using nlohmann::json;

class FileStore : public CosignedStore {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)) {}
  StatusOr<std::string> Read() override {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec) && !ec) return NotFound("no cosigned checkpoint at " + path_);
    return ReadFile(path_, kMaxCosignedNoteBytes);
  }
  // The status stays in the writer's log and metrics: a file ledger has no
  // object to publish it on.
  Status Write(const std::string& note, const json&) override {
    if (note.empty()) return Status::Ok();
    return WriteFileAtomic(path_, note, 0644);
  }
  std::string Where() const override { return "file:" + path_; }

 private:
  std::string path_;
};

class ConfigMapStore : public CosignedStore {
 public:
  ConfigMapStore(kube::Client* client, std::string ns, std::string name,
                 std::unique_ptr<kube::Client> owned = nullptr)
      : owned_(std::move(owned)), client_(client ? client : owned_.get()), ns_(std::move(ns)), name_(std::move(name)) {}
  StatusOr<std::string> Read() override {
    EXECGOV_ASSIGN_OR_RETURN(json cm, client_->Get(Path()));
    const json data = cm.value("data", json::object());
    auto it = data.find("checkpoint");
    if (it == data.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return NotFound("configmap " + ns_ + "/" + name_ + " holds no checkpoint");
    }
    if (it->get_ref<const std::string&>().size() > kMaxCosignedNoteBytes) {
      return InvalidArgument("configmap " + ns_ + "/" + name_ + ": the checkpoint is over " +
                             std::to_string(kMaxCosignedNoteBytes) + " bytes");
    }
    return it->get<std::string>();
  }
  Status Write(const std::string& note, const json& status) override {
    json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                {{"name", name_},
                 {"namespace", ns_},
                 {"labels", {{"app.kubernetes.io/part-of", "execgov"}, {"app.kubernetes.io/component", "ledger-witnessing"}}}}},
               {"data", {{"status", status.dump(2) + "\n"}}}};
    if (!note.empty()) cm["data"]["checkpoint"] = note;
    auto existing = client_->Get(Path());
    if (!existing.ok()) {
      if (existing.status().code() != StatusCode::kNotFound) return existing.status();
      return client_->Create(kube::ResourcePath("v1", "configmaps", ns_), cm).status();
    }
    cm["metadata"]["resourceVersion"] = existing->value("metadata", json::object()).value("resourceVersion", "");
    return client_->Update(Path(), cm).status();
  }
  std::string Where() const override { return "configmap " + ns_ + "/" + name_; }

 private:
  std::string Path() const { return kube::ResourcePath("v1", "configmaps", ns_) + "/" + name_; }
  std::unique_ptr<kube::Client> owned_;
  kube::Client* client_;
  std::string ns_, name_;
};

// The class of a failed request, for the error counter's reason label.
std::string ReasonOf(const Status& st, int http_status) {
  if (st.code() == StatusCode::kUnavailable) return "unreachable";
  switch (http_status) {
    case 409:
    case 422:
      return "inconsistent";
    case 403:
    case 404:
      return "untrusted";
    case 400:
      return "bad-request";
    case 200:
      return "bad-cosignature";
    default:
      break;
  }
  // Refused before any answer was read (a checkpoint it could not take).
  if (st.message().find("rolled back or forked") != std::string::npos) return "inconsistent";
  return http_status >= 500 ? "unreachable" : "refused";
}

}  // namespace

StatusOr<std::unique_ptr<CosignedStore>> OpenCosignedStore(const std::string& url) {
  if (url.rfind("file:", 0) == 0) return FileCosignedStore(url.substr(5) + ".cosigned");
  if (url.rfind("configmap://", 0) != 0) {
    return InvalidArgument("cosigned checkpoints are kept beside file: and configmap:// ledgers, not " + url);
  }
  EXECGOV_ASSIGN_OR_RETURN(ConfigMapUrl parsed, ParseConfigMapUrl(url.substr(12)));
  EXECGOV_ASSIGN_OR_RETURN(kube::RestConfig config, kube::DefaultRestConfig(parsed.kubeconfig));
  EXECGOV_ASSIGN_OR_RETURN(auto client, kube::NewClient(config));
  return std::unique_ptr<CosignedStore>(
      std::make_unique<ConfigMapStore>(nullptr, parsed.ns, parsed.store + "-cosigned", std::move(client)));
}

std::unique_ptr<CosignedStore> ConfigMapCosignedStore(kube::Client* client, std::string ns, std::string store) {
  return std::make_unique<ConfigMapStore>(client, std::move(ns), std::move(store) + "-cosigned");
}

std::unique_ptr<CosignedStore> FileCosignedStore(std::string path) { return std::make_unique<FileStore>(std::move(path)); }

struct WitnessSubmitter::Witness {
  explicit Witness(WitnessEndpoint e) : endpoint(std::move(e)) {}
  WitnessEndpoint endpoint;
  std::unique_ptr<kube::HttpClient> http;
  WitnessProgress progress;
  uint64_t hint = 0;  // the size it is believed to have cosigned (its 409 says otherwise)
  std::chrono::system_clock::time_point next_attempt{};
  std::string line;        // its cosignature line of the checkpoint of size line_size
  uint64_t line_size = 0;
  prometheus::Gauge* cosigned_size = nullptr;
};

struct WitnessSubmitter::Metrics {
  prometheus::Gauge* witnessed_size = nullptr;
  prometheus::Gauge* witnessed_time = nullptr;
  prometheus::Gauge* checkpoint_size = nullptr;
  prometheus::Family<prometheus::Counter>* errors = nullptr;
};

WitnessSubmitter::WitnessSubmitter(Backend* reader, CosignedStore* store, WitnessSubmitterOptions options)
    : reader_(reader), store_(store), options_(std::move(options)) {
  clock_ = options_.clock ? options_.clock : &SystemClock::Get();
  if (!options_.connect) {
    options_.connect = [timeout = options_.timeout](const std::string& url) {
      kube::HttpConfig config;
      config.base_url = url;
      config.timeout = timeout;
      config.user_agent = "execgov-operator";
      return kube::NewHttpClient(config);
    };
  }
  options_.concurrency = std::clamp<size_t>(options_.concurrency, 1, 64);
  metrics_ = std::make_unique<Metrics>();
  prometheus::Family<prometheus::Gauge>* per_witness = nullptr;
  if (options_.registry) {
    auto& r = *options_.registry;
    metrics_->witnessed_size = &prometheus::BuildGauge()
                                    .Name("execgov_ledger_witnessed_size")
                                    .Help("Size of the newest cosigned checkpoint kept beside the ledger (0: none)")
                                    .Register(r)
                                    .Add({});
    metrics_->witnessed_time = &prometheus::BuildGauge()
                                    .Name("execgov_ledger_witnessed_timestamp_seconds")
                                    .Help("When the newest kept cosigned checkpoint was cosigned (the newest of its "
                                          "cosignatures' times, Unix seconds); its age is time() minus this")
                                    .Register(r)
                                    .Add({});
    metrics_->checkpoint_size = &prometheus::BuildGauge()
                                     .Name("execgov_ledger_checkpoint_size")
                                     .Help("Size of the ledger's newest checkpoint, as submitted to the witnesses")
                                     .Register(r)
                                     .Add({});
    metrics_->errors = &prometheus::BuildCounter()
                            .Name("execgov_witness_cosign_errors_total")
                            .Help("Checkpoints a witness did not cosign, by witness and reason (unreachable, "
                                  "inconsistent, untrusted, bad-request, bad-cosignature, refused)")
                            .Register(r);
    per_witness = &prometheus::BuildGauge()
                       .Name("execgov_witness_cosigned_size")
                       .Help("The largest checkpoint size each witness cosigned for this ledger")
                       .Register(r);
  }
  for (auto& e : options_.witnesses) {
    auto w = std::make_unique<Witness>(e);
    w->progress.name = e.key.name;
    w->progress.url = e.url;
    if (per_witness) w->cosigned_size = &per_witness->Add({{"witness", e.key.name}});
    witnesses_.push_back(std::move(w));
  }
}

WitnessSubmitter::~WitnessSubmitter() = default;

std::vector<WitnessProgress> WitnessSubmitter::Progress() const {
  std::vector<WitnessProgress> out;
  for (const auto& w : witnesses_) out.push_back(w->progress);
  return out;
}

Status WitnessSubmitter::ReadNewRecords() {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Status st = reader_->Scan(leaves_.size(), UINT64_MAX, [&](uint64_t seq, std::string_view bytes) -> Status {
      if (seq != leaves_.size()) return DataLoss("the ledger skipped from seq " + std::to_string(leaves_.size()) + " to " + std::to_string(seq));
      auto hdr = ScanRecord(bytes);
      if (hdr.ok() && hdr->type == "checkpoint") {
        auto text = CheckpointNoteOf(*hdr);
        auto cp = text.ok() ? ParseCheckpoint(*text) : text.status();
        if (cp.ok() && cp->size == seq && seq > 0) {
          pending_note_ = *text;
          pending_size_ = seq;
        }
      }
      leaves_.push_back(LeafHash(bytes));
      return Status::Ok();
    });
    EXECGOV_RETURN_IF_ERROR(st);
    if (pending_size_ <= latest_size_) return Status::Ok();
    EXECGOV_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpoint(pending_note_));
    if (RootOf({leaves_.begin(), leaves_.begin() + static_cast<ptrdiff_t>(pending_size_)}) == cp.root) {
      latest_note_ = pending_note_;
      latest_size_ = pending_size_;
      return Status::Ok();
    }
    // The records read earlier are not the ones this checkpoint signs: the
    // ledger was rewritten under this reader. Read it again from the start
    // (what is submitted is then the rewritten history, which a witness
    // that cosigned the old one refuses).
    log::Warn("witness submitter: the ledger's checkpoint does not match the records read before; rereading it",
              {{"size", pending_size_}});
    leaves_.clear();
    latest_note_.clear();
    pending_note_.clear();
    latest_size_ = pending_size_ = 0;
  }
  return DataLoss("the ledger's latest checkpoint is not for its records: run ledger verify");
}

Status WitnessSubmitter::LoadStored() {
  auto stored = store_->Read();
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) {
      loaded_ = true;
      return Status::Ok();
    }
    return stored.status().WithContext("reading the cosigned checkpoint at " + store_->Where());
  }
  auto parts = SplitNote(*stored);
  auto cp = ParseCheckpoint(*stored);
  loaded_ = true;
  if (!parts.ok() || !cp.ok()) {
    log::Warn("witness submitter: the stored cosigned checkpoint is not one; it will be replaced",
              {{"where", store_->Where()}});
    return Status::Ok();
  }
  stored_note_ = *stored;
  stored_size_ = cp->size;
  int64_t newest = 0;
  stored_cosignatures_ = 0;
  for (auto& w : witnesses_) {
    for (const auto& l : parts->signatures) {
      auto t = VerifyCosignature(w->endpoint.key, parts->text, {l});
      if (!t.ok()) continue;
      w->line = l + "\n";
      w->line_size = cp->size;
      w->hint = cp->size;
      w->progress.cosigned_size = cp->size;
      w->progress.cosigned_at = static_cast<int64_t>(*t);
      newest = std::max(newest, w->progress.cosigned_at);
      ++stored_cosignatures_;
      if (w->cosigned_size) w->cosigned_size->Set(static_cast<double>(cp->size));
      break;
    }
  }
  if (metrics_->witnessed_size) {
    metrics_->witnessed_size->Set(static_cast<double>(stored_size_));
    metrics_->witnessed_time->Set(static_cast<double>(newest));
  }
  return Status::Ok();
}

void WitnessSubmitter::Submit(Witness& w, const std::string& note, uint64_t size, std::vector<std::string>* out) {
  if (!w.http) {
    auto http = options_.connect(w.endpoint.url);
    if (!http.ok()) {
      w.progress.error = http.status().message();
      w.progress.reason = "unreachable";
      return;
    }
    w.http = std::move(http).value();
  }
  int http_status = 0;
  uint64_t known = w.hint;
  auto got = RequestCosignature(*w.http, w.endpoint.key, note, leaves_, w.hint, &http_status, &known);
  w.hint = known;
  if (!got.ok()) {
    w.progress.error = got.status().message();
    w.progress.reason = ReasonOf(got.status(), http_status);
    return;
  }
  w.progress.error.clear();
  w.progress.reason.clear();
  w.progress.cosigned_size = size;
  w.progress.cosigned_at = static_cast<int64_t>(got->timestamp);
  w.hint = size;
  out->push_back(got->line);
}

json WitnessSubmitter::StatusJson() const {
  json witnesses = json::array();
  for (const auto& w : witnesses_) {
    const auto& p = w->progress;
    json one = {{"name", p.name}, {"url", p.url}, {"cosignedSize", p.cosigned_size}, {"cosignedAt", p.cosigned_at}};
    if (!p.error.empty()) one["error"] = p.error.substr(0, 512);
    if (!p.reason.empty()) one["reason"] = p.reason;
    witnesses.push_back(std::move(one));
  }
  return {{"checkpointSize", latest_size_}, {"witnessedSize", stored_size_}, {"witnesses", witnesses}};
}

Status WitnessSubmitter::Pass() {
  if (!loaded_) EXECGOV_RETURN_IF_ERROR(LoadStored());
  EXECGOV_RETURN_IF_ERROR(ReadNewRecords());
  if (metrics_->checkpoint_size) metrics_->checkpoint_size->Set(static_cast<double>(latest_size_));
  const auto now = clock_->Now();
  // Whom to ask: those that have not cosigned this checkpoint and are not
  // backing off.
  std::vector<Witness*> due;
  for (auto& w : witnesses_) {
    if (latest_size_ == 0 || w->line_size == latest_size_ || now < w->next_attempt) continue;
    due.push_back(w.get());
  }
  std::vector<std::vector<std::string>> lines(due.size());
  std::vector<std::string> previous_reason;
  for (Witness* w : due) previous_reason.push_back(w->progress.reason);
  for (size_t start = 0; start < due.size(); start += options_.concurrency) {
    std::vector<std::thread> threads;
    for (size_t i = start; i < std::min(due.size(), start + options_.concurrency); ++i) {
      threads.emplace_back([this, &due, &lines, i] { Submit(*due[i], latest_note_, latest_size_, &lines[i]); });
    }
    for (auto& t : threads) t.join();
  }
  for (size_t i = 0; i < due.size(); ++i) {
    Witness& w = *due[i];
    WitnessProgress& p = w.progress;
    if (!lines[i].empty()) {
      if (p.failures > 0) log::Info("witness cosigns the ledger again", {{"witness", p.name}, {"size", latest_size_}});
      p.failures = 0;
      w.next_attempt = {};
      w.line = lines[i].front();
      w.line_size = latest_size_;
      if (w.cosigned_size) w.cosigned_size->Set(static_cast<double>(latest_size_));
      continue;
    }
    // Logged once per cause: again only when the reason changes.
    if (p.failures == 0 || p.reason != previous_reason[i]) {
      log::Warn("witness does not cosign the ledger's checkpoint; asking again after a backoff",
                {{"witness", p.name}, {"url", p.url}, {"size", latest_size_}, {"reason", p.reason}, {"error", p.error}});
    }
    ++p.failures;
    const auto backoff = std::min<std::chrono::seconds>(
        options_.max_backoff, options_.min_backoff * (int64_t{1} << std::min(p.failures - 1, 16)));
    w.next_attempt = now + backoff;
    if (metrics_->errors) metrics_->errors->Add({{"witness", p.name}, {"reason", p.reason}}).Increment();
  }
  // The checkpoint kept: the newest any witness cosigned, with every
  // cosignature of that same checkpoint.
  std::vector<std::string> kept;
  int64_t newest = 0;
  for (const auto& w : witnesses_) {
    if (w->line_size != latest_size_ || latest_size_ == 0) continue;
    kept.push_back(w->line);
    newest = std::max(newest, w->progress.cosigned_at);
  }
  // Replaced only by a larger checkpoint, or by the same one with at
  // least as many cosignatures.
  std::string note = stored_note_;
  bool grew = !kept.empty() && (latest_size_ > stored_size_ ||
                                (latest_size_ == stored_size_ && kept.size() >= stored_cosignatures_));
  if (grew) note = AddCosignatures(latest_note_, kept);
  if (grew && note == stored_note_) grew = false;
  const uint64_t size = grew ? latest_size_ : stored_size_;
  json status = StatusJson();
  status["witnessedSize"] = size;
  std::string status_text = status.dump();
  if (!grew && status_text == stored_status_) return Status::Ok();
  if (Status st = store_->Write(note, status); !st.ok()) {
    return st.WithContext("storing the cosigned checkpoint at " + store_->Where());
  }
  stored_status_ = status_text;
  if (grew) {
    stored_note_ = note;
    stored_size_ = latest_size_;
    stored_cosignatures_ = kept.size();
    if (metrics_->witnessed_size) {
      metrics_->witnessed_size->Set(static_cast<double>(stored_size_));
      metrics_->witnessed_time->Set(static_cast<double>(newest));
    }
  }
  return Status::Ok();
}

}  // namespace execgov::ledger
