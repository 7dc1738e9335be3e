// Entry point of the edge worker: the Rust worker (built by worker-build into build/index.js)
// answers every request; if it throws before answering — a panic or another wasm trap — the
// shopper gets the origin response instead of an error page. workers-rs marks such traps as
// critical and reinitializes the wasm instance before the next request.
import Vitrine from "../build/index.js";

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
    try {
      return await super.fetch(request);
    } catch (err) {
      console.error("vitrine: worker failed, serving the origin response:", String(err && err.message || err));
      if (retry === null) throw err;
      return origin(retry, this.env);
    }
  }
}
