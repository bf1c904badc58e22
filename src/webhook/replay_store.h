// Where consumed artifacts are remembered (DESIGN §4, replay and inheritance).
// Decide() reads it through policy::ReplayView; the handler then commits the
// decision's intent with Consume/Inherit, which are atomic: of two requests
// racing with one jti, exactly one Consume succeeds.
#pragma once

#include <map>
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
};

// Standalone mode: an in-memory map journaled to an append-only file (JSON
// lines, fsync before returning), replayed on start so a consumed jti stays
// consumed across restarts. Entries past expiry are dropped when the journal
// is compacted at start: an expired artifact is refused before replay matters.
class FileReplayStore : public ReplayStore {
 public:
  static StatusOr<std::unique_ptr<FileReplayStore>> Open(const std::string& path, int64_t now);
  ~FileReplayStore() override;

  std::optional<policy::Consumption> Find(const std::string& jti) const override;
  Status Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) override;
  Status Inherit(const std::string& jti, const std::string& uid) override;

 private:
  struct Entry {
    policy::Consumption who;
    int64_t expires_at = 0;
  };
  FileReplayStore(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Status Journal(const std::string& line);

  std::string path_;
  int fd_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace execgov::webhook
