#include "ledger/verifier.h"

#include "crypto/encoding.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

namespace execgov::ledger {
namespace {

std::string Seq(uint64_t s) { return "seq " + std::to_string(s); }

class StreamVerifier {
 public:
  StreamVerifier(const VerifyOptions& o, std::optional<Checkpoint> trusted) : o_(o), trusted_(std::move(trusted)) {
    result_.signatures_checked = o.checkpoint_key.has_value();
  }

  // Returns a non-OK status (kAborted) to stop the scan at the first finding.
  Status Record(uint64_t i, std::string_view bytes) {
    Hash h = LeafHash(bytes);
    auto hdr = ScanRecord(bytes);
    if (pending_) {
      // The link into record i-1 was broken: does record i still vouch for i-1?
      if (hdr.ok() && hdr->prev == last_) {
        return Fail(i - 2, Problem::kHash,
                    Seq(i - 2) + " was changed: its hash is not the prev of " + Seq(i - 1));
      }
      return Fail(pending_->seq, pending_->problem, pending_->message);
    }
    if (!hdr.ok()) return Fail(i, Problem::kMalformed, Seq(i) + " is not a valid record: " + hdr.status().message());
    if (hdr->seq < i) {
      return Fail(hdr->seq, Problem::kDuplicate,
                  Seq(hdr->seq) + " appears again at position " + std::to_string(i) + " (a record was inserted)");
    }
    if (hdr->seq > i) {
      return Fail(i, Problem::kGap,
                  Seq(i) + " is missing: position " + std::to_string(i) + " holds " + Seq(hdr->seq) +
                      " (a record was deleted or records were reordered)");
    }
    // Checkpoint content is checked before links so that the tree is judged
    // on the records below it, which are fixed by now.
    std::optional<Finding> content;
    if (hdr->type == "checkpoint") content = CheckCheckpoint(i, *hdr);
    if (i > 0 && hdr->prev != last_) {
      pending_ = content ? *content
                         : Finding{i, Problem::kLink, Seq(i) + "'s prev is not the hash of " + Seq(i - 1)};
      last_checkpoint_matched_ = content == std::nullopt && hdr->type == "checkpoint";
    } else if (i == 0 && hdr->prev != kGenesisPrev) {
      return Fail(0, Problem::kLink, "seq 0's prev is not the genesis value (32 zero bytes)");
    } else if (content) {
      return Fail(content->seq, content->problem, content->message);
    }
    last_ = h;
    tree_.Append(h);
    if (trusted_ && tree_.size() == trusted_->size && tree_.Root() != trusted_->root && !pending_) {
      return Fail(verified_size_, Problem::kInconsistentCheckpoint,
                  "the first " + std::to_string(trusted_->size) +
                      " records do not have the trusted checkpoint's root: records from " + Seq(verified_size_) +
                      " on were changed or rewritten");
    }
    return Status::Ok();
  }

  VerifyResult Finish(uint64_t total) {
    if (result_.ok() && pending_) {
      // The last record's link is broken and nothing after it can vouch. A
      // checkpoint there whose root matched fixes every record below it.
      if (last_checkpoint_matched_) {
        (void)Fail(pending_->seq, pending_->problem, pending_->message);
      } else {
        (void)Fail(total - 2, Problem::kHash,
             Seq(total - 2) + " does not hash to the prev of the last record " + Seq(total - 1) +
                 " (one of the two was changed)");
      }
    }
    if (result_.ok() && trusted_ && total < trusted_->size) {
      (void)Fail(total, Problem::kTruncated,
           "the ledger ends before " + Seq(total) + ", but the trusted checkpoint shows it held " +
               std::to_string(trusted_->size) + " records: truncated or rolled back");
    }
    if (result_.ok() && trusted_ && !origin_.empty() && trusted_->origin != origin_) {
      (void)Fail(0, Problem::kInconsistentCheckpoint,
                 "the trusted checkpoint is for origin \"" + trusted_->origin + "\", the ledger's is \"" + origin_ + "\"");
    }
    result_.size = tree_.size();
    result_.root = tree_.Root();
    return result_;
  }

