#include "ledger/file_backend.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/log.h"
#include "ledger/offset_index.h"

namespace execgov::ledger {
namespace {

constexpr size_t kReadChunk = 4u << 20;

Status Errno(const std::string& what, const std::string& path) {
  return Unavailable(what + " " + path + ": " + std::strerror(errno));
}

// Holds flock(LOCK_EX) for its lifetime.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        fd_ = -1;
        break;
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
  }
  bool held() const { return fd_ >= 0; }

 private:
  int fd_;
};

// Calls fn(line, line's offset) for each complete line of fd from `offset`,
// reading in large chunks. Stops at the first error. Returns the offset after
// the last complete line in *end and the length of a trailing partial line in
// *partial.
template <typename Fn>
Status ForEachLine(int fd, const std::string& path, uint64_t offset, uint64_t* end, uint64_t* partial, Fn&& fn) {
  std::string buf;
  buf.resize(kReadChunk);
  size_t have = 0;  // bytes of an unfinished line at the front of buf
  uint64_t pos = offset;
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the buffer
    ssize_t n = ::pread(fd, buf.data() + have, buf.size() - have, static_cast<off_t>(pos + have));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read", path);
    }
    if (n == 0) break;
    size_t filled = have + static_cast<size_t>(n);
    size_t start = 0;
    while (start < filled) {
      const char* nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', filled - start));
      if (!nl) break;
      size_t len = static_cast<size_t>(nl - (buf.data() + start));
      EXECGOV_RETURN_IF_ERROR(fn(std::string_view(buf.data() + start, len), pos + start));
      start += len + 1;
    }
    pos += start;
    have = filled - start;
    if (start > 0 && have > 0) std::memmove(buf.data(), buf.data() + start, have);
  }
  *end = pos;
  *partial = have;
  return Status::Ok();
}

class FileBackend final : public Backend {
 public:
  FileBackend(std::string path, int fd, bool read_only) : path_(std::move(path)), fd_(fd), read_only_(read_only) {}
  ~FileBackend() override {
    if (fd_ >= 0) ::close(fd_);
  }

  StatusOr<ChainState> Tail() override {
    std::lock_guard lock(mu_);
    EXECGOV_RETURN_IF_ERROR(SyncLocked(/*may_repair=*/false));
    return state_;
  }

