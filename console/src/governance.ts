// The governance page: each ExecutionPolicy the console was given
// (--policy), its issuers and keys with notAfter (expired in red, within a
// week in orange), trusted controllers, and revocations.
import { api } from "./api";
import { clear, h } from "./dom";

interface Key {
  kid: string;
  algorithm: string;
  notAfter: number | null;
}
interface Policy {
  name: string;
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

export async function renderGovernance(root: HTMLElement): Promise<void> {
  clear(root);
  root.append(h("h1", {}, "Governance"));
  let g: { policies: Policy[]; source: string; error?: string };
  try {
    g = await api("/api/governance");
  } catch (e) {
    root.append(h("p", { class: "error" }, (e as Error).message));
    return;
  }
  if (g.error) root.append(h("p", { class: "error", id: "policy-error" }, `The policies do not load: ${g.error}`));
  if (!g.source) root.append(h("p", { class: "muted" }, "No policies: start the console with --policy FILE|DIR."));
  const now = Date.now();
  for (const p of g.policies) {
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
      ),
    );
  }
}
