// Generates the demo store (www/store) served by `wrangler dev` behind the worker:
// `/`, `/c/<category>`, `/p/<sku>`, `/search?q=`, `/cart`, `/order/thanks`, a 404 page, a JSON
// feed and images.
// Deterministic: the same input gives the same files. Run by `make store`.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "store");

const categories = {
  hiking: { label: "Hiking", color: "#2f6b3a", icon: "M4 20 L10 8 L13 13 L16 9 L20 20 Z" },
  running: { label: "Running", color: "#c2410c", icon: "M6 18 C9 18 10 12 14 12 L18 12 L18 16 L12 16 C10 16 9 20 6 20 Z" },
  camping: { label: "Camping", color: "#7c5a1e", icon: "M3 20 L12 5 L21 20 Z M12 20 L12 13" },
  climbing: { label: "Climbing", color: "#6d28d9", icon: "M8 21 C8 14 16 14 16 7 M6 7 L18 7 M12 3 L12 7" },
  cycling: { label: "Cycling", color: "#0e7490", icon: "M6 17 A3 3 0 1 0 6.01 17 M18 17 A3 3 0 1 0 18.01 17 M6 17 L10 9 L15 9 L18 17 M10 9 L12 17" },
};

// 8 products per category, spanning bargain (< $50) to premium (≥ $200).
const catalog = {
  hiking: [["ridgeline-mid", "Ridgeline Mid GTX Boot", 219], ["summit-pack", "Summit Pack 40", 179], ["trail-poles", "Carbon Trail Poles", 129], ["merino-socks", "Merino Hiking Socks", 24], ["rain-shell", "Stormline Rain Shell", 249], ["trail-map-kit", "Trail Map & Compass Kit", 39], ["hydration-3l", "Hydration Reservoir 3L", 45], ["approach-low", "Approach Low Shoe", 149]],
  running: [["road-racer", "Road Racer 4", 129], ["trail-runner-gtx", "Trail Runner GTX", 169], ["marathon-elite", "Marathon Elite Carbon", 259], ["run-vest", "Race Vest 8L", 119], ["tempo-shorts", "Tempo Shorts", 45], ["reflective-cap", "Reflective Run Cap", 28], ["gps-watch", "Pace GPS Watch", 299], ["compression-sleeves", "Compression Sleeves", 35]],
  camping: [["dome-2p", "Dome 2P Tent", 199], ["ultralight-1p", "Ultralight 1P Tent", 389], ["down-bag-0c", "Down Sleeping Bag 0°C", 279], ["camp-stove", "Trail Camp Stove", 69], ["sleeping-pad", "Insulated Sleeping Pad", 129], ["headlamp-400", "Headlamp 400", 39], ["camp-mug", "Titanium Camp Mug", 29], ["camp-chair", "Packable Camp Chair", 89]],
  climbing: [["apex-harness", "Apex Harness", 89], ["dynamic-rope-60m", "Dynamic Rope 60 m", 229], ["crag-shoes", "Crag Climbing Shoes", 159], ["grip-chalk", "Grip Chalk 250 g", 18], ["chalk-bag", "Chalk Bag", 25], ["quickdraw-set", "Quickdraw Set of 6", 139], ["belay-device", "Assisted Belay Device", 109], ["crash-pad", "Boulder Crash Pad", 249]],
  cycling: [["aero-helmet", "Aero Road Helmet", 149], ["gravel-tyres", "Gravel Tyres (pair)", 99], ["bike-lights", "Front & Rear Lights", 59], ["cycling-jersey", "Climber's Jersey", 89], ["bib-shorts", "Pro Bib Shorts", 159], ["saddle-bag", "Saddle Bag", 32], ["mini-pump", "Mini Pump", 27], ["power-meter", "Pedal Power Meter", 549]],
};

