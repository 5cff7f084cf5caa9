// Opens a station page in Debian's Chromium (headless, the station screen's 1024x600) the way
// the kiosk does, waits until the page shows a text, and prints one JSON object: the DOM,
// what the page logged (CSP violations and script errors among it), and where it saved a
// screenshot. Usage: node screen.mjs URL WAIT_FOR_TEXT [SCREENSHOT.png]
import { chromium } from "playwright-core";

const [url, waitFor, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const logged = [];
try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 600 } });
  page.on("console", (m) => logged.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logged.push(`pageerror: ${e.message}`));
  // What the page itself is told when its policy blocks something (Chromium also logs it).
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`)));
  await page.goto(url);
  let found = true;
  try {
    await page.waitForFunction((t) => document.documentElement.outerHTML.includes(t), waitFor, { timeout: 15000 });
  } catch {
    found = false;
  }
  if (screenshot) await page.screenshot({ path: screenshot });
  process.stdout.write(JSON.stringify({ found, dom: await page.content(), logged }) + "\n");
} finally {
  await browser.close();
}