 private:
  struct Finding {
    uint64_t seq;
    Problem problem;
    std::string message;
  };

  std::optional<Finding> CheckCheckpoint(uint64_t i, const RecordHeader& hdr) {
    auto note = CheckpointNoteOf(hdr);
    if (!note.ok()) return Finding{i, Problem::kMalformed, Seq(i) + ": " + note.status().message()};
    StatusOr<Checkpoint> cp = o_.checkpoint_key ? OpenCheckpoint(*note, *o_.checkpoint_key) : ParseCheckpoint(*note);
    if (!cp.ok()) {
      Problem p = cp.status().code() == StatusCode::kPermissionDenied ? Problem::kCheckpointSignature
                                                                     : Problem::kMalformed;
      return Finding{i, p, Seq(i) + ": checkpoint: " + cp.status().message()};
    }
    if (!origin_.empty() && cp->origin != origin_) {
      return Finding{i, Problem::kCheckpointTree,
                     Seq(i) + ": checkpoint origin \"" + cp->origin + "\" is not the ledger's \"" + origin_ + "\""};
    }
    if (cp->size != i) {
      return Finding{i, Problem::kCheckpointTree,
                     Seq(i) + ": the checkpoint is for a tree of size " + std::to_string(cp->size) +
                         ", but it stands after " + std::to_string(i) + " records"};
    }
    if (cp->root != tree_.Root()) {
      return Finding{i, Problem::kCheckpointTree,
                     Seq(i) + ": the checkpoint's root is not the root of records 0.." + std::to_string(i) +
                         " (a checkpoint for a different tree)"};
    }
    origin_ = cp->origin;
    verified_size_ = cp->size;
    ++result_.checkpoints;
    result_.last_checkpoint = *cp;
    return std::nullopt;
  }

  Status Fail(uint64_t seq, Problem p, std::string message) {
    result_.problem = p;
    result_.bad_seq = seq;
    result_.message = std::move(message);
    return Aborted("stop");
  }

  const VerifyOptions& o_;
  std::optional<Checkpoint> trusted_;
  VerifyResult result_;
  MerkleFrontier tree_;
  Hash last_ = kGenesisPrev;
  std::optional<Finding> pending_;
  bool last_checkpoint_matched_ = false;
  std::string origin_;
  uint64_t verified_size_ = 0;  // records covered by the last matching checkpoint
};

}  // namespace

const char* ProblemName(Problem p) {
  switch (p) {
    case Problem::kNone: return "ok";
    case Problem::kMalformed: return "malformed";
    case Problem::kHash: return "hash";
    case Problem::kLink: return "link";
    case Problem::kGap: return "gap";
    case Problem::kDuplicate: return "duplicate";
    case Problem::kCheckpointSignature: return "checkpoint signature";
    case Problem::kCheckpointTree: return "checkpoint for a different tree";
    case Problem::kTruncated: return "truncated";
    case Problem::kInconsistentCheckpoint: return "inconsistent checkpoints";
  }
  return "?";
}

StatusOr<VerifyResult> VerifyLedger(Backend& backend, const VerifyOptions& options) {
  std::optional<Checkpoint> trusted;
  if (options.trusted_checkpoint) {
    auto cp = options.checkpoint_key ? OpenCheckpoint(*options.trusted_checkpoint, *options.checkpoint_key)
                                     : ParseCheckpoint(*options.trusted_checkpoint);
    if (!cp.ok()) return cp.status().WithContext("the trusted checkpoint");
    trusted = *cp;
  }
  StreamVerifier v(options, trusted);
  uint64_t total = 0;
  Status st = backend.Scan(0, UINT64_MAX, [&](uint64_t seq, std::string_view bytes) {
    total = seq + 1;
    return v.Record(seq, bytes);
  });
  if (!st.ok() && st.code() != StatusCode::kAborted) return st;
  return v.Finish(total);
}

}  // namespace execgov::ledger
