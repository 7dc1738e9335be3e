// A static server for browser-only mode: /vitrine/* from www/store/vitrine, and a plain page
// that has only the script tag (no worker in front).
import { createServer } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { join, dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html; charset=utf-8", ".css": "text/css", ".ts": "text/plain" };

export const PLAIN_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Plain page</title>
<script src="/vitrine/vitrine.js" data-collect="/vitrine/collect"></script>
<style>body{font:16px system-ui;margin:0}.hero{height:240px;padding:24px;background:#f5f5f4}.offer{height:40px}.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:8px;list-style:none;padding:0}.grid li{height:60px;border:1px solid #ddd}</style>
</head><body>
<script>
  // Records, at every frame before it is painted, what the hero shows if it is visible.
  window.__heroFrames = [];
  (function watch() {
    const hero = document.querySelector("[data-vt-slot=hero]");
    if (hero) {
      const visible = getComputedStyle(hero).visibility !== "hidden";
      window.__heroFrames.push(visible ? hero.textContent.trim().slice(0, 40) : null);
      // The first frame that will paint the hero (make bench-browser reads it).
      if (visible && window.__heroVisibleAt === undefined) window.__heroVisibleAt = performance.now();
    }
    if (window.__heroFrames.length < 120) requestAnimationFrame(watch);
  })();
  window.__shifts = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__shifts.push({ value: e.value, sources: e.sources.map((s) => s.node && s.node.closest && s.node.closest("[data-vt-slot]") ? s.node.closest("[data-vt-slot]").dataset.vtSlot : null) }); }).observe({ type: "layout-shift", buffered: true });
</script>
<section class="hero" data-vt-slot="hero"><h1>Generic hero</h1></section>
<div class="offer" data-vt-slot="offer">Free returns</div>
<ul class="grid" data-vt-slot="grid">
  <li data-vt-item data-vt-sku="running-road-racer" data-vt-category="running">Road Racer</li>
  <li data-vt-item data-vt-sku="camping-dome-2p" data-vt-category="camping">Dome 2P</li>
  <li data-vt-item data-vt-sku="hiking-ridgeline-mid" data-vt-category="hiking">Ridgeline Mid</li>
  <li data-vt-item data-vt-sku="hiking-summit-pack" data-vt-category="hiking">Summit Pack</li>
</ul>
<div data-vt-slot="cta"></div>
</body></html>`;

/**
 * The plain page with the <head> lines `vitrine compile --browser` writes beside the files
 * (head.html: preload hints that start the module, the wasm and the configuration with the HTML,
 * then the script tag, which keeps the plain page's attributes).
 */
export function hintedPage(vitrineDir) {
  const head = readFileSync(join(vitrineDir, "head.html"), "utf8");
  return PLAIN_PAGE.replace(/<script src="\/vitrine\/vitrine.js"([^>]*)><\/script>\n/, (_, attrs) => head.replace('<script src="/vitrine/vitrine.js">', `<script src="/vitrine/vitrine.js"${attrs}>`));
}

/** The same page without Vitrine: its first paint is what the slots' visibility is held to. */
export const BARE_PAGE = PLAIN_PAGE.replace(/<script src="\/vitrine\/vitrine.js"[^>]*><\/script>\n/, "");

/**
 * A shop's own page, unmodified but for the script tag (`tag`): docs/examples/category.html,
 * no data-vt-* anywhere, and a watcher that records, at every frame, what its hero shows if
 * visible; below its header's search form (role=search), two more: a plain GET form to the
 * search page and a POST form the script tag names (`data-search-form`).
 */
export function shopPage(tag) {
  const page = readFileSync(join(ROOT, "docs/examples/category.html"), "utf8");
  const watcher = `<script>
  window.__heroFrames = [];
  (function watch() {
    const hero = document.querySelector("section.hero-banner");
    if (hero) window.__heroFrames.push(getComputedStyle(hero).visibility !== "hidden" ? hero.textContent.trim().slice(0, 40) : null);
    if (window.__heroFrames.length < 120) requestAnimationFrame(watch);
  })();
</script>`;
  const forms = `<form class="footer-search" action="/search"><input name="q"><button>Go</button></form>
<form class="finder" action="/find" method="post"><input name="term"><button>Find</button></form>`;
  return page
    .replace("</head>", `${tag}\n</head>`)
    .replace("<body>", `<body>\n${watcher}`)
    .replace('<footer class="site-footer">', `${forms}\n<footer class="site-footer">`);
}

/**
 * The server also takes beacons at POST /vitrine/collect: `beacons` holds their bodies.
 * With `shop` ({vitrine: folder, page: html or url => html}), it serves that shipping folder at /vitrine/ and
 * that page at every other path: a shop with the script tag and nothing else.
 */
export function startStatic(shop = null) {
  const beacons = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (req.method === "POST" && url.pathname === "/vitrine/collect") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        beacons.push(body);
        res.writeHead(204);
        res.end();
      });
      return;
    }
    if (shop && !url.pathname.startsWith("/vitrine/")) {
      res.writeHead(200, { "content-type": TYPES[".html"] });
      return res.end(typeof shop.page === "function" ? shop.page(url) : shop.page);
    }
    if (url.pathname.startsWith("/vitrine/")) {
      const file = shop ? join(shop.vitrine, url.pathname.slice("/vitrine/".length)) : join(ROOT, "www/store", url.pathname);
      if (existsSync(file)) {
        res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
        return res.end(readFileSync(file));
      }
    } else if (url.pathname === "/" || url.pathname === "/plain.html") {
      res.writeHead(200, { "content-type": TYPES[".html"] });
      return res.end(PLAIN_PAGE);
    } else if (url.pathname === "/hinted.html") {
      res.writeHead(200, { "content-type": TYPES[".html"] });
      return res.end(hintedPage(join(ROOT, "www/store/vitrine")));
    } else if (url.pathname === "/bare.html") {
      res.writeHead(200, { "content-type": TYPES[".html"] });
      return res.end(BARE_PAGE);
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ url: `http://127.0.0.1:${server.address().port}`, beacons, close: () => new Promise((c) => server.close(c)) })));
}
