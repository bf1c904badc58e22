"""The Markdown tables of bench/cluster/run.sh, from the JSON lines cluster_bench.py measure wrote.

Rows with the same scenario, replicas and clients are pooled over their rounds:
throughput is all creates over all timed seconds, latency percentiles are over
all creates, per-admission figures are sums over sums. The runs table lists
every run in the order it ran, so drift of the shared host shows."""
import json
import sys

from cluster_bench import PROCESS_GROUPS, histogram_quantile

GROUPS = ["pods", "configmaps:execgov-system", "configmaps:other", "events", "leases", "other"]


def ms(x):
    return "-" if x is None else ("%.1f" % (x * 1e3) if x < 10 else "%.0f" % (x * 1e3))


def num(x, fmt="%.2f"):
    return "-" if x is None else fmt % x


def by_replica(r):
    """Each replica's ledger p50 and admissions, "fwd" on one that forwarded
    its records to the writer: "7.3 (260) / fwd 9.1 (240)"."""
    parts = ["%s%s (%d)" % ("fwd " if x.get("forwarded") else "", ms(x["p50"]), x["count"])
             for x in r.get("webhook_ledger_append_by_replica", []) if x.get("count")]
    return " / ".join(parts) if len(parts) > 1 else "-"


def kb(x):
    return "-" if x is None else ("%.0f B" % x if x < 1024 else "%.1f KiB" % (x / 1024))


