/**
 * Browser driver (run with `deno run -A`): opens the statistics page at the first argument in
 * headless Chromium, on a phone (390 px, light scheme) and then on a desktop (1280 px, dark
 * scheme). On each it waits until every graph has drawn at least the third argument's number
 * of points (default 3), then saves a full-page screenshot (the second argument; the desktop
 * one beside it, `-desktop-dark.png`), takes an element screenshot of each graph and counts
 * its pixels of the line's colour. Prints one JSON line: {title, cards: {id: value}, topRows,
 * clientRows, error, external, overflow, graphs: {phone|desktop: {id: Graph}}, screenshots}.
 *
 * @module
 */

import type { Page } from "playwright-core";
import { launchChromium } from "./chromium.ts";
import { countColour, decodePng, parseRgb } from "../helpers/png.ts";

const [url, screenshot, minPoints = "3"] = Deno.args;
const SERIES = [["requests", 1], ["responses", 2], ["peers", 3]] as const;

/** What one graph shows: in the DOM, and in its pixels. */
export interface Graph {
  /** Points in the line's path (`M` and `L` commands). */
  pathPoints: number;
  /** Points the page says it drew (`data-points`). */
  dataPoints: number;
  /** Known values of this series in the history the page last fetched. */
  historyPoints: number;
  /** Length of the line in CSS pixels. */
  length: number;
  /** The line's computed colour. */
  colour: string;
  /** Pixels of the line's colour in the graph's screenshot. */
  pixels: number;
  /** Pixels of the other graphs' line colours in it (none expected). */
  otherPixels: number;
}

async function graphs(page: Page): Promise<Record<string, Graph>> {
  await page.waitForFunction(
    (min: number) =>
      ["requests", "responses", "peers"].every((id) =>
        // deno-lint-ignore no-explicit-any
        Number((globalThis as any).document.getElementById("graph-" + id)?.dataset.points ?? 0) >=
          min
      ),
    Number(minPoints),
    { timeout: 120_000 },
  );
  const dom = await page.evaluate((series) => {
    // deno-lint-ignore no-explicit-any
    const doc = (globalThis as any).document, g = globalThis as any;
    // The page's last data is a top-level `let` of its script, not a property of window.
    const last = new Function("return last")();
    return series.map(({ id, col }) => {
      const svg = doc.getElementById("graph-" + id);
      const line = svg.querySelector("path.line");
      return {
        pathPoints: (line.getAttribute("d").match(/[ML]/g) ?? []).length,
        dataPoints: Number(svg.dataset.points),
        historyPoints: last.history.points.filter((p: (number | null)[]) => p[col] !== null)
          .length,
        length: line.getTotalLength(),
        colour: g.getComputedStyle(line).stroke,
      };
    });
  }, SERIES.map(([id, col]) => ({ id, col })));
  const out: Record<string, Graph> = {};
  for (const [k, [id]] of SERIES.entries()) {
    const img = await decodePng(await page.locator("#graph-" + id).screenshot());
    const others = dom.filter((_, j) => j !== k)
      .reduce((n, d) => n + countColour(img, parseRgb(d.colour)), 0);
    out[id] = { ...dom[k], pixels: countColour(img, parseRgb(dom[k].colour)), otherPixels: others };
  }
  return out;
}

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  await page.goto(url);
  await page.waitForFunction("document.querySelectorAll('#cards .card').length > 0");
  // Two refreshes, so rates have a previous sample.
  await page.waitForTimeout(4500);
  const phone = await graphs(page);
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
      overflow: doc.documentElement.scrollWidth > doc.documentElement.clientWidth,
    };
  });
  const desktop = await browser.newPage({
    viewport: { width: 1280, height: 900 },
    colorScheme: "dark",
  });
  await desktop.goto(url);
  const wide = await graphs(desktop);
  const desktopShot = screenshot.replace(/(\.png)?$/, "-desktop-dark.png");
  await desktop.screenshot({ path: desktopShot, fullPage: true });
  console.log(JSON.stringify({
    ...data,
    graphs: { phone, desktop: wide },
    screenshots: [screenshot, desktopShot],
  }));
} finally {
  await browser.close();
}
