// Consistency against the last checkpoint this browser saw: on every page
// the server's latest checkpoint is verified under the pinned key and
// proven an extension of the one kept in localStorage. A smaller tree is a
// rollback, a different root for the same size or a proof that fails is a
// fork; either raises the alarm and the kept checkpoint is not replaced.
// With witness keys pinned and a minimum above 0, a checkpoint that does
// not carry that many valid cosignatures (verified here, C2SP
// tlog-cosignature) raises the alarm too: not witnessed, fail closed.
import { api, Head } from "./api";
import { lastSeen, pinnedKey, remember, witnessPolicy } from "./store";
import {
  b64decode,
  Checkpoint,
  countCosignatures,
  equal,
  openCheckpoint,
  PinnedKey,
  verifyConsistency,
  VerifyError,
} from "./verify";

export type WatchResult =
  | { state: "no-key" }
  | { state: "no-checkpoint" }
  | { state: "ok"; cp: Checkpoint; previous: string | null }
  | { state: "alarm"; kind: "rollback" | "fork" | "signature" | "unwitnessed"; message: string };

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
  // The cosigned form of the checkpoint when the server has one (the
  // operator keeps it beside the ledger), else the note itself.
  const cosigned = (head.checkpoint as { cosigned?: unknown }).cosigned;
  const witnessed = await checkWitnessed(typeof cosigned === "string" ? cosigned : head.checkpoint.note, cp, key);
  if (witnessed) return witnessed;
  return compareWithSeen(cp, true);
}

// Null when the pinned witness policy is met by `note`, a cosigned
// checkpoint that must be `cp` (the one whose signature was checked) or one
// `cp` provably extends (witnesses cosign a little behind the ledger); the
// alarm otherwise.
export async function checkWitnessed(note: string, cp: Checkpoint, key: PinnedKey): Promise<WatchResult | null> {
  const policy = await witnessPolicy();
  if (!policy) return null;
  let n: number;
  try {
    const cosigned = await openCheckpoint(note, key);
    if (cosigned.origin !== cp.origin) throw new VerifyError("the cosigned checkpoint is of another ledger");
    if (cosigned.size > cp.size) throw new VerifyError("the cosigned checkpoint is larger than the ledger's latest");
    if (cosigned.size === cp.size && !equal(cosigned.root, cp.root)) {
      throw new VerifyError("the cosigned checkpoint and the ledger's latest differ for the same size: a fork");
    }
    if (cosigned.size < cp.size) {
      const r = await api<{ proof: string[] }>("/api/consistency", { from: cosigned.size.toString(), to: cp.size.toString() });
      await verifyConsistency(cosigned.size, cp.size, r.proof.map(b64decode), cosigned.root, cp.root);
    }
    n = await countCosignatures(note, policy.keys);
  } catch (e) {
    return { state: "alarm", kind: "unwitnessed", message: `NOT WITNESSED: ${(e as Error).message}.` };
  }
  if (n < policy.min) {
    return {
      state: "alarm",
      kind: "unwitnessed",
      message: `NOT WITNESSED: the checkpoint for ${cp.size} records carries ${n} valid cosignature(s) by the pinned witnesses; ${policy.min === Number.MAX_SAFE_INTEGER ? "the pinned witness settings do not parse" : `${policy.min} required`}.`,
    };
  }
  return null;
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
