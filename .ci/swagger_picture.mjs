// Opens Swagger UI in headless Chromium, runs the chain picture operation as
// an analyst would ("Try it out", then "Execute") and checks that the answer
// is shown as an image; saves a screenshot of the operation with its answer.
//
// Usage: node .ci/swagger_picture.mjs BASE_URL SCREENSHOT.png
// Environment: CHROMIUM (default /usr/bin/chromium); PUPPETEER_DIR, the
// folder whose node_modules holds puppeteer-core (.ci/swagger_picture.sh
// installs it under target/).
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.PUPPETEER_DIR ?? ".", "package.json"));
const puppeteer = require("puppeteer-core");

const [base, screenshot] = process.argv.slice(2);
if (!base || !screenshot) {
  console.error("usage: node swagger_picture.mjs BASE_URL SCREENSHOT.png");
  process.exit(2);
}
const OPERATION = "#operations-scores-get_chain_picture";
const fail = (message) => {
  console.error(`swagger picture: ${message}`);
  process.exitCode = 1;
};

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1800"],
  defaultViewport: { width: 1400, height: 1800 },
});
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  const answers = [];
  page.on("response", (r) => {
    if (r.url().includes("/chain.svg")) answers.push(r);
  });

  await page.goto(`${base}/docs/`, { waitUntil: "networkidle0", timeout: 60_000 });
  const operation = await page.waitForSelector(OPERATION, { timeout: 60_000 });
  await operation.scrollIntoView();
  await page.click(`${OPERATION} .opblock-summary`);
  await page.waitForSelector(`${OPERATION} .try-out__btn`, { timeout: 30_000 });
  await page.click(`${OPERATION} .try-out__btn`);
  await page.waitForSelector(`${OPERATION} .execute`, { timeout: 30_000 });
  await page.click(`${OPERATION} .execute`);

  // The answer's body: an <img> from a blob: URL once the PNG has loaded.
  const image = await page.waitForSelector(`${OPERATION} .responses-wrapper .response-col_description img`, {
    timeout: 60_000,
  });
  const shown = await image.evaluate(async (img) => {
    if (!img.complete) await new Promise((ok) => img.addEventListener("load", ok, { once: true }));
    return { src: img.src, width: img.naturalWidth, height: img.naturalHeight };
  });
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => ok())));
  const answer = answers.at(-1);
  const status = answer?.status();
  const type = answer?.headers()["content-type"];
  const accept = answer?.request().headers()["accept"];
  console.log(
    `swagger picture: ${status} ${type} (Accept: ${accept}), image ${shown.width}×${shown.height} from ${shown.src.slice(0, 5)}…`,
  );
  // From the operation's head down to the answer shown.
  const clip = await page.evaluate((selector) => {
    const top = document.querySelector(selector).getBoundingClientRect();
    const answer = document.querySelector(`${selector} .live-responses-table`).getBoundingClientRect();
    return {
      x: top.left + window.scrollX,
      y: top.top + window.scrollY,
      width: top.width,
      height: answer.bottom - top.top,
    };
  }, OPERATION);
  await page.screenshot({ path: screenshot, clip, captureBeyondViewport: true });
  console.log(`swagger picture: screenshot in ${screenshot}`);

  if (status !== 200) fail(`the operation answered ${status}`);
  if (type !== "image/png") fail(`the answer is ${type}, not image/png`);
  if (!shown.src.startsWith("blob:")) fail(`the image is not the answer: ${shown.src}`);
  if (shown.width < 400 || shown.height < 200) fail(`the image did not load: ${shown.width}×${shown.height}`);
  const blocked = problems.filter((p) => /Content Security Policy|Refused/i.test(p));
  if (blocked.length) fail(`the page refused something: ${blocked.join("; ")}`);
} catch (error) {
  fail(error.stack ?? String(error));
  try {
    const [page] = await browser.pages();
    await page?.screenshot({ path: screenshot, fullPage: false });
  } catch {}
} finally {
  await browser.close();
}
