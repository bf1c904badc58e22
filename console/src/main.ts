// The console app: a hash router over the lineage explorer, a record (with
// its proof and story), the offline proof checker and the pinned key; the
// latest checkpoint is checked against the last one seen on every page.
import { api, Head, WhoAmI } from "./api";
import { checkHead, compareWithSeen } from "./checkpoint_watch";
import { clear, h } from "./dom";
import { renderGovernance } from "./governance";
import { renderHealth } from "./health";
import { renderLineage } from "./lineage";
import { renderRecord } from "./record";
import { lastSeen, pinKey, pinnedKey, pinnedKeyText, setWitnessPolicy, unpinKey, witnessPolicyText } from "./store";
import { InclusionProof, openCheckpoint, verifyInclusionProof } from "./verify";

const app = document.getElementById("app")!;
const alarm = document.getElementById("alarm")!;
const headStatus = document.getElementById("head-status")!;

async function watchHead(): Promise<void> {
  let head: Head;
  try {
    head = await api<Head>("/api/head");
  } catch {
    return;
  }
  const r = await checkHead(head);
  alarm.hidden = true;
  alarm.className = "alarm";
  if (r.state === "alarm") {
    alarm.textContent = r.message;
    alarm.className = `alarm ${r.kind}`;
    alarm.hidden = false;
    headStatus.textContent = `${head.size} records · checkpoint NOT trusted`;
  } else if (r.state === "no-key") {
    headStatus.textContent = `${head.size} records · no key pinned`;
  } else if (r.state === "no-checkpoint") {
    headStatus.textContent = `${head.size} records · no checkpoint yet`;
  } else {
    headStatus.textContent = `${head.size} records · checkpoint ${r.cp.size} verified`;
  }
  if (head.broken.length > 0) {
    headStatus.textContent += ` · ${head.broken.length} broken`;
    headStatus.classList.add("bad");
  }
}

function renderKey(root: HTMLElement): void {
  clear(root);
  const text = h("textarea", { id: "key-text", rows: "4", cols: "70", placeholder: "-----BEGIN PUBLIC KEY-----" });
  text.value = pinnedKeyText() ?? "";
  const msg = h("p", { id: "key-status" });
  const pin = h("button", { id: "pin-key", type: "button" }, "Pin this key");
  const unpin = h("button", { id: "unpin-key", type: "button" }, "Forget the key and the last checkpoint");
  pin.addEventListener("click", async () => {
    try {
      await pinKey(text.value);
      msg.textContent = "Pinned. Proofs and checkpoints are verified against this key only.";
      msg.className = "ok";
      void watchHead();
    } catch (e) {
      msg.textContent = `Not pinned: ${(e as Error).message}`;
      msg.className = "error";
    }
  });
  unpin.addEventListener("click", () => {
    unpinKey();
    text.value = "";
    msg.textContent = "Forgotten.";
  });
  const seen = lastSeen();
  root.append(
    h("h1", {}, "Ledger key"),
    h(
      "p",
      {},
      "Paste the ledger's Ed25519 public key (ledger.jsonl.key.pub, or the note verifier key), obtained from its owner, never from this server. It stays in this browser.",
    ),
    text,
    h("div", {}, pin, " ", unpin),
    msg,
    ...witnessSettings(),
    h("h2", {}, "Last checkpoint this browser saw"),
    h("pre", { id: "last-seen", class: "mono" }, seen ? seen.note : "none yet"),
  );
}

