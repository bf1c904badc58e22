// The console in a real browser against real consoles over a real ledger
// (tests/console/browser_test.sh sets the environment).
import { expect, Page, test } from "@playwright/test";
import { copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/console/browser_test.sh`);
  return v;
};
const MAIN = env("CONSOLE_URL");
const TOKEN = env("CONSOLE_TOKEN");
const KEY = readFileSync(env("LEDGER_KEY_FILE"), "utf8");
const SHOTS = process.env.SCREENSHOT_DIR ?? "";

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function login(page: Page, base: string): Promise<void> {
  await page.goto(`${base}login`);
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await expect(page.locator("#search")).toBeVisible();
}

async function pin(page: Page, base: string): Promise<void> {
  await page.goto(`${base}#/key`);
  await page.fill("#key-text", KEY);
  await page.click("#pin-key");
  await expect(page.locator("#key-status")).toHaveText(/Pinned/);
}

async function searchName(page: Page, base: string, name: string): Promise<void> {
  await page.goto(`${base}#/lineage`);
  await page.selectOption("#search-field", "name");
  await page.fill("#search-value", name);
  await page.click("#search button[type=submit]");
}

test("refused without a token", async ({ page, request }) => {
  const r = await page.goto(MAIN);
  expect(r?.status()).toBe(401);
  await expect(page.locator("#login-form")).toBeVisible();
  await expect(page.locator("body")).not.toContainText("rotate-keys");
  const api = await request.get(`${MAIN}api/records`);
  expect(api.status()).toBe(401);
  const wrong = await request.get(`${MAIN}api/records`, { headers: { Authorization: "Bearer not-the-token-0123456789" } });
  expect(wrong.status()).toBe(401);
  expect(await wrong.text()).not.toContain("rotate-keys");
  // A wrong token at the login page is refused and stays there.
  await page.fill("#token", "not-the-token-0123456789");
  await page.click("button[type=submit]");
  await expect(page.locator("#login-error")).toBeVisible();
  await shot(page, "login");
});

test("a search finds the Job and its story is ExecutionRequest -> Job -> Pods", async ({ page }) => {
  await login(page, MAIN);
  await searchName(page, MAIN, "rotate-keys-1-job");
  const row = page.locator("table.records tbody tr");
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("Job team-a/rotate-keys-1-job");
  await expect(row).toContainText("allowed");
  await page.goto(`${MAIN}#/lineage`);
  await expect(page.locator("table.records tbody tr").first()).toBeVisible();
  await shot(page, "lineage");
  await searchName(page, MAIN, "rotate-keys-1-job");
  // The list shown before the search answers still holds every record.
  await expect(row).toHaveCount(1);
  await row.locator("a").click();
  const graph = page.locator("svg.story");
  await expect(graph).toBeVisible();
  await expect(graph.locator('g.node.allowed[data-kind="ExecutionRequest"]')).toHaveCount(1);
  await expect(graph.locator('g.node.allowed[data-kind="Job"]')).toHaveCount(1);
  await expect(graph.locator('g.node.allowed[data-kind="Pod"]')).toHaveCount(2);
  await expect(graph.locator('line[data-edge="ExecutionRequest->Job"]')).toHaveCount(1);
  await expect(graph.locator('line[data-edge="Job->Pod"]')).toHaveCount(2);
  // The replay of the request's artifact is in the story, marked denied.
  await expect(graph.locator("g.node.denied")).toContainText("ReplayDetected");
  await shot(page, "story");
});

test("a proof verifies in the browser against the pinned key", async ({ page }) => {
  await login(page, MAIN);
  await page.goto(`${MAIN}#/record/1`);
  await expect(page.locator("#proof-status")).toContainText("pin the ledger's public key");
  await pin(page, MAIN);
  await page.goto(`${MAIN}#/record/1`);
  await expect(page.locator("#proof.verified #proof-status")).toContainText("VERIFIED in this browser");
  // What the hash covers, computed in the browser, matches the server's.
  const canonical = await page.locator("#canonical-bytes").textContent();
  expect(canonical).toContain('"seq":1');
  await shot(page, "proof");
  // A proof pasted offline: the same check; one with a changed record fails.
  const proof = await page.evaluate(async () => (await fetch("/api/proof?seq=1")).text());
  await page.goto(`${MAIN}#/proofs`);
  await page.fill("#paste", proof);
  await page.click("#check-paste");
  await expect(page.locator("#paste-status")).toHaveClass(/verified/);
  await page.fill("#paste", proof.replace('\\"seq\\":1', '\\"seq\\":2'));
  await page.click("#check-paste");
  await expect(page.locator("#paste-status")).toHaveClass(/failed/);
  await shot(page, "offline");
  // A different key is not the ledger's: nothing verifies.
  const other = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
  await page.goto(`${MAIN}#/key`);
  await page.fill("#key-text", other);
  await page.click("#pin-key");
  await page.goto(`${MAIN}#/record/1`);
  await expect(page.locator("#proof.failed #proof-status")).toContainText("not signed by the pinned key");
});

test("a ledger tampered on disk shows the broken record in red", async ({ page }) => {
  const base = env("TAMPERED_URL");
  await login(page, base);
  await pin(page, base);
  await searchName(page, base, "unsigned-job");
  const row = page.locator("table.records tbody tr");
  await expect(row).toHaveCount(1);
  await expect(row).toHaveClass(/broken/);
  await expect(row).toContainText("BROKEN");
  expect(await row.locator("td").first().evaluate((td) => getComputedStyle(td).color)).toBe("rgb(196, 22, 28)");
  await shot(page, "tampered");
  await row.locator("a").click();
  await expect(page.locator("#broken-banner")).toBeVisible();
  await expect(page.locator("#proof.failed #proof-status")).toContainText("FAILED");
});

