#include "ledger/witness.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/file.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/json.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"

namespace execgov::ledger {
namespace {

WitnessResponse Answer(int status, std::string message) {
  return WitnessResponse{status, "text/plain; charset=utf-8", std::move(message) + "\n"};
}

bool ParseSize(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

std::string B64(const crypto::Hash& h) { return crypto::Base64Encode(crypto::HashBytes(h)); }

}  // namespace

StatusOr<std::unique_ptr<Witness>> Witness::Open(WitnessOptions options) {
  if (options.key.algorithm() != crypto::KeyAlgorithm::kEd25519) return InvalidArgument("a witness key is Ed25519");
  if (!ValidOrigin(options.name)) return InvalidArgument("the witness name \"" + options.name + "\" has spaces or '+'");
  for (const auto& log : options.logs) {
    if (log.type != kNoteAlgEd25519) return InvalidArgument("log key " + log.name + " is not an Ed25519 note key");
  }
  std::unique_ptr<Witness> w(new Witness(std::move(options)));
  EXECGOV_ASSIGN_OR_RETURN(w->vkey_, FormatNoteVerifierKey(w->options_.name, kNoteAlgCosignatureV1, w->options_.key.Public()));
  std::string lock_path = w->options_.state_path + ".lock";
  w->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (w->lock_fd_ < 0) return Unavailable("cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(w->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return FailedPrecondition("another witness holds " + lock_path + ": one witness per state file");
  }
  EXECGOV_RETURN_IF_ERROR(w->Load());
  return w;
}

Witness::~Witness() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status Witness::Load() {
  if (::access(options_.state_path.c_str(), F_OK) != 0) return Status::Ok();  // a new witness
  EXECGOV_ASSIGN_OR_RETURN(std::string text, ReadFile(options_.state_path, 16u << 20));
  auto doc = crypto::ParseJsonStrict(text);
  if (!doc.ok()) return DataLoss(options_.state_path + " is not a witness state: " + doc.status().message());
  try {
    if (doc->at("version").get<int>() != 1) return DataLoss(options_.state_path + ": an unknown state version");
    for (const auto& [origin, entry] : doc->at("logs").items()) {
      WitnessedLog log;
      log.size = entry.at("size").get<uint64_t>();
      auto root = crypto::Base64Decode(entry.at("root").get<std::string>());
      if (!root || root->size() != 32) return DataLoss(options_.state_path + ": the root of " + origin + " is not 32 bytes");
      std::memcpy(log.root.data(), root->data(), 32);
      state_[origin] = log;
    }
  } catch (const nlohmann::json::exception& e) {
    return DataLoss(options_.state_path + " is not a witness state: " + e.what());
  }
  return Status::Ok();
}

Status Witness::SaveLocked(const std::map<std::string, WitnessedLog>& state) const {
  nlohmann::json logs = nlohmann::json::object();
  for (const auto& [origin, log] : state) logs[origin] = {{"size", log.size}, {"root", B64(log.root)}};
  nlohmann::json doc = {{"version", 1}, {"name", options_.name}, {"logs", logs}};
  return WriteFileAtomic(options_.state_path, doc.dump(2) + "\n", 0600);
}

std::map<std::string, WitnessedLog> Witness::State() const {
  std::lock_guard lock(mu_);
  return state_;
}

WitnessResponse Witness::AddCheckpoint(std::string_view body) {
  if (body.size() > kMaxWitnessRequestBytes) return Answer(400, "the request is larger than the limit");
  size_t blank = body.find("\n\n");
  if (blank == std::string_view::npos) return Answer(400, "no blank line between the proof and the checkpoint");
  std::string_view head = body.substr(0, blank + 1), note = body.substr(blank + 2);
  // "old N\n" then one base64 hash per line.
  std::vector<std::string> proof;
  uint64_t old_size = 0;
  bool first = true;
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl + 1);
    if (first) {
      if (line.substr(0, 4) != "old " || !ParseSize(line.substr(4), &old_size)) {
        return Answer(400, "the first line is \"old <size>\"");
      }
      first = false;
      continue;
    }
    if (proof.size() == kMaxWitnessProofLines) return Answer(400, "more than 63 consistency proof lines");
    auto h = crypto::Base64Decode(line);
    if (!h || h->size() != 32) return Answer(400, "a proof line is not base64 of 32 bytes");
    proof.push_back(*h);
  }
  auto parts = SplitNote(note);
  if (!parts.ok()) return Answer(400, "the checkpoint: " + parts.status().message());
  auto cp = ParseCheckpoint(note);
  if (!cp.ok()) return Answer(400, "the checkpoint: " + cp.status().message());

  // Known origin, then a signature by one of its keys.
  bool known = false, signed_by_known = false;
  for (const auto& log : options_.logs) {
    if (log.name != cp->origin) continue;
    known = true;
    if (VerifyNoteSignature(log, *parts).ok()) signed_by_known = true;
  }
  if (!known) return Answer(404, "unknown log origin " + cp->origin);
  if (!signed_by_known) return Answer(403, "the checkpoint carries no valid signature by a key trusted for " + cp->origin);
  if (old_size > cp->size) return Answer(400, "old size " + std::to_string(old_size) + " is above the checkpoint's size");
  if (old_size == 0 && !proof.empty()) return Answer(400, "a proof from old size 0");

  std::lock_guard lock(mu_);
  WitnessedLog latest;
  if (auto it = state_.find(cp->origin); it != state_.end()) latest = it->second;
  if (old_size != latest.size) {
    return WitnessResponse{409, "text/x.tlog.size", std::to_string(latest.size) + "\n"};
  }
  if (old_size == cp->size) {
    if (old_size > 0 && cp->root != latest.root) {
      log::Warn("witness: a fork: a checkpoint of a cosigned size with another root",
                {{"origin", cp->origin}, {"size", cp->size}, {"cosigned", B64(latest.root)}, {"offered", B64(cp->root)}});
      return Answer(409, "fork: size " + std::to_string(cp->size) + " was cosigned with root " + B64(latest.root) +
                             ", not " + B64(cp->root));
    }
    if (!proof.empty()) return Answer(422, "equal sizes need an empty consistency proof");
  } else if (old_size > 0) {
    Status st = VerifyConsistency(old_size, cp->size, proof, crypto::HashBytes(latest.root), crypto::HashBytes(cp->root));
    if (!st.ok()) {
      log::Warn("witness: refused a checkpoint inconsistent with the one cosigned",
                {{"origin", cp->origin}, {"cosignedSize", latest.size}, {"size", cp->size}, {"error", st.message()},
                 {"checkpoint", std::string(note)}});
      return Answer(422, "not consistent with size " + std::to_string(latest.size) + " (root " + B64(latest.root) +
                             "): " + st.message());
    }
  }
  auto next = state_;
  next[cp->origin] = WitnessedLog{cp->size, cp->root};
  if (Status st = SaveLocked(next); !st.ok()) {
    log::Error("witness: cannot persist its state", {{"error", st.message()}});
    return Answer(500, "the witness cannot persist its state");
  }
  state_ = std::move(next);
  const Clock& clock = options_.clock ? *options_.clock : SystemClock::Get();
  auto now = std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
  auto line = Cosign(options_.name, options_.key, parts->text, static_cast<uint64_t>(now));
  if (!line.ok()) return Answer(500, "cannot cosign: " + line.status().message());
  return WitnessResponse{200, "text/plain; charset=utf-8", *line};
}

}  // namespace execgov::ledger
