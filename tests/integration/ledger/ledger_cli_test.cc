// The auditor's commands as auditors run them: `execgov ledger verify | show
// | proof | verify-proof`, their output and exit codes (docs/design.md §9.1: 0 ok,
// 1 verification failed, 2 usage or I/O error).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "support/subprocess.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

using ::execgov::testing::RunCommand;

class LedgerCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("ledger.jsonl");
    testing::WriteHistory("file:" + path_, path_ + ".key");  // creates the key and .pub beside
  }
  ::execgov::testing::CommandResult Run(const std::string& args) {
    return RunCommand(std::string(EXECGOV_BINARY) + " ledger " + args, dir_.path());
  }
  std::vector<std::string> Lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void WriteLines(const std::vector<std::string>& lines) {
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }
  std::string Key() const { return " --checkpoint-key " + path_ + ".key.pub"; }

  ::execgov::testing::TempDir dir_;
  std::string path_;
};

TEST_F(LedgerCliTest, VerifyPrintsSizeAndRootOrTheFirstBadSeq) {
  auto ok = Run("verify --ledger file:" + path_ + Key());
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out.rfind("OK size 44 root ", 0), 0u) << ok.out;

  auto lines = Lines();
  dir_.Write("kept.checkpoint", testing::NoteOf(lines[43]));
  auto edited = lines;
  edited[5].replace(edited[5].find("job-5"), 5, "job-X");
  WriteLines(edited);
  auto bad = Run("verify --ledger file:" + path_ + Key());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out.rfind("FAILED at seq 5: hash: ", 0), 0u) << bad.out;

  lines.resize(25);
  WriteLines(lines);
  auto truncated = Run("verify --ledger file:" + path_ + Key() + " --checkpoint kept.checkpoint");
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_EQ(truncated.out.rfind("FAILED at seq 25: truncated: ", 0), 0u) << truncated.out;

  EXPECT_EQ(Run("verify --ledger file:" + dir_.File("absent")).exit_code, 2);
  EXPECT_EQ(Run("verify --ledger nosuch://x").exit_code, 2);
}

TEST_F(LedgerCliTest, ShowFiltersAndFormats) {
  auto denied = Run("show --ledger file:" + path_ + " -o json --decision denied");
  EXPECT_EQ(denied.exit_code, 0) << denied.err;
  EXPECT_EQ(std::count(denied.out.begin(), denied.out.end(), '\n'), 14);  // entries 0, 3, ..., 39
  auto one = Run("show --ledger file:" + path_ + " -o json --jti jti-7");
  EXPECT_EQ(std::count(one.out.begin(), one.out.end(), '\n'), 1);
  EXPECT_NE(one.out.find("\"seq\":7"), std::string::npos);
  auto object = Run("show --ledger file:" + path_ + " --object agents/job-12");
  EXPECT_NE(object.out.find("Job/agents/job-12"), std::string::npos) << object.out;
  auto range = Run("show --ledger file:" + path_ + " --from 10 --limit 2");
  EXPECT_NE(range.out.find("checkpoint"), std::string::npos);  // seq 10 is a checkpoint
  EXPECT_EQ(std::count(range.out.begin(), range.out.end(), '\n'), 3);  // header and two rows
}

// An outcome record (the operator's mark on an admission whose object never
// appeared) shows what became of which admission.
TEST_F(LedgerCliTest, ShowPrintsAnOutcomeAndTheAdmissionItQualifies) {
  {
    LedgerOptions o;
    o.signing_key_path = path_ + ".key";
    auto ledger = OpenLedger("file:" + path_, o);
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    nlohmann::json outcome = {{"type", "outcome"},
                              {"outcome", "not-created"},
                              {"admission", "sha256:" + std::string(64, '0')},
                              {"admissionSeq", 12},
                              {"object", {{"kind", "Job"}, {"namespace", "agents"}, {"name", "job-12"}, {"uid", "u"}}}};
    ASSERT_TRUE((*ledger)->Append(outcome).ok());
    ASSERT_TRUE((*ledger)->Close().ok());
  }
  auto shown = Run("show --ledger file:" + path_ + " --type outcome");
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(std::count(shown.out.begin(), shown.out.end(), '\n'), 2) << shown.out;  // header and the outcome
  // The columns' widths are the table's own business; their order is not.
  EXPECT_TRUE(std::regex_search(shown.out, std::regex(" outcome +not-created admission 12 +Job/agents/job-12 ")))
      << shown.out;
}

TEST_F(LedgerCliTest, ProofVerifiesAndForgedProofDoesNot) {
  auto proof = Run("proof --ledger file:" + path_ + " --seq 17");
  ASSERT_EQ(proof.exit_code, 0) << proof.err;
  dir_.Write("proof.json", proof.out);
  auto ok = Run("verify-proof" + Key() + " < proof.json");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto doc = nlohmann::json::parse(proof.out);
  doc["seq"] = 18;
  dir_.Write("forged.json", doc.dump());
  EXPECT_EQ(Run("verify-proof" + Key() + " < forged.json").exit_code, 1);
  EXPECT_EQ(Run("proof --ledger file:" + path_ + " --seq 44").exit_code, 2);
}

}  // namespace
}  // namespace execgov::ledger
