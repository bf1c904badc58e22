// An execution's story as a graph (the server gathers it: /api/story,
// console/ledger_index.h): columns parent | ExecutionRequest | approvals |
// grant | Job | Pods | other, the middle two only when the authority took
// part. One node per object (its latest record), but one per approval: each
// is a person's decision, shown with who, what, why and when. Denials are
// apart and in red; an approval the authority would not count (made for an
// older digest of the request: void) and one the webhook refused are
// marked as such.
import { Summary } from "./api";
import { s } from "./dom";
import { describe } from "./lineage";

export function ruleName(rule: Summary["rule"]): string | undefined {
  if (rule === undefined) return undefined;
  return typeof rule === "string" ? rule : `${rule.policy ?? "?"}/${rule.name ?? "?"}`;
}

interface Node {
  col: string;
  r: Summary;
  lines: string[];
  cls: string[];
  title: string;
}

// The request's execution-scope digest as the authority saw it (the
// grant's, else the request's latest record that has one): an approval of
// another digest is void (authority/approval.h, TallyApprovals).
function requestDigests(records: Summary[]): Map<string, string> {
  const latest = new Map<string, string>(), granted = new Map<string, string>();
  for (const r of records) {
    const uid = r.object?.uid;
    if (!uid || r.object?.kind !== "ExecutionRequest" || !r.digest) continue;
    if (r.type === "grant") granted.set(uid, r.digest);
    else if (r.type === "admission" || r.type === "execution") latest.set(uid, r.digest);
  }
  for (const [uid, d] of granted) latest.set(uid, d);
  return latest;
}

// What fits in a node; the node's title has it all.
function cut(line: string, n: number): string {
  return line.length <= n ? line : `${line.slice(0, n - 1)}…`;
}

