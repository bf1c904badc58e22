// The health dashboard: readiness, admissions by decision and reason (and
// per second, from two polls), latency percentiles from the histogram, the
// ledger head and the age of its last checkpoint, for each ops port the
// console was pointed at (execgov console --metrics NAME=URL); the
// policies' status conditions as the logged-in user may list them (in
// cluster), the serving certificates' expiry (the console's own, and what
// each target reports in execgov_tls_certificate_not_after_seconds), and
// the operator's runtime violations now and over the time the page is open
// (and in cluster its PolicyReports' findings, as the user may list them).
import { api } from "./api";
import { clear, h, s } from "./dom";
import "./health.css";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number | string;
}
interface Target {
  name: string;
  url: string;
  ready: boolean | null;
  error?: string;
  samples: Sample[];
}
interface Condition {
  type: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}
interface PolicyHealth {
  name: string;
  generation?: number;
  observedGeneration?: number;
  ready: string | null;
  conditions: Condition[];
  conditionsTruncated?: boolean;
}
interface KindHealth {
  kind: string;
  policies?: PolicyHealth[];
  truncated?: boolean;
  error?: string;
  forbidden?: boolean;
  notInstalled?: boolean;
}
interface Health {
  time?: string;
  targets: Target[];
  ledger: { size: number; checkpointSize?: number; checkpointTime?: number };
  console?: { certificateNotAfter?: number };
  policies?: { available: boolean; reason?: string; error?: string; kinds?: KindHealth[] };
  runtimeReports?: RuntimeReports;
}
interface Finding {
  result: string;
  rule?: string;
  policy?: string;
  message?: string;
  action?: string;
  timestamp?: number;
  kind?: string;
  namespace?: string;
  name?: string;
}
interface RuntimeReports {
  reports?: { namespace: string; name: string; fail: number; warn: number; results: Finding[] }[];
  truncated?: boolean;
  forbidden?: boolean;
  notInstalled?: boolean;
  error?: string;
}

let previous: { at: number; totals: Map<string, number>; decisions: Map<string, Map<string, number>> } | null = null;
let timer: number | undefined;
// What the server reads from the API server as the user (policies, runtime
// findings) is asked for on entering the page and every CLUSTER_EVERY polls
// (30 s), not every poll: each is a list of everything the user may see.
const CLUSTER_EVERY = 6;
let polls = 0;
let lastCluster: Pick<Health, "policies" | "runtimeReports"> | null = null;

// What the page has seen since it was opened, one point a poll, for the
// charts over time: at most HISTORY points (10 minutes at one poll in 5 s).
const HISTORY = 120;
interface Point {
  at: number;
  values: Map<string, number>;
}
const violationHistory: Point[] = [];
const rateHistory = new Map<string, Point[]>(); // by target
function remember(history: Point[], point: Point): void {
  history.push(point);
  if (history.length > HISTORY) history.splice(0, history.length - HISTORY);
}

const num = (v: number | string): number => (typeof v === "number" ? v : v === "+Inf" ? Infinity : Number(v));

// Percentile q of a Prometheus histogram (cumulative buckets summed over
// every label set), by linear interpolation inside the bucket.
export function percentile(samples: Sample[], family: string, q: number): number | null {
  const buckets = new Map<number, number>();
  for (const x of samples) {
    if (x.name !== `${family}_bucket`) continue;
    const le = x.labels.le === "+Inf" ? Infinity : Number(x.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + num(x.value));
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return null;
}

function admissions(t: Target): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of t.samples) {
    if (x.name !== "execgov_admission_requests_total") continue;
    const key = `${x.labels.decision ?? "?"}|${x.labels.reason ?? "?"}`;
    m.set(key, (m.get(key) ?? 0) + num(x.value));
  }
  return m;
}

function gauge(t: Target, name: string): number | null {
  const x = t.samples.find((y) => y.name === name);
  return x ? num(x.value) : null;
}

