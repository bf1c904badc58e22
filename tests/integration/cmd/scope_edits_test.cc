// Issue 18's edits table, over the wire: a Job signed with `execgov sign`,
// then changed by each security-relevant edit of
// tests/e2e/testdata/scope-edits/edits.json (an RFC 6902 patch applied to the
// signed manifest, its artifact annotation kept), sent as the AdmissionReview
// `execgov review` builds, over HTTPS to `execgov serve` (curl, trusting the
// server's CA), must be denied DigestMismatch: the artifact authorizes the Job
// as signed and nothing more powerful. The unedited signed Job is sent first
// and must be allowed, so a server that denies everything fails the test.
//
// Allowing the unedited Job consumes its jti; an edit whose digest does not
// change is then refused ReplayDetected, not DigestMismatch (the digest is
// checked first), and the test names it.
#include <gtest/gtest.h>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "api/manifest.h"
#include "support/server_process.h"
#include "support/subprocess.h"

namespace execgov {
namespace {

using testing::RunCommand;
using Json = nlohmann::json;

const std::string kExecgov = EXECGOV_BINARY;
const std::string kEditsDir = std::string(EXECGOV_SOURCE_DIR) + "/tests/e2e/testdata/scope-edits";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

class ScopeEditsTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;

  testing::CommandResult Run(const std::string& args) { return RunCommand(kExecgov + " " + args, dir_.path()); }

  // `execgov digest` of a file in the work directory ("" when it fails).
  std::string Digest(const std::string& file) {
    auto r = Run("digest -f " + file);
    return r.exit_code == 0 ? FirstLine(r.out) : "";
  }

