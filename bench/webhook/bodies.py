#!/usr/bin/env python3
"""Request bodies for bench/webhook/run.sh, one AdmissionReview JSON per line.

Every body is a copy of one a real kube-apiserver sent (the template, from
tests/unit/webhook/testdata/apiserver), with the artifact, names and uids
replaced, so the server sees what the API server sends; the artifacts come
from `execgov sign --artifact-only`.

  bodies.py manifests N JOB_JSON            N copies of a Job (a JSON stream, input for execgov sign)
  bodies.py jobs TEMPLATE TOKENS OUT        a Job per token: fresh artifacts (distinct jti)
  bodies.py pods TEMPLATE JOBS PER_JOB N OUT
                                            N Pods, PER_JOB per Job of JOBS (a file of Job bodies),
                                            each owned by its Job and carrying the Job's artifact
  bodies.py prime URL CA FILE               POSTs FILE's bodies in turn; fails unless each is allowed
"""
import json
import ssl
import sys
import uuid
import http.client
import urllib.parse

ANNOTATION = "execgov.io/authorization"


def load_template(path):
    with open(path) as f:
        return json.loads(f.readline())


def manifests(n, job_path):
    with open(job_path) as f:
        job = json.load(f)
    out = sys.stdout
    for _ in range(int(n)):
        json.dump(job, out, separators=(",", ":"))
        out.write("\n")


def set_object(body, name, uid, token):
    req = body["request"]
    obj = req["object"]
    req["uid"] = str(uuid.uuid4())
    req["name"] = name
    obj["metadata"]["name"] = name
    obj["metadata"]["uid"] = uid
    obj["metadata"]["annotations"][ANNOTATION] = token
    if obj["kind"] == "Job":
        obj["spec"]["template"]["metadata"]["annotations"][ANNOTATION] = token


def jobs(template_path, tokens_path, out_path):
    body = load_template(template_path)
    with open(tokens_path) as tokens, open(out_path, "w") as out:
        for i, token in enumerate(tokens):
            set_object(body, "bench-job-%d" % i, str(uuid.uuid4()), token.strip())
            out.write(json.dumps(body, separators=(",", ":")) + "\n")


def pods(template_path, jobs_path, per_job, n, out_path):
    body = load_template(template_path)
    owners = []
    with open(jobs_path) as f:
        for line in f:
            job = json.loads(line)["request"]["object"]
            owners.append((job["metadata"]["name"], job["metadata"]["uid"], job["metadata"]["annotations"][ANNOTATION]))
    per_job, n = int(per_job), int(n)
    if len(owners) * per_job < n:
        sys.exit("pods: %d Jobs x %d Pods is fewer than %d" % (len(owners), per_job, n))
    with open(out_path, "w") as out:
        for i in range(n):
            name, uid, token = owners[i // per_job]
            meta = body["request"]["object"]["metadata"]
            meta["ownerReferences"] = [
                {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
                 "controller": True, "blockOwnerDeletion": True}]
            meta["generateName"] = name + "-"
            for label in ("batch.kubernetes.io/controller-uid", "controller-uid"):
                meta["labels"][label] = uid
            for label in ("batch.kubernetes.io/job-name", "job-name"):
                meta["labels"][label] = name
            set_object(body, "%s-%d" % (name, i % per_job), str(uuid.uuid4()), token)
            out.write(json.dumps(body, separators=(",", ":")) + "\n")


def prime(url, ca, path):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=ca))
    with open(path) as f:
        for line in f:
            conn.request("POST", "/validate", body=line.encode(), headers={"Content-Type": "application/json"})
            resp = json.loads(conn.getresponse().read())["response"]
            if not resp["allowed"]:
                sys.exit("prime: denied: %s" % resp.get("status", {}).get("message"))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"manifests": manifests, "jobs": jobs, "pods": pods, "prime": prime}[cmd](*args)
