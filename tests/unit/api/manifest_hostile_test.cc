// What tests/fuzz/manifest_fuzz.cc and policy_yaml_fuzz.cc found in
// ParseManifests: streams on which yaml-cpp 0.7's LoadAll never returns,
// growing without bound (github.com/jbeder/yaml-cpp/issues/1040), a `kind`
// that is not a string, which ended the process with an exception, and a
// List whose items are not objects. A regression of the first would not
// hang this test for ctest's timeout while eating the machine's memory:
// past a deadline the process ends.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>

#include "api/manifest.h"

namespace execgov::api {
namespace {

StatusOr<std::vector<Json>> ParseWithDeadline(const std::string& text) {
  auto parsing = std::async(std::launch::async, [text] { return ParseManifests(text, "stall.yaml"); });
  if (parsing.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "ParseManifests did not return within 30 s for: " << text;
    std::_Exit(1);  // the parse cannot be stopped and keeps allocating
  }
  return parsing.get();
}

TEST(ManifestHostile, StreamsYamlCppLoopsOnAreRefused) {
  for (const std::string text : {
           ",", " ,\n", "a: 1\n---\n,\n",
           // The fuzzers' reproducers (manifest, policy_yaml), shortened.
           "# probes\n  volumes:\n , scheme: HTTPS, httpHeaders: [{name: X-Probe, value: corpus}]}\n",
           "  \"Pod\",\n    \"Job\"\n   ]\n  },\n",
       }) {
    auto docs = ParseWithDeadline(text);
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_EQ(docs.status().code(), StatusCode::kInvalidArgument) << docs.status().ToString();
    EXPECT_NE(docs.status().message().find("stall.yaml"), std::string::npos) << docs.status().ToString();
  }
}

// The guard counts documents against their "---" and "..." markers: streams
// of empty documents, and documents closed by "...", still read.
TEST(ManifestHostile, EmptyAndEndedDocumentsStillRead) {
  auto docs = ParseWithDeadline("---\n---\na: 1\n...\n---\n# nothing\n---\nb: [x, z]\n...\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0], Json({{"a", 1}}));
  EXPECT_EQ((*docs)[1], Json({{"b", {"x", "z"}}}));
  docs = ParseWithDeadline("a: 1\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ(docs->size(), 1u);
}

// Json::value("kind", "") throws for a kind of another type; an uncaught
// exception ended `execgov sign`, `check`, `digest` and the policy loader.
TEST(ManifestHostile, KindOfAnyTypeIsNoList) {
  for (const std::string text : {"apiVersion: v1\nkind:\n", "kind: 5\nitems: [{a: 1}]\n", "{\"kind\": null}",
                                 "kind: [List]\nitems: []\n"}) {
    auto docs = ParseWithDeadline(text);
    ASSERT_TRUE(docs.ok()) << text << ": " << docs.status().ToString();
    EXPECT_EQ(docs->size(), 1u) << text;
  }
}

// Every document ParseManifests returns is an object, a List's items too.
TEST(ManifestHostile, ListItemsMustBeObjects) {
  for (const std::string text : {"apiVersion: v1\nkind: List\nitems:\n- a# opin\n",
                                 "{\"kind\": \"List\", \"items\": [{\"kind\": \"Pod\"}, 7]}",
                                 "kind: List\nitems: [{kind: List, items: [null]}]\n"}) {
    auto docs = ParseWithDeadline(text);
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_NE(docs.status().message().find("] is not a mapping"), std::string::npos) << docs.status().ToString();
  }
  auto docs = ParseWithDeadline("kind: List\nitems: [{kind: Pod}, {kind: List, items: [{kind: Job}]}]\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ(*docs, (std::vector<Json>{{{"kind", "Pod"}}, {{"kind", "Job"}}}));
}

}  // namespace
}  // namespace execgov::api
