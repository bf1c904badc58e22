// The governance page: each ExecutionPolicy (the console's --policy files,
// or in cluster the API server's as the logged-in user may list them), its
// issuers and keys with notAfter (expired in red, within a week in orange),
// trusted controllers and revocations; in cluster the ExecutionRequests
// waiting for authorization and whom they wait for; and with writes enabled
// a revoke form per policy, sent as the logged-in user.
import { api, post } from "./api";
import { clear, h } from "./dom";

interface Key {
  kid: string;
  algorithm: string;
  notAfter: number | null;
}
interface Policy {
  name: string;
  error?: string;
  generation: number;
  enforcement: string;
  audience: string;
  maxTTLSeconds: number;
  kinds: string[];
  namespaces: string[];
  excludedNamespaces: string[];
  issuers: { name: string; subjects: string[]; keys: Key[] }[];
  trustedControllers: string[];
  revokedKids: string[];
  revokedJtis: string[];
  summary: string;
}

function expiry(notAfter: number | null, now: number): [string, string] {
  if (notAfter === null) return ["no notAfter", ""];
  const when = new Date(notAfter * 1000).toISOString();
  if (notAfter * 1000 < now) return [`EXPIRED ${when}`, "expired"];
  if (notAfter * 1000 < now + 7 * 86400 * 1000) return [`${when} (within a week)`, "expiring"];
  return [when, ""];
}

interface Pending {
  namespace: string;
  name: string;
  created: string;
  initiator: string;
  intent: string;
  rule: string;
  waitingFor: string;
  deadline: string;
}

interface GovernanceView {
  policies: Policy[];
  source: string;
  error?: string;
  pending?: Pending[];
  pendingTruncated?: boolean;
  pendingError?: string;
  writes?: boolean;
}

// Approve or deny a waiting request as the logged-in user: the server
// creates an ExecutionApproval with the user's own token (as `execgov
// approve` does); the webhook and the authority judge it.
function decide(p: Pending, root: HTMLElement): HTMLElement {
  const reason = h("input", { name: "reason", type: "text", maxlength: "1024", placeholder: "reason (required to deny)" });
  const msg = h("span", { class: "revoke-status decide-status" });
  const send = async (approve: boolean): Promise<void> => {
    msg.className = "revoke-status decide-status";
    msg.textContent = "…";
    try {
      const body: Record<string, string> = { namespace: p.namespace, name: p.name };
      if (reason.value.trim()) body.reason = reason.value.trim();
      const r = await post<{ by: string; approval: string }>(approve ? "/api/approve" : "/api/deny", body);
      await renderGovernance(root, `${r.by} ${approve ? "approved" : "denied"} ${p.namespace}/${p.name} (ExecutionApproval ${r.approval}).`);
    } catch (err) {
      msg.textContent = `Refused: ${(err as Error).message}`;
      msg.className = "revoke-status decide-status error";
    }
  };
  const approve = h("button", { type: "button", class: "approve" }, "Approve");
  const deny = h("button", { type: "button", class: "deny" }, "Deny");
  approve.addEventListener("click", () => void send(true));
  deny.addEventListener("click", () => void send(false));
  return h("td", { class: "decide" }, reason, " ", approve, " ", deny, " ", msg);
}

function renderPending(g: GovernanceView, root: HTMLElement): HTMLElement {
  const section = h("section", { class: "card", id: "pending" }, h("h2", {}, "Waiting for authorization"));
  if (g.pendingError) {
    section.append(h("p", { class: "error", id: "pending-error" }, g.pendingError));
    return section;
  }
  const pending = g.pending ?? [];
  if (pending.length === 0) {
    section.append(h("p", { class: "muted" }, "No ExecutionRequest waits for authorization."));
    return section;
  }
  section.append(
    h(
      "table",
      { class: "records" },
      h(
        "thead",
        {},
        h("tr", {}, ...["request", "initiator", "intent", "waits for", "rule", "deadline", g.writes ? "decide" : ""].map((c) => h("th", {}, c))),
      ),
      h(
        "tbody",
        {},
        ...pending.map((p) =>
          h(
            "tr",
            { "data-request": `${p.namespace}/${p.name}` },
            h("td", { class: "mono" }, `${p.namespace}/${p.name}`),
            h("td", {}, p.initiator),
            h("td", {}, p.intent),
            h("td", { class: "waiting-for" }, p.waitingFor || "an artifact"),
            h("td", {}, p.rule),
            h("td", {}, p.deadline),
            g.writes ? decide(p, root) : h("td", {}),
          ),
        ),
      ),
    ),
  );
  if (g.pendingTruncated) section.append(h("p", { class: "muted" }, "Only the oldest 500 are shown."));
  return section;
}