  Status Append(const BuildFn& build) override {
    if (read_only_) return FailedPrecondition(path_ + " is open read-only");
    std::lock_guard lock(mu_);
    if (fd_ < 0) return FailedPrecondition(path_ + " is closed");
    FileLock flock(fd_);
    if (!flock.held()) return Errno("cannot lock", path_);
    EXECGOV_RETURN_IF_ERROR(SyncLocked(/*may_repair=*/true));
    EXECGOV_ASSIGN_OR_RETURN(Batch batch, build(state_));
    if (batch.records.empty()) return Status::Ok();
    std::vector<uint64_t> offsets;  // each record's offset in the file
    std::string out;
    for (const auto& r : batch.records) {
      offsets.push_back(offset_ + out.size());
      out += r;
      out += '\n';
    }
    Status st = WriteAll(out);
    if (st.ok() && ::fdatasync(fd_) != 0) st = Errno("cannot fsync", path_);
    if (!st.ok()) {
      // Nothing was acknowledged: take back whatever part reached the file.
      if (::ftruncate(fd_, static_cast<off_t>(offset_)) != 0) {
        log::Error("ledger: cannot truncate a failed append", {{"path", path_}, {"error", std::strerror(errno)}});
      }
      return st;
    }
    state_ = std::move(batch.after);
    offset_ += out.size();
    for (size_t i = 0; i < offsets.size(); ++i) Index(batch.hashes[i], offsets[i]);
    return Status::Ok();
  }

  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open", path_);
    uint64_t seq = 0, end = 0, partial = 0, start = 0;
    if (read_only_) ResumePoint(fd, from, &seq, &start);
    uint64_t last_at = 0, last_len = 0;  // the last whole line read
    // A private status distinguishes "reached `to`" from a real error.
    static const std::string kStop = "ledger scan reached its end";
    Status st = ForEachLine(fd, path_, start, &end, &partial, [&](std::string_view line, uint64_t at) -> Status {
      if (seq >= to) return Aborted(kStop);
      Status s = seq >= from ? fn(seq, line) : Status::Ok();
      ++seq;
      last_at = at;
      last_len = line.size() + 1;
      return s;
    });
    if (read_only_ && last_len > 0 && (st.ok() || st.code() == StatusCode::kAborted)) {
      // seq is the seq of the line after the last one read (a scan stopped
      // at `to` returns before counting the line it stopped at).
      KeepResumePoint(fd, seq, last_at, last_len);
    }
    ::close(fd);
    if (st.code() == StatusCode::kAborted && st.message() == kStop) return Status::Ok();
    if (st.ok() && partial > 0 && seq < to) {
      log::Warn("ledger: ignoring an unterminated last line (a torn, unacknowledged append)",
                {{"path", path_}, {"offset", end}, {"bytes", partial}});
    }
    return st;
  }

  // Where the last Scan of a read-only view stopped, so that a reader that
  // follows the ledger (ledger serve's refresh, the operator's witness
  // submissions) reads only what was appended since rather than the whole
  // file each time: a Scan from at or after that seq starts there, once the
  // record before it is still the same bytes at the same place in the same
  // file (its leaf hash commits to its prev, so to the history before it);
  // otherwise the file was rewritten or replaced and is read from the start.
  // Writers do not use it: their own tail (offset_) serves them.
  struct ResumePoint_ {
    uint64_t seq = 0;     // the seq of the line at `offset`
    uint64_t offset = 0;
    uint64_t prev_at = 0;  // the record before it: offset and hash
    Hash prev_hash{};
    dev_t dev = 0;
    ino_t ino = 0;
  };
  void ResumePoint(int fd, uint64_t from, uint64_t* seq, uint64_t* start) {
    ResumePoint_ r;
    {
      std::lock_guard lock(resume_mu_);
      r = resume_;
    }
    struct stat sb;
    if (r.seq == 0 || r.seq > from || ::fstat(fd, &sb) != 0 || sb.st_dev != r.dev || sb.st_ino != r.ino ||
        static_cast<uint64_t>(sb.st_size) < r.offset) {
      return;
    }
    std::string prev(r.offset - r.prev_at, '\0');
    ssize_t n = ::pread(fd, prev.data(), prev.size(), static_cast<off_t>(r.prev_at));
    if (n != static_cast<ssize_t>(prev.size()) || prev.empty() || prev.back() != '\n') return;
    prev.pop_back();
    if (LeafHash(prev) != r.prev_hash) return;
    *seq = r.seq;
    *start = r.offset;
  }
  void KeepResumePoint(int fd, uint64_t seq, uint64_t last_at, uint64_t last_len) {
    struct stat sb;
    if (::fstat(fd, &sb) != 0) return;
    std::string line(last_len - 1, '\0');
    if (::pread(fd, line.data(), line.size(), static_cast<off_t>(last_at)) != static_cast<ssize_t>(line.size())) return;
    std::lock_guard lock(resume_mu_);
    if (seq < resume_.seq && sb.st_ino == resume_.ino && sb.st_dev == resume_.dev) return;  // keep the further one
    resume_ = ResumePoint_{seq, last_at + last_len, last_at, LeafHash(line), sb.st_dev, sb.st_ino};
  }

  StatusOr<bool> Contains(const Hash& h) override {
    std::lock_guard lock(mu_);
    EXECGOV_ASSIGN_OR_RETURN(bool found, FindLocked(h));
    if (found) return true;
    EXECGOV_RETURN_IF_ERROR(SyncLocked(/*may_repair=*/false));  // another process may have appended it
    return FindLocked(h);
  }

  size_t MaxBatch() const override { return 4096; }

  std::string DefaultOrigin() const override {
    size_t slash = path_.rfind('/');
    return "execgov.local/" + (slash == std::string::npos ? path_ : path_.substr(slash + 1));
  }

  Status Close() override {
    std::lock_guard lock(mu_);
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      return Errno("cannot close", path_);
    }
    fd_ = -1;
    return Status::Ok();
  }

 private:
  // Folds every complete record past offset_ into state_ and the index. A
  // trailing partial line is removed only when the caller holds the file lock.
  Status SyncLocked(bool may_repair) {
    if (fd_ < 0) return FailedPrecondition(path_ + " is closed");
    // Nothing past what we folded in (no other writer, no torn tail): the
    // common case on every append, answered without the 4 MiB read buffer
    // ForEachLine allocates and zero-fills (which cost more CPU than the
    // records of a small batch).
    struct stat sb;
    if (::fstat(fd_, &sb) != 0) return Errno("cannot stat", path_);
    if (static_cast<uint64_t>(sb.st_size) == offset_) return Status::Ok();
    uint64_t end = 0, partial = 0;
    auto fold = [&](std::string_view line, uint64_t at) -> Status {
      EXECGOV_ASSIGN_OR_RETURN(Hash h, state_.Apply(line));
      Index(h, at);
      return Status::Ok();
    };
    EXECGOV_RETURN_IF_ERROR(ForEachLine(fd_, path_, offset_, &end, &partial, fold));
    offset_ = end;
    if (partial > 0 && may_repair) {
      if (::ftruncate(fd_, static_cast<off_t>(end)) != 0) return Errno("cannot truncate", path_);
      if (::fdatasync(fd_) != 0) return Errno("cannot fsync", path_);
      log::Warn("ledger: truncated a torn, unacknowledged last record",
                {{"path", path_}, {"offset", end}, {"bytes", partial}, {"seq", state_.size}});
    }
    return Status::Ok();
  }

  void Index(const Hash& h, uint64_t at) {
    if (read_only_ || !indexed_) return;
    indexed_ = index_.Insert(h, at);
    if (!indexed_) {
      log::Warn("ledger: too many records to index; looking records up will read the whole file",
                {{"path", path_}, {"records", index_.size()}});
    }
  }

  // Whether a folded-in record has hash h: the index names candidates, each
  // confirmed by hashing the record read back from the file.
  StatusOr<bool> FindLocked(const Hash& h) {
    if (read_only_) return false;
    if (indexed_) return index_.Find(h, [&](uint64_t at) -> StatusOr<bool> { return RecordAtHasHash(at, h); });
    uint64_t end = 0, partial = 0;
    bool found = false;
    static const std::string kFound = "ledger record found";
    Status st = ForEachLine(fd_, path_, 0, &end, &partial, [&](std::string_view line, uint64_t at) -> Status {
      if (at >= offset_ || LeafHash(line) != h) return Status::Ok();
      found = true;
      return Aborted(kFound);
    });
    if (!found && !st.ok()) return st;
    return found;
  }

  // Whether the complete record starting at `at` hashes to h.
  StatusOr<bool> RecordAtHasHash(uint64_t at, const Hash& h) {
    if (at >= offset_) return false;
    std::string line;
    size_t want = 4096;
    for (;;) {
      size_t len = static_cast<size_t>(std::min<uint64_t>(want, offset_ - at));
      line.resize(len);
      size_t got = 0;
      while (got < len) {
        ssize_t n = ::pread(fd_, line.data() + got, len - got, static_cast<off_t>(at + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Errno("cannot read", path_);
        if (n == 0) return DataLoss(path_ + " is shorter than the records read from it");
        got += static_cast<size_t>(n);
      }
      size_t nl = line.find('\n');
      if (nl != std::string::npos) return LeafHash(std::string_view(line).substr(0, nl)) == h;
      if (len < want) return DataLoss(path_ + ": the record at offset " + std::to_string(at) + " has no end");
      want *= 2;
    }
  }

  Status WriteAll(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("cannot write", path_);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  const std::string path_;
  int fd_;
  const bool read_only_;
  std::mutex resume_mu_;
  ResumePoint_ resume_;
  std::mutex mu_;
  uint64_t offset_ = 0;  // end of the last complete record folded into state_
  ChainState state_;
  OffsetIndex index_;    // where each folded-in record starts (not kept read-only)
  bool indexed_ = true;  // false once index_ is full: lookups then read the file
};

}  // namespace

StatusOr<std::unique_ptr<Backend>> OpenFileBackend(const std::string& path, const BackendOptions& options) {
  if (path.empty()) return InvalidArgument("file: ledger URL without a path");
  int flags = options.read_only ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC;
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return Errno(options.read_only ? "cannot open" : "cannot open or create", path);
  auto backend = std::make_unique<FileBackend>(path, fd, options.read_only);
  if (!options.read_only) {
    // The first open repairs a torn tail left by a crash before anyone appends.
    EXECGOV_RETURN_IF_ERROR(backend->Append([](const ChainState&) { return Batch{}; }));
  }
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace execgov::ledger
