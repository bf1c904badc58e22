#!/usr/bin/env python3
"""The measuring half of bench/cluster/run.sh (Python 3 standard library only).

Everything is measured from outside execgov: the client's own latencies, etcd's
revisions, watch events and dbSize, and the API server's /metrics, so the
figures do not depend on how execgov lays out its state.

  cluster_bench.py pods N NAMESPACE PREFIX       N Pods as a JSON stream (one per line), named PREFIX-<i>
  cluster_bench.py requests N NAMESPACE PREFIX   N ExecutionRequests, likewise
  cluster_bench.py annotate STREAM TOKENS OUT    each object of STREAM with the artifact on the same line
                                                 of TOKENS (`execgov sign --artifact-only`); OUT is a file
                                                 (a JSON stream) or, ending in /, a directory: one file each
  cluster_bench.py lb PORTFILE HOST:PORT...      a TCP proxy on a free loopback port (written to PORTFILE)
                                                 that sends each new connection to the next backend in turn,
                                                 as a Service does; counts in PORTFILE.stats
  cluster_bench.py measure LABEL [options]       one measured run, appended as a JSON line to --results:
        --pods FILE --clients C                  POST each Pod of FILE once, C clients at a time
        --command CMD --pod-count NS:N           or run CMD (sh -c) and wait until etcd saw N Pods created in NS
                                                 (or as many as the command's "LATENCY s" lines, if fewer:
                                                 one per request it made that succeeded)
        --logs GLOB --log-namespace NS           also each admission's latency in NS from the webhooks' logs
  cluster_bench.py objects N NAMESPACE BYTES RESULTS
                                                 what one API write costs this control plane: N ConfigMaps
                                                 of BYTES of data created, read and deleted by 8 clients,
                                                 each verb's CPU per object by process, appended to RESULTS
  cluster_bench.py report RESULTS OUT.md         the tables, printed and written to OUT.md

measure reads its endpoints from the environment: BENCH_API (https://host:port),
BENCH_CA, BENCH_CERT, BENCH_KEY (the admin's client certificate), BENCH_ETCD
(http://host:port), BENCH_WEBHOOK_METRICS (space-separated /metrics URLs of
the webhook replicas), and, for the ledger's own size, BENCH_EXECGOV,
BENCH_LEDGER and BENCH_LEDGER_STATE (a file holding the next unread seq).
"""
import asyncio
import base64
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

ANNOTATION = "execgov.io/authorization"
WEBHOOK_NAME = "validate.execgov.io"

# ---------------------------------------------------------------- manifests


def pods(n, namespace, prefix):
    # One container with a defaulted fieldRef, as tests/e2e/lib.sh's Job: the
    # signed digest must survive the API server's defaulting.
    for i in range(int(n)):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "%s-%d" % (prefix, i), "namespace": namespace, "labels": {"app": "cluster-bench"}},
               "spec": {"restartPolicy": "Never", "containers": [{
                   "name": "work", "image": "registry.example.com/tools/work:1.2", "command": ["/work"],
                   "args": ["--bench"], "env": [{"name": "MODE", "value": "safe"},
                                                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]}}
        print(json.dumps(pod, separators=(",", ":")))


def requests(n, namespace, prefix):
    for i in range(int(n)):
        name = "%s-%d" % (prefix, i)
        req = {"apiVersion": "execgov.io/v1alpha1", "kind": "ExecutionRequest",
               "metadata": {"name": name, "namespace": namespace},
               "spec": {"initiator": "agent:e2e", "intent": "cluster bench burst " + name,
                        "template": {"spec": {"backoffLimit": 0, "template": {"spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "run", "image": "registry.example.com/tools/run:1",
                                            "command": ["/run"], "args": [name]}]}}}}}}
        print(json.dumps(req, separators=(",", ":")))


