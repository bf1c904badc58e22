// Runs a shell command for tests and captures its exit code, stdout and stderr.
#pragma once

#include <string>

namespace execgov::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs `command` with /bin/sh in `dir` (created if needed), standard input
// from /dev/null unless the command redirects it.
CommandResult RunCommand(const std::string& command, const std::string& dir = ".");

// A fresh directory under $TMPDIR, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  void Write(const std::string& name, const std::string& text) const;
  std::string Read(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace execgov::testing