def pct(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def pool(runs):
    ok = sum(r["ok"] for r in runs)
    lat = sorted(x for r in runs for x in r.get("latencies", []))
    secs = sum(r["seconds"] for r in runs)
    ebytes = sum(sum(r["etcd_bytes"].values()) for r in runs)
    ledger = sum(r.get("ledger_bytes", 0) for r in runs)
    reqs = {}
    for r in runs:
        for k, v in r["api_requests"].items():
            reqs[k] = reqs.get(k, 0) + v
    groups = {g: sum(r["etcd_bytes"].get(g, 0) for r in runs) for g in GROUPS}
    per = (lambda v: v / ok) if ok else (lambda v: None)
    return {
        "ok": ok, "failed": sum(r.get("failed", 0) for r in runs), "rate": ok / secs if secs else None,
        "p50": pct(lat, 0.5), "p99": pct(lat, 0.99),
        "rev": per(sum(r["revisions"] for r in runs)), "bytes": per(ebytes),
        "db": per(sum(r["db_after"] - r["db_before"] for r in runs)),
        "per_ledger": sum(r["execgov_system_bytes"] for r in runs) / ledger if ledger else None,
        "ledger": per(ledger) if ledger else None,
        "reqs": per(sum(reqs.values())), "req_split": {k: per(v) for k, v in reqs.items()},
        "groups": {g: per(v) for g, v in groups.items()},
        "cpu": {g: per(sum(r.get("cpu_seconds", {}).get(g, 0.0) for r in runs)) for g in PROCESS_GROUPS}
        if all("cpu_seconds" in r for r in runs) else None,
    }


def hist(h):
    """A histogram's summary: the interpolated p50/p99 with the bucket each lies in, and the max's bucket."""
    b = h.get("buckets") or []

    def where(q):
        if not b or b[-1][1] <= 0:
            return "-"
        rank, lo = q * b[-1][1], 0.0
        for le, c in b:
            if c >= rank:
                if le == float("inf"):
                    return "> %g s" % lo
                return "%s ms (bucket %g–%g s)" % (ms(histogram_quantile(b, q)), lo, le)
            lo = le
        return "-"

    top = h.get("max_at_most")
    finite = [le for le, _ in b if le != float("inf")]
    if top is None:
        mx = "-"
    elif top == float("inf"):
        mx = "> %g s" % (finite[-1] if finite else 0)
    else:
        mx = "≤ %g s" % top
    return "%d; p50 %s; p99 %s; max %s" % (h["count"], where(0.5), where(0.99), mx)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def report(results_path, out_path):
    with open(results_path) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    objects = [r for r in runs if r["scenario"] == "objects"]
    runs = [r for r in runs if r["scenario"] != "objects"]
    lines = []
    scenarios = ("ungoverned", "null-webhook", "governed")
    matrix = [r for r in runs if r["scenario"] in scenarios]
    cells = []
    for r in matrix:
        key = (r["replicas"], r["clients"])
        if key not in cells:
            cells.append(key)

    idle = [r for r in runs if r["scenario"] == "idle"]
    if idle:
        r = idle[0]
        w = r["window"]
        lines.append("Background with nothing created (%.0f s): %.2f etcd revisions/s, %.0f etcd bytes/s, "
                     "%.1f API requests/s; every run below includes its share of this." %
                     (w, r["revisions"] / w, sum(r["etcd_bytes"].values()) / w, sum(r["api_requests"].values()) / w))
        lines.append("")

    lines.append("### Pod creates: governed (signed, execgov webhook) beside ungoverned (control)")
    lines.append("")
    if any(r["scenario"] == "null-webhook" for r in matrix):
        lines.append("null-webhook: the governed Pods, byte for byte, in a namespace whose only webhook is "
                     "bench/cluster/nullhook, which allows everything and does nothing else: what calling any "
                     "webhook costs this API server. Its creates/s vs the control, and the governed's vs it, "
                     "are in the ratio column.")
        lines.append("")
    rows = []
    split_rows = []
    req_rows = []
    cpu_rows = []
    for replicas, clients in cells:
        pooled = {}
        for scenario in scenarios:
            sel = [r for r in matrix if (r["replicas"], r["clients"], r["scenario"]) == (replicas, clients, scenario)]
            if sel:
                pooled[scenario] = (pool(sel), len(sel))
        for scenario in scenarios:
            if scenario not in pooled:
                continue
            p, n = pooled[scenario]
            if scenario == "ungoverned":
                p["per_ledger"] = p["ledger"] = None  # its ledger bytes are checkpoints, not admissions
            ratio = vs_bytes = "-"
            if scenario != "ungoverned" and "ungoverned" in pooled and pooled["ungoverned"][0]["bytes"] and p["bytes"]:
                vs_bytes = "%.1f×" % (p["bytes"] / pooled["ungoverned"][0]["bytes"])
            if scenario != "ungoverned" and "ungoverned" in pooled and pooled["ungoverned"][0]["rate"] and p["rate"]:
                c = pooled["ungoverned"][0]
                ratio = "%.2f (p50 %.1f×)" % (p["rate"] / c["rate"], p["p50"] / c["p50"]) if c["p50"] else \
                    "%.2f" % (p["rate"] / c["rate"])
                floor = pooled.get("null-webhook", (None,))[0]
                if scenario == "governed" and floor and floor["rate"]:
                    ratio += "; %.2f of null-webhook" % (p["rate"] / floor["rate"])
            rows.append([scenario, clients, replicas, "%d×%d" % (n, p["ok"] // max(n, 1)) +
                         (" (%d failed)" % p["failed"] if p["failed"] else ""),
                         num(p["rate"], "%.1f"), ms(p["p50"]), ms(p["p99"]), ratio, num(p["rev"]), kb(p["bytes"]), vs_bytes,
                         kb(p["db"]), num(p["per_ledger"], "%.1f"), num(p["reqs"])])
            split_rows.append([scenario, clients, replicas] + [kb(p["groups"][g]) for g in GROUPS] + [kb(p["ledger"])])
            top = sorted(p["req_split"].items(), key=lambda kv: -kv[1])[:7]
            if p["cpu"]:
                cpu_rows.append([scenario, clients, replicas] + [ms(p["cpu"][g]) for g in PROCESS_GROUPS] +
                                [ms(sum(p["cpu"].values()))])
            req_rows.append([scenario, clients, replicas,
                             ", ".join("%s %.2f" % (k, v) for k, v in top if v is not None and v >= 0.005)])
    lines += table(["scenario", "clients", "replicas", "runs×creates", "creates/s", "p50 ms", "p99 ms",
                    "creates/s vs ungoverned", "etcd revisions/admission", "etcd bytes/admission",
                    "etcd bytes vs ungoverned",
                    "etcd dbSize growth/admission", "etcd bytes/ledger byte", "API requests/admission"], rows)
    lines.append("")
    lines.append("### etcd bytes written per admission, by key prefix (and the ledger's own record bytes)")
    lines.append("")
    lines += table(["scenario", "clients", "replicas", "/registry/pods", "configmaps in execgov-system",
                    "other configmaps", "events", "leases", "other", "ledger record bytes"], split_rows)
    lines.append("")
    lines.append("### API requests per admission, by verb and resource (the most frequent)")
    lines.append("")
    lines += table(["scenario", "clients", "replicas", "requests per admission"], req_rows)
    lines.append("")
    if cpu_rows:
        lines.append("### CPU milliseconds per admission, by process (user + system, the run's processes only)")
        lines.append("")
        lines += table(["scenario", "clients", "replicas"] + list(PROCESS_GROUPS) + ["all"], cpu_rows)
        lines.append("")

    for r in objects:
        lines.append("### One API write: CPU milliseconds per ConfigMap of %d bytes, by process (%d objects, %d clients)"
                     % (r["bytes"], r["objects"], r["clients"]))
        lines.append("")
        lines.append("A ledger batch is one create, and its share of one DELETE of a collection once the operator "
                     "merged it into a segment (one DELETE each where the operator may not delete collections).")
        lines.append("")
        rows = []
        shown = [g for g in PROCESS_GROUPS if g not in ("ledger etcd", "null webhook", "proxy")]
        for verb, v in r["verbs"].items():
            count = v.get("count", r["objects"])
            cpu = {g: v["cpu_seconds"][g] / count for g in PROCESS_GROUPS}
            rows.append([verb, "%.0f" % (count / v["seconds"])] + [ms(cpu[g]) for g in shown] +
                        [ms(sum(cpu.values()))])
        lines += table(["verb", "objects/s"] + shown + ["all"], rows)
        lines.append("")

    burst = [r for r in runs if r["scenario"] == "burst"]
    for r in burst:
        n = r["ok"]
        per = (lambda v: v / n) if n else (lambda v: float("nan"))
        adm, own, log = r["apiserver_admission"], r["webhook_admission"], r.get("webhook_log")
        lines.append("### Burst: %s" % r["label"])
        lines.append("")
        rejections = sum(r["apiserver_webhook_rejections"].values())
        # The histogram's bounds (..., 2.5, 10, 25) need not include the
        # timeout: count what lies above the last bound at or under it.
        below, over = None, None
        if r.get("timeout") and adm["buckets"]:
            under = [(le, c) for le, c in adm["buckets"] if le <= r["timeout"]]
            below = under[-1][0] if under else 0.0
            over = adm["buckets"][-1][1] - (under[-1][1] if under else 0.0)
        created = {}
        for by_resource in r.get("created", {}).values():
            for res, c in by_resource.items():
                created[res] = created.get(res, 0) + c
        allowed = {}
        for k, v in r["webhook_decisions"].items():
            kind, decision = k.split(" ", 1)
            if decision.startswith("allowed/"):
                allowed[kind] = allowed.get(kind, 0) + v
        kinds = [("ExecutionRequest", "execgov.io/executionrequests"), ("Job", "jobs"), ("Pod", "pods")]
        phantoms = sum(max(0, allowed.get(k, 0) - created.get(res, 0)) for k, res in kinds)
        failed = r.get("requests", n) - (r.get("requests_ok") or 0)
        rows = [
            ["Pods created (etcd), first kubectl to last Pod", "%d in %.1f s%s" % (
                n, r["seconds"], " (%s)" % r["incomplete"] if r.get("incomplete") else "")],
            ["kubectl create: succeeded, failed (first error)", "%d, %d%s" % (
                r.get("requests_ok") or 0, failed, " (%s)" % r["command_errors"][0] if r["command_errors"] else "")],
            ["created (etcd) / allowed (execgov's metrics)", ", ".join(
                "%s %d / %d" % (k, created.get(res, 0), allowed.get(k, 0)) for k, res in kinds)],
            ["allowed but never created (the API server gave up, or refused after execgov)", "%d" % phantoms],
            ["kubectl create wall time per request (client, incl. kubectl start) p50 / p99 / max",
             "%s / %s / %s ms" % (ms(r["p50"]), ms(r["p99"]), ms(r["max"]))],
            ["API server: execgov admissions (apiserver_admission_webhook_admission_duration_seconds)", hist(adm)],
            ["execgov webhook: admissions (execgov_admission_duration_seconds, all replicas)", hist(own)],
            ["execgov's log: each admission's own latencySeconds (no API server or network time)",
             "%d, p50 %s ms, p99 %s ms, max %s ms; %d over the timeout" % (
                 log["count"], ms(log["p50"]), ms(log["p99"]), ms(log["max"]),
                 sum(1 for x in log["latencies"] if r.get("timeout") and x > r["timeout"]))
             if log else "-"],
            ["execgov decisions", ", ".join("%s %d" % kv for kv in sorted(r["webhook_decisions"].items()))],
            ["admissions past the webhook timeout (%s s): the API server's calling_webhook_error rejections" %
             r.get("timeout", "?"), "%d%s" % (sum(v for k, v in r["apiserver_webhook_rejections"].items()
                                                 if "calling_webhook_error" in k),
                                             " (all rejections: %s)" % r["apiserver_webhook_rejections"]
                                             if rejections else "")],
            ["API server histogram: admissions above its last bound under the timeout (%s s), so at most "
             "this many took longer than the timeout" % num(below, "%g"), num(over, "%d")],
            ["etcd revisions / bytes per Pod", "%.2f / %s" % (per(r["revisions"]),
                                                              kb(per(sum(r["etcd_bytes"].values()))))],
            ["etcd bytes per Pod by prefix", ", ".join("%s %s" % (g, kb(per(r["etcd_bytes"].get(g, 0))))
                                                       for g in GROUPS)],
            ["etcd dbSize growth per Pod", kb(per(r["db_after"] - r["db_before"]))],
            ["etcd bytes per ledger byte", num(r["execgov_system_bytes"] / r["ledger_bytes"], "%.1f")
             if r.get("ledger_bytes") else "-"],
            ["API requests per Pod", "%.2f (%s)" % (per(sum(r["api_requests"].values())), ", ".join(
                "%s %.2f" % (k, per(v)) for k, v in sorted(r["api_requests"].items(), key=lambda kv: -kv[1])[:8]))],
        ]
        lines += table(["measure", "value"], rows)
        lines.append("")

    lines.append("### Runs in the order they ran")
    lines.append("")
    rows = []
    for i, r in enumerate(runs):
        allowed = sum(v for k, v in r.get("webhook_decisions", {}).items() if k.startswith("Pod allowed/"))
        phantom = max(0, int(allowed) - r["ok"]) if r["scenario"] == "governed" else "-"
        rows.append([i + 1, r["label"], r["ok"], r.get("failed", "-"), phantom, num(r["ok"] / r["seconds"] if r["seconds"] else None, "%.1f"),
                     ms(r.get("p50")), ms(r.get("p99")), ms(r.get("max")), r["revisions"],
                     sum(r["etcd_bytes"].values()), ms(r["webhook_admission"]["p50"]), ms(r["webhook_admission"]["p99"]),
                     ms(r.get("webhook_ledger_append", {}).get("p50")), by_replica(r),
                     "%.2f" % r["load"], "%.0f%%" % (100 * r["steal"])])
    lines += table(["#", "run", "created", "failed", "allowed, not created", "creates/s", "p50 ms", "p99 ms", "max ms", "etcd revisions",
                    "etcd bytes", "execgov p50 ms", "execgov p99 ms", "of which ledger p50 ms",
                    "ledger p50 ms by replica (admissions)", "load (1 min)", "CPU steal"],
                   rows)
    text = "\n".join(lines) + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    sys.stdout.write(text)