def annotate(stream, tokens, out):
    with open(stream) as f:
        objs = [json.loads(line) for line in f if line.strip()]
    with open(tokens) as f:
        toks = [line.strip() for line in f if line.strip()]
    if len(objs) != len(toks):
        sys.exit("annotate: %d objects but %d artifacts" % (len(objs), len(toks)))
    for obj, tok in zip(objs, toks):
        obj["metadata"].setdefault("annotations", {})[ANNOTATION] = tok
    if out.endswith("/"):
        os.makedirs(out, exist_ok=True)
        for obj in objs:
            with open(os.path.join(out, obj["metadata"]["name"] + ".json"), "w") as f:
                json.dump(obj, f)
    else:
        with open(out, "w") as f:
            for obj in objs:
                f.write(json.dumps(obj, separators=(",", ":")) + "\n")

# ---------------------------------------------------------------- load balancer


def lb(portfile, *backends):
    targets = [(b.rsplit(":", 1)[0], int(b.rsplit(":", 1)[1])) for b in backends]
    counts = [0] * len(targets)
    state = {"next": 0}

    async def pipe(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass

    async def handle(creader, cwriter):
        i = state["next"]
        state["next"] = (i + 1) % len(targets)
        counts[i] += 1
        with open(portfile + ".stats.tmp", "w") as f:
            f.write(" ".join(map(str, counts)) + "\n")
        os.replace(portfile + ".stats.tmp", portfile + ".stats")
        try:
            breader, bwriter = await asyncio.open_connection(*targets[i])
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, bwriter), pipe(breader, cwriter))

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        with open(portfile + ".tmp", "w") as f:
            f.write("%d\n" % server.sockets[0].getsockname()[1])
        os.replace(portfile + ".tmp", portfile)
        async with server:
            await server.serve_forever()

    asyncio.run(main())

# ---------------------------------------------------------------- scraping


def env(name):
    v = os.environ.get(name)
    if not v:
        sys.exit("measure: %s is not set" % name)
    return v


def api_context():
    ctx = ssl.create_default_context(cafile=env("BENCH_CA"))
    ctx.load_cert_chain(env("BENCH_CERT"), env("BENCH_KEY"))
    return ctx


def api_conn(ctx, timeout=60):
    u = urllib.parse.urlparse(env("BENCH_API"))
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=timeout)


def http_get(url, ctx=None):
    u = urllib.parse.urlparse(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("GET", u.path or "/")
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    if resp.status != 200:
        raise RuntimeError("GET %s: %d %s" % (url, resp.status, body[:200]))
    return body


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text, wanted):
    """{(name, frozenset(labels)): value} for the samples whose name starts with one of wanted."""
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#" or not line.startswith(wanted):
            continue
        m = SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = out.get((m.group(1), labels), 0.0) + float(m.group(3))
    return out


def diff(after, before):
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0) != 0}


def etcd_post(path, body):
    u = urllib.parse.urlparse(env("BENCH_ETCD"))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return data


APISERVER_METRICS = ("apiserver_request_total", "apiserver_admission_webhook_")
WEBHOOK_METRICS = ("execgov_admission_duration_seconds", "execgov_admission_requests_total",
                   "execgov_ledger_append_duration_seconds", "execgov_ledger_forward_records_total")


def snapshot(ctx):
    api = parse_metrics(http_get(env("BENCH_API") + "/metrics", ctx), APISERVER_METRICS)
    hook, hooks = {}, []
    for url in os.environ.get("BENCH_WEBHOOK_METRICS", "").split():
        hooks.append(parse_metrics(http_get(url), WEBHOOK_METRICS))
        for k, v in hooks[-1].items():
            hook[k] = hook.get(k, 0.0) + v
    etcd = parse_metrics(http_get(env("BENCH_ETCD") + "/metrics"), ("etcd_mvcc_db_total_size_in_bytes",))
    rev = int(etcd_post("/v3/kv/range", {"key": base64.b64encode(b"\0").decode(), "limit": 1, "keys_only": True})
              ["header"]["revision"])
    return {"api": api, "hook": hook, "hooks": hooks, "rev": rev, "db": sum(etcd.values()), "t": time.time(), "cpu": host_cpu(),
            "proc_cpu": process_cpu()}


