#include <gtest/gtest.h>

#include "api/manifest.h"

#include <functional>
#include <iterator>

namespace execgov::api {
namespace {

TEST(ManifestTest, SeveralYamlDocumentsAndLists) {
  auto docs = ParseManifests(R"(
apiVersion: v1
kind: Pod
metadata: {name: a}
---
# only a comment
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: b}}
- {apiVersion: v1, kind: Pod, metadata: {name: c}}
)",
                             "m.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[2]["metadata"]["name"], "c");
}

// Each expected value is what kubectl (v1.32, `kubectl label --local -o json`,
// which reads manifests through sigs.k8s.io/yaml with no server) printed for
// the same plain scalar.
TEST(ManifestTest, ScalarsResolveLikeKubectl) {
  struct Case {
    std::string plain;
    Json want;
  } cases[] = {
      {"1", 1}, {"hello", "hello"}, {"~", nullptr}, {"null", nullptr}, {"Null", nullptr}, {"NULL", nullptr},
      {"nUll", "nUll"}, {"1.5", 1.5},
      // YAML 1.1 booleans, as go-yaml v2 knows them; mixed case is a string.
      {"y", true}, {"Y", true}, {"yes", true}, {"Yes", true}, {"YES", true}, {"on", true}, {"On", true},
      {"ON", true}, {"true", true}, {"True", true}, {"TRUE", true}, {"n", false}, {"N", false}, {"no", false},
      {"No", false}, {"NO", false}, {"off", false}, {"Off", false}, {"OFF", false}, {"false", false},
      {"False", false}, {"FALSE", false}, {"yEs", "yEs"}, {"tRUE", "tRUE"},
      // Integers in Go syntax: a leading 0 is octal (defaultMode: 0644 is 420).
      {"0644", 420}, {"0755", 493}, {"0o755", 493}, {"0x1F", 31}, {"0X1F", 31}, {"-0x1F", -31}, {"+0x10", 16},
      {"0b101", 5}, {"0B101", 5}, {"1_000", 1000}, {"1__0", 10}, {"+1", 1}, {"-0", 0},
      {"-9223372036854775808", INT64_MIN}, {"9223372036854775807", INT64_MAX},
      {"0o", "0o"}, {"0b", "0b"},
      // Floats; an integral one reaches the API server as an integer.
      {"1e3", 1000}, {"08", 8}, {".5", 0.5}, {".5_0", 0.5}, {"1.", 1}, {"1_000.5", 1000.5},
      {"6.8523015e+5", 685230.15}, {"1.5e-7", 1.5e-7}, {"-0.0", 0}, {"0.1e1_0", 1000000000},
      {"99999999999999999999", 1e20}, {"9223372036854775808", 9223372036854775808.0},
      {"18446744073709551615", 18446744073709551615.0}, {"0xFFFFFFFFFFFFFFFF", 18446744073709551615.0},
      {"+18446744073709551615", 18446744073709551615.0}, {"1e400", "1e400"},
      // Strings to go-yaml: timestamps, sexagesimal, "=".
      {"2026-11-21", "2026-11-21"}, {"2026-11-21T10:00:00Z", "2026-11-21T10:00:00Z"},
      {"2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"}, {"12:30", "12:30"}, {"190:20:30", "190:20:30"},
      {"1:30.5", "1:30.5"}, {"=", "="},
  };
  std::string yaml;
  for (size_t i = 0; i < std::size(cases); ++i) yaml += "k" + std::to_string(i) + ": " + cases[i].plain + "\n";
  auto docs = ParseManifests(yaml, "s");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  for (size_t i = 0; i < std::size(cases); ++i) {
    const Json& got = (*docs)[0]["k" + std::to_string(i)];
    EXPECT_EQ(got, cases[i].want) << cases[i].plain << " read as " << got.dump();
    EXPECT_EQ(got.type(), cases[i].want.type()) << cases[i].plain << " read as " << got.dump();
  }
}

