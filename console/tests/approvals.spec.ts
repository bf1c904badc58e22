// An approved execution's story in a real browser (issues 20 and 22).
// APPROVALS_URL serves make_ledger.sh's approvals.jsonl: rotate-keys-3 was
// held by an AuthorityPolicy rule for one approval from ops-approvers; the
// real webhook judged three ExecutionApprovals (carol's for an older spec of
// the request, the initiator's own, refused; alice's) and the real authority
// counted alice's and granted (tests/console/approval_fixture.cc).
import { expect, Page, test } from "@playwright/test";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/console/browser_test.sh`);
  return v;
};
const BASE = env("APPROVALS_URL");
const SHOTS = process.env.SCREENSHOT_DIR ?? "";

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

test("the story shows each approval between the request and the grant, void and refused ones marked", async ({ page }) => {
  await page.goto(`${BASE}login`);
  await page.fill("#token", env("CONSOLE_TOKEN"));
  await page.click("button[type=submit]");
  await expect(page.locator("#search")).toBeVisible();
  // The request's records, approvals and grant among them.
  await page.goto(`${BASE}#/lineage?object=team-a/rotate-keys-3`);
  const rows = page.locator("table.records tbody tr");
  await expect(rows.filter({ hasText: "approval (Approve by alice) of team-a/rotate-keys-3" })).toHaveCount(1);
  await expect(rows.filter({ hasText: "grant of team-a/rotate-keys-3" })).toHaveCount(1);
  await shot(page, "lineage-approvals");

  // From the Job: its artifact leads to the request, the request (by uid)
  // to the approvals, which carry no jti.
  await page.goto(`${BASE}#/lineage?name=rotate-keys-3-job`);
  await rows.first().locator("a").click();
  const graph = page.locator("svg.story");
  const approvals = graph.locator('g.node[data-kind="approval"]');
  await expect(approvals).toHaveCount(3);
  const alice = approvals.filter({ hasText: "Approve by alice" });
  await expect(alice).toHaveClass(/counted/);
  await expect(alice).toContainText("checked against change OPS-1234");
  await expect(alice).toContainText(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
  await expect(approvals.filter({ hasText: "Approve by carol" })).toHaveClass(/void/);
  await expect(approvals.filter({ hasText: "Approve by carol" })).toContainText("VOID: for an older digest");
  const self = approvals.filter({ hasText: "Approve by agent:rotator" });
  await expect(self).toHaveClass(/denied/);
  await expect(self).toContainText("REFUSED: agent:rotator is the initiator");
  await expect(graph.locator('g.node.allowed[data-kind="grant"]')).toContainText("grant by execgov-authority");
  await expect(graph.locator('line[data-edge="ExecutionRequest->approval"]')).toHaveCount(3);
  // Only the counted approval leads to the grant, and the grant to the Job.
  await expect(graph.locator('line[data-edge="approval->grant"]')).toHaveCount(1);
  await expect(graph.locator('line[data-edge="grant->Job"]')).toHaveCount(1);
  await expect(graph.locator('line[data-edge="Job->Pod"]')).toHaveCount(1);
  await shot(page, "story-approvals");

  // An approval's own page names who decided what, and tells the same story.
  await alice.locator("a").click();
  await expect(page.locator("dl.facts")).toContainText("Approve");
  await expect(page.locator("dl.facts")).toContainText("alice");
  await expect(page.locator('svg.story g.node[data-kind="Pod"]')).toHaveCount(1);
  await expect(page.locator('svg.story g.node.current[data-kind="approval"]')).toContainText("alice");
});