const products = Object.entries(catalog).flatMap(([cat, items]) =>
  items.map(([slug, name, price]) => ({ sku: `${cat}-${slug}`, category: cat, name, price })),
);

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function icon(cat, size = 64) {
  const c = categories[cat];
  return `<svg viewBox="0 0 24 24" width="${size}" height="${size}" aria-hidden="true"><rect width="24" height="24" rx="5" fill="${c.color}" opacity=".12"/><path d="${c.icon}" fill="none" stroke="${c.color}" stroke-width="1.6" stroke-linejoin="round" stroke-linecap="round"/></svg>`;
}

function card(p) {
  return `<li class="card" data-vt-item data-vt-sku="${p.sku}" data-vt-category="${p.category}" data-vt-price="${p.price}">
      <a href="/p/${p.sku}" data-vt-product-link>${icon(p.category)}<span class="card-cat">${categories[p.category].label}</span><span class="card-name">${esc(p.name)}</span><span class="card-price">$${p.price}</span></a>
    </li>`;
}

// Interleave categories so the generic order is mixed: one of each, then the next of each…
function mixed(list) {
  const by = Object.keys(catalog).map((c) => list.filter((p) => p.category === c));
  const out = [];
  for (let i = 0; out.length < list.length; i++) for (const b of by) if (b[i]) out.push(b[i]);
  return out;
}

function layout({ title, body, meta = "", scripts = "" }) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Trailhead Outfitters</title>
${meta}<link rel="stylesheet" href="/assets/store.css">
<script src="/vitrine/vitrine.js"></script>
<link rel="icon" href="/assets/favicon.svg">
</head>
<body>
<header class="top">
  <a class="logo" href="/">${icon("hiking", 28)}<span>Trailhead <b>Outfitters</b></span></a>
  <nav>${Object.entries(categories).map(([c, v]) => `<a href="/c/${c}">${v.label}</a>`).join("")}<a href="/cart">Cart</a></nav>
  <form class="search" action="/search" method="get" data-vt-search><input name="q" placeholder="Search boots, tents, ropes…" aria-label="Search"><button>Search</button></form>
</header>
<div class="offer" data-vt-slot="offer">Free returns for 60 days on everything</div>
<main>
${body}
</main>
<section class="newsletter" data-vt-slot="newsletter"><h3>Trail reports, monthly</h3><p>Conditions, routes and gear notes from our staff.</p><form><input placeholder="you@example.com" aria-label="Email"><button type="button">Sign up</button></form></section>
<footer><p>Trailhead Outfitters is a demo store for <a href="https://github.com/">Vitrine</a>. Prices in USD.</p></footer>
${scripts}<script src="/assets/cart.js" defer></script>
</body>
</html>
`;
}

const hero = (h1, p) => `<section class="hero" data-vt-slot="hero"><p class="eyebrow">New season</p><h1>${h1}</h1><p>${p}</p><a class="button" href="/search?q=new">Shop new arrivals</a></section>`;
const cta = `<div class="cta-row" data-vt-slot="cta"></div>`;
const grid = (list, heading) => `<h2 class="grid-title">${heading}</h2>
<ul class="grid" data-vt-slot="grid">
    ${list.map(card).join("\n    ")}
</ul>`;

const pages = {};
pages["index.html"] = layout({
  title: "Gear for every trail",
  body: `${hero("Gear for every trail", "Hike, run, camp, climb and ride — tested by people who do.")}
${grid(mixed(products), "Popular right now")}
${cta}`,
});

for (const [cat, c] of Object.entries(categories)) {
  const own = products.filter((p) => p.category === cat);
  pages[`c/${cat}.html`] = layout({
    title: c.label,
    meta: `<meta name="vt:category" content="${cat}">\n`,
    body: `${hero(`${c.label} gear`, `Everything for ${c.label.toLowerCase()}, from first steps to expeditions.`)}
${grid(own, `${c.label} · ${own.length} products`)}
${cta}`,
  });
}

for (const p of products) {
  const others = mixed(products.filter((q) => q.sku !== p.sku)).slice(0, 12);
  pages[`p/${p.sku}.html`] = layout({
    title: p.name,
    meta: `<meta name="vt:sku" content="${p.sku}">\n<meta name="vt:category" content="${p.category}">\n<meta name="vt:price" content="${p.price}">\n`,
    body: `<nav class="crumbs"><a href="/">Home</a> › <a href="/c/${p.category}">${categories[p.category].label}</a> › ${esc(p.name)}</nav>
