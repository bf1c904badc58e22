// The console in cluster mode (--kube-auth --allow-writes) in a real browser
// against a real API server (tests/e2e/console_kube_test.sh sets the
// environment): Kubernetes tokens at the login page, the pending requests
// on the governance page, and a revoke and an approval that RBAC refuses for
// one user and allows for another.
import { expect, Page, test } from "@playwright/test";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/e2e/console_kube_test.sh`);
  return v;
};
const URL = env("CONSOLE_URL");
const POLICY = env("POLICY");
const SHOTS = process.env.SCREENSHOT_DIR ?? "";

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function login(page: Page, token: string): Promise<void> {
  await page.goto(`${URL}login`);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
}

test("a token whose user may not read the ledger stays at the login page", async ({ page }) => {
  await login(page, env("NOBODY_TOKEN"));
  await expect(page.locator("#login-error")).toHaveText(/Refused: .*may not read the ledger/);
  const r = await page.request.get(`${URL}api/records`);
  expect(r.status()).toBe(401);
});

test("pending requests, and a revoke RBAC refuses", async ({ page }) => {
  await login(page, env("READER_TOKEN"));
  await expect(page.locator("#search")).toBeVisible();
  await expect(page.locator("#whoami")).toHaveText(/system:serviceaccount:.*:reader/);
  await page.goto(`${URL}#/governance`);
  const row = page.locator(`#pending tr[data-request="${env("REQUEST_NS")}/rotate-keys"]`);
  await expect(row.locator(".waiting-for")).toHaveText("2 approvals from group sre");
  const card = page.locator(`section[data-policy="${POLICY}"]`);
  await card.locator("input[name=value]").fill("leaked-2");
  await card.locator("form.revoke button").click();
  await expect(card.locator(".revoke-status")).toHaveText(/Refused: the API server refused system:serviceaccount:.*:reader/);
  await row.locator("button.approve").click();
  await expect(row.locator(".decide-status")).toHaveText(/Refused: the API server refused system:serviceaccount:.*:reader/);
  await shot(page, "console-revoke-refused");
});

test("a revoke RBAC allows is made as the user", async ({ page }) => {
  await login(page, env("REVOKER_TOKEN"));
  await expect(page.locator("#search")).toBeVisible();
  await page.goto(`${URL}#/governance`);
  const card = page.locator(`section[data-policy="${POLICY}"]`);
  await card.locator("input[name=value]").fill("leaked-2");
  await card.locator("form.revoke button").click();
  await expect(page.locator("#governance-notice")).toHaveText(/Revoked jti leaked-2 in .* as system:serviceaccount:.*:revoker/);
  await expect(page.locator(`section[data-policy="${POLICY}"] .revoked-jtis`)).toHaveText("leaked-1, leaked-2");
  await shot(page, "console-governance-cluster");
});

test("an approval is made as the user", async ({ page }) => {
  await login(page, env("REVOKER_TOKEN"));
  await expect(page.locator("#search")).toBeVisible();
  await page.goto(`${URL}#/governance`);
  const row = page.locator(`#pending tr[data-request="${env("REQUEST_NS")}/rotate-keys"]`);
  await row.locator("input[name=reason]").fill("checked in the browser");
  await row.locator("button.approve").click();
  await expect(page.locator("#governance-notice")).toHaveText(/system:serviceaccount:.*:revoker approved .*\/rotate-keys \(ExecutionApproval rotate-keys-approve-/);
  await shot(page, "console-approve");
});

test("the health page shows the policies' conditions as the user, and says when RBAC refuses them", async ({ page }) => {
  await login(page, env("READER_TOKEN"));
  await expect(page.locator("#search")).toBeVisible();
  await page.goto(`${URL}#/health`);
  const row = page.locator(`#policy-health tr[data-kind="ExecutionPolicy"][data-policy="${POLICY}"]`);
  await expect(row).toHaveClass(/bad/);
  await expect(row.locator(".ready-state")).toHaveText("NOT READY");
  await expect(row).toContainText("Ready=False InvalidKey: spec.issuers[0].keys[0].publicKey: not a PEM public key (since 2026-12-01T10:00:00Z)");
  await expect(page.locator("#policies-not-ready")).toBeVisible();
  const finding = page.locator(`#runtime-violations tr[data-finding="${env("REQUEST_NS")}/stray-pod/Unadmitted"]`);
  await expect(finding).toHaveClass(/fail/);
  await expect(finding).toContainText("no admission record for this Pod in the ledger");
  await shot(page, "console-health-cluster");
  await login(page, env("AUDITOR_TOKEN"));
  await expect(page.locator("#search")).toBeVisible();
  await page.goto(`${URL}#/health`);
  await expect(page.locator('#policy-health [data-forbidden="ExecutionPolicy"]')).toHaveText(
    /Not allowed to list ExecutionPolicies: .*system:serviceaccount:.*:auditor/,
  );
  await expect(page.locator("#policy-health tr.policy")).toHaveCount(0);
  await expect(page.locator('#runtime-violations [data-forbidden="PolicyReport"]')).toContainText("Not allowed to list PolicyReports");
});