TEST(ManifestTest, QuotesAndTagsDecideTheType) {
  auto docs = ParseManifests("a: '1'\nb: \"yes\"\nc: !!int \"0644\"\nd: !!str 0644\ne: !!float 1\nf: !!bool yes\n", "t");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  const Json& d = (*docs)[0];
  EXPECT_EQ(d["a"], "1");
  EXPECT_EQ(d["b"], "yes");
  EXPECT_EQ(d["c"], 420);
  EXPECT_EQ(d["d"], "0644");
  EXPECT_EQ(d["e"], 1);
  EXPECT_EQ(d["f"], true);
  EXPECT_FALSE(ParseManifests("a: !!int abc\n", "t").ok());
  EXPECT_FALSE(ParseManifests("a: !!binary aGk=\n", "t").ok());
}

// A pod spec as written with YAML 1.1 forms; kubectl sends defaultMode 420.
TEST(ManifestTest, PodSpecFormsReadAsKubectlSendsThem) {
  auto docs = ParseManifests(R"(apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  hostNetwork: yes
  automountServiceAccountToken: off
  containers: [{name: c, image: i, securityContext: {runAsUser: 1e3, allowPrivilegeEscalation: no}}]
  volumes: [{name: v, secret: {secretName: s, defaultMode: 0644}}]
)", "pod.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  const Json& spec = (*docs)[0]["spec"];
  EXPECT_EQ(spec["volumes"][0]["secret"]["defaultMode"], 420);
  EXPECT_EQ(spec["hostNetwork"], true);
  EXPECT_EQ(spec["automountServiceAccountToken"], false);
  EXPECT_EQ(spec["containers"][0]["securityContext"]["runAsUser"], 1000);
  EXPECT_TRUE(spec["containers"][0]["securityContext"]["runAsUser"].is_number_integer());
  EXPECT_EQ(spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"], false);
}

// sigs.k8s.io/yaml spells a boolean or integer key as text; kubectl printed
// these member names.
TEST(ManifestTest, PlainKeysAreSpelledAsKubectlSpellsThem) {
  auto docs = ParseManifests("m: {yes: 1, n: 2, 0644: 3, 2026-11-21: 4, \"on\": 5, 12:30: 6, 1_0: 7}\n", "k");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ((*docs)[0]["m"], Json({{"true", 1}, {"false", 2}, {"420", 3}, {"2026-11-21", 4}, {"on", 5}, {"12:30", 6},
                                   {"10", 7}}));
  // kubectl fails on a null key and on .inf; it merges "<<" and formats float
  // keys as float32, which we refuse rather than imitate.
  for (const char* bad : {"m: {~: 1}\n", "m: {null: 1}\n", "m: {1.5: 1}\n", "a: &x {p: 1}\nm: {<<: *x}\n",
                          "m: .inf\n", "m: -.Inf\n", "m: .NaN\n", "m: {yes: 1, true: 2}\n"}) {
    auto r = ParseManifests(bad, "k");
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto quoted = ParseManifests("m: {\"<<\": 1, \"1.5\": 2, \"~\": 3}\n", "k");
  ASSERT_TRUE(quoted.ok()) << quoted.status().ToString();
  EXPECT_EQ((*quoted)[0]["m"], Json({{"<<", 1}, {"1.5", 2}, {"~", 3}}));
}

TEST(ManifestTest, TextYamlForbidsIsRefused) {
  for (std::string bad : {std::string("a: \x01\n"), std::string("a: b\x7f\n"), std::string("a: \xc3\n"),
                          std::string("a: \xc0\xaf\n"), std::string("a: \xed\xa0\x80\n"), std::string("a: \xef\xbf\xbf\n"),
                          std::string("a: b\0c\n", 7)}) {
    auto r = ParseManifests(bad, "c.yaml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("c.yaml: line 1: ", 0), 0u) << r.status().message();
  }
  auto ok = ParseManifests("a: \"caf\xc3\xa9 \xf0\x9f\x98\x80\"\n", "c.yaml");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0]["a"], "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

std::string Nested(int levels, const std::string& open, const std::string& close) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += open;
  s += "1";
  for (int i = 0; i < levels; ++i) s += close;
  return s;
}

std::string BlockNested(int levels) {
  std::string s;
  for (int i = 0; i < levels - 1; ++i) s += std::string(2 * i, ' ') + "a:\n";
  return s + std::string(2 * (levels - 1), ' ') + "a: 1\n";
}

// The document's own mapping is level 1.
TEST(ManifestTest, NestingDepthIsBounded) {
  const int max = kMaxManifestDepth;
  const std::string limit = "nested deeper than 128 levels";
  struct Form {
    std::string name;
    std::function<std::string(int)> make;  // a document `levels` deep
  } forms[] = {
      {"flow sequence", [](int n) { return "a: " + Nested(n - 1, "[", "]") + "\n"; }},
      {"flow mapping", [](int n) { return "a: " + Nested(n - 1, "{b: ", "}") + "\n"; }},
      {"block mapping", [](int n) { return BlockNested(n); }},
      {"block sequence", [](int n) {
         std::string s = "a:\n";
         for (int i = 0; i < n - 1; ++i) s += "- ";
         return s + "x\n";
       }},
      {"json", [](int n) { return "{\"a\": " + Nested(n - 1, "[", "]") + "}"; }},
  };
  for (const auto& f : forms) {
    SCOPED_TRACE(f.name);
    // JSON also goes through crypto::ParseJsonStrict, which may bound depth
    // lower for every JSON text the project reads; 64 levels pass both.
    auto at_limit = ParseManifests(f.make(f.name == "json" ? 64 : max), "d");
    EXPECT_TRUE(at_limit.ok()) << at_limit.status().ToString();
    auto over = ParseManifests(f.make(max + 1), "d");
    ASSERT_FALSE(over.ok());
    EXPECT_NE(over.status().message().find(limit), std::string::npos) << over.status().message();
  }
  // 100,000 levels, closed or not, YAML or JSON: an error, not a crash.
  for (const std::string& hostile :
       {"a: " + Nested(100000, "[", "]"), "a: " + std::string(100000, '['), "a: " + Nested(100000, "{b: ", "}"),
        std::string(100000, '['), "{\"a\":" + Nested(100000, "{\"b\":", "}") + "}", BlockNested(2000)}) {
    auto r = ParseManifests(hostile, "deep");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(limit), std::string::npos) << r.status().message().substr(0, 200);
  }
}

TEST(ManifestTest, AliasesCannotExpandWithoutBound) {
  // A cycle, and a "billion laughs": ten aliases of ten aliases, nine times.
  EXPECT_FALSE(ParseManifests("a: &x [*x]\n", "cycle").ok());
  std::string laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) laughs += (k ? ", " : "") + prev;
    laughs += "]\n";
  }
  auto r = ParseManifests(laughs, "laughs");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("aliases expand"), std::string::npos) << r.status().message();
  // Ordinary use of an alias is fine.
  auto ok = ParseManifests("a: &x {p: 1}\nb: *x\n", "alias");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0]["b"]["p"], 1);
}