// A horizontal bar per entry, largest first (at most 12); `denied` entries
// in red.
function bars(entries: { label: string; n: number; denied: boolean }[], label: string): SVGElement {
  const shown = [...entries].sort((a, b) => b.n - a.n).slice(0, 12);
  const max = Math.max(1, ...shown.map((e) => e.n));
  const svg = s("svg", { class: "bars", width: 620, height: 24 * shown.length + 8, role: "img", "aria-label": label });
  shown.forEach((e, i) => {
    const y = 4 + i * 24;
    const g = s("g", { "data-label": e.label });
    g.append(s("text", { x: 0, y: y + 15 }, e.label));
    g.append(s("rect", { x: 220, y, width: Math.max(2, (340 * e.n) / max), height: 18, class: e.denied ? "bar denied" : "bar" }));
    g.append(s("text", { x: 226 + (340 * e.n) / max, y: y + 15, class: "count" }, String(e.n)));
    svg.append(g);
  });
  return svg;
}

function admissionBars(counts: Map<string, number>): SVGElement {
  return bars(
    [...counts.entries()].map(([key, n]) => {
      const [decision, reason] = key.split("|");
      return { label: `${decision} ${reason}`, n, denied: decision === "denied" };
    }),
    "admissions by decision and reason",
  );
}