  // Wraps `file` in an AdmissionReview and POSTs it; returns the response
  // member of the AdmissionReview that comes back (null when none does).
  Json Admit(const testing::ServeProcess& serve, const std::string& file) {
    auto r = RunCommand(kExecgov + " review -f " + file + " | curl -sS --fail-with-body --max-time 10 --cacert " +
                            serve.ca_file() + " -H 'Content-Type: application/json' --data-binary @- https://127.0.0.1:" +
                            std::to_string(serve.port()) + "/validate",
                        dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Json review = Json::parse(r.out, nullptr, false);
    if (review.is_discarded() || !review.contains("response")) {
      ADD_FAILURE() << "not an AdmissionReview: " << r.out;
      return Json();
    }
    return review["response"];
  }
};

// "DigestMismatch" from "execgov: DigestMismatch: ..." (the status message).
std::string ReasonOf(const Json& response) {
  if (response.is_null()) return "(no response)";
  if (response.value("allowed", false)) return "allowed";
  std::string message = response.contains("status") ? response["status"].value("message", "") : "";
  if (message.rfind("execgov: ", 0) == 0) message = message.substr(9);
  return message.substr(0, message.find(':'));
}

TEST_F(ScopeEditsTest, EverySecurityRelevantEditIsDeniedDigestMismatch) {
  Json table = Json::parse(ReadFile(kEditsDir + "/edits.json"));
  const Json& edits = table["edits"];
  ASSERT_GE(edits.size(), 30u);
  auto base_docs = api::ParseManifests(ReadFile(kEditsDir + "/base-job.yaml"), "base-job.yaml");
  ASSERT_TRUE(base_docs.ok()) << base_docs.status().message();
  ASSERT_EQ(base_docs->size(), 1u);

  auto keys = Run("keygen --alg ed25519 --kid edits-1 --out edits-1");
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  std::string key_entry;
  std::istringstream key_lines(keys.out);
  for (std::string line; std::getline(key_lines, line);) key_entry += "    " + line + "\n";
  dir_.Write("policy.yaml",
             "apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: edits}\nspec:\n"
             "  audience: cluster-a\n  maxTTL: 15m\n  match: {namespaces: [edits]}\n  issuers:\n"
             "  - name: ops-authority\n    subjects: [\"agent:*\"]\n    keys:\n" + key_entry);
  testing::ServeProcess serve(dir_.File("policy.yaml"), dir_.File("state"));
  ASSERT_TRUE(serve.started()) << ReadFile(serve.log_file());

  // Each base (the Job as written, and variants the edits name) signed once,
  // and its unedited signed form allowed first.
  std::map<std::string, Json> signed_bases;
  auto sign_base = [&](const std::string& base) -> bool {
    Json doc = (*base_docs)[0];
    if (!base.empty()) doc = doc.patch(table["bases"].at(base));
    std::string file = "base-" + (base.empty() ? std::string("default") : base);
    dir_.Write(file + ".yaml", api::EmitYaml({doc}));
    auto s = Run("sign --key edits-1.key --kid edits-1 --issuer ops-authority --subject agent:edits --audience cluster-a -f " +
                 file + ".yaml");
    EXPECT_EQ(s.exit_code, 0) << s.err;
    if (s.exit_code != 0) return false;
    dir_.Write(file + ".signed.yaml", s.out);
    auto parsed = api::ParseManifests(s.out, file + ".signed.yaml");
    EXPECT_TRUE(parsed.ok() && parsed->size() == 1u);
    if (!parsed.ok() || parsed->size() != 1u) return false;
    Json response = Admit(serve, file + ".signed.yaml");
    EXPECT_EQ(ReasonOf(response), "allowed") << "the unedited signed Job (base " << file << ") was not allowed: "
                                             << response.dump() << "\n" << ReadFile(serve.log_file());
    if (ReasonOf(response) != "allowed") return false;
    signed_bases[base] = (*parsed)[0];
    return true;
  };
  ASSERT_TRUE(sign_base(""));

  struct Row {
    std::string edit, before, after, verdict;
  };
  std::vector<Row> rows;
  std::vector<std::string> failures;
  int n = 0;
  for (const Json& edit : edits) {
    const std::string name = edit.at("name"), base = edit.value("base", "");
    SCOPED_TRACE(name);
    if (!signed_bases.count(base)) {
      ASSERT_TRUE(sign_base(base)) << "base " << base;
    }
    const Json& original = signed_bases[base];
    Json edited;
    try {
      edited = original.patch(edit.at("patch"));
    } catch (const Json::exception& e) {
      ADD_FAILURE() << "the patch does not apply to the signed Job: " << e.what();
      continue;
    }
    ASSERT_EQ(edited["metadata"]["annotations"], original["metadata"]["annotations"]) << "the edit touched the artifact";
    std::string file = "edit-" + std::to_string(++n) + ".json";
    std::string original_file = "original-" + std::to_string(n) + ".json";
    dir_.Write(file, edited.dump(2));
    dir_.Write(original_file, original.dump(2));
    Row row{name, Digest(original_file), Digest(file), ReasonOf(Admit(serve, file))};
    EXPECT_NE(row.before, row.after) << "the edit does not change the execution-scope digest";
    EXPECT_EQ(row.verdict, "DigestMismatch");
    if (row.verdict != "DigestMismatch") failures.push_back(name + " (" + row.verdict + ")");
    rows.push_back(row);
  }

  std::cout << "\n" << std::left << std::setw(48) << "edit" << std::setw(24) << "digest before" << std::setw(24)
            << "digest after" << "verdict\n";
  auto short_digest = [](const std::string& d) { return d.size() > 7 + 16 ? d.substr(7, 16) : d; };
  for (const auto& r : rows) {
    std::cout << std::setw(48) << r.edit << std::setw(24) << short_digest(r.before) << std::setw(24)
              << (r.after == r.before ? "(unchanged)" : short_digest(r.after)) << r.verdict << "\n";
  }
  std::cout << rows.size() << " edits, " << failures.size() << " not denied DigestMismatch\n";
  for (const auto& f : failures) std::cout << "  " << f << "\n";
}

}  // namespace
}  // namespace execgov