<article class="product" data-vt-product data-vt-sku="${p.sku}" data-vt-category="${p.category}" data-vt-price="${p.price}">
  <div class="product-image">${icon(p.category, 220)}</div>
  <div class="product-info">
    <p class="eyebrow">${categories[p.category].label}</p>
    <h1>${esc(p.name)}</h1>
    <p class="price">$${p.price}</p>
    <p>Built for the long haul and backed by our 60-day trail guarantee.</p>
    <button class="button" data-vt-add-to-cart data-vt-sku="${p.sku}" data-vt-category="${p.category}" data-vt-price="${p.price}">Add to cart</button>
  </div>
</article>
${hero("Complete the kit", "Pieces that go well with this one.")}
${grid(others, "You may also like")}`,
  });
}

pages["search.html"] = layout({
  title: "Search",
  body: `${hero("Search the store", "Boots, tents, ropes, helmets and more.")}
${grid(mixed(products), "All products")}`,
  scripts: `<script src="/assets/search.js" defer></script>\n`,
});

// A cart (kept in localStorage by assets/cart.js) and the order confirmation, whose URL carries
// the order for the demo origin's X-Vitrine-Conversion header (www/demo-origin.mjs).
pages["cart.html"] = layout({
  title: "Your cart",
  body: `<section class="hero"><h1>Your cart</h1><ul id="cart-lines"></ul><p id="cart-total"></p>
