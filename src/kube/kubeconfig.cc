#include "kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>

#include "core/file.h"
#include "crypto/encoding.h"

namespace execgov::kube {
namespace {

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

std::string Dir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// `<key>-data` (base64) or `<key>` (a file, relative to the kubeconfig).
StatusOr<std::string> DataOrFile(const YAML::Node& node, const std::string& key, const std::string& base) {
  if (node[key + "-data"]) {
    auto raw = crypto::Base64Decode(node[key + "-data"].as<std::string>());
    if (!raw) return InvalidArgument(key + "-data is not base64");
    return *raw;
  }
  if (node[key]) {
    std::string file = node[key].as<std::string>();
    if (!file.empty() && file[0] != '/') file = base + "/" + file;
    return ReadFile(file);
  }
  return std::string();
}

// One kubeconfig file, parsed.
struct Doc {
  std::string path;
  YAML::Node node;
};

// The `field` of the entry called `name` in the first file whose `list`
// (clusters, users, contexts) has one, as kubectl merges them; *from (when
// given) is that file. Undefined when none has.
YAML::Node Named(const std::vector<Doc>& docs, const char* list, const std::string& name, const char* field,
                 const Doc** from) {
  for (const auto& doc : docs) {
    const YAML::Node& entries = doc.node[list];
    if (!entries || !entries.IsSequence()) continue;
    for (const auto& item : entries) {
      if (item["name"] && item["name"].as<std::string>() == name) {
        if (from) *from = &doc;
        return item[field];
      }
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);  // a default Node() is a defined null
}

// What the files are called in an error: the one file, or the list.
std::string Where(const std::vector<Doc>& docs) {
  if (docs.size() == 1) return docs[0].path;
  std::string all;
  for (const auto& d : docs) all += (all.empty() ? "" : ":") + d.path;
  return "kubeconfig " + all;
}

}  // namespace

StatusOr<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context_name) {
  return LoadKubeconfigs({path}, context_name);
}

StatusOr<RestConfig> LoadKubeconfigs(const std::vector<std::string>& paths, const std::string& context_name) {
  if (paths.empty()) return InvalidArgument("no kubeconfig file given");
  std::vector<Doc> docs;
  for (const auto& path : paths) {
    EXECGOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    try {
      docs.push_back({path, YAML::Load(text)});
    } catch (const YAML::Exception& e) {
      return InvalidArgument(path + ": " + e.what());
    }
  }
  const std::string where = Where(docs);
  try {
    std::string ctx_name = context_name;
    for (size_t i = 0; ctx_name.empty() && i < docs.size(); ++i) {  // the first file that sets it
      ctx_name = docs[i].node["current-context"].as<std::string>("");
    }
    if (ctx_name.empty()) return InvalidArgument(where + ": no current-context");
    YAML::Node ctx = Named(docs, "contexts", ctx_name, "context", nullptr);
    if (!ctx) return InvalidArgument(where + ": no context \"" + ctx_name + "\"");
    std::string cluster_name = ctx["cluster"].as<std::string>(""), user_name = ctx["user"].as<std::string>("");
    const Doc* cluster_from = nullptr;
    YAML::Node cluster = Named(docs, "clusters", cluster_name, "cluster", &cluster_from);
    if (!cluster) return InvalidArgument(where + ": no cluster \"" + cluster_name + "\"");
    const Doc* user_from = nullptr;
    YAML::Node user = Named(docs, "users", user_name, "user", &user_from);
    // A relative file in an entry is relative to the file that holds the entry.
    RestConfig c;
    c.server = cluster["server"].as<std::string>("");
    if (c.server.empty()) {
      return InvalidArgument(cluster_from->path + ": cluster \"" + cluster_name + "\" has no server");
    }
    c.insecure_skip_verify = cluster["insecure-skip-tls-verify"].as<bool>(false);
    EXECGOV_ASSIGN_OR_RETURN(c.ca_pem, DataOrFile(cluster, "certificate-authority", Dir(cluster_from->path)));
    c.ns = ctx["namespace"].as<std::string>("");
    if (user) {
      if (user["exec"] || user["auth-provider"]) {
        return InvalidArgument(user_from->path + ": user \"" + user_name +
                               "\" uses an exec or auth-provider plugin, which is not supported");
      }
      const std::string base = Dir(user_from->path);
      EXECGOV_ASSIGN_OR_RETURN(c.cert_pem, DataOrFile(user, "client-certificate", base));
      EXECGOV_ASSIGN_OR_RETURN(c.key_pem, DataOrFile(user, "client-key", base));
      c.token = user["token"].as<std::string>("");
      if (c.token.empty() && user["tokenFile"]) {
        std::string file = user["tokenFile"].as<std::string>();
        if (!file.empty() && file[0] != '/') file = base + "/" + file;
        EXECGOV_ASSIGN_OR_RETURN(c.token, ReadTokenFile(file));
        c.token_file = std::make_shared<TokenFile>(file, c.token);
      }
    }
    while (!c.token.empty() && (c.token.back() == '\n' || c.token.back() == '\r')) c.token.pop_back();
    return c;
  } catch (const YAML::Exception& e) {
    return InvalidArgument(where + ": " + e.what());
  }
}

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  EXECGOV_ASSIGN_OR_RETURN(std::string token, ReadFile(path));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return InvalidArgument(path + ": the token file is empty");
  return token;
}

