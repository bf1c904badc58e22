#include "api/execution_scope.h"

#include <set>
#include <string_view>

#include "crypto/json.h"
#include "crypto/sha256.h"

// Execution-scope projection 2 (docs/design.md §3.2). The projection is the
// pod spec itself, less a named list of fields that do not decide what runs,
// as whom, with which privileges, host access or data; everything else,
// including fields a later Kubernetes adds, is hashed. Each rule below that
// makes two spellings hash alike is one the API server itself applies when it
// stores the object (a default, or Go's omitempty), so that the manifest an
// authority signed and the object the webhook is asked about agree; none of
// them folds two spellings that Kubernetes runs differently.
//
// The defaults are those of Kubernetes v1.37: pkg/apis/core/v1/defaults.go
// and the `+default=` markers of k8s.io/api/core/v1/types.go.

namespace execgov::api {
namespace {

// Deeper than any real pod spec (a Pod nests ~12 levels below spec).
constexpr int kMaxDepth = 64;

// Pod spec fields that are not hashed, each for a reason docs/design.md
// gives: scheduling (where and when, not what or as whom), values admission
// plugins or controllers write (tolerations, priority, overhead, pull
// secrets from the service account), lifetimes and names.
const std::set<std::string_view>& ExcludedPodFields() {
  static const std::set<std::string_view> fields = {
      "activeDeadlineSeconds", "affinity",         "hostname",       "hostnameOverride",
      "imagePullSecrets",      "nodeSelector",     "overhead",       "preemptionPolicy",
      "priority",              "priorityClassName", "readinessGates", "resources",
      "restartPolicy",         "schedulerName",    "schedulingGates", "schedulingGroup",
      "setHostnameAsFQDN",     "subdomain",        "terminationGracePeriodSeconds",
      "tolerations",           "topologySpreadConstraints",           "workloadRef"};
  return fields;
}

// Container fields that are not hashed: resource amounts (LimitRanger writes
// them; resources.claims, which give devices, are kept), where the
// termination message goes, and whether a terminal is attached.
const std::set<std::string_view>& ExcludedContainerFields() {
  static const std::set<std::string_view> fields = {"resizePolicy", "stdin", "stdinOnce", "terminationMessagePath",
                                                    "terminationMessagePolicy", "tty"};
  return fields;
}

// A probe's timing, which the API server defaults and which decides only when
// the kubelet looks; the handler (what it runs or where it connects) is kept.
const std::set<std::string_view>& ProbeTimingFields() {
  static const std::set<std::string_view> fields = {"failureThreshold", "initialDelaySeconds", "periodSeconds",
                                                    "successThreshold", "terminationGracePeriodSeconds",
                                                    "timeoutSeconds"};
  return fields;
}

// Members whose "" the API server keeps and Kubernetes reads as a value:
// storageClassName "" means no class at all, absent means the default class.
bool EmptyStringIsValue(std::string_view member) {
  return member == "storageClassName" || member == "volumeAttributesClassName";
}

// Members where false means what absent means, so Go's omitempty drops it or
// the field is a pointer whose nil is false: host namespaces off, read-write,
// not optional, no TLS to a ScaleIO gateway.
bool FalseIsAbsent(std::string_view member) {
  return member == "hostNetwork" || member == "hostPID" || member == "hostIPC" || member == "readOnly" ||
         member == "optional" || member == "sslEnabled";
}

// Plain int32 members with omitempty, which the API server drops when 0.
bool ZeroIsAbsent(std::string_view member) { return member == "hostPort" || member == "partition"; }

// Whether the members of the object at `key` (an item of the list `key`
// when `item`) are the variants of a union, chosen by presence: there an
// empty object is a value (`emptyDir: {}` is a volume), elsewhere it is an
// empty map or a struct of defaults and means what absent means.
bool MembersAreVariants(std::string_view key, bool item) {
  if (item) return key == "volumes" || key == "envFrom" || key == "sources";
  return key == "livenessProbe" || key == "readinessProbe" || key == "startupProbe" || key == "postStart" ||
         key == "preStop" || key == "valueFrom";
}

class Projector {
 public:
  explicit Projector(GovernedKind kind) : kind_(kind) {}

  StatusOr<Json> Project(const Json& spec);

 private:
  void Fail(std::string message) {
    if (status_.ok()) status_ = InvalidArgument(std::move(message));
  }

