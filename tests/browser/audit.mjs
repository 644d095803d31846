// Opens score pages in the real Chromium and says what a reader meets:
// axe-core's violations, whether the page scrolls sideways, where the score
// and the "fix these first" list sit, and what printing opens. Reads a JSON
// list of jobs on stdin, writes a JSON list of results on stdout; the
// assertions live in tests/page_audit.rs.
//
// A job: {"url": "...", "width": 390, "height": 844, "screenshot": "path.png"?,
//         "signal": "path"?, "wait_for": "selector"?}
// With "wait_for", the page is left open after the audit: "signal" is
// written so that the test knows the page is showing, then the result says
// whether the selector appeared (the pending page turning into its report)
// within 30 s, and the page's text at the end.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const jobs = JSON.parse(readFileSync(0, "utf8"));
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
});
const results = [];
try {
  for (const job of jobs) {
    results.push(await audit(job));
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results));

async function audit(job) {
  const page = await browser.newPage();
  await page.setViewport({ width: job.width, height: job.height || 900 });
  const response = await page.goto(job.url, { waitUntil: "load" });
  const layout = await page.evaluate(measure);
  // axe runs as a script in the page; the page's CSP allows only its own
  // scripts, so it goes in through DevTools, not a <script> tag.
  await page.evaluate(AXE);
  const axe = await page.evaluate(async () => {
    const run = await window.axe.run(document, { resultTypes: ["violations"] });
    return run.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
    }));
  });
  const print = await page.evaluate(printing);
  await page.emulateMediaType("print");
  const printHidden = await page.evaluate(() =>
    [".toc", "nav.lang", "footer"].filter((s) => {
      const e = document.querySelector(s);
      return !e || getComputedStyle(e).display === "none";
    }),
  );
  await page.emulateMediaType(null);
  if (job.screenshot) {
    await page.screenshot({ path: job.screenshot, fullPage: false });
  }
  const cookies = await page.cookies();
  const waited = job.wait_for ? await waitFor(page, job) : null;
  await page.close();
  return {
    url: job.url,
    width: job.width,
    status: response.status(),
    axe,
    cookies: cookies.length,
    print: { ...print, hidden: printHidden },
    waited,
    ...layout,
  };
}

async function waitFor(page, job) {
  const started = Date.now();
  if (job.signal) writeFileSync(job.signal, "showing");
  const found = await page
    .waitForSelector(job.wait_for, { timeout: 30000 })
    .then(() => true)
    .catch(() => false);
  return {
    found,
    ms: Date.now() - started,
    text: await page.evaluate(() => document.body.innerText),
  };
}

// Runs in the page: the box of each thing the first screen must show.
function measure() {
  const box = (e) => {
    if (!e) return null;
    const r = e.getBoundingClientRect();
    return { top: Math.round(r.top + window.scrollY), bottom: Math.round(r.bottom + window.scrollY) };
  };
  // Inside a box that scrolls sideways by itself.
  const scrollsInside = (e) => {
    for (let p = e.parentElement; p && p.tagName !== "MAIN"; p = p.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const root = document.documentElement;
  return {
    lang: root.lang,
    scroll_width: root.scrollWidth,
    client_width: root.clientWidth,
    score: box(document.querySelector(".score .big")),
    fix_list: box(document.querySelector(".fix-first")),
    fixes: Array.from(document.querySelectorAll(".fix-first li")).map((li) => ({
      text: li.innerText,
      href: li.querySelector("a") ? li.querySelector("a").getAttribute("href") : null,
      ...box(li),
    })),
    // Wider than the page's column (at 390 px, than the screen), outside
    // a box that scrolls by itself (a wide table's).
    wider: Array.from(document.querySelectorAll("main *"))
      .filter((e) => e.getBoundingClientRect().right > document.querySelector("main").getBoundingClientRect().right + 1)
      .filter((e) => !scrollsInside(e))
      .slice(0, 5)
      .map((e) => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")),
  };
}

// Runs in the page: what the print events open and put back.
function printing() {
  const closed = () => document.querySelectorAll("details:not([open])").length;
  const before = closed();
  window.dispatchEvent(new Event("beforeprint"));
  const during = closed();
  window.dispatchEvent(new Event("afterprint"));
  return { closed_before: before, closed_during: during, closed_after: closed() };
}
