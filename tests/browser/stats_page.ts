/**
 * Browser driver (run with `deno run -A`): opens the statistics page at the first argument in
 * headless Chromium, waits until it shows data, saves a screenshot to the second argument, and
 * prints one JSON line: {title, cards: {id: value}, topRows, clientRows}.
 *
 * @module
 */

import { launchChromium } from "./chromium.ts";

const [url, screenshot] = Deno.args;
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  await page.goto(url);
  await page.waitForFunction("document.querySelectorAll('#cards .card').length > 0");
  // Two refreshes, so rates have a previous sample.
  await page.waitForTimeout(4500);
  await page.screenshot({ path: screenshot, fullPage: true });
  const data = await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const doc = (globalThis as any).document;
    // deno-lint-ignore no-explicit-any
    const all = (q: string): any[] => [...doc.querySelectorAll(q)];
    return {
      title: doc.getElementById("title").textContent,
      cards: Object.fromEntries(all("#cards .value").map((e) => [e.id, Number(e.dataset.value)])),
      topRows: all("#top tbody tr").length,
      clientRows: all("#clients tbody tr td:first-child").map((e) =>
        e.firstChild?.textContent ?? ""
      ),
      error: doc.getElementById("error").textContent,
      external: all("script[src], link[href], img[src]").length,
    };
  });
  console.log(JSON.stringify(data));
} finally {
  await browser.close();
}
