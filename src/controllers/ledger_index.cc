#include "controllers/ledger_index.h"

#include <algorithm>
#include <limits>

#include "api/object.h"
#include "core/log.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

namespace execgov::controllers {

using nlohmann::json;

LedgerIndex::LedgerIndex(ledger::Backend* backend, const Clock* clock)
    : backend_(backend), clock_(clock ? clock : &SystemClock::Get()) {}

Status LedgerIndex::CatchUp() {
  std::lock_guard serial(catch_up_mu_);
  if (!backend_) {
    std::lock_guard lock(mu_);
    loaded_ = true;
    return Status::Ok();
  }
  // Records a retention run moved out of the store are not read (nor
  // readable): the index starts where the store does.
  EXECGOV_ASSIGN_OR_RETURN(uint64_t first, backend_->First());
  bool skipped = next_seq() < first;
  uint64_t from = std::max(next_seq(), first);
  EXECGOV_RETURN_IF_ERROR(backend_->Scan(from, std::numeric_limits<uint64_t>::max(),
                                         [&](uint64_t seq, std::string_view bytes) {
                                           if (skipped && seq == from) {
                                             auto header = ledger::ScanRecord(bytes);
                                             auto t = header.ok() ? ParseRfc3339(header->time) : std::nullopt;
                                             std::lock_guard lock(mu_);
                                             // Unreadable: judge no object by time.
                                             trimmed_before_ = t.value_or(std::chrono::system_clock::time_point::max());
                                           }
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

std::optional<std::chrono::system_clock::time_point> LedgerIndex::trimmed_before() const {
  std::lock_guard lock(mu_);
  return trimmed_before_;
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
  if (record.is_object()) {
    for (const auto& observe : observers_) observe(seq, record, bytes);
  }
  std::lock_guard lock(mu_);
  if (seq + 1 > next_seq_) next_seq_ = seq + 1;
  if (!record.is_object()) return;
  const auto object = record.find("object");
  if (object == record.end() || !object->is_object()) return;
  std::string uid = object->value("uid", "");
  if (uid.empty()) return;
  std::string type = record.value("type", "");
  FoldCreateLocked(seq, bytes, record, type, uid);
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

void LedgerIndex::FoldCreateLocked(uint64_t seq, std::string_view bytes, const json& record, const std::string& type,
                                   const std::string& uid) {
  const json& object = record.at("object");
  auto str = [](const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (type == "admission") {
    const bool derived = record.value("derived", false) == true;
    if (str(object, "operation") == "CREATE" && !derived) {
      // Only an allow can make an object. A second CREATE record of one uid
      // (the webhook registered twice) keeps the first.
      if (str(record, "decision") != "allowed" || seq < track_from_ || unmatched_.count(uid)) return;
      if (!api::ParseGovernedKind(str(object, "kind"))) return;
      if (unmatched_.size() >= max_unmatched_) {
        ++untracked_;
        return;
      }
      UnmatchedCreate c{seq,
                        crypto::HashToSha256Ref(ledger::LeafHash(bytes)),
                        str(record, "time"),
                        clock_->Now(),
                        str(object, "kind"),
                        str(object, "namespace"),
                        str(object, "name"),
                        uid};
      unmatched_.emplace(uid, std::move(c));
      return;
    }
    // An UPDATE or DELETE of the uid, or a record derived from the object
    // as stored: the object existed.
    unmatched_.erase(uid);
  } else if (type == "execution") {
    // The operator writes steps only for requests it saw, and names only
    // Jobs that exist.
    unmatched_.erase(uid);
    auto job = record.find("job");
    if (job != record.end() && job->is_object()) unmatched_.erase(str(*job, "uid"));
  } else if (type == "outcome") {
    unmatched_.erase(uid);  // already marked (by this leader or an earlier one)
  }
}

uint64_t LedgerIndex::TrackCreatesFromHere() {
  std::lock_guard lock(mu_);
  track_from_ = next_seq_;
  std::erase_if(unmatched_, [this](const auto& kv) { return kv.second.seq < track_from_; });
  return track_from_;
}

size_t LedgerIndex::MatchCreates(const std::function<bool(const UnmatchedCreate&)>& appeared) {
  std::lock_guard lock(mu_);
  return std::erase_if(unmatched_, [&](const auto& kv) { return appeared(kv.second); });
}

std::vector<LedgerIndex::UnmatchedCreate> LedgerIndex::UnmatchedReadBy(std::chrono::system_clock::time_point t) const {
  std::vector<UnmatchedCreate> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [uid, c] : unmatched_) {
      if (c.read <= t) out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

void LedgerIndex::DropUnmatched(const std::string& uid) {
  std::lock_guard lock(mu_);
  unmatched_.erase(uid);
}

void LedgerIndex::set_max_unmatched(size_t n) {
  std::lock_guard lock(mu_);
  max_unmatched_ = n;
}

size_t LedgerIndex::unmatched_count() const {
  std::lock_guard lock(mu_);
  return unmatched_.size();
}

uint64_t LedgerIndex::untracked_creates() const {
  std::lock_guard lock(mu_);
  return untracked_;
}

void LedgerIndex::AddObserver(RecordObserver observer) { observers_.push_back(std::move(observer)); }

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
