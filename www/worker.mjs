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

function origin(request, env) {
  if (env.ORIGIN_URL) {
    const url = new URL(request.url);
    const target = env.ORIGIN_URL.replace(/\/$/, "") + url.pathname + url.search;
    return fetch(new Request(target, request), { redirect: "manual" });
  }
  return env.ASSETS.fetch(request);
}

export default class extends Vitrine {
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
      if (retry === null) throw err;
      return origin(retry, this.env);
    } finally {
      inflight.delete(fail);
    }
  }
}
