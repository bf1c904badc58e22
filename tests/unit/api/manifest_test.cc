#include <gtest/gtest.h>

#include "api/manifest.h"

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

TEST(ManifestTest, ScalarsResolveLikeKubectl) {
  auto docs = ParseManifests("a: 1\nb: '1'\nc: true\nd: yes\ne: \"yes\"\nf: ~\ng: 1.5\nh: hello\ni: 0x1F\nj: off\n", "s");
  ASSERT_TRUE(docs.ok());
  const Json& d = (*docs)[0];
  EXPECT_EQ(d["a"], 1);
  EXPECT_EQ(d["b"], "1");
  EXPECT_EQ(d["c"], true);
  EXPECT_EQ(d["d"], true);
  EXPECT_EQ(d["e"], "yes");
  EXPECT_TRUE(d["f"].is_null());
  EXPECT_EQ(d["g"], 1.5);
  EXPECT_EQ(d["h"], "hello");
  EXPECT_EQ(d["i"], 31);
  EXPECT_EQ(d["j"], false);
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

}  // namespace
}  // namespace execgov::api