  void PodDefaults(Json* spec);
  void Container(Json* c, bool host_network);
  void Handler(Json* handler);
  void Volume(Json* v);
  void Env(Json* env);
  void FieldRefs(Json* items);
  void Quantity(Json* parent, const char* member);
  void QuantityMap(Json* parent, const char* member);
  void StripServiceAccountToken(Json* spec);

  // The rules every hashed value follows; false when `v` means what an
  // absent member means.
  bool Normalize(Json* v, std::string_view key, bool item, int depth);

  GovernedKind kind_;
  Status status_;
};

// Sets `member` to `value` where the API server would: when it is absent,
// null, or an empty string.
void Default(Json* obj, const char* member, Json value) {
  if (!obj->is_object()) return;
  auto it = obj->find(member);
  if (it == obj->end() || it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty())) {
    (*obj)[member] = std::move(value);
  }
}

Json* Member(Json* obj, const char* member) {
  if (!obj->is_object()) return nullptr;
  auto it = obj->find(member);
  return it == obj->end() ? nullptr : &*it;
}

// The tag kubelet and the API server read from an image reference
// (pkg/util/parsers.ParseImageName): the tag if one is written, "" for a
// reference pinned only by digest, and "latest" for a bare name.
std::string ImageTag(const std::string& image) {
  std::string_view ref = image;
  size_t at = ref.find('@');
  bool digest = at != std::string_view::npos;
  if (digest) ref = ref.substr(0, at);
  size_t slash = ref.rfind('/');
  std::string_view last = slash == std::string_view::npos ? ref : ref.substr(slash + 1);
  size_t colon = last.find(':');
  if (colon != std::string_view::npos) return std::string(last.substr(colon + 1));
  return digest ? "" : "latest";
}

Json PullPolicyFor(const Json& image) {
  std::string tag = image.is_string() ? ImageTag(image.get<std::string>()) : "";
  return tag == "latest" ? "Always" : "IfNotPresent";
}

void Projector::Handler(Json* handler) {
  if (!handler || !handler->is_object()) return;
  if (Json* get = Member(handler, "httpGet"); get && get->is_object()) {
    Default(get, "path", "/");
    Default(get, "scheme", "HTTP");
  }
}

void Projector::FieldRefs(Json* items) {
  if (!items || !items->is_array()) return;
  for (auto& item : *items) {
    if (Json* ref = Member(&item, "fieldRef")) Default(ref, "apiVersion", "v1");
    if (Json* ref = Member(&item, "resourceFieldRef")) Quantity(ref, "divisor");
  }
}

void Projector::Env(Json* env) {
  if (!env || !env->is_array()) return;
  for (auto& var : *env) {
    Json* from = Member(&var, "valueFrom");
    if (!from) continue;
    if (Json* ref = Member(from, "fieldRef")) Default(ref, "apiVersion", "v1");
    if (Json* ref = Member(from, "resourceFieldRef")) Quantity(ref, "divisor");
  }
}

void Projector::Container(Json* c, bool host_network) {
  if (!c->is_object()) return Fail("a container is not an object");
  for (std::string_view f : ExcludedContainerFields()) c->erase(std::string(f));
  if (Json* res = Member(c, "resources")) {
    // Only the claims on devices are kept of the resources.
    Json claims = res->is_object() && res->contains("claims") ? (*res)["claims"] : Json();
    if (claims.is_null()) c->erase("resources");
    else *res = Json{{"claims", std::move(claims)}};
  }
  if (c->contains("image") || c->contains("imagePullPolicy")) {
    Default(c, "imagePullPolicy", PullPolicyFor(c->value("image", Json())));
  }
  if (Json* ports = Member(c, "ports"); ports && ports->is_array()) {
    for (auto& port : *ports) {
      Default(&port, "protocol", "TCP");
      // With the host's network every container port is a host port.
      if (host_network && port.is_object() && port.contains("containerPort")) {
        auto hp = port.find("hostPort");
        if (hp == port.end() || hp->is_null() || *hp == 0) port["hostPort"] = port["containerPort"];
      }
    }
  }
  Env(Member(c, "env"));
  for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    Json* p = Member(c, probe);
    if (!p || !p->is_object()) continue;
    for (std::string_view f : ProbeTimingFields()) p->erase(std::string(f));
    Handler(p);  // grpc.service defaults to "", which hashes as absent
  }
  if (Json* lifecycle = Member(c, "lifecycle")) {
    Handler(Member(lifecycle, "postStart"));
    Handler(Member(lifecycle, "preStop"));
  }
}

