// Shared harness of the edge suites: a test origin on 127.0.0.1, `wrangler dev` instances
// (real workerd) started with bounded waits and always stopped, and a small cookie jar.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED = join(ROOT, "../shared/corpora");
export const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
export const DEBUG_TOKEN = "test-debug-token-0123456789";
const BIN = join(ROOT, "node_modules/.bin");

/** html5lib tokenizer inputs, as documents. */
export function html5libInputs() {
  const dir = join(SHARED, "html5lib-tests/tokenizer");
  const out = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".test")).sort()) {
    const doc = JSON.parse(readFileSync(join(dir, f), "utf8"));
    for (const t of doc.tests || []) {
      let input = t.input ?? "";
      if (t.doubleEscaped) input = input.replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      out.push(Buffer.from(input, "utf8"));
    }
  }
  return out;
}

const page = (title, extra = "") => `<!doctype html><html><head><title>${title}</title></head><body>
<section data-vt-test="hero"><h1>Origin hero</h1></section>
<ul data-vt-test="grid"><li data-vt-test-item data-cat="b">B1</li><li data-vt-test-item data-cat="a">A1</li><li data-vt-test-item data-cat="b">B2</li></ul>
${extra}</body></html>`;

/** The test origin: fixed pages, errors, non-HTML, slow and large streams, html5lib inputs. */
export async function startOrigin() {
  const h5 = html5libInputs();
  const filler = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(16) + "</p>\n";
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://origin");
    const html = { "content-type": "text/html; charset=utf-8", "x-origin": "yes" };
    const p = url.pathname;
    if (p === "/page.html") {
      res.writeHead(200, { ...html, "cache-control": "public, max-age=600", etag: '"abc"', vary: "Accept-Encoding" });
      res.end(page("Page"));
    } else if (p.startsWith("/h5/")) {
      const body = h5[Number(p.slice(4))];
      res.writeHead(body ? 200 : 404, html);
      res.end(body ?? "");
    } else if (p === "/404") {
      res.writeHead(404, { ...html, "x-reason": "missing" });
      res.end("<h1>Not here</h1>");
    } else if (p === "/500") {
      res.writeHead(500, { ...html, "retry-after": "5" });
      res.end(page("Broken"));
    } else if (p === "/data.json") {
      res.writeHead(200, { "content-type": "application/json", "x-origin": "yes" });
      res.end(JSON.stringify({ hero: "<section data-vt-test=\"hero\">not html</section>" }));
    } else if (p === "/img.png") {
      res.writeHead(200, { "content-type": "image/png", "x-origin": "yes" });
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3, 255]));
    } else if (p === "/echo") {
      // Method, a request header and the body, as the origin received them.
      const chunks = [];
      for await (const c of req) chunks.push(c);
      res.writeHead(201, { "content-type": "text/html; charset=utf-8", "x-origin": "yes", "x-method": req.method, "x-seen": req.headers["x-test"] || "" });
      res.end(Buffer.concat(chunks));
    } else if (p === "/redirect") {
      res.writeHead(302, { location: "/page.html", "x-origin": "yes" });
      res.end();
    } else if (p === "/slow.html") {
      // 5 MB: the first part, a pause of `pause` ms, then the rest.
      const pause = Number(url.searchParams.get("pause") || 2000);
      res.writeHead(200, html);
      res.write(`<!doctype html><html><body><section data-vt-test="hero"><h1>Origin hero</h1></section>\n`);
      res.write(filler.repeat(256));
      await new Promise((r) => setTimeout(r, pause));
      const block = filler.repeat(512);
      let sent = 0;
      while (sent < 5 * 1024 * 1024) {
        if (!res.write(block)) await new Promise((r) => res.once("drain", r));
        sent += block.length;
      }
      res.end("<footer>end</footer></body></html>");
    } else if (p === "/stream.html") {
      const mb = Number(url.searchParams.get("mb") || 1);
      res.writeHead(200, html);
      res.write(page("Stream").replace("</body></html>", ""));
      const block = filler.repeat(512);
      let sent = 0;
      while (sent < mb * 1024 * 1024) {
        if (!res.write(block)) await new Promise((r) => res.once("drain", r));
        sent += block.length;
      }
      res.end("</body></html>");
    } else {
      res.writeHead(404, html);
      res.end("no route");
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)), h5 };
}

/**
 * Starts `wrangler dev` (workerd) with the given config and vars on a free port; resolves when it
 * answers. Waits at most `timeoutMs`; the process group is killed by `stop()`. `devKeys`: trust the
 * public development keys (VITRINE_ALLOW_DEV_KEYS=1), as the CLI's `mintCookie` signs with them.
 */
