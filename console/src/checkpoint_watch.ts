// Consistency against the last checkpoint this browser saw: on every page
// the server's latest checkpoint is verified under the pinned key and
// proven an extension of the one kept in localStorage. A smaller tree is a
// rollback, a different root for the same size or a proof that fails is a
// fork; either raises the alarm and the kept checkpoint is not replaced.
import { api, Head } from "./api";
import { lastSeen, pinnedKey, remember } from "./store";
import { b64decode, Checkpoint, openCheckpoint, verifyConsistency, VerifyError } from "./verify";

export type WatchResult =
  | { state: "no-key" }
  | { state: "no-checkpoint" }
  | { state: "ok"; cp: Checkpoint; previous: string | null }
  | { state: "alarm"; kind: "rollback" | "fork" | "signature"; message: string };

export async function checkHead(head: Head): Promise<WatchResult> {
  const key = await pinnedKey();
  if (!key) return { state: "no-key" };
  if (!head.checkpoint) return { state: "no-checkpoint" };
  let cp: Checkpoint;
  try {
    cp = await openCheckpoint(head.checkpoint.note, key);
  } catch (e) {
    return { state: "alarm", kind: "signature", message: `The ledger's latest checkpoint does not verify: ${(e as Error).message}.` };
  }
  return compareWithSeen(cp, true);
}

// Compares a verified checkpoint with the kept one; `online` asks the server
// for the consistency proof when the tree grew.
export async function compareWithSeen(cp: Checkpoint, online: boolean): Promise<WatchResult> {
  const seen = lastSeen();
  if (!seen || seen.origin !== cp.origin) {
    if (online) remember(cp.origin, cp.size, cp.root, cp.note);
    return { state: "ok", cp, previous: null };
  }
  const size1 = BigInt(seen.size);
  const root1 = b64decode(seen.root);
  if (cp.size < size1) {
    return {
      state: "alarm",
      kind: "rollback",
      message: `ROLLBACK: this browser saw a signed checkpoint for ${size1} records; the ledger now shows ${cp.size}. Records were removed.`,
    };
  }
  try {
    if (cp.size === size1) {
      await verifyConsistency(size1, cp.size, [], root1, cp.root);
    } else if (online) {
      const r = await api<{ proof: string[] }>("/api/consistency", { from: seen.size, to: cp.size.toString() });
      await verifyConsistency(size1, cp.size, r.proof.map(b64decode), root1, cp.root);
    } else {
      return { state: "ok", cp, previous: seen.size };
    }
  } catch (e) {
    const why = e instanceof VerifyError || e instanceof Error ? e.message : String(e);
    return {
      state: "alarm",
      kind: "fork",
      message: `FORK: the ledger's checkpoint for ${cp.size} records does not extend the one for ${size1} this browser saw (${why}).`,
    };
  }
  if (online) remember(cp.origin, cp.size, cp.root, cp.note);
  return { state: "ok", cp, previous: seen.size };
}
