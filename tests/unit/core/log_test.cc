// The log line: one JSON object per line on stderr, whatever the strings in
// it hold, and the JSON string writer it shares with the canonical form.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "core/json_string.h"
#include "core/log.h"

namespace execgov {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(JsonString, EscapesWhatJsonRequiresAndKeepsTheRest) {
  EXPECT_EQ(Quoted(""), "\"\"");
  EXPECT_EQ(Quoted("plain text/with:punctuation"), "\"plain text/with:punctuation\"");
  EXPECT_EQ(Quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quoted("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(Quoted(std::string("\x00\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(Quoted("\x7f"), "\"\x7f\"");
  EXPECT_EQ(Quoted("\xc3\xa9t\xc3\xa9"), "\"\xc3\xa9t\xc3\xa9\"");  // UTF-8 is copied
  // Whatever it writes parses back to the same string.
  std::string all;
  for (int c = 1; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(nlohmann::json::parse(Quoted(all)).get<std::string>(), all);
}

// Captures what the log writes to stderr while `fn` runs.
template <class F>
std::string CaptureStderr(F fn) {
  std::fflush(stderr);
  char path[] = "/tmp/execgov-log-test.XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  fn();
  EXPECT_TRUE(log::Flush());  // the log's thread has written every line
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  unlink(path);
  return out;
}

TEST(Log, OneJsonObjectPerLineWithTheFields) {
  std::string out = CaptureStderr([] {
    log::Info("admission", {{"uid", "u-1"}, {"allowed", true}, {"seq", 42}, {"nested", {{"a", 1}}}});
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "more than one line: " << out;
  auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["msg"], "admission");
  EXPECT_EQ(line["level"], "info");
  EXPECT_TRUE(line["ts"].is_string());
  EXPECT_EQ(line["uid"], "u-1");
  EXPECT_EQ(line["allowed"], true);
  EXPECT_EQ(line["seq"], 42);
  EXPECT_EQ(line["nested"]["a"], 1);
}

TEST(Log, AnyBytesInAStringStillMakeValidJson) {
  std::string out = CaptureStderr([] {
    log::Warn("bad \xff bytes", {{"path", std::string("/tmp/\xc3\x28\nx")}, {"msg", "not the message"}});
  });
  auto line = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(line.is_discarded()) << out;
  EXPECT_EQ(line["level"], "warn");
  // Invalid UTF-8 is replaced (U+FFFD), the newline escaped, and a field
  // cannot overwrite the line's own message.
  EXPECT_EQ(line["msg"], "bad \xef\xbf\xbd bytes");
  EXPECT_EQ(line["path"], "/tmp/\xef\xbf\xbd(\nx");
}

// Fields written as they are added give the line an nlohmann object of the
// same fields gives, value for value.
TEST(Log, FieldsWriteWhatAnObjectOfTheSameFieldsWrites) {
  const std::string odd = std::string("/tmp/\xc3\x28\n\"q\" \\ ") + std::string(1, '\0');
  std::string built, object;
  built = CaptureStderr([&] {
    log::Info("admission", log::Fields()
                               .Str("path", odd)
                               .Str("empty", "")
                               .Int("negative", -7)
                               .Uint("seq", uint64_t(1) << 63)
                               .Num("latencySeconds", 0.000123)
                               .Num("whole", 2.0)
                               .Bool("dryRun", false));
  });
  object = CaptureStderr([&] {
    log::Info("admission", {{"path", odd}, {"empty", ""}, {"negative", -7}, {"seq", uint64_t(1) << 63},
                            {"latencySeconds", 0.000123}, {"whole", 2.0}, {"dryRun", false}});
  });
  auto a = nlohmann::json::parse(built, nullptr, false), b = nlohmann::json::parse(object, nullptr, false);
  ASSERT_FALSE(a.is_discarded()) << built;
  ASSERT_FALSE(b.is_discarded()) << object;
  EXPECT_EQ(built.find('\n'), built.size() - 1) << built;
  a.erase("ts");
  b.erase("ts");
  EXPECT_EQ(a, b) << built << object;
  EXPECT_EQ(a["path"], "/tmp/\xef\xbf\xbd(\n\"q\" \\ " + std::string(1, '\0'));
  EXPECT_EQ(a["seq"].get<uint64_t>(), uint64_t(1) << 63);
}

TEST(Log, BelowTheLevelNothingIsWritten) {
  std::string out = CaptureStderr([] { log::Debug("hidden"); });
  EXPECT_EQ(out, "");
}

// A Batch holds its thread's lines until the outermost one ends, then
// writes them in order; another thread's lines are not held.
TEST(Log, ABatchWritesItsThreadsLinesTogetherWhenItEnds) {
  std::string during, other;
  std::string out = CaptureStderr([&] {
    {
      log::Batch outer;
      log::Info("first", {{"n", 1}});
      {
        log::Batch inner;
        log::Info("second", {{"n", 2}});
      }
      std::thread t([] { log::Info("other thread"); });
      t.join();
      EXPECT_TRUE(log::Flush());
      // Only the other thread's line has reached the file so far.
      char buf[4096];
      ssize_t n = pread(STDERR_FILENO, buf, sizeof buf, 0);
      if (n > 0) during.assign(buf, static_cast<size_t>(n));
    }
    log::Info("after");
  });
  EXPECT_NE(during.find("other thread"), std::string::npos) << during;
  EXPECT_EQ(during.find("first"), std::string::npos) << during;
  EXPECT_EQ(during.find("second"), std::string::npos) << during;
  size_t first = out.find("\"msg\":\"first\""), second = out.find("\"msg\":\"second\""), after = out.find("\"msg\":\"after\"");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  ASSERT_NE(after, std::string::npos) << out;
  EXPECT_LT(first, second);
  EXPECT_LT(second, after);
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    EXPECT_TRUE(nlohmann::json::accept(out.substr(start, end - start))) << out.substr(start, end - start);
  }
}

// stderr as a pipe that is full and that nobody reads: logging still
// returns, lines past the queue's bound are left out, and once the pipe is
// read again every line kept comes out in order, followed by a warning that
// counts the ones left out.
TEST(Log, AFullStderrNeverHoldsUpTheCaller) {
  ASSERT_TRUE(log::Flush());
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int flags = fcntl(pipe_fds[1], F_GETFL);
  fcntl(pipe_fds[1], F_SETFL, flags | O_NONBLOCK);
  std::string fill(4096, 'f');
  while (write(pipe_fds[1], fill.data(), fill.size()) > 0) {
  }
  fcntl(pipe_fds[1], F_SETFL, flags);  // full, and blocking again
  int saved = dup(STDERR_FILENO);
  dup2(pipe_fds[1], STDERR_FILENO);
  log::SetMaxQueuedForTest(64 * 1024);
  const uint64_t left_out_before = log::LinesLeftOut();

  const int n = 5000;
  for (int i = 0; i < n; ++i) log::Info("x", {{"n", i}});  // would hang here if logging waited for stderr
  {
    log::Batch batch;
    for (int i = n; i < 2 * n; ++i) log::Info("x", {{"n", i}});
  }

  std::string out;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t got; (got = read(pipe_fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(got));
  });
  EXPECT_TRUE(log::Flush());
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(pipe_fds[1]);
  reader.join();
  close(pipe_fds[0]);
  log::SetMaxQueuedForTest(log::kMaxQueuedBytes);

  int kept = 0, last = -1;
  uint64_t left_out = 0;
  size_t start = out.find_first_not_of('f');
  ASSERT_NE(start, std::string::npos);
  for (size_t end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    auto line = nlohmann::json::parse(out.substr(start, end - start), nullptr, false);
    ASSERT_FALSE(line.is_discarded()) << out.substr(start, end - start);
    if (line["msg"] == "x") {
      EXPECT_GT(line["n"].get<int>(), last);
      last = line["n"].get<int>();
      ++kept;
    } else {
      EXPECT_EQ(line["level"], "warn");
      left_out += line["lines"].get<uint64_t>();
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(left_out, 0u);
  EXPECT_EQ(kept + left_out, 2u * n);
  // The count the metric reads is the one the warnings gave.
  EXPECT_EQ(log::LinesLeftOut() - left_out_before, left_out);
}

}  // namespace
}  // namespace execgov