export async function startWorker({ config, port, inspectorPort, vars = {}, devKeys = true, kvConfig = null, timeoutMs = 120_000 }) {
  // The public development keys are trusted only when asked (`make demo` and these tests).
  if (devKeys) vars = { VITRINE_ALLOW_DEV_KEYS: "1", ...vars };
  const persist = mkdtempSync(join(tmpdir(), "vitrine-edge-"));
  if (kvConfig) {
    // KV holds the compiled configuration, as the worker reads it.
    const compiled = join(persist, "config.bin");
    execFileSync(join(ROOT, "target/debug/vitrine"), ["compile", kvConfig, "-o", compiled], { cwd: ROOT, stdio: "ignore" });
    execFileSync(join(BIN, "wrangler"), ["kv", "key", "put", "config", "--path", compiled, "--binding", "VITRINE_CONFIG_KV", "--local", "--persist-to", persist, "-c", config], {
      cwd: ROOT, stdio: "ignore", env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
  }
  // wrangler leaves a bundle folder under the config's .wrangler/tmp per session when killed:
  // the ones this session made are removed by stop().
  const scratch = join(ROOT, dirname(config), ".wrangler/tmp");
  const before = new Set(existsSync(scratch) ? readdirSync(scratch) : []);
  const args = ["dev", "-c", config, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", persist, "--show-interactive-dev-session=false"];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(join(BIN, "wrangler"), args, { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const stop = () => {
    try { process.kill(-child.pid, "SIGKILL"); } catch {}
    rmSync(persist, { recursive: true, force: true });
    for (const f of existsSync(scratch) ? readdirSync(scratch) : []) {
      if (!before.has(f)) rmSync(join(scratch, f), { recursive: true, force: true });
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const r = await fetch(base + "/__vitrine_ready", { headers: { "user-agent": UA }, signal: AbortSignal.timeout(30_000) });
      await r.arrayBuffer();
      return { base, stop, log: () => log, persist };
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  stop();
  throw new Error(`wrangler dev did not answer on ${base} within ${timeoutMs} ms:\n${log}`);
}

/** The token the test collectors trust: the workers send it as VITRINE_COLLECT_TOKEN. */
export const COLLECT_TOKEN = "test-collect-token";

/** The real collector (`vitrine collect` on 127.0.0.1, a free port, trusting COLLECT_TOKEN) writing under `out`; `stop()` ends it. */
export async function startCollector(out) {
  const child = spawn(join(ROOT, "target/debug/vitrine"), ["collect", "--listen", "127.0.0.1:0", "--out", out, "--token", COLLECT_TOKEN], { stdio: ["ignore", "pipe", "ignore"] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", () => reject(new Error("collector exited")));
  });
  return { url: line.match(/http:\/\/[^,]+/)[0], stop: () => child.kill("SIGTERM") };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function withoutKeys() {
  const env = { ...process.env };
  delete env.VITRINE_STATE_KEYS;
  delete env.VITRINE_TRAITS_KEYS;
  return env;
}

/** Mints a signed `vt` cookie for a visitor id with the CLI (same development key as the worker). */
export function mintCookie(visitorIdHex, urls) {
  const out = execFileSync(join(ROOT, "target/debug/vitrine"), ["decide", "--config", "src/config/demo.json", "--visitor-id", visitorIdHex, "--json", ...urls], {
    cwd: ROOT, env: withoutKeys(), stdio: ["ignore", "pipe", "ignore"],
  });
  const steps = JSON.parse(out.toString());
  return steps[steps.length - 1].cookie;
}

/** A minimal cookie jar: name → value, from Set-Cookie headers (Max-Age=0 deletes). */
export class Jar {
  constructor() { this.cookies = new Map(); }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "); }
  take(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const [k, ...v] = pair.split("=");
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(k.trim());
      else this.cookies.set(k.trim(), v.join("=").trim());
    }
  }
}

/** GET with a browser user agent; returns status, headers and the body as a Buffer. */
export async function get(url, { headers = {}, jar = null, method = "GET", body = undefined } = {}) {
  const h = { "user-agent": UA, ...headers };
  if (jar && jar.header()) h.cookie = jar.header();
  const res = await fetch(url, { method, headers: h, body, redirect: "manual", signal: AbortSignal.timeout(60_000) });
  const received = Buffer.from(await res.arrayBuffer());
  if (jar) jar.take(res);
  return { status: res.status, headers: res.headers, body: received, text: received.toString("utf8") };
}

/** The `data-vt-applied` value of the element carrying `attr` (e.g. `data-vt-slot="hero"`). */
export function applied(html, attr) {
  const m = html.match(new RegExp(`<[^>]*${attr}[^>]*>`));
  const a = m && m[0].match(/data-vt-applied="([^"]*)"/);
  return a ? a[1] : null;
}

/** SKUs of the grid's items, in order. */
export function gridSkus(html) {
  const start = html.indexOf('data-vt-slot="grid"');
  return [...html.slice(start).matchAll(/data-vt-sku="([^"]+)"/g)].map((m) => m[1]);
}

/** Every record the collector wrote so far. */
export function records(out) {
  const all = [];
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else for (const l of readFileSync(p, "utf8").split("\n")) if (l) all.push(JSON.parse(l));
    }
  };
  if (existsSync(out)) walk(out);
  return all;
}

/** Waits (bounded) until `pick(records)` holds `n` records; returns them. */
export async function awaitRecords(out, pick, n, ms = 10_000) {
  const deadline = Date.now() + ms;
  let got = [];
  while (Date.now() < deadline) {
    got = records(out).filter(pick);
    if (got.length >= n) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return got;
}
