// Shared by the kube and runtime integration tests: a client for the
// control-plane fixture's API server (EXECGOV_TESTENV_DIR), a namespace per
// test, a throw-away CRD per test (so nothing cluster-wide is shared with
// tests running in parallel), and polling with a deadline for the cluster's
// state.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "kube/client.h"

namespace execgov::kube::testenv {

inline std::string Dir() {
  const char* dir = std::getenv("EXECGOV_TESTENV_DIR");
  return dir ? dir : "";
}

inline std::string Kubeconfig() { return Dir() + "/kubeconfig"; }

// kubectl from the control plane's build, with the fixture's kubeconfig.
inline std::string Kubectl() {
  return std::string(EXECGOV_SOURCE_DIR) + "/.cache/controlplane/bin/kubectl --kubeconfig " + Kubeconfig();
}

inline StatusOr<RestConfig> Config() {
  // ctest's fixture always sets it; without it nothing was tested, so fail.
  if (Dir().empty()) return FailedPrecondition("no control plane: EXECGOV_TESTENV_DIR is not set (run through ctest)");
  return LoadKubeconfig(Kubeconfig());
}

inline std::unique_ptr<Client> Connect(const ClientOptions& options = {}) {
  auto config = Config();
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (!config.ok()) return nullptr;
  auto client = NewClient(*config, options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

// "<prefix>-<pid>-<test name, lowercased>", at most 63 characters.
inline std::string UniqueName(const std::string& prefix) {
  std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::string clean;
  for (char c : test) {
    if (std::isalnum(static_cast<unsigned char>(c))) clean += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  // A counter too: a test repeated in one process (--gtest_repeat) must not
  // meet its previous namespace, which may still be terminating.
  static std::atomic<int> serial{0};
  std::string name = prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + "-" + clean;
  if (name.size() > 63) name.resize(63);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name;
}

// Polls `f` until it is true or `deadline` passes: for the cluster's state,
// never for time itself.
template <typename F>
bool Poll(F f, std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (f()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

inline Status CreateNamespace(Client& client, const std::string& ns) {
  return client.Create("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}})
      .status();
}

// A namespaced CRD "widgets.<group>" (kind Widget, version v1) with a status
// subresource; any fields allowed.
inline nlohmann::json WidgetCrd(const std::string& group) {
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "widgets." + group}}},
          {"spec",
           {{"group", group},
            {"scope", "Namespaced"},
            {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}}},
            {"versions",
             nlohmann::json::array({{{"name", "v1"},
                                     {"served", true},
                                     {"storage", true},
                                     {"subresources", {{"status", nlohmann::json::object()}}},
                                     {"schema",
                                      {{"openAPIV3Schema",
                                        {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}})}}}};
}

inline std::string CrdPath(const std::string& group) {
  return ResourcePath("apiextensions.k8s.io/v1", "customresourcedefinitions", "", "widgets." + group);
}

// Creates the CRD and waits until it is Established and its resource answers.
inline Status CreateWidgetCrd(Client& client, const std::string& group, const std::string& ns) {
  auto created = client.Create(ResourcePath("apiextensions.k8s.io/v1", "customresourcedefinitions"), WidgetCrd(group));
  if (!created.ok()) return created.status();
  bool ready = Poll([&] {
    auto crd = client.Get(CrdPath(group));
    if (!crd.ok()) return false;
    for (const auto& c : (*crd)["status"].value("conditions", nlohmann::json::array())) {
      if (c.value("type", "") == "Established" && c.value("status", "") == "True") {
        return client.List(ResourcePath(group + "/v1", "widgets", ns), {}).ok();
      }
    }
    return false;
  });
  return ready ? Status::Ok() : Status(StatusCode::kDeadlineExceeded, "CRD widgets." + group + " not established");
}

// Deletes the CRD (and so every Widget) and waits until it is gone.
inline Status DeleteWidgetCrd(Client& client, const std::string& group) {
  Status st = client.Delete(CrdPath(group));
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  bool gone = Poll([&] { return client.Get(CrdPath(group)).status().code() == StatusCode::kNotFound; },
                   std::chrono::seconds(60));
  return gone ? Status::Ok() : Status(StatusCode::kDeadlineExceeded, "CRD widgets." + group + " not deleted");
}

// A test in a namespace of its own ("<prefix>-<pid>-<test>"), deleted
// afterwards, with a client of the fixture's API server.
class NamespaceTest : public ::testing::Test {
 protected:
  explicit NamespaceTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    client_ = Connect();
    ASSERT_NE(client_, nullptr);
    ns_ = UniqueName(prefix_);
    Status st = CreateNamespace(*client_, ns_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override {
    if (client_) (void)client_->Delete(ResourcePath("v1", "namespaces", "", ns_));
  }

  std::string prefix_;
  std::unique_ptr<Client> client_;
  std::string ns_;
};

inline nlohmann::json ConfigMap(const std::string& ns, const std::string& name, const nlohmann::json& data = nlohmann::json::object(),
                                const nlohmann::json& labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
          {"data", data}};
}

}  // namespace execgov::kube::testenv
