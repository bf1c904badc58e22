// One record: its story, its inclusion proof verified here, and its
// canonical bytes with what its hash covers.
import { api, Summary } from "./api";
import { compareWithSeen } from "./checkpoint_watch";
import { clear, h } from "./dom";
import { describe } from "./lineage";
import { renderStory, ruleName } from "./story";
import { pinnedKey } from "./store";
import { hex, InclusionProof, leafHash, verifyInclusionProof } from "./verify";

export async function renderRecord(root: HTMLElement, seq: number): Promise<void> {
  clear(root);
  let rec: Summary & { canonical: string };
  try {
    rec = await api("/api/record", { seq });
  } catch (e) {
    root.append(h("p", { class: "error" }, (e as Error).message));
    return;
  }
  const proofBox = h("section", { id: "proof", class: "proof pending" }, h("h2", {}, "Inclusion proof"));
  const story = h("section", { id: "story" }, h("h2", {}, "The execution's story"));
  const bytes = h("section", { id: "canonical" }, h("h2", {}, "Canonical bytes"));
  root.append(
    h("h1", { class: rec.broken ? "broken" : "" }, `Record ${seq}: ${describe(rec)}`),
    rec.broken
      ? h("p", { class: "error", id: "broken-banner" }, "BROKEN: the next record's prev does not name this record's hash: it was changed, or the next one was.")
      : "",
    h(
      "dl",
      { class: "facts" },
      ...(
        [
          ["decision", rec.decision],
          ["verdict", rec.verdict],
          ["approver", rec.approver],
          ["reason", rec.reason],
          ["rule", ruleName(rec.rule)],
          ["authority / kid", rec.authority ? `${rec.authority} / ${rec.kid ?? ""}` : undefined],
          ["time", rec.time],
          ["type", rec.type],
          ["uid", rec.object?.uid],
          ["jti", rec.artifact?.jti ?? rec.jti],
          ["sub / iss / kid", rec.artifact ? `${rec.artifact.sub} / ${rec.artifact.iss} / ${rec.artifact.kid}` : undefined],
          ["digest", rec.digest ?? rec.artifact?.digest],
          ["parent", rec.parent],
          ["message", rec.message],
        ] as [string, string | undefined][]
      )
        .filter(([, v]) => v)
        .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v!)]),
    ),
    proofBox,
    story,
    bytes,
  );
  const leaf = await leafHash(rec.canonical);
  bytes.append(
    h("p", {}, "The record's hash is SHA-256(0x00 || these bytes), RFC 9162's leaf hash, computed here: "),
    h("p", { class: "mono", id: "leaf-hash" }, `sha256:${hex(leaf)}`),
    h("pre", { class: "canonical", id: "canonical-bytes" }, rec.canonical),
  );
  void verifyRecord(proofBox, seq);
  if (rec.type !== "checkpoint") {
    try {
      const st = await api<{ records: Summary[]; parents: Summary[] }>("/api/story", { seq });
      renderStory(story, st.records, st.parents, seq);
    } catch (e) {
      story.append(h("p", { class: "error" }, (e as Error).message));
    }
  }
}

async function verifyRecord(box: HTMLElement, seq: number): Promise<void> {
  const key = await pinnedKey();
  const status = h("p", { id: "proof-status", class: "status" });
  box.append(status);
  if (!key) {
    status.textContent = "Not verified: pin the ledger's public key first (Ledger key).";
    box.className = "proof unverified";
    return;
  }
  let proof: InclusionProof;
  try {
    proof = await api("/api/proof", { seq });
  } catch (e) {
    status.textContent = `Not verified: ${(e as Error).message}`;
    box.className = "proof unverified";
    return;
  }
  try {
    const cp = await verifyInclusionProof(proof, key);
    const seen = await compareWithSeen(cp, false);
    status.textContent = `VERIFIED in this browser: record ${seq} is in the tree of ${cp.size} records whose checkpoint the pinned key signed (origin ${cp.origin}).`;
    box.className = "proof verified";
    if (seen.state === "alarm") {
      status.textContent += ` But: ${seen.message}`;
      box.className = "proof failed";
    }
  } catch (e) {
    status.textContent = `FAILED: ${(e as Error).message}. This record is not what the signed checkpoint committed to.`;
    box.className = "proof failed";
  }
  box.append(
    h("details", {}, h("summary", {}, "proof.json"), h("pre", { class: "mono" }, JSON.stringify(proof, null, 2))),
  );
}