// A line per series over the points remembered (oldest left), the largest
// value and the span written on the axes. One point is drawn as a dot.
export function timeline(history: Point[], label: string, unit: string, colour?: (name: string, i: number) => number): SVGElement {
  const W = 620, H = 150, left = 48, right = 130, top = 8, bottom = 22;
  const svg = s("svg", { class: "timeline", width: W, height: H, role: "img", "aria-label": label, "data-points": history.length });
  const names = [...new Set(history.flatMap((p) => [...p.values.keys()]))].sort();
  let max = 0;
  for (const p of history) p.values.forEach((v) => (max = Math.max(max, v)));
  max = max > 0 ? max : 1;
  const t0 = history.length ? history[0].at : 0;
  const t1 = history.length ? history[history.length - 1].at : 0;
  const x = (at: number): number => left + (t1 > t0 ? ((at - t0) / (t1 - t0)) * (W - left - right) : (W - left - right) / 2);
  const y = (v: number): number => top + (1 - v / max) * (H - top - bottom);
  svg.append(s("line", { x1: left, y1: top, x2: left, y2: H - bottom, class: "axis" }));
  svg.append(s("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, class: "axis" }));
  svg.append(s("text", { x: left - 6, y: top + 10, class: "tick", "text-anchor": "end" }, Number.isInteger(max) ? String(max) : max.toFixed(2)));
  svg.append(s("text", { x: left - 6, y: H - bottom, class: "tick", "text-anchor": "end" }, "0"));
  const span = Math.round((t1 - t0) / 1000);
  svg.append(s("text", { x: left, y: H - 6, class: "tick" }, history.length > 1 ? `the last ${span} s (${unit})` : `now (${unit})`));
  names.forEach((name, i) => {
    const pts = history.map((p) => [x(p.at), y(p.values.get(name) ?? 0)]);
    const series = `series-${colour ? colour(name, i) : i % 6}`;
    const g = s("g", { class: `series ${series}`, "data-series": name });
    if (pts.length > 1) g.append(s("polyline", { points: pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ") }));
    const [lx, ly] = pts[pts.length - 1];
    g.append(s("circle", { cx: lx.toFixed(1), cy: ly.toFixed(1), r: 3 }));
    g.append(s("text", { x: W - right + 8, y: top + 12 + i * 16, class: "legend" }, `${name} ${history[history.length - 1].values.get(name) ?? 0}`));
    svg.append(g);
  });
  return svg;
}

function fmt(seconds: number | null): string {
  if (seconds === null) return "n/a";
  return seconds < 1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(2)} s`;
}

// Admissions by decision alone (allowed, denied, ...), for the rate chart.
function byDecision(adm: Map<string, number>): Map<string, number> {
  const m = new Map<string, number>();
  adm.forEach((n, key) => {
    const d = key.split("|")[0];
    m.set(d, (m.get(d) ?? 0) + n);
  });
  return m;
}

// The operator's watch on the ValidatingWebhookConfiguration: 0 once it was
// deleted or edited so that it no longer sends what execgov must judge.
function webhookConfiguration(t: Target): HTMLElement[] {
  const out: HTMLElement[] = [];
  for (const x of t.samples) {
    if (x.name !== "execgov_webhook_configuration_intact") continue;
    const intact = num(x.value) === 1;
    out.push(
      h("dt", {}, `webhook configuration ${x.labels.name ?? ""}`),
      h("dd", { class: intact ? "ok" : "error", "data-webhook-configuration": x.labels.name ?? "" }, intact ? "intact" : "BYPASSED: deleted or edited, nothing is judged or recorded"),
    );
  }
  return out;
}

function rateChart(target: string): Node {
  const history = rateHistory.get(target) ?? [];
  if (history.length === 0) return h("p", { class: "muted" }, "admissions per second: from the next poll");
  // allowed in green, denied in red, anything else in orange
  return timeline(history, `admissions per second at ${target}, by decision`, "admissions per second", (name) =>
    name === "allowed" ? 3 : name === "denied" ? 0 : 2,
  );
}

// Days left until `notAfter` (Unix seconds), and how it is shown: expired
// in red, under 14 days in orange.
export function certificateState(notAfter: number, now: number): { state: "ok" | "warn" | "expired"; text: string } {
  const days = (notAfter * 1000 - now) / 86400000;
  const when = new Date(notAfter * 1000).toISOString();
  if (days < 0) return { state: "expired", text: `EXPIRED ${Math.ceil(-days)} days ago (${when})` };
  if (days < 14) return { state: "warn", text: `${Math.floor(days)} days left (${when})` };
  return { state: "ok", text: `${Math.floor(days)} days left (${when})` };
}

function certificates(health: Health, now: number): HTMLElement {
  const rows: { name: string; source: string; notAfter: number }[] = [];
  if (health.console?.certificateNotAfter !== undefined) {
    rows.push({ name: "console", source: "this console", notAfter: health.console.certificateNotAfter });
  }
  for (const t of health.targets) {
    for (const x of t.samples) {
      if (x.name !== "execgov_tls_certificate_not_after_seconds") continue;
      const v = num(x.value);
      if (Number.isFinite(v)) rows.push({ name: x.labels.server ?? t.name, source: `${t.name}'s /metrics`, notAfter: v });
    }
  }
  const card = h("section", { class: "card", id: "certificates" }, h("h2", {}, "Serving certificates"));
  if (rows.length === 0) {
    card.append(h("p", { class: "muted" }, "No certificate reported: no target exports execgov_tls_certificate_not_after_seconds."));
    return card;
  }
  const body = h("tbody", {});
  for (const r of rows) {
    const st = certificateState(r.notAfter, now);
    body.append(
      h(
        "tr",
        { class: `cert ${st.state}`, "data-cert": r.name, "data-state": st.state },
        h("td", {}, r.name),
        h("td", { class: "muted" }, r.source),
        h("td", { class: "expiry" }, st.text),
      ),
    );
  }
  card.append(h("table", { class: "records certs" }, h("thead", {}, h("tr", {}, h("th", {}, "server"), h("th", {}, "reported by"), h("th", {}, "notAfter"))), body));
  return card;
}

function readyText(p: PolicyHealth): [string, string] {
  if (p.ready === "True") return ["READY", "ok"];
  if (p.ready === "False") return ["NOT READY", "bad"];
  if (p.ready === "Unknown") return ["UNKNOWN", "unknown"];
  return ["no status yet", "unknown"];
}

function conditionText(c: Condition): string {
  let t = `${c.type}=${c.status ?? "?"}`;
  if (c.reason) t += ` ${c.reason}`;
  if (c.message) t += `: ${c.message}`;
  if (c.lastTransitionTime) t += ` (since ${c.lastTransitionTime})`;
  return t;
}

const plural = (kind: string): string => kind.replace(/y$/, "ie") + "s";

function policyKind(k: KindHealth): HTMLElement[] {
  const kinds = plural(k.kind);
  const out: HTMLElement[] = [h("h3", {}, kinds)];
  if (k.forbidden) {
    out.push(h("p", { class: "error", "data-forbidden": k.kind }, `Not allowed to list ${kinds}: ${k.error ?? ""}`));
    return out;
  }
  if (k.notInstalled) {
    out.push(h("p", { class: "muted", "data-not-installed": k.kind }, `${k.kind} is not installed in this cluster.`));
    return out;
  }
  if (k.error) {
    out.push(h("p", { class: "error" }, k.error));
    return out;
  }
  const policies = [...(k.policies ?? [])];
  if (policies.length === 0) {
    out.push(h("p", { class: "muted" }, `No ${kinds}.`));
    return out;
  }
  // The ones that are not ready first: they are what the page is for.
  const rank = (p: PolicyHealth): number => (p.ready === "False" ? 0 : p.ready === "True" ? 2 : 1);
  policies.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const body = h("tbody", {});
  for (const p of policies) {
    const [text, cls] = readyText(p);
    const stale =
      p.generation !== undefined && p.observedGeneration !== undefined && p.observedGeneration < p.generation
        ? ` (status of generation ${p.observedGeneration}; ${p.generation} not yet seen)`
        : "";
    body.append(
      h(
        "tr",
        { class: `policy ${cls}`, "data-kind": k.kind, "data-policy": p.name, "data-ready": p.ready ?? "none" },
        h("td", {}, p.name),
        h("td", { class: "ready-state" }, text),
        h(
          "td",
          {},
          h("ul", { class: "conditions" }, ...p.conditions.map((c) => h("li", { class: c.status === "False" ? "false" : "" }, conditionText(c)))),
          p.conditions.length === 0 ? h("span", { class: "muted" }, "no conditions written") : null,
          stale ? h("span", { class: "stale" }, stale) : null,
          p.conditionsTruncated ? h("span", { class: "muted" }, " (more conditions not shown)") : null,
        ),
      ),
    );
  }
  out.push(h("table", { class: "records policies" }, h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "Ready"), h("th", {}, "conditions"))), body));
  if (k.truncated) out.push(h("p", { class: "muted" }, "More policies than are shown (at most 500)."));
  return out;
}

