#include "controllers/ledger_index.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "ledger/merkle.h"

namespace execgov::controllers {

LedgerIndex::LedgerIndex(ledger::Backend* backend) : backend_(backend) {}

Status LedgerIndex::CatchUp() {
  std::lock_guard serial(catch_up_mu_);
  if (!backend_) {
    std::lock_guard lock(mu_);
    loaded_ = true;
    return Status::Ok();
  }
  uint64_t from = next_seq();
  EXECGOV_RETURN_IF_ERROR(backend_->Scan(from, std::numeric_limits<uint64_t>::max(),
                                         [this](uint64_t seq, std::string_view bytes) {
                                           Add(seq, bytes);
                                           return Status::Ok();
                                         }));
  std::lock_guard lock(mu_);
  loaded_ = true;
  return Status::Ok();
}

Status LedgerIndex::EnsureLoaded() {
  if (loaded()) return Status::Ok();
  return CatchUp();
}

bool LedgerIndex::loaded() const {
  std::lock_guard lock(mu_);
  return loaded_;
}

void LedgerIndex::Add(uint64_t seq, std::string_view bytes) {
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    // The auditor's verify reports a bad record; the index only needs to move on.
    log::Warn("ledger index: a record is not JSON", {{"seq", seq}, {"error", e.what()}});
  }
  std::lock_guard lock(mu_);
  if (seq + 1 > next_seq_) next_seq_ = seq + 1;
  if (!record.is_object()) return;
  const auto object = record.find("object");
  if (object == record.end() || !object->is_object()) return;
  std::string uid = object->value("uid", "");
  if (uid.empty()) return;
  std::string type = record.value("type", "");
  if (type == "admission") {
    admitted_.insert(std::move(uid));
  } else if (type == "execution") {
    std::string phase = record.value("phase", "");
    if (phase.empty()) return;
    Step step{seq, crypto::HashToSha256Ref(ledger::LeafHash(bytes))};
    // The first record of a step is the one its request's status points to.
    steps_.emplace(std::make_pair(std::move(uid), std::move(phase)), std::move(step));
  }
}

bool LedgerIndex::HasAdmission(const std::string& uid) const {
  std::lock_guard lock(mu_);
  return admitted_.count(uid) > 0;
}

std::optional<LedgerIndex::Step> LedgerIndex::FindStep(const std::string& request_uid, const std::string& phase) const {
  std::lock_guard lock(mu_);
  auto it = steps_.find({request_uid, phase});
  if (it == steps_.end()) return std::nullopt;
  return it->second;
}

void LedgerIndex::NoteAdmission(const std::string& uid) {
  std::lock_guard lock(mu_);
  admitted_.insert(uid);
}

void LedgerIndex::NoteStep(const std::string& request_uid, const std::string& phase, Step step) {
  std::lock_guard lock(mu_);
  steps_.emplace(std::make_pair(request_uid, phase), std::move(step));
}

uint64_t LedgerIndex::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

size_t LedgerIndex::admission_count() const {
  std::lock_guard lock(mu_);
  return admitted_.size();
}

size_t LedgerIndex::step_count() const {
  std::lock_guard lock(mu_);
  return steps_.size();
}

}  // namespace execgov::controllers
