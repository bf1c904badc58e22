// The lineage explorer: a search over the ledger's records (paged on the
// server, newest first) and an execution's story as a graph.
import { api, Summary } from "./api";
import { clear, h, s } from "./dom";

const FIELDS: [string, string][] = [
  ["name", "object name"],
  ["object", "namespace/name"],
  ["uid", "object uid"],
  ["jti", "artifact jti"],
  ["sub", "artifact sub"],
  ["iss", "artifact iss"],
  ["kid", "artifact kid"],
  ["digest", "digest"],
];

export function describe(r: Summary): string {
  if (r.type === "checkpoint") return "checkpoint";
  const o = r.object ?? {};
  return `${o.kind ?? r.type ?? "?"} ${o.namespace ? o.namespace + "/" : ""}${o.name ?? ""}`;
}

export function renderLineage(root: HTMLElement, params: URLSearchParams): void {
  clear(root);
  const field = h("select", { id: "search-field", "aria-label": "search by" });
  for (const [v, label] of FIELDS) field.append(h("option", { value: v, selected: params.has(v) }, label));
  const value = h("input", { id: "search-value", type: "search", placeholder: "exact value", maxlength: "256" });
  for (const [v] of FIELDS) if (params.get(v)) value.value = params.get(v)!;
  const decision = h("select", { id: "search-decision", "aria-label": "decision" });
  for (const d of ["", "allowed", "denied"]) {
    decision.append(h("option", { value: d, selected: params.get("decision") === d }, d || "any decision"));
  }
  const reason = h("input", { id: "search-reason", placeholder: "reason", maxlength: "64", value: params.get("reason") ?? "" });
  const since = h("input", { id: "search-since", type: "datetime-local", "aria-label": "since" });
  const until = h("input", { id: "search-until", type: "datetime-local", "aria-label": "until" });
  const form = h(
    "form",
    { id: "search", class: "search" },
    field,
    value,
    decision,
    reason,
    h("label", {}, "since ", since),
    h("label", {}, "until ", until),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (value.value.trim()) q.set(field.value, value.value.trim());
    if (decision.value) q.set("decision", decision.value);
    if (reason.value.trim()) q.set("reason", reason.value.trim());
    if (since.value) q.set("since", new Date(since.value).toISOString());
    if (until.value) q.set("until", new Date(until.value).toISOString());
    window.location.hash = `#/lineage?${q}`;
  });
  const results = h("div", { id: "results" });
  root.append(h("h1", {}, "Lineage explorer"), form, results);
  void loadPage(results, params, undefined);
}

async function loadPage(into: HTMLElement, params: URLSearchParams, before: number | undefined): Promise<void> {
  const q: Record<string, string | number | undefined> = { limit: 50, before };
  for (const [k, v] of params) q[k] = v;
  let page: { records: Summary[]; next: number | null; size: number };
  try {
    page = await api("/api/records", q);
  } catch (e) {
    into.append(h("p", { class: "error" }, (e as Error).message));
    return;
  }
  let table = into.querySelector("table");
  if (!table) {
    table = h(
      "table",
      { class: "records" },
      h(
        "thead",
        {},
        h("tr", {}, ...["seq", "time", "type", "object", "decision", "reason", "jti"].map((c) => h("th", {}, c))),
      ),
      h("tbody"),
    );
    into.append(h("p", { class: "muted" }, `${page.size} records in the ledger`), table);
  }
  const body = table.querySelector("tbody")!;
  for (const r of page.records) {
    const row = h(
      "tr",
      {
        class: [r.broken ? "broken" : "", r.decision === "denied" ? "denied" : ""].join(" ").trim(),
        "data-seq": String(r.seq),
      },
      h("td", {}, h("a", { href: `#/record/${r.seq}` }, String(r.seq))),
      h("td", {}, r.time ?? ""),
      h("td", {}, r.type ?? ""),
      h("td", {}, describe(r)),
      h("td", {}, r.decision ?? ""),
      h("td", {}, r.broken ? `${r.reason ?? ""} BROKEN: the next record does not link to this one` : (r.reason ?? "")),
      h("td", { class: "mono" }, r.artifact?.jti ?? ""),
    );
    body.append(row);
  }
  into.querySelector("button.more")?.remove();
  if (page.next !== null) {
    const more = h("button", { class: "more", type: "button" }, "Older records");
    more.addEventListener("click", () => void loadPage(into, params, page.next ?? undefined));
    into.append(more);
  }
}