void Projector::Volume(Json* v) {
  if (!v->is_object()) return Fail("a volume is not an object");
  bool has_source = false;
  for (const auto& [member, value] : v->items()) {
    if (member != "name" && !value.is_null()) has_source = true;
  }
  // A volume that names no source is an emptyDir.
  if (!has_source) (*v)["emptyDir"] = Json::object();
  for (const char* mode_source : {"secret", "configMap", "downwardAPI", "projected"}) {
    if (Json* s = Member(v, mode_source); s && s->is_object()) Default(s, "defaultMode", 420);
  }
  if (Json* s = Member(v, "downwardAPI")) FieldRefs(Member(s, "items"));
  if (Json* s = Member(v, "projected"); s && s->is_object()) {
    if (Json* sources = Member(s, "sources"); sources && sources->is_array()) {
      for (auto& source : *sources) {
        if (Json* token = Member(&source, "serviceAccountToken")) Default(token, "expirationSeconds", 3600);
        if (Json* api = Member(&source, "downwardAPI")) FieldRefs(Member(api, "items"));
      }
    }
  }
  if (Json* s = Member(v, "emptyDir")) Quantity(s, "sizeLimit");
  if (Json* s = Member(v, "iscsi")) Default(s, "iscsiInterface", "default");
  if (Json* s = Member(v, "rbd")) {
    Default(s, "pool", "rbd");
    Default(s, "user", "admin");
    Default(s, "keyring", "/etc/ceph/keyring");
  }
  if (Json* s = Member(v, "azureDisk")) {
    Default(s, "cachingMode", "ReadWrite");
    Default(s, "fsType", "ext4");
    Default(s, "kind", "Shared");
  }
  if (Json* s = Member(v, "scaleIO")) {
    Default(s, "storageMode", "ThinProvisioned");
    Default(s, "fsType", "xfs");
  }
  if (Json* s = Member(v, "image"); s && s->is_object()) {
    Default(s, "pullPolicy", PullPolicyFor(s->value("reference", Json())));
  }
  if (Json* s = Member(v, "ephemeral"); s && Member(s, "volumeClaimTemplate")) {
    if (Json* claim_spec = Member(Member(s, "volumeClaimTemplate"), "spec")) {
      Default(claim_spec, "volumeMode", "Filesystem");
      if (Json* res = Member(claim_spec, "resources")) {
        QuantityMap(res, "requests");
        QuantityMap(res, "limits");
      }
    }
  }
}

void Projector::PodDefaults(Json* spec) {
  // serviceAccount is the deprecated spelling of serviceAccountName; the API
  // server reads it when serviceAccountName is empty, and runs the Pod as
  // "default" when both are.
  std::string sa = StringAt(*spec, {"serviceAccountName"});
  if (sa.empty()) sa = StringAt(*spec, {"serviceAccount"});
  spec->erase("serviceAccount");
  (*spec)["serviceAccountName"] = sa.empty() ? "default" : sa;
  Default(spec, "dnsPolicy", "ClusterFirst");
  Default(spec, "enableServiceLinks", true);
}

