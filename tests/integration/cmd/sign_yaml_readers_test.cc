// `execgov sign` writes YAML that every reader reads back as the manifest that
// was signed. A Job carrying a corpus of strings that YAML readers like to
// take for something else (YAML 1.1 booleans, nulls, octal and sexagesimal
// numbers, dates, indicators, control and non-ASCII characters) as args, env
// values, annotation keys and values, label keys and values is signed, and the
// signed YAML is read back by PyYAML (pure Python and libyaml; what the
// Kubernetes Python client and Ansible use), by our own reader and, when it is
// installed, by kubectl (sigs.k8s.io/yaml). Each must give the very JSON that
// was signed, types included, and the execution-scope digest of what it read
// must be the digest in the artifact.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "api/manifest.h"
#include "support/subprocess.h"

namespace execgov {
namespace {

using Json = nlohmann::json;
using testing::RunCommand;

const std::string kExecgov = EXECGOV_BINARY;
const std::string kReaders = std::string("/usr/bin/python3 ") + EXECGOV_YAML_READERS_SCRIPT;
const std::string kAnnotation = "execgov.io/authorization";

std::vector<std::string> TrickyStrings() {
  return {
      // YAML 1.1 booleans and nulls
      "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "true",
      "True", "TRUE", "false", "False", "FALSE", "yEs", "~", "null", "Null", "NULL", "",
      // integers in every base, floats, special floats
      "0", "0755", "0644", "0o755", "0x1F", "0b101", "1_000", "+1", "-0", "-7", "1e3", "1.5", ".5", "1.", ".inf",
      "-.Inf", "+.INF", ".NaN", "6.8523015e+5", "1_000.5", "1e400", "99999999999999999999",
      // sexagesimal and timestamps
      "12:30", "190:20:30", "1:30.5", "2026-11-21", "2026-11-21T10:00:00Z", "2001-12-14 21:59:43.10 -5",
      "2001-12-14t21:59:43.10-05:00",
      // indicators and structure
      " lead", "trail ", "a #b", "#c", "a: b", "a:", "- x", "-", "--", "---", "...", "? q", "*ref", "&anchor",
      "!tag", "!!str", "%dir", "@at", "`tick", "{x}", "[y]", "}", "]", "a, b", "|lit", ">fold", "'single'",
      "\"double\"", "=", "<<", "multi\nline", "trailing newline\n", "tab\there", "cr\rhere",
      // control and non-ASCII characters
      std::string("nul\0in", 6), "bell\x07", "esc\x1b[0m", "del\x7f", "nel\xc2\x85", "nbsp\xc2\xa0", "caf\xc3\xa9",
      "\xe2\x80\xa8", "\xef\xbb\xbf" "bom", "\xef\xbf\xbf", "\xf0\x9f\x98\x80",
      // what stays unquoted, as a control
      "--day", "--service=payments", "-v", "/rotate", "payments", "C:\\path", "http://example.com/x?y=1",
      std::string(1500, 'k')};
}

// A Job whose args, env values, annotations and labels are the corpus, with
// numbers, booleans and nulls that must stay typed.
Json CorpusJob() {
  auto tricky = TrickyStrings();
  Json annotations = Json::object(), labels = Json::object(), template_labels = Json::object();
  Json args = Json::array(), env = Json::array();
  for (size_t i = 0; i < tricky.size(); ++i) {
    const std::string& s = tricky[i];
    annotations[s] = s;
    labels[s] = "l" + std::to_string(i);
    template_labels["v" + std::to_string(i)] = s;
    args.push_back(s);
    env.push_back({{"name", "E" + std::to_string(i)}, {"value", s}});
  }
  Json container = {{"name", "run"},
                    {"image", "registry.example.com/tools/run:1.0"},
                    {"command", Json::array({"/run"})},
                    {"args", args},
                    {"env", env},
                    {"securityContext", {{"runAsUser", 1000}, {"allowPrivilegeEscalation", false}}}};
  Json volume = {{"name", "v"}, {"secret", {{"secretName", "s"}, {"defaultMode", 420}}}};
  Json pod_spec = {{"restartPolicy", "Never"},
                   {"automountServiceAccountToken", false},
                   {"containers", Json::array({container})},
                   {"volumes", Json::array({volume})}};
  Json spec = {{"backoffLimit", 0},
               {"activeDeadlineSeconds", 600},
               {"template", {{"metadata", {{"labels", template_labels}}}, {"spec", pod_spec}}}};
  Json typed = {{"float", 1.5}, {"big", 1e20}, {"small", 1.5e-7}, {"negative", -7},
                {"null", nullptr}, {"true", true}, {"zero", 0}};
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", "corpus"}, {"namespace", "agents"}, {"annotations", annotations}, {"labels", labels}}},
          {"x-typed", typed},
          {"spec", spec}};
}

// The first place where `got` differs from `want` in type or value.
std::string FirstDifference(const Json& want, const Json& got, const std::string& path = "$") {
  if (want.type() != got.type() && !(want.is_number_integer() && got.is_number_integer())) {
    return path + ": want " + want.dump().substr(0, 80) + ", got " + got.dump().substr(0, 80);
  }
  if (want.is_object()) {
    for (auto it = want.begin(); it != want.end(); ++it) {
      if (!got.contains(it.key())) return path + ": key " + Json(it.key()).dump().substr(0, 80) + " missing";
      std::string d = FirstDifference(it.value(), got[it.key()], path + "[" + Json(it.key()).dump().substr(0, 40) + "]");
      if (!d.empty()) return d;
    }
    for (auto it = got.begin(); it != got.end(); ++it) {
      if (!want.contains(it.key())) return path + ": unexpected key " + Json(it.key()).dump().substr(0, 80);
    }
    return "";
  }
  if (want.is_array()) {
    if (want.size() != got.size()) return path + ": " + std::to_string(got.size()) + " items, want " + std::to_string(want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      std::string d = FirstDifference(want[i], got[i], path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  return want.dump() == got.dump() ? "" : path + ": want " + want.dump().substr(0, 80) + ", got " + got.dump().substr(0, 80);
}

// Removes the artifact annotations sign added (and checks they are there).
Json WithoutArtifact(Json doc, std::string* artifact) {
  for (Json* meta : {&doc["metadata"], &doc["spec"]["template"]["metadata"]}) {
    auto& annotations = (*meta)["annotations"];
    EXPECT_TRUE(annotations.is_object() && annotations.contains(kAnnotation)) << meta->dump().substr(0, 200);
    if (!annotations.is_object() || !annotations.contains(kAnnotation)) continue;
    *artifact = annotations[kAnnotation].get<std::string>();
    annotations.erase(kAnnotation);
    if (annotations.empty()) meta->erase("annotations");
  }
  return doc;
}

std::string Chomp(const std::string& s) { return s.empty() || s.back() != '\n' ? s : s.substr(0, s.size() - 1); }

class SignYamlReadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    job_ = CorpusJob();
    // The input to sign is YAML too (JSON input gets JSON output).
    dir_.Write("job.yaml", api::EmitYaml({job_}));
    auto input = api::ParseManifests(dir_.Read("job.yaml"), "job.yaml");
    ASSERT_TRUE(input.ok()) << input.status().ToString();
    ASSERT_EQ(FirstDifference(job_, (*input)[0]), "");
    ASSERT_EQ(Run("keygen --alg ed25519 --kid k1 --out k1").exit_code, 0);
    auto signed_job =
        Run("sign --key k1.key --kid k1 --issuer ops --subject agent:test --audience cluster-a -f job.yaml");
    ASSERT_EQ(signed_job.exit_code, 0) << signed_job.err;
    dir_.Write("signed.yaml", signed_job.out);
    auto inspect = Run("inspect -f signed.yaml");
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    signed_digest_ = Json::parse(inspect.out)["claims"]["scope"]["digest"].get<std::string>();
    ASSERT_EQ(signed_digest_.rfind("sha256:", 0), 0u);
  }

  testing::CommandResult Run(const std::string& args) { return RunCommand(kExecgov + " " + args, dir_.path()); }

  // What `reader` read must be the signed Job, and digest to the signed digest.
  void ExpectSameAsSigned(const std::string& reader, const Json& loaded) {
    SCOPED_TRACE(reader);
    std::string artifact;
    EXPECT_EQ(FirstDifference(job_, WithoutArtifact(loaded, &artifact)), "");
    EXPECT_EQ(std::count(artifact.begin(), artifact.end(), '.'), 2) << artifact;
    dir_.Write("loaded.json", loaded.dump());
    auto digest = Run("digest -f loaded.json");
    ASSERT_EQ(digest.exit_code, 0) << digest.err;
    EXPECT_EQ(Chomp(digest.out), signed_digest_);
  }

  // Runs the PyYAML loaders on `file`: loader name -> documents.
  Json PyYaml(const std::string& file) {
    auto r = RunCommand(kReaders + " " + file, dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? Json::parse(r.out) : Json::object();
  }

  testing::TempDir dir_;
  Json job_;
  std::string signed_digest_;
};

TEST_F(SignYamlReadersTest, PyYamlReadsWhatWasSigned) {
  Json loaders = PyYaml("signed.yaml");
  ASSERT_TRUE(loaders.contains("SafeLoader")) << loaders.dump().substr(0, 200);
  for (auto it = loaders.begin(); it != loaders.end(); ++it) {
    ASSERT_EQ(it.value().size(), 1u) << it.key();
    ExpectSameAsSigned("PyYAML " + it.key(), it.value()[0]);
  }
}

// The comparison can fail: the same YAML with one date left unquoted is read
// by PyYAML as a date, and with 0644 unquoted as the integer 420.
TEST_F(SignYamlReadersTest, ACorpusStringLeftUnquotedIsCaught) {
  std::string yaml = dir_.Read("signed.yaml");
  for (const std::string quoted : {"\"2026-11-21\"", "\"0644\""}) {
    SCOPED_TRACE(quoted);
    size_t at = yaml.find("- " + quoted + "\n");
    ASSERT_NE(at, std::string::npos);
    std::string changed = yaml;
    changed.replace(at + 2, quoted.size(), quoted.substr(1, quoted.size() - 2));
    dir_.Write("unquoted.yaml", changed);
    Json loaders = PyYaml("unquoted.yaml");
    ASSERT_TRUE(loaders.contains("SafeLoader"));
    std::string artifact;
    EXPECT_NE(FirstDifference(job_, WithoutArtifact(loaders["SafeLoader"][0], &artifact)), "");
  }
}

TEST_F(SignYamlReadersTest, OurReaderReadsWhatWasSigned) {
  auto digest = Run("digest -f signed.yaml");
  ASSERT_EQ(digest.exit_code, 0) << digest.err;
  EXPECT_EQ(Chomp(digest.out), signed_digest_);
  auto docs = api::ParseManifests(dir_.Read("signed.yaml"), "signed.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 1u);
  ExpectSameAsSigned("execgov", (*docs)[0]);
}

// kubectl reads manifests with sigs.k8s.io/yaml; `label --local` prints what
// it read without a server (removing a label the Job does not have changes
// nothing). kubectl comes from $EXECGOV_KUBECTL, the control plane build
// (hack/controlplane/build.sh) or PATH.
TEST_F(SignYamlReadersTest, KubectlReadsWhatWasSigned) {
  std::string kubectl;
  const char* env = std::getenv("EXECGOV_KUBECTL");
  for (const std::string& candidate :
       {std::string(env ? env : ""), std::string(EXECGOV_SOURCE_DIR) + "/.cache/controlplane/bin/kubectl"}) {
    if (!candidate.empty() && access(candidate.c_str(), X_OK) == 0) {
      kubectl = candidate;
      break;
    }
  }
  if (kubectl.empty()) kubectl = Chomp(RunCommand("command -v kubectl").out);
  // hack/test.sh builds kubectl before ctest runs: without it this check would prove nothing.
  ASSERT_FALSE(kubectl.empty()) << "no kubectl: set EXECGOV_KUBECTL or run hack/controlplane/build.sh";
  auto r = RunCommand(kubectl + " label --local -f signed.yaml execgov-not-there- -o json", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectSameAsSigned("kubectl", Json::parse(r.out));
}

// A hostile manifest nested 100,000 deep (issue 24) is refused by every
// command that reads manifests with exit status 2 and one line naming the
// limit; the process does not overflow its stack.
TEST(ManifestDepthCliTest, DeepManifestIsOneLineAndExitTwo) {
  testing::TempDir dir;
  std::string deep_yaml = "kind: Pod\nspec: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  std::string deep_json = "{\"kind\": \"Pod\", \"spec\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  dir.Write("deep.yaml", deep_yaml);
  dir.Write("deep.json", deep_json);
  ASSERT_EQ(RunCommand(kExecgov + " keygen --alg ed25519 --kid k1 --out k1", dir.path()).exit_code, 0);
  for (const std::string file : {"deep.yaml", "deep.json"}) {
    for (const std::string& command :
         {"digest -f " + file, "sign --key k1.key --kid k1 --issuer i --subject s --audience a -f " + file}) {
      SCOPED_TRACE(command);
      auto r = RunCommand(kExecgov + " " + command, dir.path());
      EXPECT_EQ(r.exit_code, 2) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_NE(r.err.find("nested deeper than 128 levels"), std::string::npos) << r.err;
    }
  }
}

}  // namespace
}  // namespace execgov