// The witnesses whose cosignatures the checkpoint must carry (docs/witnesses.md),
// pinned like the ledger key: from their operators, never from this server.
function witnessSettings(): HTMLElement[] {
  const current = witnessPolicyText();
  const keys = h("textarea", { id: "witness-keys", rows: "3", cols: "70", placeholder: "name+keyid+base64 (execgov witness --print-vkey)" });
  keys.value = current.keys;
  const min = h("input", { id: "min-witnesses", type: "number", min: "0", max: "32", step: "1" });
  min.value = String(current.min);
  const msg = h("p", { id: "witness-status" });
  const save = h("button", { id: "pin-witnesses", type: "button" }, "Pin the witnesses");
  save.addEventListener("click", async () => {
    try {
      await setWitnessPolicy(keys.value, min.valueAsNumber);
      const n = min.valueAsNumber;
      msg.textContent = n > 0 ? `Pinned. Checkpoints need ${n} valid cosignature(s) by these witnesses.` : "Pinned. No cosignature is required.";
      msg.className = "ok";
      void watchHead();
    } catch (e) {
      msg.textContent = `Not pinned: ${(e as Error).message}`;
      msg.className = "error";
    }
  });
  return [
    h("h2", {}, "Witnesses"),
    h(
      "p",
      {},
      "One witness verifier key a line, and how many of them must have cosigned the ledger's checkpoint; below that the console shows NOT WITNESSED. 0 requires none.",
    ),
    keys,
    h("div", {}, h("label", {}, "Minimum cosignatures ", min), " ", save),
    msg,
  ];
}

function renderProofs(root: HTMLElement): void {
  clear(root);
  const text = h("textarea", { id: "paste", rows: "12", cols: "90", placeholder: "proof.json or a signed checkpoint" });
  const out = h("p", { id: "paste-status", class: "status" });
  const check = h("button", { id: "check-paste", type: "button" }, "Check offline");
  check.addEventListener("click", async () => {
    const key = await pinnedKey();
    out.className = "status";
    if (!key) {
      out.textContent = "Pin the ledger key first.";
      return;
    }
    const t = text.value.trim();
    if (t.length > 1 << 20) {
      out.textContent = "That is larger than any proof.";
      return;
    }
    try {
      if (t.startsWith("{")) {
        const cp = await verifyInclusionProof(JSON.parse(t) as InclusionProof, key);
        const seen = await compareWithSeen(cp, false);
        out.textContent = `VERIFIED: the record is in the tree of ${cp.size} records signed by the pinned key.`;
        out.className = seen.state === "alarm" ? "status failed" : "status verified";
        if (seen.state === "alarm") out.textContent += ` But: ${seen.message}`;
      } else {
        const cp = await openCheckpoint(t.endsWith("\n") ? t : t + "\n", key);
        const seen = await compareWithSeen(cp, false);
        out.textContent = `VERIFIED: a checkpoint for ${cp.size} records signed by the pinned key.`;
        out.className = seen.state === "alarm" ? "status failed" : "status verified";
        if (seen.state === "alarm") out.textContent += ` But: ${seen.message}`;
      }
    } catch (e) {
      out.textContent = `FAILED: ${(e as Error).message}`;
      out.className = "status failed";
    }
  });
  root.append(
    h("h1", {}, "Check a proof offline"),
    h("p", {}, "Paste what `execgov ledger proof` wrote, or a checkpoint; it is checked here against the pinned key, without the server."),
    text,
    h("div", {}, check),
    out,
  );
}

async function route(): Promise<void> {
  const hash = window.location.hash || "#/lineage";
  const [path, query] = hash.slice(1).split("?");
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", hash.startsWith(a.getAttribute("href")!)));
  const m = /^\/record\/([0-9]{1,19})$/.exec(path);
  if (m) await renderRecord(app, Number(m[1]));
  else if (path === "/proofs") renderProofs(app);
  else if (path === "/key") renderKey(app);
  else if (path === "/health") renderHealth(app);
  else if (path === "/governance") await renderGovernance(app);
  else renderLineage(app, new URLSearchParams(query ?? ""));
  void watchHead();
}

// Who is logged in: in cluster the Kubernetes user the API server named.
async function showUser(): Promise<void> {
  try {
    const me = await api<WhoAmI>("/api/whoami");
    const el = document.getElementById("whoami")!;
    el.textContent = me.mode === "kubernetes" ? `${me.user}${me.writes ? "" : " · read-only"}` : "";
  } catch {
    /* a 401 already went to the login page */
  }
}
void showUser();

document.getElementById("logout")!.addEventListener("click", async () => {
  await fetch("/api/logout", { method: "POST", credentials: "same-origin" });
  window.location.assign("/login");
});
window.addEventListener("hashchange", () => void route());
void route();
