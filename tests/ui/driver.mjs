// A browser the Rust tests drive (tests/src/browser.rs): Debian's Chromium, headless, through
// playwright-core. One JSON command per line on stdin, one JSON answer per line on stdout:
// {"ok":true,"value":...} or {"ok":false,"error":"..."}. It exits when stdin closes, and
// takes Chromium with it.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // As root, without a sandbox; and without the background traffic a closed network refuses.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
let lastStatus = null;

const ops = {
  async goto({ url }) {
    const r = await page.goto(url, { waitUntil: "load" });
    lastStatus = r ? r.status() : null;
    return lastStatus;
  },
  async status() {
    return lastStatus;
  },
  async url() {
    return page.url();
  },
  async text({ selector }) {
    return await page.locator(selector).first().innerText({ timeout: 10000 });
  },
  async count({ selector }) {
    return await page.locator(selector).count();
  },
  // Wait (without reloading) until the element's text contains `text`.
  async waitText({ selector, text, timeout }) {
    await page.waitForFunction(
      ([s, t]) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(t)),
      [selector, text],
      { timeout: timeout || 30000, polling: 200 },
    );
    return true;
  },
  async fill({ selector, value }) {
    await page.locator(selector).first().fill(value, { timeout: 10000 });
    return true;
  },
  async select({ selector, value }) {
    await page.locator(selector).first().selectOption(value, { timeout: 10000 });
    return true;
  },
  // Click, and wait for the navigation it starts (a form post and its redirect).
  async click({ selector, navigates }) {
    const el = page.locator(selector).first();
    if (navigates) {
      const [r] = await Promise.all([page.waitForNavigation({ waitUntil: "load" }), el.click({ timeout: 10000 })]);
      lastStatus = r ? r.status() : null;
    } else {
      await el.click({ timeout: 10000 });
    }
    return true;
  },
  async screenshot({ path, fullPage }) {
    await page.screenshot({ path, fullPage: !!fullPage });
    return path;
  },
  async close() {
    await browser.close();
    process.exit(0);
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const cmd = JSON.parse(line);
    const op = ops[cmd.op];
    if (!op) throw new Error(`unknown op ${cmd.op}`);
    answer = { ok: true, value: await op(cmd) };
  } catch (e) {
    answer = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await browser.close();
