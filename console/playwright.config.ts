// Playwright drives Debian's Chromium (never a downloaded browser) headless
// against the consoles tests/console/browser_test.sh starts.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "tests",
  timeout: 30_000,
  retries: 0,
  workers: 1,
  use: {
    headless: true,
    ignoreHTTPSErrors: true, // the consoles' certificates come from a private CA made for the test
    launchOptions: { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] },
    viewport: { width: 1400, height: 900 },
  },
});
