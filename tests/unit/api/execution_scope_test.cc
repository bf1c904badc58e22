// Execution-scope projection 2 (docs/design.md §3.2).
#include <gtest/gtest.h>

#include <functional>

#include "api/execution_scope.h"
#include "api/manifest.h"
#include "crypto/sha256.h"

namespace execgov::api {
namespace {

// The worked example of docs/design.md §3.2.
constexpr char kDesignJob[] = R"(apiVersion: batch/v1
kind: Job
metadata: {name: rotate-keys, namespace: agents}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: rotate
        image: registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4
        command: ["/rotate"]
        args: ["--service", "payments"]
        env: [{name: MODE, value: safe}]
        resources: {}
)";

// The pod spec of the Pod the real Job controller made from kDesignJob (as
// tests/unit/webhook/testdata/apiserver/pod-create-by-job-controller.json
// captured it from kube-apiserver v1.37.1, container renamed back).
constexpr char kStoredPodSpec[] = R"({"volumes": [{"name": "kube-api-access-6t8h8", "projected": {"sources": [
  {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
  {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
  {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
  "defaultMode": 420}}],
 "containers": [{"name": "rotate",
   "image": "registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4",
   "command": ["/rotate"], "args": ["--service", "payments"], "env": [{"name": "MODE", "value": "safe"}],
   "resources": {}, "volumeMounts": [{"name": "kube-api-access-6t8h8", "readOnly": true,
   "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}], "terminationMessagePath": "/dev/termination-log",
   "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
 "restartPolicy": "Never", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
 "serviceAccountName": "default", "serviceAccount": "default", "securityContext": {},
 "schedulerName": "default-scheduler", "tolerations": [
  {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
  {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
 "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"})";

Json DesignJob() { return ParseManifests(kDesignJob, "design")->at(0); }

Json PodWith(const Json& spec) {
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "p"}}}, {"spec", spec}};
}

Json JobWith(const Json& spec) {
  return {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", "j"}}},
          {"spec", {{"template", {{"spec", spec}}}}}};
}

std::string Digest(const Json& object) {
  auto d = ExecutionScopeDigest(object);
  EXPECT_TRUE(d.ok()) << d.status().message();
  return d.ok() ? *d : "";
}

TEST(ExecutionScopeTest, DesignExampleMatchesByteForByte) {
  Json job = DesignJob();
  auto projection = ProjectExecutionScope(GovernedKind::kJob, job["spec"]["template"]["spec"]);
  ASSERT_TRUE(projection.ok());
  const std::string bytes =
      R"({"containers":[{"args":["--service","payments"],"command":["/rotate"],"env":[{"name":"MODE","value":"safe"}],)"
      R"("image":"registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4",)"
      R"("imagePullPolicy":"IfNotPresent","name":"rotate"}],"dnsPolicy":"ClusterFirst","enableServiceLinks":true,)"
      R"("serviceAccountName":"default"})";
  EXPECT_EQ(*crypto::Canonicalize(*projection), bytes);
  // sha256 of those bytes, computed apart from this code (Python's hashlib).
  EXPECT_EQ(Digest(job), "sha256:99a0bf48d597cbb6af13eb068a140f552f84a4d1704b5de50515c37a820e6e02");
}

TEST(ExecutionScopeTest, SameDigestForRequestJobAndPod) {
  Json job = DesignJob();
  Json spec = job["spec"]["template"]["spec"];
  Json ereq = {{"apiVersion", "execgov.io/v1alpha1"},
               {"kind", "ExecutionRequest"},
               {"metadata", {{"name", "r"}}},
               {"spec", {{"template", {{"spec", {{"template", {{"spec", spec}}}}}}}}}};
  EXPECT_EQ(Digest(PodWith(spec)), Digest(job));
  EXPECT_EQ(Digest(ereq), Digest(job));
}

TEST(ExecutionScopeTest, ThePodTheApiServerStoredHashesAsTheManifest) {
  EXPECT_EQ(Digest(PodWith(Json::parse(kStoredPodSpec))), Digest(DesignJob()));
}

TEST(ExecutionScopeTest, DefaultsHashAsAbsentPerField) {
  Json manifest = Json::parse(R"({
    "containers": [{"name": "c", "image": "busybox",
      "ports": [{"containerPort": 80}],
      "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
              {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
      "livenessProbe": {"httpGet": {"port": 8080}},
      "readinessProbe": {"grpc": {"port": 9000}},
      "lifecycle": {"preStop": {"httpGet": {"port": "http"}}}}],
    "volumes": [{"name": "s", "secret": {"secretName": "x"}},
                {"name": "m", "configMap": {"name": "x"}},
                {"name": "d", "downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault"}}]}},
                {"name": "h", "hostPath": {"path": "/data"}},
                {"name": "e"},
                {"name": "q", "emptyDir": {"sizeLimit": "1024Mi"}},
                {"name": "i", "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.x", "lun": 0}},
                {"name": "r", "rbd": {"monitors": ["m"], "image": "i"}},
                {"name": "a", "azureDisk": {"diskName": "d", "diskURI": "u"}},
                {"name": "o", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}}},
                {"name": "v", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "0.5Gi"}}}}}}]})");
  Json stored = Json::parse(R"({
    "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "Always",
      "ports": [{"containerPort": 80, "protocol": "TCP"}],
      "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
              {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}}}],
      "livenessProbe": {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                        "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
      "readinessProbe": {"grpc": {"port": 9000, "service": ""}, "timeoutSeconds": 1, "periodSeconds": 10,
                         "successThreshold": 1, "failureThreshold": 3},
      "lifecycle": {"preStop": {"httpGet": {"port": "http", "path": "/", "scheme": "HTTP"}}},
      "resources": {}, "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
    "volumes": [{"name": "s", "secret": {"secretName": "x", "defaultMode": 420}},
                {"name": "m", "configMap": {"name": "x", "defaultMode": 420}},
                {"name": "d", "downwardAPI": {"items": [{"path": "l", "fieldRef": {"apiVersion": "v1",
                    "fieldPath": "metadata.labels"}}], "defaultMode": 420}},
                {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault",
                    "expirationSeconds": 3600}}], "defaultMode": 420}},
                {"name": "h", "hostPath": {"path": "/data", "type": ""}},
                {"name": "e", "emptyDir": {}},
                {"name": "q", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "i", "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.x", "lun": 0,
                    "iscsiInterface": "default"}},
                {"name": "r", "rbd": {"monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin",
                    "keyring": "/etc/ceph/keyring"}},
                {"name": "a", "azureDisk": {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite",
                    "fsType": "ext4", "readOnly": false, "kind": "Shared"}},
                {"name": "o", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"},
                    "storageMode": "ThinProvisioned", "fsType": "xfs"}},
                {"name": "v", "ephemeral": {"volumeClaimTemplate": {"metadata": {"creationTimestamp": null},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "512Mi"}},
                    "volumeMode": "Filesystem"}}}}],
    "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "securityContext": {},
    "serviceAccountName": "default", "serviceAccount": "default", "hostNetwork": false})");
  EXPECT_EQ(Digest(PodWith(stored)), Digest(PodWith(manifest)));
  EXPECT_EQ(Digest(JobWith(stored)), Digest(JobWith(manifest)));
}