// The story as columns: parents | ExecutionRequest | Job | Pods | other,
// one node per object (its latest record), denials apart and in red.
export function renderStory(into: HTMLElement, records: Summary[], parents: Summary[], current: number): void {
  const columns = ["parent", "ExecutionRequest", "Job", "Pod", "other"];
  const nodes: { col: number; r: Summary; label: string; cls: string }[] = [];
  const byObject = new Map<string, number>();
  for (const r of parents) nodes.push({ col: 0, r, label: describe(r), cls: "node parent" });
  for (const r of records) {
    const kind = r.object?.kind ?? "";
    let col = columns.indexOf(kind);
    if (col < 1) col = 4;
    const denied = r.decision === "denied";
    const key = denied ? `denied:${r.seq}` : `${kind}:${r.object?.uid ?? r.seq}`;
    const cls = [
      "node",
      denied ? "denied" : "allowed",
      r.reason === "LineageDiscontinuity" ? "discontinuity" : "",
      r.derived ? "derived" : "",
      r.broken ? "broken" : "",
      r.seq === current ? "current" : "",
    ]
      .filter(Boolean)
      .join(" ");
    const label = `${describe(r)}${r.derived ? " (derived)" : ""}`;
    const at = byObject.get(key);
    if (at === undefined) {
      byObject.set(key, nodes.length);
      nodes.push({ col, r, label, cls });
    } else {
      nodes[at] = { col, r, label, cls: nodes[at].cls + (r.seq === current ? " current" : "") };
    }
  }
  const rowsIn = [0, 0, 0, 0, 0];
  const W = 230, H = 44, GX = 40, GY = 16;
  const pos = nodes.map((n) => ({ x: 10 + n.col * (W + GX), y: 30 + rowsIn[n.col]++ * (H + GY) }));
  const height = 40 + Math.max(1, ...rowsIn) * (H + GY);
  const svg = s("svg", { class: "story", width: 10 + 5 * (W + GX), height, role: "img", "aria-label": "the execution's story" });
  columns.forEach((c, i) => svg.append(s("text", { x: 10 + i * (W + GX), y: 16, class: "col" }, c === "Pod" ? "Pods" : c)));
  // Edges: parent -> request, request -> Job, Job -> Pods (allowed nodes).
  const firstIn = (col: number) => nodes.findIndex((n) => n.col === col && !n.cls.includes("denied"));
  for (const [from, to] of [
    [0, 1],
    [1, 2],
    [2, 3],
  ]) {
    const a = firstIn(from);
    if (a < 0) continue;
    nodes.forEach((n, i) => {
      if (n.col !== to) return;
      svg.append(
        s("line", {
          x1: pos[a].x + W,
          y1: pos[a].y + H / 2,
          x2: pos[i].x,
          y2: pos[i].y + H / 2,
          class: n.cls.includes("denied") ? "edge denied" : "edge",
          "data-edge": `${columns[from]}->${columns[to]}`,
        }),
      );
    });
  }
  nodes.forEach((n, i) => {
    const g = s("g", { class: n.cls, "data-kind": n.r.object?.kind ?? n.r.type ?? "", "data-seq": n.r.seq });
    const a = s("a", { href: `#/record/${n.r.seq}` });
    a.append(s("rect", { x: pos[i].x, y: pos[i].y, width: W, height: H, rx: 6 }));
    a.append(s("text", { x: pos[i].x + 8, y: pos[i].y + 18 }, n.label.slice(0, 34)));
    a.append(s("text", { x: pos[i].x + 8, y: pos[i].y + 36, class: "small" }, `seq ${n.r.seq} · ${n.r.decision ?? n.r.type ?? ""}${n.r.decision === "denied" ? ` ${n.r.reason ?? ""}` : ""}`));
    g.append(a);
    svg.append(g);
  });
  into.append(svg);
}
