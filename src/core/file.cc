#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <iterator>

namespace execgov {

StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  int fd = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return InvalidArgument("cannot open " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[65536];
  Status st;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      st = InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      st = InvalidArgument(path + " is larger than " + std::to_string(max_bytes) + " bytes");
      break;
    }
  }
  if (fd != STDIN_FILENO) ::close(fd);
  if (!st.ok()) return st;
  return out;
}

Status WriteFileAtomic(const std::string& path, const std::string& data, mode_t mode, bool exclusive) {
  if (exclusive && ::access(path.c_str(), F_OK) == 0) return AlreadyExists(path + " already exists");
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return InvalidArgument("cannot create " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);  // the umask may have narrowed it; never widen beyond `mode`
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return InvalidArgument("cannot write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return InvalidArgument("cannot sync " + tmp + ": " + std::strerror(errno));
  }
  if (exclusive) {
    // link() fails if the target exists, which closes the check-then-write race.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      if (e == EEXIST) return AlreadyExists(path + " already exists");
      return InvalidArgument("cannot create " + path + ": " + std::strerror(e));
    }
    ::unlink(tmp.c_str());
    return Status::Ok();
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return InvalidArgument("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
  }
  return Status::Ok();
}

}  // namespace execgov
