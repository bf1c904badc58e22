// Where consumed artifacts are remembered (DESIGN §4, replay and inheritance).
// Decide() reads it through policy::ReplayView; the handler then commits the
// decision's intent with Consume/Inherit, which are atomic: of two requests
// racing with one jti, exactly one Consume succeeds.
#pragma once

#include <condition_variable>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.h"
#include "policy/decision.h"

namespace execgov::webhook {

class ReplayStore : public policy::ReplayView {
 public:
  // Records that `who` consumed `jti`, valid until `expires_at` (Unix seconds).
  // AlreadyExists when another object (another uid) consumed it first.
  virtual Status Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) = 0;
  // Records that the object with `uid` inherited `jti` through its owner.
  virtual Status Inherit(const std::string& jti, const std::string& uid) = 0;
  // Forgets consumptions that expired before `now` (Unix seconds). Safe
  // because an expired artifact is refused before replay is ever checked;
  // keeps a long-running server's memory bounded by the artifacts still valid.
  virtual void Prune(int64_t now) = 0;
};

// Standalone mode: an in-memory map journaled to an append-only file (JSON
// lines, fdatasync before returning), replayed on start so a consumed jti stays
// consumed across restarts. Entries past expiry are dropped when the journal
// is compacted at start: an expired artifact is refused before replay matters.
//
// Group commit: callers that arrive while a sync is in progress queue their
// lines, and the next sync carries them all, so concurrent admissions share
// one fdatasync instead of taking turns. A jti being written is "in flight":
// a second Consume of it waits for the first to finish and then sees it, so
// of two racers exactly one succeeds, and nothing is visible (Find) or
// returned before its line is durable.
class FileReplayStore : public ReplayStore {
 public:
  static StatusOr<std::unique_ptr<FileReplayStore>> Open(const std::string& path, int64_t now);
  ~FileReplayStore() override;

  std::optional<policy::Consumption> Find(const std::string& jti) const override;
  Status Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) override;
  Status Inherit(const std::string& jti, const std::string& uid) override;
  // In memory only; the journal is compacted on the next Open.
  void Prune(int64_t now) override;
  size_t size() const;

 private:
  struct Entry {
    policy::Consumption who;
    int64_t expires_at = 0;
  };
  // Lines appended together and made durable by one fdatasync. Its callers
  // wait on its own condition variable, so finishing a batch wakes only them,
  // not every thread queued behind it.
  struct Batch {
    std::string lines;
    Status status;
    bool done = false;
    std::condition_variable cv;
  };
  FileReplayStore(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // Queues `line` and returns once it is durable (or could not be made so).
  // Called with `lock` held on mu_; releases it while waiting or syncing.
  Status Journal(std::unique_lock<std::mutex>& lock, const std::string& line);
  Status WriteAndSync(const std::string& lines);

  std::string path_;
  int fd_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;     // durable consumptions
  std::set<std::string> in_flight_;          // jtis whose consume line is being written
  std::condition_variable in_flight_cv_;     // an in-flight jti was settled
  int in_flight_waiters_ = 0;
  std::shared_ptr<Batch> open_;              // collecting lines for the next sync
  bool syncing_ = false;                     // a caller is writing a batch
};

}  // namespace execgov::webhook