// Revoke a jti or a kid in one policy. The server makes the change through
// the API server with the logged-in user's own token: what RBAC or the
// webhook refuses is shown as refused.
function revokeForm(policy: string, root: HTMLElement): HTMLElement {
  const what = h("select", { name: "what", "aria-label": "what to revoke" }, h("option", { value: "jti" }, "jti"), h("option", { value: "kid" }, "kid"));
  const value = h("input", { name: "value", type: "text", required: true, maxlength: "256", placeholder: "the artifact's jti or the key's kid" });
  const msg = h("span", { class: "revoke-status" });
  const form = h("form", { class: "revoke" }, h("strong", {}, "Revoke"), what, value, h("button", { type: "submit" }, "Revoke"), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.className = "revoke-status";
    msg.textContent = "…";
    try {
      const r = await post<{ by: string }>("/api/revoke", { policy, [what.value]: value.value.trim() });
      msg.textContent = `Revoked by ${r.by}.`;
      msg.className = "revoke-status ok";
      await renderGovernance(root, `Revoked ${what.value} ${value.value.trim()} in ${policy} as ${r.by}.`);
    } catch (err) {
      msg.textContent = `Refused: ${(err as Error).message}`;
      msg.className = "revoke-status error";
    }
  });
  return form;
}

export async function renderGovernance(root: HTMLElement, notice = ""): Promise<void> {
  clear(root);
  root.append(h("h1", {}, "Governance"));
  if (notice) root.append(h("p", { class: "revoke-status ok", id: "governance-notice" }, notice));
  let g: GovernanceView;
  try {
    g = await api("/api/governance");
  } catch (e) {
    root.append(h("p", { class: "error" }, (e as Error).message));
    return;
  }
  if (g.error) root.append(h("p", { class: "error", id: "policy-error" }, `The policies do not load: ${g.error}`));
  if (!g.source) root.append(h("p", { class: "muted" }, "No policies: start the console with --policy FILE|DIR."));
  if (g.pending !== undefined || g.pendingError) root.append(renderPending(g, root));
  const now = Date.now();
  for (const p of g.policies) {
    if (p.error) {
      root.append(h("section", { class: "card", "data-policy": p.name }, h("h2", {}, p.name), h("p", { class: "error" }, p.error)));
      continue;
    }
    const keys = h(
      "table",
      { class: "records keys" },
      h("thead", {}, h("tr", {}, ...["issuer", "subjects", "kid", "algorithm", "notAfter", "revoked"].map((c) => h("th", {}, c)))),
      h(
        "tbody",
        {},
        ...p.issuers.flatMap((i) =>
          i.keys.map((k) => {
            const [text, cls] = expiry(k.notAfter, now);
            const revoked = p.revokedKids.includes(k.kid);
            return h(
              "tr",
              { class: [cls, revoked ? "revoked" : ""].join(" ").trim(), "data-kid": k.kid },
              h("td", {}, i.name),
              h("td", {}, i.subjects.join(", ")),
              h("td", { class: "mono" }, k.kid),
              h("td", {}, k.algorithm),
              h("td", {}, text),
              h("td", {}, revoked ? "REVOKED" : ""),
            );
          }),
        ),
      ),
    );
    root.append(
      h(
        "section",
        { class: "card", "data-policy": p.name },
        h("h2", {}, `${p.name} `, h("span", { class: "muted" }, `${p.enforcement} · generation ${p.generation} · ${p.summary}`)),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, "audience"),
          h("dd", {}, p.audience),
          h("dt", {}, "max TTL"),
          h("dd", {}, `${p.maxTTLSeconds} s`),
          h("dt", {}, "kinds"),
          h("dd", {}, p.kinds.join(", ") || "all governed"),
          h("dt", {}, "namespaces"),
          h("dd", {}, p.namespaces.join(", ") || "all labelled"),
          h("dt", {}, "trusted controllers"),
          h("dd", {}, p.trustedControllers.join(", ") || "none"),
          h("dt", {}, "revoked jti"),
          h("dd", { class: "mono revoked-jtis" }, p.revokedJtis.join(", ") || "none"),
        ),
        keys,
        g.writes ? revokeForm(p.name, root) : null,
      ),
    );
  }
}