TEST(ManifestTest, JsonStreamsAreAccepted) {
  auto docs = ParseManifests(R"({"kind":"Pod","metadata":{"name":"a"}} {"kind":"Pod","metadata":{"name":"b}"}})", "j");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1]["metadata"]["name"], "b}");
}

TEST(ManifestTest, ErrorsNameSourceAndPlace) {
  auto bad = ParseManifests("a: [1, 2\n", "bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("bad.yaml: invalid YAML at line", 0), 0u) << bad.status().message();
  auto dup = ParseManifests("a: 1\na: 2\n", "dup.yaml");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate key \"a\""), std::string::npos);
  EXPECT_FALSE(ParseManifests("- 1\n- 2\n", "list.yaml").ok());
  EXPECT_FALSE(ParseManifests(R"({"a":1,"a":2})", "dup.json").ok());
}

TEST(ManifestTest, EmittedYamlReadsBackToTheSameJson) {
  Json doc = {{"kind", "Pod"},
              {"metadata", {{"name", "x"}, {"annotations", {{"k", "true"}, {"n", "123"}, {"e", ""}, {"y", "yes"}}}}},
              {"spec", {{"args", {"--flag", "- dash", "a: b", "#hash", "null", "0x10", "1.5", "plain"}}, {"n", 3}, {"b", false},
                        {"empty", Json::object()}, {"list", Json::array()}}}};
  std::string yaml = EmitYaml({doc, doc});
  auto back = ParseManifests(yaml, "emitted");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0], doc) << yaml;
}