test("growth is proven consistent; a rollback and a fork raise the alarm", async ({ page }) => {
  const base = env("ROLLBACK_URL");
  await login(page, base);
  await pin(page, base);
  await page.goto(`${base}#/lineage`);
  await expect(page.locator("#head-status")).toContainText("checkpoint 4 verified");
  // The ledger grows: the browser checks the RFC 9162 consistency proof from
  // the 4 records it saw to the 7 the new checkpoint signs.
  copyFileSync(env("FULL_FILE"), env("ROLLBACK_FILE"));
  await page.reload();
  await expect(page.locator("#head-status")).toContainText("checkpoint 7 verified");
  await expect(page.locator("#alarm")).toBeHidden();
  // The ledger file goes back to what it was at its first checkpoint.
  copyFileSync(env("EARLY_FILE"), env("ROLLBACK_FILE"));
  await page.reload();
  await expect(page.locator("#alarm")).toBeVisible();
  await expect(page.locator("#alarm")).toContainText("ROLLBACK");
  await expect(page.locator("#alarm")).toContainText("7 records");
  await shot(page, "rollback");
  // Another history of the same size, signed by the same key: a fork.
  copyFileSync(env("FORK_FILE"), env("ROLLBACK_FILE"));
  await page.reload();
  await expect(page.locator("#alarm")).toContainText("FORK");
  await expect(page.locator("#head-status")).toContainText("NOT trusted");
});

test("the health dashboard: readiness, admissions, certificate expiry, runtime violations; policies standalone", async ({ page }) => {
  await login(page, MAIN);
  await page.goto(`${MAIN}#/health`);
  const webhook = page.locator('section[data-target="webhook"]');
  await expect(webhook.locator(".ready")).toHaveText("READY");
  await expect(webhook.locator(".admissions-total")).toHaveText("1");
  await expect(webhook.locator("svg.bars")).toContainText("denied MissingArtifact");
  await expect(page.locator('section[data-target="gone"] .ready')).toHaveText("UNREACHABLE");
  await expect(page.locator("#checkpoint-age")).toContainText("last checkpoint");
  // The real webhook's certificate (10 days and an hour left), from its own
  // execgov_tls_certificate_not_after_seconds: orange. The console's: fine.
  const webhookCert = page.locator('#certificates tr[data-cert="webhook"]');
  await expect(webhookCert).toHaveAttribute("data-state", "warn");
  await expect(webhookCert).toContainText("10 days left");
  await expect(page.locator('#certificates tr[data-cert="console"]')).toHaveAttribute("data-state", "ok");
  // Standalone there are no status conditions to read: said, not an error.
  await expect(page.locator("#policies-unavailable")).toContainText("Unavailable: standalone");
  await expect(page.locator("#policy-health .error")).toHaveCount(0);
  // The operator's runtime violations now, then one more Drift at the next
  // poll: the count follows and the chart over time draws a line.
  const runtime = page.locator("#runtime-violations");
  await expect(runtime.locator(".violations-total")).toHaveText("3");
  await expect(runtime.locator('svg.bars g[data-label="Unadmitted"] .count')).toHaveText("2");
  await expect(page.locator('section[data-target="operator"] [data-webhook-configuration="execgov"]')).toHaveText(/^BYPASSED/);
  await expect(runtime.locator('svg.timeline g[data-series="Drift"] circle')).toHaveCount(1);
  const metrics = env("OPERATOR_METRICS");
  // Replaced whole (a rename), so no scrape reads half a file.
  writeFileSync(`${metrics}.new`, readFileSync(metrics, "utf8").replace('{reason="Drift"} 1', '{reason="Drift"} 2'));
  renameSync(`${metrics}.new`, metrics);
  await expect(runtime.locator(".violations-total")).toHaveText("4", { timeout: 10_000 });
  await expect(runtime.locator('svg.timeline g[data-series="Drift"] polyline')).toHaveCount(1);
  await expect(runtime.locator('svg.timeline g[data-series="Drift"] text')).toHaveText("Drift 2");
  // From the second poll the webhook's admissions per second are charted too.
  await expect(webhook.locator('svg.timeline g[data-series="denied"] circle')).toHaveCount(1);
  await shot(page, "health");
  // A console serving an expired certificate says so on its own health page.
  const expired = env("TAMPERED_URL");
  await login(page, expired);
  await page.goto(`${expired}#/health`);
  const own = page.locator('#certificates tr[data-cert="console"]');
  await expect(own).toHaveAttribute("data-state", "expired");
  await expect(own).toContainText("EXPIRED");
  expect(await own.locator("td").first().evaluate((td) => getComputedStyle(td).color)).toBe("rgb(196, 22, 28)");
});

test("the governance page shows policies, keys with notAfter and revocations", async ({ page }) => {
  await login(page, MAIN);
  await page.goto(`${MAIN}#/governance`);
  const current = page.locator('section[data-policy="default"]');
  await expect(current).toContainText("Enforce");
  await expect(current.locator('tr[data-kid="ops-2026-11"]')).toContainText("Ed25519");
  const legacy = page.locator('section[data-policy="legacy"]');
  const old = legacy.locator('tr[data-kid="old-2025-01"]');
  await expect(old).toContainText("EXPIRED");
  await expect(old).toContainText("REVOKED");
  await expect(old).toHaveClass(/expired/);
  await expect(legacy.locator(".revoked-jtis")).toHaveText("leaked-jti-1");
  await shot(page, "governance");
});
