// The health dashboard: readiness, admissions by decision and reason (and
// per second, from two polls), latency percentiles from the histogram, the
// ledger head and the age of its last checkpoint, for each ops port the
// console was pointed at (execgov console --metrics NAME=URL).
import { api } from "./api";
import { clear, h, s } from "./dom";

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
interface Health {
  time?: string;
  targets: Target[];
  ledger: { size: number; checkpointSize?: number; checkpointTime?: number };
}

let previous: { at: number; totals: Map<string, number> } | null = null;
let timer: number | undefined;

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

function bars(counts: Map<string, number>): SVGElement {
  const entries = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  const max = Math.max(1, ...entries.map((e) => e[1]));
  const svg = s("svg", { class: "bars", width: 620, height: 24 * entries.length + 8, role: "img", "aria-label": "admissions by decision and reason" });
  entries.forEach(([key, n], i) => {
    const [decision, reason] = key.split("|");
    const y = 4 + i * 24;
    svg.append(s("text", { x: 0, y: y + 15 }, `${decision} ${reason}`));
    svg.append(s("rect", { x: 220, y, width: Math.max(2, (340 * n) / max), height: 18, class: decision === "denied" ? "bar denied" : "bar" }));
    svg.append(s("text", { x: 226 + (340 * n) / max, y: y + 15 }, String(n)));
  });
  return svg;
}

function fmt(seconds: number | null): string {
  if (seconds === null) return "n/a";
  return seconds < 1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(2)} s`;
}

async function refresh(root: HTMLElement): Promise<void> {
  let health: Health;
  try {
    health = await api<Health>("/api/health");
  } catch (e) {
    clear(root);
    root.append(h("p", { class: "error" }, (e as Error).message));
    return;
  }
  const now = Date.now();
  const totals = new Map<string, number>();
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
  );
  if (health.targets.length === 0) {
    root.append(h("p", { class: "muted" }, "No ops ports: start the console with --metrics webhook=http://HOST:PORT (and operator=...)."));
  }
  for (const t of health.targets) {
    const adm = admissions(t);
    let sum = 0;
    adm.forEach((n) => (sum += n));
    totals.set(t.name, sum);
    const prev = previous?.totals.get(t.name);
    const rate = previous && prev !== undefined ? (sum - prev) / Math.max(0.001, (now - previous.at) / 1000) : null;
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
        ),
        adm.size ? bars(adm) : h("p", { class: "muted" }, "no admissions yet"),
      ),
    );
  }
  previous = { at: now, totals };
}

export function renderHealth(root: HTMLElement): void {
  if (timer !== undefined) window.clearInterval(timer);
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