function when(t?: string): string {
  return t ? t.replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

function approvalNode(r: Summary, digests: Map<string, string>, counted: Set<string>): Node {
  const refused = r.decision === "denied";
  const want = digests.get(r.object?.uid ?? "");
  const isVoid = !refused && want !== undefined && r.digest !== undefined && r.digest !== want;
  const isCounted = !refused && counted.has(r.approval?.uid ?? "");
  const deny = r.verdict === "Deny";
  const state = refused
    ? `REFUSED: ${r.message ?? ""}`
    : isVoid
      ? "VOID: for an older digest"
      : isCounted
        ? `counted by the grant${r.reason ? `: “${r.reason}”` : ""}`
        : r.reason
          ? `“${r.reason}”`
          : "";
  return {
    col: "approval",
    r,
    lines: [`${r.verdict ?? "?"} by ${r.approver ?? "?"}`, `${when(r.time)} · seq ${r.seq}`, state],
    cls: ["approval", refused || deny ? "denied" : "allowed", isVoid ? "void" : "", isCounted ? "counted" : ""],
    title: [
      `${r.verdict ?? "?"} by ${r.approver ?? "?"} at ${r.time ?? "?"}`,
      `webhook: ${r.decision ?? "?"}${r.message ? ` (${r.message})` : ""}`,
      r.reason ? `reason: ${r.reason}` : "",
      `digest: ${r.digest ?? "?"}${isVoid ? ` (the request's: ${want})` : ""}`,
      r.approval?.name ? `ExecutionApproval ${r.approval.name}` : "",
    ]
      .filter(Boolean)
      .join("\n"),
  };
}

function authorityNode(r: Summary): Node {
  const grant = r.type === "grant";
  const rule = ruleName(r.rule) ?? "";
  return {
    col: "grant",
    r,
    lines: grant
      ? [`grant by ${r.authority ?? "?"}`, `rule ${rule}`, `seq ${r.seq} · jti ${r.jti ?? ""}`]
      : [`denial: ${r.reason ?? ""}`, `${when(r.time)} · seq ${r.seq}`, r.approver ? `by ${r.approver}: ${r.approverReason ?? ""}` : (r.message ?? "")],
    cls: ["authority", grant ? "allowed" : "denied"],
    title: [grant ? `grant by ${r.authority} (kid ${r.kid})` : `denial (${r.reason})`, `rule: ${rule}`, `time: ${r.time}`, r.message ?? ""]
      .filter(Boolean)
      .join("\n"),
  };
}

export function renderStory(into: HTMLElement, records: Summary[], parents: Summary[], current: number): void {
  const digests = requestDigests(records);
  const counted = new Set<string>();
  for (const r of records) if (r.type === "grant") for (const a of r.approvals ?? []) if (a.uid) counted.add(a.uid);
  const nodes: Node[] = [];
  const byObject = new Map<string, number>();
  for (const r of parents) nodes.push({ col: "parent", r, lines: [describe(r), `seq ${r.seq} · ${r.type ?? ""}`], cls: ["parent"], title: describe(r) });
  for (const r of records) {
    if (r.type === "approval") {
      nodes.push(approvalNode(r, digests, counted));
      continue;
    }
    if (r.type === "grant" || r.type === "denial") {
      nodes.push(authorityNode(r));
      continue;
    }
    const kind = r.object?.kind ?? "";
    const col = ["ExecutionRequest", "Job", "Pod"].includes(kind) ? kind : "other";
    const denied = r.decision === "denied";
    const key = denied ? `denied:${r.seq}` : `${kind}:${r.object?.uid ?? r.seq}`;
    const node: Node = {
      col,
      r,
      lines: [`${describe(r)}${r.derived ? " (derived)" : ""}`, `seq ${r.seq} · ${r.decision ?? r.type ?? ""}${denied ? ` ${r.reason ?? ""}` : ""}`],
      cls: [
        denied ? "denied" : "allowed",
        r.reason === "LineageDiscontinuity" ? "discontinuity" : "",
        r.derived ? "derived" : "",
        r.broken ? "broken" : "",
      ],
      title: `${describe(r)}\n${r.type ?? ""} ${r.decision ?? ""} ${r.reason ?? ""}\n${r.time ?? ""}`,
    };
    const at = byObject.get(key);
    if (at === undefined) {
      byObject.set(key, nodes.length);
      nodes.push(node);
    } else {
      // The object's latest record stands for it; a current mark stays.
      if (nodes[at].r.seq === current) node.cls.push("current");
      nodes[at] = node;
    }
  }
  for (const n of nodes) if (n.r.seq === current && !n.cls.includes("current")) n.cls.push("current");

  // Only the columns that hold something, in the order the execution runs.
  const order = ["parent", "ExecutionRequest", "approval", "grant", "Job", "Pod", "other"];
  const heads: Record<string, string> = { approval: "Approvals", grant: "Authority", Pod: "Pods" };
  const columns = order.filter((c) => ["ExecutionRequest", "Job", "Pod"].includes(c) || nodes.some((n) => n.col === c));
  const rowsIn = new Map<string, number>();
  const W = 240, H = 58, GX = 34, GY = 14;
  const pos = nodes.map((n) => {
    const row = rowsIn.get(n.col) ?? 0;
    rowsIn.set(n.col, row + 1);
    return { x: 10 + columns.indexOf(n.col) * (W + GX), y: 30 + row * (H + GY) };
  });
  const height = 40 + Math.max(1, ...rowsIn.values()) * (H + GY);
  const svg = s("svg", { class: "story", width: 10 + columns.length * (W + GX), height, role: "img", "aria-label": "the execution's story" });
  columns.forEach((c, i) => svg.append(s("text", { x: 10 + i * (W + GX), y: 16, class: "col" }, heads[c] ?? c)));

  // Edges along the flow: parent -> request -> approvals -> grant -> Job ->
  // Pods. Into the approvals from the request; into the authority's node
  // from each approval it could count (else from the request); into the Job
  // from the grant when there is one.
  const ok = (n: Node) => !n.cls.includes("denied") && !n.cls.includes("void");
  const idx = (col: string) => nodes.map((n, i) => (n.col === col ? i : -1)).filter((i) => i >= 0);
  const first = (col: string) => idx(col).find((i) => ok(nodes[i]));
  const edge = (a: number, b: number) => {
    const bad = !ok(nodes[b]) || !ok(nodes[a]);
    svg.append(
      s("line", {
        x1: pos[a].x + W,
        y1: pos[a].y + H / 2,
        x2: pos[b].x,
        y2: pos[b].y + H / 2,
        class: bad ? "edge denied" : "edge",
        "data-edge": `${nodes[a].col}->${nodes[b].col}`,
      }),
    );
  };
  const request = first("ExecutionRequest");
  const fromEach = (from: number | undefined, to: string) => {
    if (from === undefined) return;
    for (const b of idx(to)) edge(from, b);
  };
  fromEach(first("parent"), "ExecutionRequest");
  fromEach(request, "approval");
  const voters = idx("approval").filter((i) => nodes[i].r.decision !== "denied" && !nodes[i].cls.includes("void"));
  for (const b of idx("grant")) {
    if (voters.length === 0 && request !== undefined) edge(request, b);
    for (const a of voters) {
      // An Approve leads to a grant, a Deny to the authority's denial.
      if ((nodes[a].r.verdict === "Deny") === (nodes[b].r.type === "denial")) edge(a, b);
    }
  }
  fromEach(first("grant") ?? request, "Job");
  fromEach(first("Job"), "Pod");

  nodes.forEach((n, i) => {
    const g = s("g", { class: ["node", ...n.cls].filter(Boolean).join(" "), "data-kind": n.col === "approval" || n.col === "grant" ? (n.r.type ?? "") : (n.r.object?.kind ?? n.r.type ?? ""), "data-seq": n.r.seq });
    const a = s("a", { href: `#/record/${n.r.seq}` });
    a.append(s("title", {}, n.title));
    a.append(s("rect", { x: pos[i].x, y: pos[i].y, width: W, height: H, rx: 6 }));
    n.lines.forEach((line, k) => {
      if (line) a.append(s("text", { x: pos[i].x + 8, y: pos[i].y + 17 + k * 16, class: k === 0 ? "" : "small" }, cut(line, k === 0 ? 33 : 40)));
    });
    g.append(a);
    svg.append(g);
  });
  into.append(svg);
}