TokenFile::TokenFile(std::string path, std::string token, const Clock* clock, std::chrono::seconds refresh)
    : path_(std::move(path)),
      clock_(clock ? clock : &SystemClock::Get()),
      refresh_(refresh),
      token_(std::move(token)),
      read_at_(clock_->Now()) {}

std::string TokenFile::Token() {
  std::lock_guard<std::mutex> l(mu_);
  auto now = clock_->Now();
  if (now - read_at_ >= refresh_) {
    read_at_ = now;
    auto fresh = ReadTokenFile(path_);
    if (fresh.ok()) token_ = std::move(fresh).value();
  }
  return token_;
}

StatusOr<RestConfig> InClusterConfig() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port) return NotFound("not running in a cluster (no KUBERNETES_SERVICE_HOST)");
  RestConfig c;
  std::string h = host;
  c.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  const std::string dir = kServiceAccountDir;
  EXECGOV_ASSIGN_OR_RETURN(c.token, ReadTokenFile(dir + "/token"));
  c.token_file = std::make_shared<TokenFile>(dir + "/token", c.token);
  EXECGOV_ASSIGN_OR_RETURN(c.ca_pem, ReadFile(dir + "/ca.crt"));
  auto ns = ReadFile(dir + "/namespace");
  if (ns.ok()) c.ns = *ns;
  for (std::string* s : {&c.token, &c.ns}) {
    while (!s->empty() && (s->back() == '\n' || s->back() == '\r' || s->back() == ' ')) s->pop_back();
  }
  return c;
}

StatusOr<RestConfig> DefaultRestConfig(const std::string& path) {
  if (!path.empty()) return LoadKubeconfig(path);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    // A list, merged as kubectl merges it; a file in it that does not exist
    // is skipped, as kubectl skips it.
    std::vector<std::string> paths;
    std::string_view rest = env;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string entry(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      std::error_code ec;  // a file that cannot even be looked at is read below, and its error reported
      if (!entry.empty() && (std::filesystem::exists(entry, ec) || ec)) paths.push_back(std::move(entry));
    }
    if (paths.empty()) return NotFound(std::string("no kubeconfig: none of the files in KUBECONFIG (") + env + ") exists");
    return LoadKubeconfigs(paths);
  }
  auto in_cluster = InClusterConfig();
  if (in_cluster.ok() || in_cluster.status().code() != StatusCode::kNotFound) return in_cluster;
  const char* home = std::getenv("HOME");
  if (!home) return NotFound("no kubeconfig: set --kubeconfig or KUBECONFIG");
  return LoadKubeconfig(std::string(home) + "/.kube/config");
}

}  // namespace execgov::kube