// How EmitYaml writes one value: the text after "k: " in a one-member document.
std::string Scalar(const Json& v) {
  std::string yaml = EmitYaml({Json{{"k", v}}});
  return yaml.substr(3, yaml.size() - 4);
}

// Strings every YAML reader must read back as those strings: the writer
// quotes them (or finds them safe), and our reader agrees.
TEST(ManifestTest, TrickyStringsRoundTripAndAreQuoted) {
  const std::string tricky[] = {
      "y", "Y", "yes", "no", "on", "off", "true", "False", "TRUE", "n", "N", "yEs", "~", "null", "Null", "NULL", "",
      "0755", "0o755", "0x1F", "0b101", "1_000", "+1", "-0", "1e3", "1.5", ".5", "1.", ".inf", "-.Inf", ".NaN",
      "6.8523015e+5", "1_000.5", "12:30", "190:20:30", "1:30.5", "2026-11-21", "2026-11-21T10:00:00Z",
      "2001-12-14 21:59:43.10 -5", " lead", "trail ", "a #b", "#c", "a: b", "- x", "? q", "*ref", "&anchor", "!tag",
      "%dir", "@at", "`tick", "{x}", "[y]", "|lit", ">fold", "'single'", "\"double\"", "=", "<<", "multi\nline",
      "tab\there", "bell\x07", "del\x7f", "nel\xc2\x85", "caf\xc3\xa9", "\xef\xbf\xbf", "\xf0\x9f\x98\x80", "---",
      "...", "-", "--", "a,b", "C:\\path", "http://x", std::string(1500, 'k')};
  Json annotations = Json::object(), args = Json::array();
  for (const auto& s : tricky) {
    annotations[s] = s;
    args.push_back(s);
    std::string plain = Scalar(Json(s));
    if (s.size() < 1000) {
      EXPECT_EQ(plain.front(), '"') << "written unquoted: " << s;
    }
    for (char c : plain) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "not printable ASCII: " << plain;
  }
  Json doc = {{"kind", "Pod"}, {"metadata", {{"annotations", annotations}}}, {"spec", {{"args", args}}}};
  std::string yaml = EmitYaml({doc});
  auto back = ParseManifests(yaml, "emitted");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_EQ((*back)[0], doc);
  // Safe strings stay readable.
  for (const std::string s : {"--day", "-v", "/rotate", "payments", "agents", "rotate-keys", "a.b/c_d", "--x=1"}) {
    EXPECT_EQ(Scalar(Json(s)), s);
  }
}

TEST(ManifestTest, NumbersKeepTheirTypeInEveryReader) {
  EXPECT_EQ(Scalar(Json(1e20)), "1.0e+20");
  EXPECT_EQ(Scalar(Json(1.5e-7)), "1.5e-07");
  EXPECT_EQ(Scalar(Json(1000.0)), "1000.0");
  EXPECT_EQ(Scalar(Json(-0.0)), "-0.0");
  EXPECT_EQ(Scalar(Json(42)), "42");
  EXPECT_EQ(Scalar(Json(true)), "true");
  EXPECT_EQ(Scalar(Json(nullptr)), "null");
}

// yaml-cpp 0.7 decodes \N and \_ to single bytes that are not UTF-8; such a
// string could never be written back (a finding of the manifest fuzzer).
TEST(ManifestTest, EscapesThatDecodeToNonUtf8AreRefused) {
  EXPECT_FALSE(ParseManifests("a: \"x\\Ny\"\n", "t").ok());
  EXPECT_FALSE(ParseManifests("a: \"x\\_y\"\n", "t").ok());
  EXPECT_FALSE(ParseManifests("\"k\\N\": v\n", "t").ok());
  auto fine = ParseManifests("a: \"x\\u00e9y\"\n", "t");
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->at(0)["a"], "x\u00e9y");
}

// A first document in flow style must not make the stream read as JSON.
TEST(ManifestTest, AStreamOpeningWithAnEmptyObjectReadsBack) {
  const std::vector<Json> docs = {Json::object(), Json::object()};
  auto again = ParseManifests(EmitYaml(docs), "t");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, docs);
}

}  // namespace
}  // namespace execgov::api
