// The demo store's origin for `make demo`: serves www/store (as the static-assets binding does:
// `/c/hiking` is c/hiking.html) on 127.0.0.1, and on the order-confirmation page states the
// purchase for the worker in a response header, as a shop's backend would:
//   GET /order/thanks?order=T-1042&total=129.90
//   → X-Vitrine-Conversion: purchase; value=129.90; currency=USD; order=T-1042
// The worker records the conversion and removes the header. Usage: node www/demo-origin.mjs [port]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const root = join(import.meta.dirname, "store");
const port = Number(process.argv[2] || 8789);
const types = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".svg": "image/svg+xml", ".wasm": "application/wasm", ".bin": "application/octet-stream", ".ts": "text/plain" };

async function file(path) {
  const clean = normalize(decodeURIComponent(path)).replace(/^(\.\.[/\\])+/, "");
  for (const candidate of [clean, `${clean}.html`, join(clean, "index.html")]) {
    try {
      return { body: await readFile(join(root, candidate)), type: types[extname(candidate)] || "application/octet-stream" };
    } catch {}
  }
  return null;
}

export function startDemoOrigin(listenPort = port) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://demo");
    const found = await file(url.pathname === "/" ? "index.html" : url.pathname.slice(1));
    if (!found) {
      res.writeHead(404, { "content-type": "text/html; charset=utf-8" });
      return res.end((await file("404.html"))?.body ?? "not found");
    }
    const headers = { "content-type": found.type };
    if (url.pathname === "/order/thanks") {
      const order = url.searchParams.get("order") || "";
      const total = url.searchParams.get("total") || "";
      if (/^[A-Za-z0-9-]{1,32}$/.test(order) && /^\d{1,7}(\.\d{1,2})?$/.test(total)) {
        headers["x-vitrine-conversion"] = `purchase; value=${total}; currency=USD; order=${order}`;
      }
    }
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : found.body);
  });
  return new Promise((resolve) => server.listen(listenPort, "127.0.0.1", () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startDemoOrigin();
  console.log(`demo origin: http://127.0.0.1:${server.address().port}`);
}