def host_cpu():
    """(total, steal) CPU ticks of the machine so far."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    ticks = [int(x) for x in fields[:8]]
    return sum(ticks), ticks[7]

PROCESS_GROUPS = ("etcd", "kube-apiserver", "kube-controller-manager", "execgov webhook", "execgov operator",
                  "ledger etcd", "null webhook", "proxy", "client")


def process_cpu(pids=None):
    """CPU seconds (user + system) used so far by each of this run's processes, by PROCESS_GROUPS.

    Only processes whose command line names one of the run's directories
    (BENCH_WORK, colon-separated) count, so another control plane on the host
    is not mixed in; the client is this process (the load generator's threads).
    A list passed as `pids` receives their process ids."""
    work = [w for w in os.environ.get("BENCH_WORK", "").split(":") if w]
    tick = os.sysconf("SC_CLK_TCK")
    out = {g: 0.0 for g in PROCESS_GROUPS}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        self = int(pid) == os.getpid()
        if not argv or not (self or any(w in a for w in work for a in argv)):
            continue
        name = os.path.basename(argv[0])
        if self:
            group = "client"
        elif name == "etcd" and any("ledger-etcd" in a for a in argv):
            group = "ledger etcd"  # run.sh LEDGER=etcd: the ledger's own etcd
        elif name in ("etcd", "kube-apiserver", "kube-controller-manager"):
            group = name
        elif name == "execgov" and len(argv) > 1 and argv[1] in ("webhook", "operator"):
            group = "execgov " + argv[1]
        elif name == "nullhook":
            group = "null webhook"
        elif "lb" in argv[1:3]:
            group = "proxy"
        else:
            continue
        if pids is not None:
            pids.append(pid)
        fields = stat[stat.rindex(")") + 2:].split()
        out[group] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (proc(5) fields 14, 15)
    return out

# ---------------------------------------------------------------- etcd watch


def prefix_of(key):
    """The group a key's bytes are counted in."""
    if key.startswith("/registry/pods/"):
        return "pods"
    if key.startswith("/registry/configmaps/execgov-system/"):
        return "configmaps:execgov-system"
    if key.startswith("/registry/configmaps/"):
        return "configmaps:other"
    if key.startswith("/registry/events/") or key.startswith("/registry/events.k8s.io/"):
        return "events"
    if key.startswith("/registry/leases/"):
        return "leases"
    return "other"


class Watch(threading.Thread):
    """A watch on etcd's whole keyspace through its JSON gateway, from a revision
    on: sums key + value bytes of every event per group, counts the objects
    created in watched namespaces by resource, and stops at a revision set
    later."""

    def __init__(self, start_rev, namespaces=()):
        super().__init__(daemon=True)
        self.start_rev = start_rev
        self.stop_rev = None
        self.bytes = {}
        self.events = 0
        self.execgov_system = 0  # bytes of any object in execgov-system other than Leases
        self.created = {ns: {} for ns in namespaces}  # namespace -> resource -> objects created
        self.last_rev = start_rev - 1
        self.error = None
        self.cond = threading.Condition()
        self.ready = threading.Event()

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the caller, which fails the run
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self.ready.set()
            with self.cond:
                self.cond.notify_all()

    def _run(self):
        u = urllib.parse.urlparse(env("BENCH_ETCD"))
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        zero = base64.b64encode(b"\0").decode()
        conn.request("POST", "/v3/watch", json.dumps({"create_request": {
            "key": zero, "range_end": zero, "start_revision": str(self.start_rev)}}))
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError("etcd watch: HTTP %d" % resp.status)
        while True:
            line = resp.readline()
            if not line:
                raise RuntimeError("etcd closed the watch at revision %d" % self.last_rev)
            if not line.strip():
                continue
            msg = json.loads(line)
            if "error" in msg:
                raise RuntimeError("etcd watch: %s" % msg["error"])
            result = msg.get("result", {})
            if result.get("created"):
                self.ready.set()
            if result.get("compact_revision") not in (None, "0"):
                raise RuntimeError("etcd compacted past revision %s before the watch read it" % result["compact_revision"])
            for ev in result.get("events", []):
                kv = ev["kv"]
                rev = int(kv["mod_revision"])
                if self.stop_rev is not None and rev > self.stop_rev:
                    continue
                key = base64.b64decode(kv["key"]).decode("utf-8", "replace")
                size = len(base64.b64decode(kv["key"])) + len(base64.b64decode(kv.get("value", "")))
                group = prefix_of(key)
                self.bytes[group] = self.bytes.get(group, 0) + size
                self.events += 1
                if "/execgov-system/" in key and not key.startswith("/registry/leases/"):
                    self.execgov_system += size
                parts = key.split("/")  # /registry/<resource, maybe group/resource>/<namespace>/<name>
                if ev.get("type", "PUT") == "PUT" and kv.get("create_revision") == kv["mod_revision"] \
                        and len(parts) >= 5 and parts[-2] in self.created:
                    per = self.created[parts[-2]]
                    res = "/".join(parts[2:-2])
                    with self.cond:
                        per[res] = per.get(res, 0) + 1
            if "header" in result:
                with self.cond:
                    self.last_rev = max(self.last_rev, int(result["header"]["revision"]))
                    self.cond.notify_all()
            if self.stop_rev is not None and self.last_rev >= self.stop_rev:
                conn.close()
                return

    def wait_until(self, predicate, timeout):
        deadline = time.time() + timeout
        with self.cond:
            while not predicate() and self.error is None:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
        return predicate()

# ---------------------------------------------------------------- load


def load(path, clients, ctx):
    """POSTs every Pod of path once with `clients` workers, each on its own
    keep-alive connection; returns (latencies of the 201s, failures, seconds)."""
    with open(path) as f:
        bodies = [(json.loads(line)["metadata"]["namespace"], line.strip().encode()) for line in f if line.strip()]
    lock = threading.Lock()
    state = {"next": 0}
    lat = [[] for _ in range(clients)]
    failures = []
    barrier = threading.Barrier(clients + 1)

    def worker(w):
        conn = api_conn(ctx)
        conn.connect()  # TLS before the clock starts
        barrier.wait()
        mine = lat[w]
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(bodies):
                break
            ns, body = bodies[i]
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/namespaces/%s/pods" % ns, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    failures.append("connection: %s" % e)
                conn.close()
                conn = api_conn(ctx)
                continue
            dt = time.perf_counter() - t0
            if resp.status == 201:
                mine.append(dt)
            else:
                try:
                    msg = json.loads(data).get("message", "")
                except ValueError:
                    msg = data[:200].decode("utf-8", "replace")
                with lock:
                    failures.append("%d %s" % (resp.status, msg))
        conn.close()

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return [x for l in lat for x in l], failures, time.perf_counter() - t0


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def histogram(samples, name, match):
    """Cumulative buckets [(le, count)] of one histogram, summed over the series whose labels satisfy match."""
    buckets = {}
    for (n, labels), v in samples.items():
        if n != name + "_bucket" or not match(dict(labels)):
            continue
        le = dict(labels)["le"]
        le = float("inf") if le == "+Inf" else float(le)
        buckets[le] = buckets.get(le, 0.0) + v
    return sorted(buckets.items())


def histogram_quantile(buckets, q):
    """As Prometheus' histogram_quantile: linear within the bucket that holds the q-th observation."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return prev_le  # beyond the last bound: only a lower bound is known
            return prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 1.0)
        prev_le, prev_c = le, c
    return prev_le


def histogram_max(buckets):
    """The bound of the highest bucket that gained an observation: the max is at most this."""
    prev_c = 0.0
    top = None
    for le, c in buckets:
        if c > prev_c:
            top = le
        prev_c = c
    return top


def ledger_bytes():
    """(records, bytes) of the canonical ledger records appended since the last call."""
    execgov, url, state = os.environ.get("BENCH_EXECGOV"), os.environ.get("BENCH_LEDGER"), \
        os.environ.get("BENCH_LEDGER_STATE")
    if not (execgov and url and state):
        return None
    start = 0
    if os.path.exists(state):
        with open(state) as f:
            start = int(f.read().strip() or 0)
    out = subprocess.run([execgov, "ledger", "show", "--ledger", url, "-o", "json", "--from", str(start)],
                         check=True, capture_output=True).stdout
    records, size, last = 0, 0, start - 1
    for line in out.splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        seq = int(rec["seq"])
        if seq < start:
            continue
        records += 1
        size += len(line)
        last = max(last, seq)
    with open(state, "w") as f:
        f.write("%d\n" % (last + 1))
    return records, size


def log_latencies(pattern, namespace):
    """Each admission's latencySeconds from the webhooks' JSON log lines for
    namespace: exact where the histograms only bound. A log may leave lines
    out under pressure (execgov_log_lines_left_out_total), so the count shows."""
    import glob
    lat = []
    for path in glob.glob(pattern):
        with open(path, errors="replace") as f:
            for line in f:
                if '"admission"' not in line or namespace not in line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "admission" and rec.get("namespace") == namespace and "latencySeconds" in rec:
                    lat.append(float(rec["latencySeconds"]))
    lat.sort()
    return {"count": len(lat), "p50": quantile(lat, 0.5), "p99": quantile(lat, 0.99),
            "max": lat[-1] if lat else None, "latencies": [round(x, 5) for x in lat]}


def objects(n, namespace, size, results):
    """Creates, GETs and replaces (PUT, new data of the same size) n
    ConfigMaps of `size` bytes of data, 8 clients at a time (each on its own
    keep-alive connection, as the admin), then deletes half of them one
    DELETE each (8 clients) and the other half by label selector, one DELETE
    of a collection per `group` objects, one at a time as the ledger's
    merger does. Appends each verb's CPU per object, by process, to
    `results`: the price of one ledger batch (a create now, a delete once
    merged) beside that of the Pod it records."""
    n, size, ctx = int(n), int(size), api_context()
    clients, group = 8, 64
    path = "/api/v1/namespaces/%s/configmaps" % namespace
    result = {"label": "objects", "scenario": "objects", "objects": n, "bytes": size, "clients": clients,
              "load": os.getloadavg()[0], "verbs": {}}
    half = n // 2
    for verb, names, workers in (("POST", range(n), clients), ("GET", range(n), clients), ("PUT", range(n), clients),
                                 ("DELETE", range(half), clients),
                                 ("DELETE collection of %d" % group, range(half, n), 1)):
        errors = []
        names = list(names)

        def worker(w):
            conn = api_conn(ctx)
            if verb.startswith("DELETE collection"):
                for g in range(0, len(names), group):
                    sel = "bench-object in (%s)" % ",".join(str(i) for i in names[g:g + group])
                    conn.request("DELETE", path + "?labelSelector=" + urllib.parse.quote(sel))
                    resp = conn.getresponse()
                    body = json.loads(resp.read())
                    if resp.status >= 300 or len(body.get("items", [])) != len(names[g:g + group]):
                        errors.append("%s %d: %d" % (verb, g, resp.status))
                conn.close()
                return
            for i in names[w::workers]:
                name = "bench-object-%06d" % i
                if verb in ("POST", "PUT"):
                    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": name, "labels": {"bench-object": str(i)}},
                                       "data": {"records": ("x" if verb == "POST" else "y") * size}})
                    conn.request(verb, path + ("/" + name if verb == "PUT" else ""), body,
                                 {"Content-Type": "application/json"})
                else:
                    conn.request(verb, path + "/" + name)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 300:
                    errors.append("%s %s: %d" % (verb, name, resp.status))
            conn.close()

        before, t0 = process_cpu(), time.perf_counter()
        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds, after = time.perf_counter() - t0, process_cpu()
        if errors:
            sys.exit("objects: %d of %d failed, first: %s" % (len(errors), len(names), errors[0]))
        result["verbs"][verb] = {"seconds": seconds, "count": len(names),
                                 "cpu_seconds": {g: after[g] - before[g] for g in PROCESS_GROUPS}}
    with open(results, "a") as f:
        f.write(json.dumps(result) + "\n")
    print("objects: %d ConfigMaps of %d bytes created, read and deleted" % (n, size), flush=True)


def measure(label, *args):
    opts = {}
    it = iter(args)
    for a in it:
        opts[a.lstrip("-")] = next(it)
    ctx = api_context()
    pod_ns = {}  # namespace -> Pods to wait for
    if "pod-count" in opts:
        ns, n = opts["pod-count"].rsplit(":", 1)
        pod_ns[ns] = int(n)
    ledger_bytes()  # skip what earlier steps (warm-ups) appended
    before = snapshot(ctx)
    watch = Watch(before["rev"] + 1, pod_ns)
    watch.start()
    watch.ready.wait(30)
    if watch.error:
        sys.exit("measure: " + watch.error)
    result = {"label": label, "clients": int(opts.get("clients", 0)), "replicas": int(opts.get("replicas", 0)),
              "scenario": opts.get("scenario", label), "round": int(opts.get("round", 0)),
              "timeout": float(opts["timeout"]) if "timeout" in opts else None,
              "load": os.getloadavg()[0]}
    perf = None
    if os.environ.get("BENCH_PERF"):  # a directory: a call-graph profile of this run's processes, per run
        pids = []
        process_cpu(pids)
        perf = subprocess.Popen(["perf", "record", "-q", "-F", os.environ.get("BENCH_PERF_HZ", "499"),
                                 "--call-graph", os.environ.get("BENCH_PERF_CALLGRAPH", "fp"), "-p", ",".join(pids),
                                 "-o", os.path.join(os.environ["BENCH_PERF"], label + ".data")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pprof = None
    if os.environ.get("BENCH_PPROF") and "pods" in opts:  # a directory: the API server's own CPU profile
        def fetch(path=os.path.join(os.environ["BENCH_PPROF"], label + ".pprof")):
            conn = api_conn(ctx, timeout=120)
            conn.request("GET", "/debug/pprof/profile?seconds=" + os.environ.get("BENCH_PPROF_SECONDS", "8"))
            resp = conn.getresponse()
            with open(path, "wb") as f:
                f.write(resp.read())
        pprof = threading.Thread(target=fetch)
        pprof.start()
    if "pods" in opts:
        lat, failures, secs = load(opts["pods"], int(opts["clients"]), ctx)
        lat.sort()
        result.update(ok=len(lat), failed=len(failures), failures=failures[:5], seconds=secs,
                      p50=quantile(lat, 0.50), p99=quantile(lat, 0.99), max=lat[-1] if lat else None,
                      latencies=[round(x, 5) for x in lat])
    else:
        t0 = time.perf_counter()
        proc = subprocess.run(["sh", "-c", opts["command"]], capture_output=True, text=True)
        result["command_seconds"] = time.perf_counter() - t0
        result["command_status"] = proc.returncode
        result["command_errors"] = [l for l in proc.stderr.splitlines() if l.strip()][:5]
        # Every client-side latency the command printed (lines "LATENCY seconds").
        lat = sorted(float(l.split()[1]) for l in proc.stdout.splitlines() if l.startswith("LATENCY "))
        result.update(requests_ok=len(lat), p50=quantile(lat, 0.50), p99=quantile(lat, 0.99),
                      max=lat[-1] if lat else None)
        for ns, n in pod_ns.items():
            result["requests"] = n
            if lat:
                n = min(n, len(lat))  # a request refused makes no Pod
            pods = lambda: watch.created[ns].get("pods", 0)  # noqa: E731
            if not watch.wait_until(lambda: pods() >= n, float(opts.get("wait", 300))):
                result["incomplete"] = "%d of %d Pods in %s after %ss" % (pods(), n, ns, opts.get("wait", 300))
        result["seconds"] = time.perf_counter() - t0
        result["ok"] = sum(per.get("pods", 0) for per in watch.created.values())
    time.sleep(float(opts.get("settle", 1.0)))  # writes that follow an admission (ledger seals, status)
    if pprof:
        pprof.join()
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    after = snapshot(ctx)
    watch.stop_rev = after["rev"]
    if not watch.wait_until(lambda: watch.last_rev >= after["rev"], 60) or watch.error:
        sys.exit("measure: the etcd watch did not reach revision %d: %s" % (after["rev"], watch.error))
    result.update(revisions=after["rev"] - before["rev"], etcd_bytes=watch.bytes, etcd_events=watch.events,
                  execgov_system_bytes=watch.execgov_system, db_before=before["db"], db_after=after["db"],
                  window=after["t"] - before["t"], created=watch.created)
    total, steal = (a - b for a, b in zip(after["cpu"], before["cpu"]))
    result["steal"] = steal / total if total else 0.0
    result["cpu_seconds"] = {g: after["proc_cpu"][g] - before["proc_cpu"][g] for g in PROCESS_GROUPS}
    api = diff(after["api"], before["api"])
    reqs = {}
    for (name, labels), v in api.items():
        if name != "apiserver_request_total":
            continue
        l = dict(labels)
        res = l.get("resource") or "(non-resource)"
        if l.get("group"):
            res += "." + l["group"]
        if l.get("subresource"):
            res += "/" + l["subresource"]
        key = "%s %s" % (l.get("verb", "?"), res)
        reqs[key] = reqs.get(key, 0) + v
    result["api_requests"] = reqs
    execgov_hook = lambda l: l.get("name") == WEBHOOK_NAME  # noqa: E731
    adm = histogram(api, "apiserver_admission_webhook_admission_duration_seconds", execgov_hook)
    result["apiserver_admission"] = {"count": adm[-1][1] if adm else 0, "p50": histogram_quantile(adm, 0.5),
                                     "p99": histogram_quantile(adm, 0.99), "max_at_most": histogram_max(adm),
                                     "buckets": adm}
    result["apiserver_webhook_rejections"] = {
        ",".join("%s=%s" % kv for kv in sorted(dict(labels).items()) if kv[0] != "name"): v
        for (name, labels), v in api.items()
        if name == "apiserver_admission_webhook_rejection_count" and dict(labels).get("name") == WEBHOOK_NAME}
    hook = diff(after["hook"], before["hook"])
    own = histogram(hook, "execgov_admission_duration_seconds", lambda l: True)
    result["webhook_admission"] = {"count": own[-1][1] if own else 0, "p50": histogram_quantile(own, 0.5),
                                   "p99": histogram_quantile(own, 0.99), "max_at_most": histogram_max(own),
                                   "buckets": own}
    # Of each admission's time in the webhook, how long its record waited to
    # be durable (the linger and the batch's write).
    app = histogram(hook, "execgov_ledger_append_duration_seconds", lambda l: True)
    result["webhook_ledger_append"] = {"count": app[-1][1] if app else 0, "p50": histogram_quantile(app, 0.5),
                                       "p99": histogram_quantile(app, 0.99), "buckets": app}
    # The same per replica, and whether it forwarded its records to another
    # (the one that writes the tail does not): what the forwarding hop adds.
    result["webhook_ledger_append_by_replica"] = []
    for a, b in zip(after.get("hooks", []), before.get("hooks", [])):
        d = diff(a, b)
        app = histogram(d, "execgov_ledger_append_duration_seconds", lambda l: True)
        sent = sum(v for (name, labels), v in d.items()
                   if name == "execgov_ledger_forward_records_total" and dict(labels).get("role") == "sent")
        result["webhook_ledger_append_by_replica"].append(
            {"count": app[-1][1] if app else 0, "p50": histogram_quantile(app, 0.5), "forwarded": sent})
    decisions = {}
    for (name, labels), v in hook.items():
        if name == "execgov_admission_requests_total":
            l = dict(labels)
            key = "%s %s/%s" % (l.get("kind"), l.get("decision"), l.get("reason"))
            decisions[key] = decisions.get(key, 0) + v
    result["webhook_decisions"] = decisions
    if "logs" in opts:
        result["webhook_log"] = log_latencies(opts["logs"], opts["log-namespace"])
    lb = ledger_bytes()
    if lb:
        result["ledger_records"], result["ledger_bytes"] = lb
    with open(opts["results"], "a") as f:
        f.write(json.dumps(result, default=list) + "\n")
    summary = "%s: %d created in %.1f s" % (label, result["ok"], result["seconds"])
    if result.get("p50") is not None:
        summary += ", p50 %.1f ms, p99 %.1f ms" % (result["p50"] * 1e3, result["p99"] * 1e3)
    summary += ", %d revisions, %d etcd bytes" % (result["revisions"], sum(watch.bytes.values()))
    if result.get("failed") or result.get("incomplete") or result.get("command_status"):
        summary += "; FAILED: %s" % (result.get("failures") or result.get("incomplete") or result.get("command_errors"))
    print(summary, flush=True)

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "report":
        from report import report  # the tables, in report.py beside this file (it imports this one)
        report(*args)
    else:
        {"pods": pods, "requests": requests, "annotate": annotate, "lb": lb, "measure": measure,
         "objects": objects}[cmd](*args)