function policies(health: Health): HTMLElement {
  const card = h("section", { class: "card", id: "policy-health" }, h("h2", {}, "Policies"));
  const p = health.policies;
  if (!p || !p.available) {
    card.append(h("p", { class: "muted", id: "policies-unavailable" }, `Unavailable: ${p?.reason ?? "this console reads no cluster"}.`));
    return card;
  }
  if (p.error) {
    card.append(h("p", { class: "error" }, p.error));
    return card;
  }
  let notReady = 0;
  for (const k of p.kinds ?? []) notReady += (k.policies ?? []).filter((x) => x.ready === "False").length;
  if (notReady > 0) card.append(h("p", { class: "error", id: "policies-not-ready" }, `${notReady} NOT READY`));
  for (const k of p.kinds ?? []) card.append(...policyKind(k));
  return card;
}

// execgov_runtime_violations{reason} summed over the targets (the operator
// exports it): the workloads that fail runtime verification now.
function violations(health: Health): Map<string, number> | null {
  let seen = false;
  const m = new Map<string, number>();
  for (const t of health.targets) {
    for (const x of t.samples) {
      if (x.name !== "execgov_runtime_violations") continue;
      seen = true;
      const reason = x.labels.reason ?? "?";
      m.set(reason, (m.get(reason) ?? 0) + num(x.value));
    }
  }
  return seen ? m : null;
}

function enforcements(health: Health): number | null {
  let seen = false;
  let n = 0;
  for (const t of health.targets) {
    for (const x of t.samples) {
      if (x.name !== "execgov_runtime_enforcements_total") continue;
      seen = true;
      n += num(x.value);
    }
  }
  return seen ? n : null;
}

