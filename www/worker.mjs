// Entry point of the edge worker: the Rust worker (built by worker-build into build/index.js)
// answers every request. If it fails before answering — a Rust panic, which aborts the wasm
// instance, or any other exception — the shopper gets the origin response instead of an error
// page. workers-rs then reinitializes the wasm instance before the next request.
import Vitrine from "../build/index.js";

// Requests in flight, each with the function that makes it fall back to the origin. A panic
// aborts the instance, so it concerns them all; the Rust panic hook calls this.
const inflight = new Set();
globalThis.__vitrine_on_panic = () => {
  for (const fail of inflight) fail(new Error("Rust panic"));
  inflight.clear();
};

// The request as the origin gets it, as the Rust side forwards it: Vitrine's own headers
// (x-vitrine-*, the debug token) and the vt_debug cookie never reach the origin's logs.
function forwarded(request) {
  const headers = new Headers();
  for (const [k, v] of request.headers) {
    if (k.startsWith("x-vitrine-")) continue;
    if (k === "cookie") {
      const kept = v.split(";").map((c) => c.trim()).filter((c) => c && c.split("=")[0].trim() !== "vt_debug").join("; ");
      if (kept) headers.set(k, kept);
      continue;
    }
    headers.append(k, v);
  }
  return headers;
}

function origin(request, env) {
  const url = new URL(request.url);
  const target = env.ORIGIN_URL ? env.ORIGIN_URL.replace(/\/$/, "") + url.pathname + url.search : request.url;
  const init = { method: request.method, headers: forwarded(request), redirect: "manual" };
  return env.ORIGIN_URL ? fetch(target, init) : env.ASSETS.fetch(new Request(target, init));
}

const badGateway = () =>
  new Response("<!doctype html><html><head><meta charset=\"utf-8\"><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><p>The shop did not answer. Please try again in a moment.</p></body></html>\n", {
    status: 502,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });

/** `events/dt=YYYY-MM-DD/hour=HH/<batch-id>.ndjson.gz`, by the batch's time (UTC). */
export function batchKey(now = new Date(), id = crypto.randomUUID()) {
  const iso = now.toISOString();
  return `events/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${id}.ndjson.gz`;
}

export default class extends Vitrine {
  // The Queue consumer: each batch of NDJSON messages (one per personalized request) becomes
  // one gzipped NDJSON object in R2 (binding VITRINE_EVENTS_BUCKET), a layout DuckDB,
  // ClickHouse, BigQuery and Spark read directly. A failed write retries the batch (bounded by
  // the consumer's max_retries in wrangler.toml).
  async queue(batch) {
    try {
      const text = batch.messages.map((m) => String(m.body)).join("");
      const gz = await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
      await this.env.VITRINE_EVENTS_BUCKET.put(batchKey(), gz, { httpMetadata: { contentType: "application/x-ndjson", contentEncoding: "gzip" } });
      batch.ackAll();
    } catch (err) {
      console.error("vitrine: writing an event batch to R2 failed, retrying it:", String((err && err.message) || err));
      batch.retryAll();
    }
  }

  async fetch(request) {
    // GET and HEAD carry no body, so a copy costs nothing; other methods are never rewritten
    // and are not retried (their body may already be consumed).
    const retry = request.method === "GET" || request.method === "HEAD" ? request.clone() : null;
    let fail;
    const failed = new Promise((_, reject) => (fail = reject));
    inflight.add(fail);
    try {
      return await Promise.race([super.fetch(request), failed]);
    } catch (err) {
      console.error("vitrine: worker failed, serving the origin response:", String((err && err.message) || err));
      if (retry === null) return badGateway();
      try {
        const r = await origin(retry, this.env);
        if (!r.headers.has("x-vitrine-conversion")) return r;
        // The origin's conversion header is for the worker, never for the shopper.
        const kept = new Response(r.body, r);
        kept.headers.delete("x-vitrine-conversion");
        return kept;
      } catch {
        return badGateway();
      }
    } finally {
      inflight.delete(fail);
    }
  }
}
