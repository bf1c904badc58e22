// Cosignatures required by the console (issue 23), in a real browser: with
// witness keys pinned and a minimum above 0, the ledger's checkpoint must
// carry that many valid cosignatures (C2SP tlog-cosignature, verified with
// WebCrypto) or the console raises NOT WITNESSED. WITNESSED_URL serves a
// ledger whose checkpoint a real `execgov witness` cosigned; STORED_URL the
// same ledger uncosigned, that cosigned checkpoint kept beside it as the
// operator keeps it (sent as /api/head's checkpoint.cosigned); CONSOLE_URL
// one whose checkpoint nobody cosigned (tests/console/browser_test.sh).
import { expect, Page, test } from "@playwright/test";
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/console/browser_test.sh`);
  return v;
};
const TOKEN = env("CONSOLE_TOKEN");
const KEY = readFileSync(env("LEDGER_KEY_FILE"), "utf8");
const WITNESS = env("WITNESS_VKEY");

// Another witness's key, as `execgov witness --print-vkey` would print it.
// Always one whose base64 holds a '+' (about half of all keys do): the
// console once split keys on every '+' and refused those, which made this
// file fail at random.
function otherWitnessKey(name: string): string {
  for (;;) {
    const der = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
    const raw = der.subarray(der.length - 32);
    const key64 = Buffer.concat([Buffer.from([0x04]), raw]).toString("base64");
    if (!key64.includes("+")) continue;
    const id = createHash("sha256")
      .update(Buffer.concat([Buffer.from(name + "\n"), Buffer.from([0x04]), raw]))
      .digest()
      .subarray(0, 4);
    return `${name}+${id.toString("hex")}+${key64}`;
  }
}

async function open(page: Page, base: string, witnessKeys: string[], min: number): Promise<void> {
  await page.goto(`${base}login`);
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await expect(page.locator("#search")).toBeVisible();
  await page.goto(`${base}#/key`);
  await page.fill("#key-text", KEY);
  await page.click("#pin-key");
  await expect(page.locator("#key-status")).toHaveText(/Pinned/);
  await pinWitnesses(page, witnessKeys, min);
  await page.goto(`${base}#/lineage`);
  await page.reload();
}

// Through the settings on the key page, as a user does.
async function pinWitnesses(page: Page, witnessKeys: string[], min: number): Promise<void> {
  await page.fill("#witness-keys", witnessKeys.join("\n"));
  await page.fill("#min-witnesses", String(min));
  await page.click("#pin-witnesses");
  await expect(page.locator("#witness-status")).toHaveText(/^Pinned/);
}

test("a checkpoint cosigned by the pinned witness is witnessed", async ({ page }) => {
  await open(page, env("WITNESSED_URL"), [WITNESS], 1);
  await expect(page.locator("#head-status")).toContainText("verified");
  await expect(page.locator("#alarm")).toBeHidden();
});

test("the cosigned checkpoint kept beside the ledger is witnessed", async ({ page }) => {
  const base = env("STORED_URL");
  const witness = WITNESS.split("+")[0];
  const res = await page.request.get(`${base}api/head`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const head = await res.json();
  expect(head.checkpoint.note).not.toContain(witness); // the ledger's own checkpoint is uncosigned
  expect(head.checkpoint.cosigned).toContain(witness);
  await open(page, base, [WITNESS], 1);
  await expect(page.locator("#head-status")).toContainText("verified");
  await expect(page.locator("#alarm")).toBeHidden();
});

test("fewer cosignatures than required, or none, is NOT WITNESSED", async ({ page }) => {
  // Cosigned by one of the two pinned witnesses, two required.
  await open(page, env("WITNESSED_URL"), [WITNESS, otherWitnessKey("witness.other.test")], 2);
  await expect(page.locator("#alarm")).toBeVisible();
  await expect(page.locator("#alarm")).toContainText("NOT WITNESSED");
  await expect(page.locator("#alarm")).toContainText("1 valid cosignature(s)");
  await expect(page.locator("#alarm")).toContainText("2 required");
  await expect(page.locator("#head-status")).toContainText("NOT trusted");
});

test("an uncosigned checkpoint is NOT WITNESSED once a witness is required, and fine when none is", async ({ page }) => {
  const base = env("CONSOLE_URL");
  await open(page, base, [WITNESS], 1);
  await expect(page.locator("#alarm")).toContainText("NOT WITNESSED");
  await expect(page.locator("#alarm")).toContainText("0 valid cosignature(s)");
  await page.goto(`${base}#/key`);
  // A minimum above the number of keys is refused, and changes nothing.
  await page.fill("#min-witnesses", "2");
  await page.click("#pin-witnesses");
  await expect(page.locator("#witness-status")).toContainText("Not pinned: the minimum must be 0..1");
  await page.reload();
  await expect(page.locator("#min-witnesses")).toHaveValue("1");
  await expect(page.locator("#alarm")).toContainText("NOT WITNESSED");
  await pinWitnesses(page, [WITNESS], 0);
  await expect(page.locator("#head-status")).toContainText("verified");
  await expect(page.locator("#alarm")).toBeHidden();
});

test("a cosignature under the pinned witness's name but by another key counts for nothing", async ({ page }) => {
  // The same witness name with another key: the line's key ID is not the
  // pinned key's, so it is not counted.
  await open(page, env("WITNESSED_URL"), [otherWitnessKey(WITNESS.split("+")[0])], 1);
  await expect(page.locator("#alarm")).toContainText("NOT WITNESSED");
  // Counted as no cosignature under a policy that parsed, not refused whole.
  await expect(page.locator("#alarm")).toContainText("0 valid cosignature(s)");
  await expect(page.locator("#alarm")).toContainText("1 required");
});