// In cluster: the operator's PolicyReports (one per namespace), as the user
// may list them: which workload fails which check, and what was done.
function findings(r: RuntimeReports | undefined): HTMLElement[] {
  if (!r) return [];
  const out: HTMLElement[] = [h("h3", {}, "Findings (PolicyReports)")];
  if (r.forbidden) {
    out.push(h("p", { class: "error", "data-forbidden": "PolicyReport" }, `Not allowed to list PolicyReports: ${r.error ?? ""}`));
    return out;
  }
  if (r.notInstalled) {
    out.push(h("p", { class: "muted" }, "PolicyReport is not installed in this cluster."));
    return out;
  }
  if (r.error) {
    out.push(h("p", { class: "error" }, r.error));
    return out;
  }
  const rows: HTMLElement[] = [];
  for (const rep of r.reports ?? []) {
    for (const f of rep.results) {
      const workload = `${f.kind ?? "?"} ${f.namespace ?? rep.namespace}/${f.name ?? "?"}`;
      rows.push(
        h(
          "tr",
          { class: `finding ${f.result === "fail" ? "fail" : "warn"}`, "data-finding": `${rep.namespace}/${f.name ?? ""}/${f.rule ?? ""}` },
          h("td", {}, workload),
          h("td", { class: "rule" }, f.rule ?? ""),
          h("td", {}, f.result),
          h("td", {}, f.policy ?? ""),
          h("td", {}, f.action ?? ""),
          h("td", {}, f.timestamp ? new Date(f.timestamp * 1000).toISOString() : ""),
          h("td", { class: "message" }, f.message ?? ""),
        ),
      );
    }
  }
  if (rows.length === 0) {
    out.push(h("p", { class: "ok" }, "No finding in the PolicyReports you may list."));
    return out;
  }
  const head = ["workload", "finding", "result", "policy", "action", "since", "why"].map((t) => h("th", {}, t));
  out.push(h("table", { class: "records findings" }, h("thead", {}, h("tr", {}, ...head)), h("tbody", {}, ...rows)));
  if (r.truncated) out.push(h("p", { class: "muted" }, "More findings than are shown (at most 500)."));
  return out;
}

function runtime(health: Health, now: number): HTMLElement {
  const card = h("section", { class: "card", id: "runtime-violations" }, h("h2", {}, "Runtime violations"));
  const v = violations(health);
  if (v === null) {
    card.append(h("p", { class: "muted" }, "No target exports execgov_runtime_violations (the operator does: --metrics operator=http://HOST:PORT)."));
    card.append(...findings(health.runtimeReports));
    return card;
  }
  let total = 0;
  v.forEach((n) => (total += n));
  remember(violationHistory, { at: now, values: v });
  const enforced = enforcements(health);
  card.append(
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "failing verification now"),
      h("dd", { class: `violations-total ${total > 0 ? "error" : "ok"}` }, String(total)),
      h("dt", {}, "stopped (Terminate)"),
      h("dd", {}, enforced === null ? "n/a" : String(enforced)),
    ),
    h(
      "div",
      { class: "charts" },
      total > 0
        ? bars([...v.entries()].map(([reason, n]) => ({ label: reason, n, denied: n > 0 })), "runtime violations by reason")
        : h("p", { class: "ok" }, "none now"),
      timeline(violationHistory, "runtime violations over time, by reason", "workloads"),
    ),
    ...findings(health.runtimeReports),
  );
  return card;
}

