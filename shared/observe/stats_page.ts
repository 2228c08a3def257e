/**
 * The live statistics page: one self-contained HTML document (no external assets, so it works
 * offline) that polls `/stats.json` every two seconds and updates in place. Readable on a
 * phone. Graphs of the last hour (requests/s, responses/s, peers) are inline SVG, redrawn on
 * every refresh; their time axis covers the history there is, at least a minute and at most
 * the hour, so a fresh start is not a sliver at the right edge.
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
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #687086; --bg: #f6f7fb; --card: #fff; --accent: #2563eb; --c1: #2563eb; --c2: #059669; --c3: #c2410c; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e9f2; --muted: #98a0b5; --bg: #12151d; --card: #1b2030; --accent: #6ea0ff; --c1: #6ea0ff; --c2: #34d399; --c3: #fb923c; } }
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
  h2:first-child { margin-top: 0; }
  table { width: 100%; border-collapse: collapse; background: var(--card); border-radius: 10px; overflow: hidden; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #8882; }
  th { color: var(--muted); font-weight: 500; font-size: 13px; }
  td.n, th.n { text-align: right; }
  td.hash { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
  .bar { height: 6px; background: var(--accent); border-radius: 3px; margin-top: 4px; }
  #error { color: #d33; }
  .graphs { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 10px; margin-bottom: 10px; }
  figure.graph { margin: 0; min-width: 0; background: var(--card); border-radius: 10px; padding: 10px 10px 2px; box-shadow: 0 1px 2px #0002; }
  figcaption { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; color: var(--muted); font-size: 13px; }
  figcaption .now { color: var(--fg); font-size: 18px; font-variant-numeric: tabular-nums; }
  svg.plot { display: block; width: 100%; height: 150px; }
  svg.plot text { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
  svg.plot .grid { stroke: var(--muted); stroke-opacity: 0.25; }
  svg.plot .line { fill: none; stroke: var(--c); stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
  svg.plot .area { fill: var(--c); fill-opacity: 0.14; }
  svg.s1 { --c: var(--c1); } svg.s2 { --c: var(--c2); } svg.s3 { --c: var(--c3); }
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
  <h2>Last hour <span class="muted" id="since"></span></h2>
  <div class="graphs">
    <figure class="graph"><figcaption><span id="label-requests">requests/s</span><span class="now" id="now-requests"></span></figcaption><svg class="plot s1" id="graph-requests" role="img"></svg></figure>
    <figure class="graph"><figcaption><span id="label-responses">responses/s</span><span class="now" id="now-responses"></span></figcaption><svg class="plot s2" id="graph-responses" role="img"></svg></figure>
    <figure class="graph"><figcaption><span id="label-peers">peers</span><span class="now" id="now-peers"></span></figcaption><svg class="plot s3" id="graph-peers" role="img"></svg></figure>
  </div>
  <div class="cards" id="cards"></div>
  <section id="cluster-part" hidden>
  <h2>Cluster <span class="muted" id="cluster-name"></span></h2>
  <table id="cluster"><thead><tr><th>node</th><th class="n">shards</th><th class="n">torrents</th><th class="n">peers</th><th class="n">seeders</th></tr></thead><tbody></tbody></table>
  </section>
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
// The graphs: [series id, column in history.points].
const SERIES = [["requests", 1], ["responses", 2], ["peers", 3]];
const H = 150, LEFT = 40, RIGHT = 10, TOP = 10, BOTTOM = 22;
let last = null;
/** 1.5k, 20k, 3.2M: a number in at most about four characters. */
function si(n) {
  const a = Math.abs(n);
  for (const [d, u] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (a >= d) return +(n / d).toFixed(a / d < 10 ? 1 : 0) + u;
  }
  return String(a >= 10 || Number.isInteger(n) ? Math.round(n) : +n.toFixed(a < 1 ? 2 : 1));
}
/** A step of 1, 2 or 5 × 10^k giving about three gridlines up to max. */
function niceStep(max) {
  const raw = max / 3, p = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
}
function clock(t, seconds) {
  const d = new Date(t * 1000), two = (n) => String(n).padStart(2, "0");
  return two(d.getHours()) + ":" + two(d.getMinutes()) + (seconds ? ":" + two(d.getSeconds()) : "");
}
function draw(svg, h, col, label) {
  const W = Math.max(200, Math.round(svg.getBoundingClientRect().width));
  const pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM, base = TOP + ph;
  const pts = h.points, now = h.now;
  const span = pts.length ? Math.min(3600, Math.max(60, now - pts[0][0])) : 3600, x0 = now - span;
  let max = 0, latest = null;
  for (const p of pts) {
    if (p[col] === null) continue;
    latest = p[col];
    if (p[0] >= x0 && p[col] > max) max = p[col];
  }
  // Peers are whole: no gridline at half a peer. Nothing yet: a scale of 0 to 1.
  const step = max === 0 ? 1 : col === 3 ? Math.max(1, niceStep(max)) : niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const X = (t) => +(LEFT + (t - x0) / span * pw).toFixed(1);
  const Y = (v) => +(base - v / top * ph).toFixed(1);
  // Lines break where a value is unknown or samples are missing (a busy or restarted server).
  let line = "", area = "", n = 0, run = [], prev = null;
  const flush = () => {
    if (run.length === 0) return;
    const xy = run.map((q) => q[0] + "," + q[1]).join("L");
    line += "M" + xy + (run.length === 1 ? "h0" : "");
    area += "M" + run[0][0] + "," + base + "L" + xy + "L" + run[run.length - 1][0] + "," + base + "Z";
    run = [];
  };
  for (const p of pts) {
    if (p[col] === null) { flush(); prev = null; continue; }
    if (prev !== null && p[0] - prev > 2.5 * h.interval) flush();
    run.push([X(p[0]), Y(p[col])]);
    prev = p[0];
    n++;
  }
  flush();
  let g = "";
  for (let k = 0; k * step <= top + step / 2; k++) {
    const y = Math.round(Y(k * step)) + 0.5;
    g += '<line class="grid" x1="' + LEFT + '" x2="' + (W - RIGHT) + '" y1="' + y + '" y2="' + y + '"/>';
    g += '<text x="' + (LEFT - 6) + '" y="' + y + '" dy="0.32em" text-anchor="end">' + si(k * step) + "</text>";
  }
  const tstep = [10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800].find((s) => s / span * pw >= 64) || 3600;
  for (let t = Math.ceil(x0 / tstep) * tstep; t <= now; t += tstep) {
    const x = Math.round(X(t)) + 0.5;
    g += '<line class="grid" x1="' + x + '" x2="' + x + '" y1="' + TOP + '" y2="' + (base + 4) + '"/>';
    if (x > LEFT + 14 && x < W - 18) {
      g += '<text x="' + x + '" y="' + (H - 5) + '" text-anchor="middle">' + clock(t, tstep < 60) + "</text>";
    }
  }
  if (n === 0) {
    g += '<text x="' + (LEFT + pw / 2) + '" y="' + (TOP + ph / 2) + '" text-anchor="middle">' +
      (pts.length ? "no data" : "collecting: a point every " + h.interval + " s") + "</text>";
  }
  const id = svg.id;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.innerHTML = '<clipPath id="' + id + '-clip"><rect x="' + LEFT + '" y="0" width="' + pw + '" height="' + (base + 1) + '"/></clipPath>' +
    g + '<g clip-path="url(#' + id + '-clip)"><path class="area" d="' + area + '"/><path class="line" d="' + line + '"/></g>';
  svg.dataset.points = String(n);
  svg.setAttribute("aria-label", label + " over the last hour" + (latest === null ? "" : ", now " + fmt(latest)));
  return latest;
}
function drawAll(s) {
  const h = s.history;
  for (const [id, col] of SERIES) {
    const card = s.cards.find((c) => c.id === id);
    const label = card ? card.label : id;
    document.getElementById("label-" + id).textContent = label;
    const latest = draw(document.getElementById("graph-" + id), h, col, label);
    document.getElementById("now-" + id).textContent = latest === null ? "" : si(latest);
  }
  const first = h.points.length ? h.points[0][0] : null;
  document.getElementById("since").textContent = first !== null && h.now - first < 3540 ? "(since " + clock(first, false) + ")" : "";
}
addEventListener("resize", () => { if (last) drawAll(last); });
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
    const cl = s.cluster;
    document.getElementById("cluster-part").hidden = !cl;
    if (cl) {
      document.getElementById("cluster-name").textContent = "“" + cl.name + "”" + (cl.state === "member" ? "" : " (this node alone: " + cl.state + ")");
      const row = (n, label) => [cell("td", label), cell("td", n.shards === undefined ? "" : fmt(n.shards), "n"), cell("td", fmt(n.torrents), "n"), cell("td", fmt(n.peers), "n"), cell("td", fmt(n.seeders), "n")];
      rows("cluster", [...cl.nodes.map((n) => row(n, n.node + (n.here ? " (this node)" : ""))), row({ ...cl.total, shards: 1024 }, "total")]);
    }
    last = s;
    drawAll(s);
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
