/**
 * The live statistics page: one self-contained HTML document (no external assets, so it works
 * offline) that polls `/stats.json` every two seconds and updates in place. Readable on a
 * phone.
 *
 * @module
 */

/** The page. */
export const STATS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoal statistics</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #687086; --bg: #f6f7fb; --card: #fff; --accent: #2563eb; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e9f2; --muted: #98a0b5; --bg: #12151d; --card: #1b2030; --accent: #6ea0ff; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 16px; display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; }
  h1 { font-size: 20px; margin: 0; }
  .muted { color: var(--muted); }
  main { padding: 0 16px 24px; max-width: 1100px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
  .card { background: var(--card); border-radius: 10px; padding: 12px; box-shadow: 0 1px 2px #0002; }
  .card .label { color: var(--muted); font-size: 13px; }
  .card .value { font-size: 22px; font-variant-numeric: tabular-nums; margin-top: 2px; word-break: break-all; }
  h2 { font-size: 16px; margin: 22px 0 8px; }
  table { width: 100%; border-collapse: collapse; background: var(--card); border-radius: 10px; overflow: hidden; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #8882; }
  th { color: var(--muted); font-weight: 500; font-size: 13px; }
  td.n, th.n { text-align: right; }
  td.hash { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
  .bar { height: 6px; background: var(--accent); border-radius: 3px; margin-top: 4px; }
  #error { color: #d33; }
</style>
</head>
<body>
<header>
  <h1 id="title">shoal</h1>
  <span class="muted">up <span id="uptime">–</span></span>
  <span class="muted" id="updated"></span>
  <span id="error"></span>
</header>
<main>
  <div class="cards" id="cards"></div>
  <h2>Largest swarms</h2>
  <table id="top"><thead><tr><th>info hash</th><th class="n">seeders</th><th class="n">leechers</th><th class="n">completed</th></tr></thead><tbody></tbody></table>
  <h2>Clients <span class="muted" id="sampled"></span></h2>
  <table id="clients"><thead><tr><th>client</th><th class="n">share</th></tr></thead><tbody></tbody></table>
</main>
<script>
"use strict";
const fmt = (n) => Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 1 });
function uptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + Math.floor(s % 60) + "s";
}
function cell(tag, text, cls) {
  const e = document.createElement(tag);
  e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function rows(id, list) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...list.map((cells) => {
    const tr = document.createElement("tr");
    for (const c of cells) tr.append(c);
    return tr;
  }));
}
async function refresh() {
  try {
    const s = await (await fetch("stats.json", { cache: "no-store" })).json();
    document.getElementById("title").textContent = "shoal " + s.protocol + " " + s.version;
    document.title = "shoal " + s.protocol + " statistics";
    document.getElementById("uptime").textContent = uptime(s.uptimeSeconds);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    const cards = document.getElementById("cards");
    cards.replaceChildren(...s.cards.map((c) => {
      const div = cell("div", "", "card");
      div.append(cell("div", c.label, "label"));
      const v = cell("div", fmt(c.value), "value");
      v.id = c.id;
      v.dataset.value = String(c.value);
      div.append(v);
      return div;
    }));
    rows("top", s.top.map((t) => [cell("td", t.infoHash, "hash"), cell("td", fmt(t.seeders), "n"), cell("td", fmt(t.leechers), "n"), cell("td", fmt(t.completed), "n")]));
    const total = s.clients.reduce((n, c) => n + c[1], 0) || 1;
    rows("clients", s.clients.slice(0, 15).map(([name, n]) => {
      const share = cell("td", (100 * n / total).toFixed(1) + "%", "n");
      const label = cell("td", name);
      const bar = cell("div", "", "bar");
      bar.style.width = (100 * n / total) + "%";
      label.append(bar);
      return [label, share];
    }));
    document.getElementById("sampled").textContent = s.sampled ? "(" + fmt(s.sampled) + " peers sampled)" : "";
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "unreachable: " + e.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
