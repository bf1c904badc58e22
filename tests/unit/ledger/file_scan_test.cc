// A read-only file ledger view resumes a Scan where its last one stopped
// (ledger serve's refresh, the witness submitter): what was appended since is
// read with the right seqs, and a file rewritten or replaced under it is read
// from its start again, never from an offset that now means something else.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ledger/backend.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;

class FileScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-file-scan-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "ledger.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& text, bool append = true) {
    std::ofstream out(path_, append ? std::ios::app : std::ios::trunc);
    out << text;
  }
  static std::string Lines(const std::string& tag, int first, int n) {
    std::string out;
    for (int i = first; i < first + n; ++i) out += "{\"" + tag + "\":" + std::to_string(i) + "}\n";
    return out;
  }
  // "seq=line" for each record of Scan(from, to).
  std::vector<std::string> Scan(Backend& b, uint64_t from, uint64_t to = UINT64_MAX) {
    std::vector<std::string> got;
    Status st = b.Scan(from, to, [&](uint64_t seq, std::string_view line) {
      got.push_back(std::to_string(seq) + "=" + std::string(line));
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return got;
  }
  std::unique_ptr<Backend> Open() { return std::move(OpenBackend("file:" + path_, {.read_only = true})).value(); }

  fs::path dir_;
  std::string path_;
};

TEST_F(FileScanTest, AppendedRecordsAreReadWithTheirSeqs) {
  Write(Lines("a", 0, 10));
  auto b = Open();
  EXPECT_EQ(Scan(*b, 0).size(), 10u);
  Write(Lines("a", 10, 5));
  EXPECT_EQ(Scan(*b, 10), (std::vector<std::string>{"10={\"a\":10}", "11={\"a\":11}", "12={\"a\":12}", "13={\"a\":13}",
                                                     "14={\"a\":14}"}));
  EXPECT_EQ(Scan(*b, 15).size(), 0u);
  // Below where the last scan stopped: from the start, as before.
  EXPECT_EQ(Scan(*b, 3, 5), (std::vector<std::string>{"3={\"a\":3}", "4={\"a\":4}"}));
  // A scan stopped at `to` resumes at `to`.
  Write(Lines("a", 15, 3));
  EXPECT_EQ(Scan(*b, 15, 16), (std::vector<std::string>{"15={\"a\":15}"}));
  EXPECT_EQ(Scan(*b, 16), (std::vector<std::string>{"16={\"a\":16}", "17={\"a\":17}"}));
  // A torn last line is not a record, and the scan goes on once it is whole.
  Write("{\"a\":");
  EXPECT_EQ(Scan(*b, 18).size(), 0u);
  Write("18}\n");
  EXPECT_EQ(Scan(*b, 18), (std::vector<std::string>{"18={\"a\":18}"}));
}

TEST_F(FileScanTest, AFileRewrittenInPlaceIsReadFromItsStart) {
  Write(Lines("a", 0, 10));
  auto b = Open();
  EXPECT_EQ(Scan(*b, 0).size(), 10u);
  // Same file (inode), other history: longer lines, so the old offset of
  // seq 10 is in the middle of a record now.
  Write(Lines("rewritten", 0, 12), /*append=*/false);
  EXPECT_EQ(Scan(*b, 10), (std::vector<std::string>{"10={\"rewritten\":10}", "11={\"rewritten\":11}"}));
  // The resume point's offset is a line start again, but of another seq:
  // 3 lines of 10 bytes read, then 2 of 15 written over them.
  Write("aaaaaaaaa\naaaaaaaaa\naaaaaaaaa\n", /*append=*/false);
  EXPECT_EQ(Scan(*b, 0).size(), 3u);
  Write("bbbbbbbbbbbbbb\nbbbbbbbbbbbbbb\nc\nd\n", /*append=*/false);
  EXPECT_EQ(Scan(*b, 3), (std::vector<std::string>{"3=d"}));
}

TEST_F(FileScanTest, AReplacedFileIsReadFromItsStart) {
  Write(Lines("a", 0, 10));
  auto b = Open();
  EXPECT_EQ(Scan(*b, 0).size(), 10u);
  std::string other = path_ + ".new";
  {
    std::ofstream out(other);
    out << Lines("c", 0, 11);
  }
  fs::rename(other, path_);
  EXPECT_EQ(Scan(*b, 10), (std::vector<std::string>{"10={\"c\":10}"}));
}

}  // namespace
}  // namespace execgov::ledger