// The exact value of a resource.Quantity ("1Gi", "1024Mi", "0.5Gi", "1e3",
// "100m") as "<digits>e<exponent>", so that every spelling the API server
// would store in canonical form hashes alike. Empty when `text` is no
// quantity.
std::string QuantityValue(std::string_view text) {
  if (text.empty() || text.size() > 64) return "";
  size_t i = 0;
  std::string sign;
  if (text[i] == '+' || text[i] == '-') {
    if (text[i] == '-') sign = "-";
    ++i;
  }
  std::string digits;
  int64_t exp10 = 0;
  bool seen_digit = false, seen_dot = false;
  for (; i < text.size(); ++i) {
    char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      digits += ch;
      seen_digit = true;
      if (seen_dot) --exp10;
    } else if (ch == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return "";
  std::string_view suffix = text.substr(i);
  int binary_power = 0;  // multiply by 2^(10 * binary_power)
  static const std::pair<std::string_view, int> kBinary[] = {{"Ki", 1}, {"Mi", 2}, {"Gi", 3},
                                                             {"Ti", 4}, {"Pi", 5}, {"Ei", 6}};
  static const std::pair<std::string_view, int> kDecimal[] = {{"n", -9}, {"u", -6}, {"m", -3}, {"", 0}, {"k", 3},
                                                              {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  bool known = false;
  for (const auto& [s, p] : kBinary) {
    if (suffix == s) binary_power = p, known = true;
  }
  for (const auto& [s, p] : kDecimal) {
    if (suffix == s) exp10 += p, known = true;
  }
  if (!known) {
    // A decimal exponent: e or E, an optional sign, then at most 3 digits.
    if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return "";
    size_t j = 1;
    bool negative = false;
    if (suffix[j] == '+' || suffix[j] == '-') negative = suffix[j++] == '-';
    if (j == suffix.size() || suffix.size() - j > 3) return "";
    int64_t e = 0;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9') return "";
      e = e * 10 + (suffix[j] - '0');
    }
    exp10 += negative ? -e : e;
  }
  // digits * 2^(10 * binary_power), in decimal, by doubling.
  for (int n = 0; n < 10 * binary_power; ++n) {
    int carry = 0;
    for (size_t k = digits.size(); k-- > 0;) {
      int d = (digits[k] - '0') * 2 + carry;
      digits[k] = static_cast<char>('0' + d % 10);
      carry = d / 10;
    }
    if (carry) digits.insert(digits.begin(), static_cast<char>('0' + carry));
  }
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  digits.erase(0, first);
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    ++exp10;
  }
  return sign + digits + "e" + std::to_string(exp10);
}

void Projector::Quantity(Json* parent, const char* member) {
  Json* q = Member(parent, member);
  if (!q || q->is_null()) return;
  std::string text = q->is_string() ? q->get<std::string>() : q->is_number() ? q->dump() : "";
  std::string value = QuantityValue(text);
  if (value.empty()) return Fail(std::string("\"") + member + "\" is not a quantity");
  // A divisor of 0 (how the API server writes an unset one) or 1 divides by 1.
  if (std::string_view(member) == "divisor" && (value == "0" || value == "1e0")) {
    parent->erase(member);
    return;
  }
  *q = value;
}

void Projector::QuantityMap(Json* parent, const char* member) {
  Json* map = Member(parent, member);
  if (!map || !map->is_object()) return;
  for (auto& [name, unused] : map->items()) Quantity(map, name.c_str());
}

bool Projector::Normalize(Json* v, std::string_view key, bool item, int depth) {
  if (depth > kMaxDepth) {
    Fail("the pod spec is nested more than " + std::to_string(kMaxDepth) + " levels deep");
    return false;
  }
  switch (v->type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::array: {
      // Items are values, never dropped: "" in args is an argument.
      for (auto& e : *v) {
        if (e.is_null()) {
          Fail("\"" + std::string(key) + "\" holds a null item");
          return false;
        }
        if (!Normalize(&e, key, /*item=*/true, depth + 1) && e.is_object()) e = Json::object();
      }
      return !v->empty();
    }
    case Json::value_t::object: {
      const bool variants = MembersAreVariants(key, item);
      for (auto it = v->begin(); it != v->end();) {
        const std::string& member = it.key();
        Json& value = it.value();
        bool keep = Normalize(&value, member, /*item=*/false, depth + 1);
        if (keep && value.is_string() && value.get_ref<const std::string&>().empty()) keep = EmptyStringIsValue(member);
        if (keep && value.is_boolean() && !value.get<bool>()) keep = !FalseIsAbsent(member);
        if (keep && value.is_number() && value == 0) keep = !ZeroIsAbsent(member);
        if (!keep && variants && value.is_object()) {
          value = Json::object();
          keep = true;
        }
        if (keep) ++it;
        else it = v->erase(it);
      }
      return !v->empty();
    }
    default:
      return true;
  }
}

// Removes what the ServiceAccount admission plugin adds to a Pod
// (plugin/pkg/admission/serviceaccount, mountServiceAccountToken): one
// projected volume named kube-api-access-<5 generated characters> with
// exactly the token, the cluster's CA bundle and the namespace, and its
// read-only mount at the token path in init and regular containers. Only on
// a Pod (templates never get it), only when the Pod does not opt out of the
// token (then the plugin adds nothing, and such a volume was written by
// someone and is hashed), and only by exact shape after normalization.
void Projector::StripServiceAccountToken(Json* spec) {
  if (kind_ != GovernedKind::kPod) return;
  if (Json* automount = Member(spec, "automountServiceAccountToken"); automount && *automount == false) return;
  Json* volumes = Member(spec, "volumes");
  if (!volumes || !volumes->is_array()) return;
  static const std::string kPrefix = "kube-api-access-";
  static const std::string_view kGenerated = "bcdfghjklmnpqrstvwxz2456789";  // k8s.io/apimachinery utilrand
  static const Json kSource = Json::parse(R"({"defaultMode":420,"sources":[
      {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
      {"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},
      {"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]})");
  std::string name;
  for (auto it = volumes->begin(); it != volumes->end(); ++it) {
    const std::string n = StringAt(*it, {"name"});
    bool generated = n.size() == kPrefix.size() + 5 && n.compare(0, kPrefix.size(), kPrefix) == 0 &&
                     n.find_first_not_of(kGenerated, kPrefix.size()) == std::string::npos;
    if (generated && it->size() == 2 && it->contains("projected") && (*it)["projected"] == kSource) {
      name = n;
      volumes->erase(it);
      break;
    }
  }
  if (name.empty()) return;
  if (volumes->empty()) spec->erase("volumes");
  const Json mount = {{"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"}, {"name", name}, {"readOnly", true}};
  for (const char* list : {"initContainers", "containers"}) {
    Json* containers = Member(spec, list);
    if (!containers || !containers->is_array()) continue;
    for (auto& c : *containers) {
      Json* mounts = Member(&c, "volumeMounts");
      if (!mounts || !mounts->is_array()) continue;
      for (auto it = mounts->begin(); it != mounts->end();) {
        if (*it == mount) it = mounts->erase(it);
        else ++it;
      }
      if (mounts->empty()) c.erase("volumeMounts");
    }
  }
}

StatusOr<Json> Projector::Project(const Json& spec) {
  if (!spec.is_object()) return InvalidArgument("the pod spec is not an object");
  Json out = Json::object();
  for (const auto& [member, value] : spec.items()) {
    if (!ExcludedPodFields().count(member)) out[member] = value;
  }
  PodDefaults(&out);
  const bool host_network = out.value("hostNetwork", Json()) == true;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    Json* containers = Member(&out, list);
    if (!containers || containers->is_null()) continue;
    if (!containers->is_array()) return InvalidArgument(std::string("the pod spec's ") + list + " is not a list");
    for (auto& c : *containers) Container(&c, host_network);
  }
  if (Json* volumes = Member(&out, "volumes"); volumes && !volumes->is_null()) {
    if (!volumes->is_array()) return InvalidArgument("the pod spec's volumes is not a list");
    for (auto& v : *volumes) Volume(&v);
  }
  Normalize(&out, "", false, 0);
  StripServiceAccountToken(&out);
  if (!status_.ok()) return InvalidArgument("the pod spec cannot be projected: " + status_.message());
  return out;
}

}  // namespace

StatusOr<Json> ProjectExecutionScope(GovernedKind kind, const Json& spec) { return Projector(kind).Project(spec); }

StatusOr<std::string> ExecutionScopeDigest(const Json& object) {
  std::string kind = KindOf(object);
  auto governed = ParseGovernedKind(kind);
  if (!governed) {
    return InvalidArgument("kind \"" + kind + "\" is not governed (only Pod, Job and ExecutionRequest)");
  }
  return ExecutionScopeDigest(*governed, object);
}

StatusOr<std::string> ExecutionScopeDigest(GovernedKind kind, const Json& object) {
  const Json* spec = PodSpecOf(kind, object);
  if (!spec) return InvalidArgument(std::string(GovernedKindName(kind)) + " " + NameOf(object) + " has no pod spec");
  EXECGOV_ASSIGN_OR_RETURN(Json projection, ProjectExecutionScope(kind, *spec));
  EXECGOV_ASSIGN_OR_RETURN(std::string canonical, crypto::Canonicalize(projection));
  return crypto::HashToSha256Ref(crypto::Sha256(canonical));
}

std::vector<std::string> ImagesOf(const Json& spec) {
  std::vector<std::string> images;
  if (!spec.is_object()) return images;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    auto it = spec.find(list);
    if (it == spec.end() || !it->is_array()) continue;
    for (const auto& c : *it) {
      if (c.is_object() && c.contains("image") && c["image"].is_string()) images.push_back(c["image"].get<std::string>());
    }
  }
  return images;
}

}  // namespace execgov::api
