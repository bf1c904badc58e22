// The lineage explorer: a search over the ledger's records (paged on the
// server, newest first) and an execution's story as a graph.
import { api, Summary } from "./api";
import { clear, h } from "./dom";

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
  if (r.type === "approval" || r.type === "grant" || r.type === "denial") {
    const o = r.object ?? {};
    const what = r.type === "approval" ? `approval (${r.verdict ?? "?"} by ${r.approver ?? "?"})` : r.type;
    return `${what} of ${o.namespace ? o.namespace + "/" : ""}${o.name ?? ""}`;
  }
  const o = r.object ?? {};
  return `${o.kind ?? r.type ?? "?"} ${o.namespace ? o.namespace + "/" : ""}${o.name ?? ""}`;
}

// The decision a record states; the authority's grant and denial records
// state theirs by their type (as execgov ledger show's table does).
export function decisionOf(r: Summary): string {
  if (r.decision) return r.decision;
  return r.type === "grant" ? "granted" : r.type === "denial" ? "denied" : "";
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
        class: [r.broken ? "broken" : "", decisionOf(r) === "denied" ? "denied" : ""].join(" ").trim(),
        "data-seq": String(r.seq),
      },
      h("td", {}, h("a", { href: `#/record/${r.seq}` }, String(r.seq))),
      h("td", {}, r.time ?? ""),
      h("td", {}, r.type ?? ""),
      h("td", {}, describe(r)),
      h("td", {}, decisionOf(r)),
      h("td", {}, r.broken ? `${r.reason ?? ""} BROKEN: the next record does not link to this one` : (r.reason ?? "")),
      h("td", { class: "mono" }, r.artifact?.jti ?? r.jti ?? ""),
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