async function refresh(root: HTMLElement): Promise<void> {
  let health: Health;
  try {
    const withCluster = polls % CLUSTER_EVERY === 0 || lastCluster === null;
    polls++;
    health = await api<Health>("/api/health", withCluster ? {} : { cluster: "0" });
    if (withCluster) {
      lastCluster = { policies: health.policies, runtimeReports: health.runtimeReports };
    } else if (lastCluster) {
      health.policies ??= lastCluster.policies;
      health.runtimeReports ??= lastCluster.runtimeReports;
    }
  } catch (e) {
    clear(root);
    root.append(h("p", { class: "error" }, (e as Error).message));
    return;
  }
  const now = Date.now();
  const totals = new Map<string, number>();
  const decisions = new Map<string, Map<string, number>>();
  clear(root);
  const ageS = health.ledger.checkpointTime ? Math.max(0, (now - health.ledger.checkpointTime) / 1000) : null;
  root.append(
    h("h1", {}, "Health"),
    h(
      "section",
      { class: "card", id: "ledger-health" },
      h("h2", {}, "Ledger"),
      h("p", {}, `${health.ledger.size} records; the last checkpoint covers ${health.ledger.checkpointSize ?? 0}`),
      h("p", { id: "checkpoint-age", class: ageS !== null && ageS > 3600 ? "error" : "" }, ageS === null ? "no checkpoint yet" : `last checkpoint ${Math.round(ageS)} s ago`),
    ),
    policies(health),
    certificates(health, now),
    runtime(health, now),
  );
  if (health.targets.length === 0) {
    root.append(h("p", { class: "muted" }, "No ops ports: start the console with --metrics webhook=http://HOST:PORT (and operator=...)."));
  }
  for (const t of health.targets) {
    const adm = admissions(t);
    let sum = 0;
    adm.forEach((n) => (sum += n));
    totals.set(t.name, sum);
    const perDecision = byDecision(adm);
    decisions.set(t.name, perDecision);
    const prev = previous?.totals.get(t.name);
    const seconds = previous ? Math.max(0.001, (now - previous.at) / 1000) : 1;
    const rate = previous && prev !== undefined ? (sum - prev) / seconds : null;
    const before = previous?.decisions.get(t.name);
    if (previous && before && t.ready !== null && perDecision.size > 0) {
      const rates = new Map<string, number>();
      // A counter that went down is a restarted process: no rate this poll.
      perDecision.forEach((n, d) => rates.set(d, Math.max(0, (n - (before.get(d) ?? 0)) / seconds)));
      let history = rateHistory.get(t.name);
      if (!history) rateHistory.set(t.name, (history = []));
      remember(history, { at: now, values: rates });
    }
    const state = t.ready === true ? "READY" : t.ready === false ? "NOT READY" : "UNREACHABLE";
    root.append(
      h(
        "section",
        { class: "card", "data-target": t.name },
        h("h2", {}, `${t.name} `, h("span", { class: `ready ${t.ready ? "ok" : "error"}`, "data-ready": String(t.ready) }, state)),
        h("p", { class: "muted" }, t.url, t.error ? ` · ${t.error}` : ""),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "admissions"),
          h("dd", { class: "admissions-total" }, String(sum)),
          h("dt", {}, "per second"),
          h("dd", {}, rate === null ? "(next poll)" : rate.toFixed(2)),
          h("dt", {}, "latency p50 / p90 / p99"),
          h(
            "dd",
            {},
            ["0.5", "0.9", "0.99"].map((q) => fmt(percentile(t.samples, "execgov_admission_duration_seconds", Number(q)))).join(" / "),
          ),
          h("dt", {}, "ledger head"),
          h("dd", {}, String(gauge(t, "execgov_ledger_head_sequence") ?? "n/a")),
          h("dt", {}, "policies loaded"),
          h("dd", {}, String(gauge(t, "execgov_policies_loaded") ?? "n/a")),
          ...webhookConfiguration(t),
        ),
        adm.size ? h("div", { class: "charts" }, admissionBars(adm), rateChart(t.name)) : h("p", { class: "muted" }, "no admissions yet"),
      ),
    );
  }
  previous = { at: now, totals, decisions };
}

export function renderHealth(root: HTMLElement): void {
  if (timer !== undefined) window.clearInterval(timer);
  polls = 0;
  void refresh(root);
  timer = window.setInterval(() => {
    if (!window.location.hash.startsWith("#/health")) {
      window.clearInterval(timer);
      timer = undefined;
      return;
    }
    void refresh(root);
  }, 5000);
}