TEST(ExecutionScopeTest, HostNetworkMakesContainerPortsHostPorts) {
  Json manifest = {{"hostNetwork", true},
                   {"containers", {{{"name", "c"}, {"image", "x:1"}, {"ports", {{{"containerPort", 53}}}}}}}};
  Json stored = manifest;
  stored["containers"][0]["ports"][0]["hostPort"] = 53;
  EXPECT_EQ(Digest(PodWith(stored)), Digest(PodWith(manifest)));
  Json other = manifest;
  other["containers"][0]["ports"][0]["hostPort"] = 5353;
  EXPECT_NE(Digest(PodWith(other)), Digest(PodWith(manifest)));
}

TEST(ExecutionScopeTest, ServiceAccountAliasIsReadLikeTheApiServer) {
  Json base = {{"containers", {{{"name", "c"}, {"image", "x:1"}}}}};
  Json alias = base, name = base, both = base;
  alias["serviceAccount"] = "admin";
  name["serviceAccountName"] = "admin";
  both["serviceAccountName"] = "admin";
  both["serviceAccount"] = "other";  // serviceAccountName wins
  EXPECT_EQ(Digest(PodWith(alias)), Digest(PodWith(name)));
  EXPECT_EQ(Digest(PodWith(both)), Digest(PodWith(name)));
  EXPECT_NE(Digest(PodWith(alias)), Digest(PodWith(base)));
}