<a class="button" id="place-order" href="/order/thanks">Place order</a></section>`,
});
pages["order/thanks.html"] = layout({
  title: "Thank you",
  body: `<section class="hero"><p class="eyebrow">Order placed</p><h1>Thank you for your order</h1><p>Your gear is on its way.</p><a class="button" href="/">Keep browsing</a></section>`,
});

pages["assets/cart.js"] = `// The demo's cart: add-to-cart buttons put items in localStorage; the cart page lists them and
// links to the confirmation page with a fresh order id and the total.
(() => {
  const key = "trailhead-cart";
  const cart = () => JSON.parse(localStorage.getItem(key) || "[]");
  for (const b of document.querySelectorAll("[data-vt-add-to-cart]")) {
    b.addEventListener("click", () => {
      localStorage.setItem(key, JSON.stringify([...cart(), { sku: b.dataset.vtSku, price: Number(b.dataset.vtPrice) }]));
      b.textContent = "Added ✓";
    });
  }
  const lines = document.getElementById("cart-lines");
  if (lines) {
    const items = cart();
    const total = items.reduce((s, i) => s + i.price, 0).toFixed(2);
    lines.innerHTML = items.map((i) => "<li>" + i.sku + " — $" + i.price + "</li>").join("") || "<li>Empty</li>";
    document.getElementById("cart-total").textContent = "Total: $" + total;
    const order = "T-" + Math.random().toString(36).slice(2, 10).toUpperCase();
    document.getElementById("place-order").href = "/order/thanks?order=" + order + "&total=" + total;
  }
  if (location.pathname === "/order/thanks") localStorage.removeItem(key);
})();
`;

pages["404.html"] = layout({ title: "Not found", body: `<section class="hero"><h1>Trail not found</h1><p>That page does not exist.</p><a class="button" href="/">Back to the store</a></section>` });

pages["assets/store.css"] = `:root{--accent:#2f6b3a;--ink:#1c1917;--muted:#78716c;--bg:#fafaf9;--card:#fff}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:var(--bg)}
body[data-vt-theme=hiking]{--accent:#2f6b3a}body[data-vt-theme=running]{--accent:#c2410c}body[data-vt-theme=camping]{--accent:#7c5a1e}body[data-vt-theme=climbing]{--accent:#6d28d9}body[data-vt-theme=cycling]{--accent:#0e7490}
a{color:inherit}.top{display:flex;gap:24px;align-items:center;padding:14px 32px;background:#fff;border-bottom:1px solid #e7e5e4;flex-wrap:wrap}
.logo{display:flex;gap:8px;align-items:center;text-decoration:none;font-size:20px}.logo b{color:var(--accent)}
nav a{margin-right:16px;text-decoration:none;color:var(--muted);font-weight:500}nav a:hover{color:var(--accent)}
.search{margin-left:auto;display:flex;gap:6px}.search input{padding:8px 12px;border:1px solid #d6d3d1;border-radius:8px;min-width:240px}
button,.button{background:var(--accent);color:#fff;border:0;border-radius:8px;padding:9px 16px;font-weight:600;text-decoration:none;display:inline-block;cursor:pointer}
.offer{background:var(--accent);color:#fff;text-align:center;padding:8px;font-size:14px;min-height:37px}
main{max-width:1180px;margin:0 auto;padding:24px 32px}
.hero{background:linear-gradient(120deg,#fff, #f5f5f4);border:1px solid #e7e5e4;border-radius:16px;padding:40px;margin-bottom:28px;min-height:220px}
.hero h1{font-size:40px;margin:.2em 0}.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:var(--accent);font-weight:700;margin:0}
.grid{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:16px}
.card a{display:flex;flex-direction:column;gap:4px;background:var(--card);border:1px solid #e7e5e4;border-radius:12px;padding:16px;text-decoration:none;height:100%}
.card a:hover{border-color:var(--accent)}.card-cat{font-size:12px;color:var(--muted)}.card-name{font-weight:600}.card-price{color:var(--accent);font-weight:700}
.grid-title{margin:28px 0 12px}.cta-row{margin:24px 0}.cta{font-weight:600;color:var(--accent)}
.product{display:grid;grid-template-columns:260px 1fr;gap:32px;background:#fff;border:1px solid #e7e5e4;border-radius:16px;padding:28px;margin-bottom:28px}
.price{font-size:24px;font-weight:700;color:var(--accent)}.crumbs{color:var(--muted);margin-bottom:16px;font-size:14px}
.newsletter{max-width:1180px;margin:0 auto 24px;padding:24px 32px;background:#fff;border:1px solid #e7e5e4;border-radius:16px}
.newsletter input{padding:8px 12px;border:1px solid #d6d3d1;border-radius:8px;margin-right:6px}
footer{text-align:center;color:var(--muted);font-size:13px;padding:24px}
`;

pages["assets/search.js"] = `// Client-side filter of the demo's search page (the store is static).
(() => {
  const q = (new URLSearchParams(location.search).get("q") || "").toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  if (!q.length) return;
  for (const li of document.querySelectorAll("[data-vt-item]")) {
    const text = li.textContent.toLowerCase();
    if (!q.some((t) => text.includes(t) || li.dataset.vtCategory === t)) li.hidden = true;
  }
})();
`;

pages["assets/favicon.svg"] = icon("hiking", 32).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ');
pages["assets/products.json"] = JSON.stringify({ products }, null, 1) + "\n";

rmSync(root, { recursive: true, force: true });
for (const [path, content] of Object.entries(pages)) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}
// The browser module, served at /vitrine/: the shipping folder `make browser` built
// (target/browser) and the demo's configuration compiled into it, with the loader naming it.
const www = dirname(fileURLToPath(import.meta.url));
const shipped = join(www, "../target/browser");
const vitrine = join(root, "vitrine");
rmSync(vitrine, { recursive: true, force: true });
mkdirSync(vitrine, { recursive: true });
if (existsSync(shipped)) {
  for (const f of readdirSync(shipped)) copyFileSync(join(shipped, f), join(vitrine, f));
  execFileSync(join(www, "../target/debug/vitrine"), ["compile", join(www, "../src/config/demo.json"), "--browser", vitrine], { stdio: "ignore" });
} else {
  console.warn("store: target/browser missing (run make browser)");
}
console.log(`store: ${Object.keys(pages).length} files in ${root}, browser module in ${vitrine}`);
