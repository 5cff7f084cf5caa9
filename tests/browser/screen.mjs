// Opens a station page in Debian's Chromium (headless, the station screen's 1024x600) the way
// the kiosk does (audio may start without a touch: --autoplay-policy=no-user-gesture-required),
// then answers requests read from standard input, one JSON object a line:
//   {"click": SELECTOR?, "wait_for": TEXT, "screenshot": PATH?, "fit": true?}
// clicks the element (as a touch would) when asked to, waits until the page shows TEXT (15 s at most) and prints one JSON line: whether it did
// ("found"), the DOM, what the page logged (CSP violations and script errors among it), the
// sounds it started since the last answer ("sounds": [oscillator type, frequency in Hz]), and
// with "fit" the elements whose text does not fit their box ("overflow").
// Usage: node screen.mjs URL [--pseudo] < requests
//   --pseudo: the page's own words in a pseudo-locale (each language's texts replaced by the
//             English ones, accented, vowels doubled — about 40% longer — and [bracketed]), to
//             show the layout holds longer languages. Only the page's data block is rewritten
//             on its way in; the page's script and its Content-Security-Policy are untouched.
import { chromium } from "playwright-core";
import readline from "node:readline";

const [url, ...options] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
});

const ACCENTS = Object.fromEntries([..."abcdeghiklnorstuyzABCDEGHIKLNORSTUYZ"].map((c, i) =>
  [c, [..."áƀçðéĝĥíķĺñóŕšţúýžÁƁÇÐÉĜĤÍĶĹÑÓŔŠŢÚÝŽ"][i]]));
function pseudo(s) {
  const words = s.split(/(\{[\w-]+\})/).map((part) => part.startsWith("{") ? part
    : [...part].map((c) => ("aeiouAEIOU".includes(c) ? ACCENTS[c] + ACCENTS[c] : ACCENTS[c] || c)).join(""));
  return `[${words.join("")}]`;
}

// What the page may not show: an element whose content is wider (or taller) than its box and
// spills out of it. Cutting with an ellipsis or clamping lines is fitting; a scrolled list
// (overflow: auto) may be taller than its box, never wider. And the page not beyond the screen.
function overflowing() {
  const bad = [];
  const root = document.documentElement;
  if (root.scrollWidth > innerWidth || root.scrollHeight > innerHeight) {
    bad.push(`the page is ${root.scrollWidth}x${root.scrollHeight}, the screen ${innerWidth}x${innerHeight}`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (["SCRIPT", "STYLE"].includes(el.tagName) || el.clientWidth === 0) continue;
    const cs = getComputedStyle(el);
    const cut = cs.overflowX === "hidden" && (cs.textOverflow === "ellipsis" || cs.webkitLineClamp !== "none");
    const name = el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""}`;
    const what = `${name} "${el.textContent.trim().slice(0, 40)}"`;
    if (el.scrollWidth > el.clientWidth + 1 && !cut) bad.push(`${what} is ${el.scrollWidth}px wide in ${el.clientWidth}px`);
    const scrolls = ["auto", "scroll"].includes(cs.overflowY) || (cs.overflowY === "hidden" && cut);
    if (el.scrollHeight > el.clientHeight + 1 && !scrolls) bad.push(`${what} is ${el.scrollHeight}px high in ${el.clientHeight}px`);
  }
  return bad;
}

const logged = [];
try {
  const page = await browser.newPage({ viewport: { width: 1024, height: 600 } });
  page.on("console", (m) => logged.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logged.push(`pageerror: ${e.message}`));
  // What the page itself is told when its policy blocks something (Chromium also logs it),
  // and every sound it starts (the page exposes nothing for this: the test wraps WebAudio).
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
    window.__sounds = [];
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args) {
      window.__sounds.push([this.type, Math.round(this.frequency.value)]);
      return start.apply(this, args);
    };
  });
  if (options.includes("--pseudo")) {
    await page.route((u) => u.pathname === "/", async (route) => {
      const response = await route.fetch();
      const html = await response.text();
      const block = /(<script type="application\/json" id="screen">)(.*?)(<\/script>)/s;
      const body = html.replace(block, (_, open, json, close) => {
        const screen = JSON.parse(json);
        const en = Object.fromEntries(Object.entries(screen.texts.en).map(([k, v]) => [k, pseudo(v)]));
        for (const lang of Object.keys(screen.texts)) screen.texts[lang] = en;
        const safe = JSON.stringify(screen).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
        return open + safe + close;
      });
      await route.fulfill({ response, body });
    });
  }
  await page.goto(url);
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const request = JSON.parse(line);
    if (request.click) await page.click(request.click);
    let found = true;
    try {
      await page.waitForFunction((t) => document.documentElement.outerHTML.includes(t), request.wait_for, { timeout: 15000 });
    } catch {
      found = false;
    }
    if (request.screenshot) await page.screenshot({ path: request.screenshot });
    const sounds = await page.evaluate(() => window.__sounds.splice(0));
    const overflow = request.fit ? await page.evaluate(overflowing) : [];
    process.stdout.write(JSON.stringify({ found, dom: await page.content(), logged: logged.splice(0), sounds, overflow }) + "\n");
  }
} finally {
  await browser.close();
}