TEST(ExecutionScopeTest, QuantitiesHashByValue) {
  auto sized = [](const Json& size) {
    return Digest(PodWith({{"containers", {{{"name", "c"}, {"image", "x:1"}}}},
                           {"volumes", {{{"name", "v"}, {"emptyDir", {{"sizeLimit", size}}}}}}}));
  };
  EXPECT_EQ(sized("1Gi"), sized("1024Mi"));
  EXPECT_EQ(sized("1Gi"), sized("1073741824"));
  EXPECT_EQ(sized("512Mi"), sized("0.5Gi"));
  EXPECT_EQ(sized("1k"), sized("1e3"));
  EXPECT_EQ(sized("1k"), sized(1000));
  EXPECT_EQ(sized("1"), sized("1000m"));
  EXPECT_NE(sized("1Gi"), sized("1G"));
  EXPECT_NE(sized("1Gi"), sized("2Gi"));
  auto bad = ExecutionScopeDigest(PodWith({{"volumes", {{{"name", "v"}, {"emptyDir", {{"sizeLimit", "lots"}}}}}}}));
  EXPECT_FALSE(bad.ok());
}

// Each edit gives a signed workload more power or other data; each must
// change the digest. (The same edits go over the wire in
// tests/integration/cmd, against the real API server in tests/e2e.)
TEST(ExecutionScopeTest, SecurityRelevantEditsChangeTheDigest) {
  Json base = Json::parse(R"({
    "serviceAccountName": "runner", "automountServiceAccountToken": false,
    "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
    "initContainers": [{"name": "init", "image": "x:1", "command": ["/init"]}],
    "containers": [{"name": "c", "image": "x:1", "command": ["/run"], "args": ["--a", "b"],
      "env": [{"name": "K", "value": "v"}],
      "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
                          "readOnlyRootFilesystem": true},
      "volumeMounts": [{"name": "cfg", "mountPath": "/cfg", "readOnly": true}],
      "livenessProbe": {"exec": {"command": ["/health"]}},
      "lifecycle": {"preStop": {"exec": {"command": ["/stop"]}}}}],
    "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]})");
  const std::string digest = Digest(PodWith(base));
  const std::vector<std::pair<const char*, std::function<void(Json&)>>> edits = {
      {"hostPath / added and mounted", [](Json& s) {
         s["volumes"].push_back({{"name", "root"}, {"hostPath", {{"path", "/"}}}});
         s["containers"][0]["volumeMounts"].push_back({{"name", "root"}, {"mountPath", "/host"}});
       }},
      {"readOnly removed from a mount", [](Json& s) { s["containers"][0]["volumeMounts"][0].erase("readOnly"); }},
      {"allowPrivilegeEscalation: false removed",
       [](Json& s) { s["containers"][0]["securityContext"].erase("allowPrivilegeEscalation"); }},
      {"\"\" inserted into args", [](Json& s) { s["containers"][0]["args"].insert(s["containers"][0]["args"].begin(), ""); }},
      {"probe command changed", [](Json& s) { s["containers"][0]["livenessProbe"]["exec"]["command"][0] = "/sh"; }},
      {"preStop command changed", [](Json& s) { s["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][0] = "/sh"; }},
      {"automountServiceAccountToken false removed", [](Json& s) { s.erase("automountServiceAccountToken"); }},
      {"automountServiceAccountToken true", [](Json& s) { s["automountServiceAccountToken"] = true; }},
      {"capability added", [](Json& s) { s["containers"][0]["securityContext"]["capabilities"]["add"] = {"SYS_ADMIN"}; }},
      {"privileged", [](Json& s) { s["containers"][0]["securityContext"]["privileged"] = true; }},
      {"runAsUser 0", [](Json& s) { s["containers"][0]["securityContext"]["runAsUser"] = 0; }},
      {"runAsNonRoot removed", [](Json& s) { s["securityContext"].erase("runAsNonRoot"); }},
      {"seccomp Unconfined", [](Json& s) { s["securityContext"]["seccompProfile"]["type"] = "Unconfined"; }},
      {"shareProcessNamespace", [](Json& s) { s["shareProcessNamespace"] = true; }},
      {"hostPID", [](Json& s) { s["hostPID"] = true; }},
      {"hostIPC", [](Json& s) { s["hostIPC"] = true; }},
      {"hostNetwork", [](Json& s) { s["hostNetwork"] = true; }},
      {"hostUsers false", [](Json& s) { s["hostUsers"] = false; }},
      {"sidecar added", [](Json& s) {
         s["initContainers"].push_back({{"name", "side"}, {"image", "x:1"}, {"restartPolicy", "Always"}});
       }},
      {"init container made a sidecar", [](Json& s) { s["initContainers"][0]["restartPolicy"] = "Always"; }},
      {"ephemeral container added",
       [](Json& s) { s["ephemeralContainers"] = {{{"name", "dbg"}, {"image", "x:1"}, {"targetContainerName", "c"}}}; }},
      {"env value changed", [](Json& s) { s["containers"][0]["env"][0]["value"] = "w"; }},
      {"env from a secret", [](Json& s) {
         s["containers"][0]["env"].push_back(
             {{"name", "T"}, {"valueFrom", {{"secretKeyRef", {{"name", "admin"}, {"key", "token"}}}}}});
       }},
      {"envFrom added", [](Json& s) { s["containers"][0]["envFrom"] = {{{"secretRef", {{"name", "admin"}}}}}; }},
      {"workingDir", [](Json& s) { s["containers"][0]["workingDir"] = "/tmp"; }},
      {"image", [](Json& s) { s["containers"][0]["image"] = "x:2"; }},
      {"imagePullPolicy Never", [](Json& s) { s["containers"][0]["imagePullPolicy"] = "Never"; }},
      {"configMap volume's defaultMode", [](Json& s) { s["volumes"][0]["configMap"]["defaultMode"] = 511; }},
      {"volume now a secret", [](Json& s) { s["volumes"][0] = {{"name", "cfg"}, {"secret", {{"secretName", "cfg"}}}}; }},
      {"serviceAccountName", [](Json& s) { s["serviceAccountName"] = "admin"; }},
      {"hostAliases", [](Json& s) { s["hostAliases"] = {{{"ip", "10.0.0.9"}, {"hostnames", {"vault"}}}}; }},
      {"dnsConfig nameserver", [](Json& s) { s["dnsConfig"] = {{"nameservers", {"10.0.0.9"}}}; }},
      {"dnsPolicy None", [](Json& s) { s["dnsPolicy"] = "None"; }},
      {"runtimeClassName", [](Json& s) { s["runtimeClassName"] = "unsandboxed"; }},
      {"nodeName", [](Json& s) { s["nodeName"] = "control-plane-1"; }},
      {"hostPort", [](Json& s) { s["containers"][0]["ports"] = {{{"containerPort", 80}, {"hostPort", 80}}}; }},
      {"volumeDevice", [](Json& s) {
         s["containers"][0]["volumeDevices"] = {{{"name", "cfg"}, {"devicePath", "/dev/xvda"}}};
       }},
      {"procMount Unmasked", [](Json& s) { s["containers"][0]["securityContext"]["procMount"] = "Unmasked"; }},
      {"a field a later Kubernetes adds", [](Json& s) { s["containers"][0]["futureField"] = true; }},
  };
  for (const auto& [what, edit] : edits) {
    Json edited = base;
    edit(edited);
    EXPECT_NE(Digest(PodWith(edited)), digest) << what;
  }
}

TEST(ExecutionScopeTest, OnlyTheExactServiceAccountTokenVolumeIsLeftOut) {
  Json stored = Json::parse(kStoredPodSpec);
  const std::string digest = Digest(PodWith(stored));
  // The same spec as a Job's template: the plugin never adds it there.
  EXPECT_NE(Digest(JobWith(stored)), digest);
  // A pod that opted out of the token gets nothing from the plugin.
  Json opted_out = stored;
  opted_out["automountServiceAccountToken"] = false;
  Json opted_out_bare = Json::parse(kStoredPodSpec);
  opted_out_bare["automountServiceAccountToken"] = false;
  opted_out_bare.erase("volumes");
  opted_out_bare["containers"][0].erase("volumeMounts");
  EXPECT_NE(Digest(PodWith(opted_out)), Digest(PodWith(opted_out_bare)));
  // A volume that borrows the name but holds something else is hashed.
  Json borrowed = stored;
  borrowed["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["audience"] = "vault";
  EXPECT_NE(Digest(PodWith(borrowed)), digest);
  Json host = stored;
  host["volumes"][0] = {{"name", "kube-api-access-6t8h8"}, {"hostPath", {{"path", "/"}}}};
  EXPECT_NE(Digest(PodWith(host)), digest);
  // A name the generator cannot make is hashed.
  Json renamed = stored;
  renamed["volumes"][0]["name"] = "kube-api-access-aaaaa";  // 'a' is not in the generator's alphabet
  renamed["containers"][0]["volumeMounts"][0]["name"] = "kube-api-access-aaaaa";
  EXPECT_NE(Digest(PodWith(renamed)), digest);
  // A second copy is not the plugin's.
  Json twice = stored;
  twice["volumes"].push_back(twice["volumes"][0]);
  twice["volumes"][1]["name"] = "kube-api-access-bbbbb";
  EXPECT_NE(Digest(PodWith(twice)), digest);
  // The token mounted writable, or elsewhere, is hashed.
  Json writable = stored;
  writable["containers"][0]["volumeMounts"][0].erase("readOnly");
  EXPECT_NE(Digest(PodWith(writable)), digest);
}

TEST(ExecutionScopeTest, HostileShapesAreErrorsNotCrashes) {
  Json deep = Json::array();
  for (int i = 0; i < 200; ++i) deep = Json::array({deep});
  EXPECT_FALSE(ExecutionScopeDigest(PodWith({{"containers", {{{"name", "c"}, {"args", deep}}}}})).ok());
  EXPECT_FALSE(ExecutionScopeDigest(PodWith({{"containers", {{{"name", "c"}, {"args", {"a", nullptr}}}}}})).ok());
  EXPECT_FALSE(ExecutionScopeDigest(PodWith({{"containers", "c"}})).ok());
  EXPECT_FALSE(ExecutionScopeDigest(PodWith({{"volumes", {1}}})).ok());
}

TEST(ExecutionScopeTest, UngovernedKindsAndMissingSpecsAreErrors) {
  EXPECT_FALSE(ExecutionScopeDigest({{"kind", "Deployment"}}).ok());
  EXPECT_FALSE(ExecutionScopeDigest({{"kind", "Job"}, {"spec", Json::object()}}).ok());
}

}  // namespace
}  // namespace execgov::api
