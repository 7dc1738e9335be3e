// Vitrine's browser module: click-stream capture, browser-only personalization, debug overlay.
//
// - Behind the edge worker (slots carry data-vt-applied): records interactions into the `vt_e`
//   cookie so the next navigation reflects them; never re-applies a slot.
// - Without the worker: keeps the (unsigned) state in localStorage, decides with the same Rust
//   core compiled to wasm, and swaps the slots, moving existing nodes for `reorder`.
// - Consent (privacy.consent, docs/privacy.md): until the shop's consent platform grants it,
//   nothing is read from or written to storage, no event is captured and nothing is sent; the
//   page is decided from its context only. The core answers from the page's signals (cookies,
//   the CMP's __tcfapi, Google Consent Mode in dataLayer); a withdrawal deletes the state.
// API for single-page apps: init(options), track(event), decide(), apply(decision), refresh(),
// flush(), consentChanged(); the core's Engine and PageRequest. Options: {base, config, auto, traits, collect
// (where records go: behind the worker /vitrine/collect; without it, nowhere unless set),
// searchForm (a selector for the site's search forms)}.
import wasmInit, { Engine, PageRequest } from "./vitrine_core.js";

export { Engine, PageRequest };

const STATE_KEY = "vitrine:vt";
const MAX_EVENTS = 16;
const MAX_EVENTS_COOKIE = 3000;
const EVENT_CODES = { category_view: "cv", product_view: "pv", product_click: "pc", add_to_cart: "ac", purchase: "pu", search: "se", filter: "fi" };

let engine = null;
let options = {};
let capturing = false;
let lastDecision = null;

// User Timing marks for the page's own measurements (make bench-browser reads them too).
const mark = (name) => performance.mark && performance.mark(name);
const gpc = () => navigator.globalPrivacyControl === true;
// Whether behavior may be kept and sent: no GPC, and consent as privacy.consent asks.
let consented = false;
const allowed = () => consented && !gpc();
// Whether the worker decided this page: its slots arrive marked data-vt-applied. Settled at the
// first look after the DOM is parsed, before this module marks any slot itself.
let atEdge;
function edgeMode() {
  const marked = () => document.querySelector("[data-vt-applied]") !== null;
  if (atEdge === undefined && document.readyState !== "loading") atEdge = marked();
  return atEdge ?? marked();
}
const debugging = () => new URLSearchParams(location.search).has("vt-debug");
// A page the worker decided marks this tab's session as served by it: its pages without slots
// send their records to the worker's collector too.
const EDGE_SEEN = "vitrine:edge";
function servedByWorker() {
  try {
    if (edgeMode()) sessionStorage.setItem(EDGE_SEEN, "1");
    return sessionStorage.getItem(EDGE_SEEN) === "1";
  } catch {
    return edgeMode();
  }
}

/** Where records go: `collect` (data-collect), else the worker's collector if a worker serves the page, else nowhere. */
function collectUrl() {
  return options.collect || (servedByWorker() ? "/vitrine/collect" : null);
}

function randomId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function readCookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
  return m ? m[1] : null;
}

// ---------------------------------------------------------------------------------------------
// The click stream (`vt_e`): newest first, bounded, each field percent-encoded.

function encodeEvent(e) {
  const code = EVENT_CODES[e.type];
  if (!code) throw new Error(`vitrine: unknown event type '${e.type}'`);
  const f = (v) => (v === undefined || v === null ? "" : encodeURIComponent(String(v)));
  switch (e.type) {
    case "category_view": return `${code}:${f(e.category)}`;
    case "search": return `${code}:${f(e.query)}`;
    case "filter": return `${code}:${f(e.filter)}:${f(e.value)}`;
    case "add_to_cart": case "purchase": return `${code}:${f(e.sku)}:${f(e.category)}:${f(e.price)}:${f(e.id)}`;
    default: return `${code}:${f(e.sku)}:${f(e.category)}:${f(e.price)}`;
  }
}

function pendingEvents() {
  const raw = readCookie("vt_e");
  return raw ? raw.split("|").filter(Boolean) : [];
}

function writeEvents(list) {
  let kept = list.slice(0, MAX_EVENTS);
  while (kept.join("|").length > MAX_EVENTS_COOKIE) kept.pop();
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = kept.length
    ? `vt_e=${kept.join("|")}; Path=/; Max-Age=1800; SameSite=Lax${secure}`
    : `vt_e=; Path=/; Max-Age=0; SameSite=Lax${secure}`;
}

// ---------------------------------------------------------------------------------------------
// Measurement: every shown decision goes to `dataLayer` (`experiment_viewed`, the GA4/GTM
// convention) and as a `vitrine:exposure` DOM event; browser-only exposures and tracked
// conversions are sent as NDJSON event records (docs/events.md) with `navigator.sendBeacon`,
// batched, flushed when the page is hidden or left, deduplicated per page.

const shown = new Set();
let outbox = [];

function announce(e) {
  const key = `${e.slot}\u0000${e.variant}`;
  if (shown.has(key)) return false;
  shown.add(key);
  // `experiment_viewed` (read as enrollment by GA4) only for what changed the page or belongs
  // to an experiment: origin content outside any experiment is no experiment viewed.
  if (e.variant !== "origin" || e.experiment) {
    (window.dataLayer = window.dataLayer || []).push({
      event: "experiment_viewed",
      experiment_id: e.experiment || `vitrine:${e.slot}`,
      variation_id: e.variant,
      vitrine_slot: e.slot,
      vitrine_arm: e.arm,
    });
  }
  document.dispatchEvent(new CustomEvent("vitrine:exposure", { detail: e }));
  return true;
}

function send(record) {
  sendLine(JSON.stringify(record));
}

function sendLine(line) {
  outbox.push(line);
  if (outbox.length >= 50) flush();
}

/** Sends what is waiting (also on `visibilitychange` to hidden and on `pagehide`). */
export function flush() {
  consentChanged();
  if (!outbox.length) return;
  const body = outbox.join("\n") + "\n";
  outbox = [];
  const url = collectUrl();
  if (!url) return; // init() said so once in the console
  const queued = navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }));
  if (!queued) fetch(url, { method: "POST", body, keepalive: true, headers: { "content-type": "text/plain" } }).catch(() => {});
}

let flushing = false;
function installFlush() {
  if (flushing) return;
  flushing = true;
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(); });
  addEventListener("pagehide", flush);
}

const CONVERSIONS = new Set(["purchase", "add_to_cart"]);
// The debug overlay (?vt-debug) is a module of its own, fetched only when asked for: a shopper
// never downloads it.
const overlay = (...args) => import("./overlay.mjs").then((m) => m.overlay(...args));

/**
 * Records an event for the next decision: {type, sku?, category?, price?, query?, filter?,
 * value?}. A `purchase` or `add_to_cart` (and `{type: "goal", name}`) is also sent as a
 * conversion record; `order`, `value` and `currency` are passed on when given.
 */
export function track(event) {
  consentChanged();
  if (!allowed()) return;
  // One id for the click-stream event and the conversion record: the edge folds the former
  // from `vt_e`, and the collector and `analyze` count the pair once.
  if (CONVERSIONS.has(event.type)) event = { ...event, id: randomId().slice(0, 16) };
  if (event.type !== "goal") writeEvents([encodeEvent(event), ...pendingEvents()]);
  if (!CONVERSIONS.has(event.type) && event.type !== "goal") return;
  const record = {
    type: "conversion", v: 1, ts: Date.now(), site: lastDecision?.exposures?.[0]?.site || "",
    // Behind the worker, /vitrine/collect takes the visitor from the signed cookie.
    visitor: lastDecision?.visitor || "0".repeat(32),
    kind: event.type === "goal" ? String(event.name) : event.type,
    source: "browser", trust: "unsigned",
  };
  const value = event.value ?? event.price;
  if (value !== undefined && Number.isFinite(Number(value))) record.value = Number(value);
  if (event.id) record.event = event.id;
  for (const k of ["currency", "order", "sku", "category"]) if (event[k] !== undefined) record[k] = String(event[k]);
  send(record);
}

/** Announces the slots the edge decided (it recorded their exposures itself). */
function announceEdge() {
  for (const el of document.querySelectorAll("[data-vt-applied]")) {
    const variant = el.getAttribute("data-vt-applied");
    if (variant !== "origin") announce({ slot: el.dataset.vtSlot || el.tagName.toLowerCase(), variant, source: "edge" });
  }
}

/**
 * What a submitted form searches for: a form named as the site's search (`data-search-form`,
 * `data-vt-search`, `role=search`) by its text input; any other GET form by the URL it leads
 * to, when that is the search page type's path with its parameter.
 */
function searchQuery(form) {
  const named = form.matches("[data-vt-search], [role=search]") || (options.searchForm && form.matches(options.searchForm));
  if (named) {
    const input = form.querySelector("input[type=search], input[name=q], input[type=text], input:not([type])");
    return input ? input.value.trim() : "";
  }
  if ((form.getAttribute("method") || "get").toLowerCase() !== "get") return "";
  const url = new URL(form.getAttribute("action") || "", location.href);
  url.search = new URLSearchParams(new FormData(form)).toString();
  const page = engine.page(url.href);
  return page && page.type === "search" && page.query ? page.query.trim() : "";
}

function itemEvent(type, el) {
  const d = el.dataset;
  return { type, sku: d.vtSku, category: d.vtCategory, price: d.vtPrice };
}

function installCapture() {
  if (capturing) return;
  capturing = true;
  document.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (!target) return;
    const cart = target.closest("[data-vt-add-to-cart]");
    if (cart) return track(itemEvent("add_to_cart", cart));
    const link = target.closest("a[href]");
    if (!link) return;
    const item = link.closest("[data-vt-item]") || (link.matches("[data-vt-sku]") ? link : null);
    if (item && item.dataset.vtSku) return track(itemEvent("product_click", item));
    // No markers: a link to a product page is a click on that product, as its URL says.
    const page = engine.page(link.href);
    if (page && page.type === "product" && page.sku) track({ type: "product_click", sku: page.sku, category: page.category });
  }, true);
  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement)) return;
    const query = searchQuery(form);
    if (query) track({ type: "search", query: query.slice(0, 200) });
  }, true);
  document.addEventListener("change", (ev) => {
    const el = ev.target instanceof Element ? ev.target.closest("[data-vt-filter]") : null;
    if (el) track({ type: "filter", filter: el.dataset.vtFilter || el.name, value: el.value });
  }, true);
}

/** Views the page states in data-vt-* / <meta name="vt:*"> that its URL does not already mean. */
function domViewEvents() {
  const page = engine.page(location.href) || { type: "other" };
  const meta = (n) => document.querySelector(`meta[name="vt:${n}"]`)?.content;
  const product = document.querySelector("[data-vt-product]");
  const sku = product?.dataset.vtSku || meta("sku");
  const category = product?.dataset.vtCategory || meta("category");
  const price = product?.dataset.vtPrice || meta("price");
  const events = [];
  if (sku && page.type !== "product") events.push(encodeEvent({ type: "product_view", sku, category, price }));
  else if (!sku && category && page.type !== "category") events.push(encodeEvent({ type: "category_view", category }));
  return events;
}

// ---------------------------------------------------------------------------------------------
// Deciding and applying (browser-only mode)

function topLevelItems(container, selector) {
  const all = [...container.querySelectorAll(selector)];
  return all.filter((el) => !all.some((other) => other !== el && other.contains(el)));
}

/** The slots of the site serving this page (asked of the core once per host). */
let slotsFor = null;
function siteSlots() {
  if (slotsFor?.host !== location.host) slotsFor = { host: location.host, slots: engine.slots(location.href) || [] };
  return slotsFor.slots;
}

/** Whether the last decision folded events from `vt_e` (refresh() clears them then). */
let folded = false;

/** Decides for the current page (does not touch the DOM). */
export function decide({ explain = false } = {}) {
  if (!engine) throw new Error("vitrine: call init() first");
  const slots = siteSlots();
  const state = allowed() ? localStorage.getItem(STATE_KEY) : null;
  const events = allowed() ? [...domViewEvents(), ...pendingEvents()] : [];
  folded = events.length > 0;
  const cookie = [state ? `vt=${state}` : "", events.length ? `vt_e=${events.join("|")}` : ""].filter(Boolean).join("; ");
  const req = new PageRequest(location.href, Date.now());
  try {
    req.cookie = cookie;
    req.userAgent = navigator.userAgent;
    req.referrer = document.referrer || undefined;
    req.gpc = gpc();
    req.consent = consented;
    req.id = randomId();
    req.explain = explain;
    const t = options.traits;
    if (t) req.setTraits(Math.min(0xffffffff, Math.max(0, Math.floor(Number(t.purchases90d)) || 0)), Number(t.aov) || 0, String(t.tier ?? ""));
    // The slots this page holds: the others are decided as not on this page (no exposure).
    req.onPage = slots.filter((s) => document.querySelector(s.selector)).map((s) => s.name).join("\x1e");
    for (const s of slots) {
      if (s.action !== "reorder") continue;
      const container = document.querySelector(s.selector);
      if (!container) continue;
      // The whole grid in one call (docs/browser.md: setItems); the core reads the keys.
      const items = topLevelItems(container, s.items).map((el) => `${keyValues(el, s.sku)}\x1f${keyValues(el, s.category)}`);
      req.setItems(s.name, items.join("\x1e"));
    }
    lastDecision = engine.decide(req);
  } finally {
    req.free();
  }
  return lastDecision && withExposures(lastDecision);
}

/**
 * The values an item key may be read from (`slots()`: the attribute of the item, or of its
 * descendants matching a selector; at most 8), `\x1d`-separated: the first that yields a key is
 * the key.
 */
function keyValues(item, key) {
  if (!key) return "";
  const els = key.selector ? [...item.querySelectorAll(key.selector)].slice(0, 8) : [item];
  return els.map((el) => el.getAttribute(key.attr)).filter((v) => v != null).join("\x1d");
}

/** `exposures`: the core writes the records as NDJSON (`records`); parsed on first use only. */
function withExposures(d) {
  let parsed = null;
  const get = () => (parsed ??= d.records.split("\n").filter(Boolean).map((line) => JSON.parse(line)));
  return Object.defineProperty(d, "exposures", { enumerable: true, get });
}

function decodeEntities(html) {
  const t = document.createElement("textarea");
  t.innerHTML = html;
  return t.value;
}

/** Applies a decision to the slots the edge has not decided; returns the number of slots changed. */
export function apply(decision = lastDecision) {
  if (!decision) return 0;
  let changed = 0;
  for (const s of decision.slots) {
    const els = document.querySelectorAll(s.selector);
    for (const el of els) {
      if (el.hasAttribute("data-vt-applied")) continue;
      const label = s.variant || "origin";
      const html = s.content ?? "";
      if (s.variant) {
        changed++;
        switch (s.action) {
          case "replace_inner": el.innerHTML = html; break;
          case "replace": el.outerHTML = html; continue;
          case "insert_before": el.insertAdjacentHTML("beforebegin", html); break;
          case "insert_after": el.insertAdjacentHTML("afterend", html); break;
          case "prepend": el.insertAdjacentHTML("afterbegin", html); break;
          case "append": el.insertAdjacentHTML("beforeend", html); break;
          case "set_attribute": el.setAttribute(s.attribute, decodeEntities(html)); break;
          case "remove": el.remove(); continue;
          case "reorder": {
            const slot = siteSlots().find((x) => x.name === s.name);
            const items = topLevelItems(el, slot.items);
            if (s.order && s.order.length === items.length) {
              // Move the existing nodes: each item's place is kept by a marker.
              const marks = items.map((it) => { const c = document.createComment(""); it.before(c); return c; });
              s.order.forEach((from, to) => marks[to].replaceWith(items[from]));
            }
            break;
          }
        }
      }
      el.setAttribute("data-vt-applied", label);
    }
  }
  return changed;
}

/** Re-decides and re-applies (after a route change in a single-page app). */
export function refresh() {
  if (!engine || edgeMode()) return null;
  for (const el of document.querySelectorAll("[data-vt-applied]")) el.removeAttribute("data-vt-applied");
  // Under ?vt-debug: the report for the overlay, and QA forcing (?vt-force=slot:variant).
  const debug = debugging();
  const decision = decide({ explain: debug });
  if (!decision) return null;
  apply(decision);
  if (allowed() && decision.stateToken) {
    localStorage.setItem(STATE_KEY, decision.stateToken);
    if (folded) writeEvents([]);
  }
  // Announce what was shown and record each exposure once per page — in a task of its own,
  // so that the frame showing the slots is not held for it.
  // (The core settled the decisions with the slots on this page: a slot not on it, a forced
  // one, a grid whose items yield no key have no record.)
  setTimeout(() => {
    const lines = decision.records.split("\n");
    decision.exposures.forEach((e, i) => { if (announce(e)) sendLine(lines[i]); });
  });
  if (debug) {
    // No visitor: nothing may be recorded — Global Privacy Control, no consent, or a bot's
    // user agent (headless browsers and page-speed tools included).
    overlay(decision, "browser-only mode", decision.visitor ? null : gpc() ? "gpc" : consented ? "bot" : "consent");
  }
  return decision;
}

/**
 * Loads the wasm core and the site configuration; installs click-stream capture. With
 * `auto`, personalizes the page (browser-only mode) as soon as the DOM is ready.
 * Options: {base, config (URL of the compiled config, `vitrine compile`), auto, traits,
 * preloaded ({module: Promise<WebAssembly.Module>, config: Promise<ArrayBuffer>}, as the loader
 * starts them)}.
 */
export async function init(opts = {}) {
  options = opts;
  const base = opts.base || new URL(".", import.meta.url).href;
  // The loader (vitrine.js) has started both downloads already; called directly, start them now.
  const pre = opts.preloaded || {};
  const configUrl = new URL(opts.config || "config.bin", base).href;
  const [config] = await Promise.all([
    pre.config || fetch(configUrl).then((r) => { if (!r.ok) throw new Error(`vitrine: cannot load the configuration ${configUrl}: HTTP ${r.status}`); return r.arrayBuffer(); }),
    pre.module ? pre.module.then((module) => wasmInit({ module_or_path: module })) : wasmInit({ module_or_path: base + "vitrine_core_bg.wasm" }),
  ]);
  mark("vitrine:loaded");
  try {
    engine = new Engine(new Uint8Array(config));
  } catch (e) {
    throw new Error(`vitrine: the configuration ${configUrl} cannot be used: ${e.message}`);
  }
  watchConsent();
  if (opts.auto) {
    if (document.readyState === "loading") await new Promise((r) => document.addEventListener("DOMContentLoaded", r, { once: true }));
    mark("vitrine:dom");
    if (allowed() && !collectUrl()) {
      console.info("vitrine: no data-collect on the script tag and no worker in front: exposures and conversions are not sent (docs/browser.md)");
    }
    if (edgeMode()) {
      if (allowed()) {
        announceEdge();
        // The edge decided this page and counted its view: only record what the DOM says
        // beyond the URL, for the next request.
        const views = domViewEvents();
        if (views.length) writeEvents([...views, ...pendingEvents()]);
      }
      if (debugging()) {
        // With the debug token (a `vt_debug` cookie), the edge embeds its report in the page.
        const embedded = document.getElementById("vt-explain");
        overlay(embedded ? { report: JSON.parse(embedded.textContent) } : null, "decided at the edge");
      }
    } else {
      refresh();
      mark("vitrine:applied");
    }
  }
  // Capture is live: sites (and tests) can wait for this before relying on it.
  document.documentElement.setAttribute("data-vt-ready", "");
  return engine;
}

// ---------------------------------------------------------------------------------------------
// Consent (privacy.consent): the page's signals, asked of the core on every change.

let tcString;

/** Google Consent Mode types granted by the `gtag("consent", "default" | "update", …)` calls in dataLayer. */
function consentModeGranted() {
  const state = {};
  for (const e of window.dataLayer || []) if (e && e[0] === "consent" && e[2] && typeof e[2] === "object") Object.assign(state, e[2]);
  return Object.keys(state).filter((k) => state[k] === "granted").join(",");
}

/**
 * Reads consent again (the CMP's callback may call it; Vitrine does on `__tcfapi` and
 * Consent Mode updates, cookie changes, each event and each send). Granted: capture starts,
 * and in browser-only mode the state. Withdrawn: the state, the click stream and what waits
 * to be sent are deleted.
 */
export function consentChanged(first) {
  if (!engine) return;
  const was = consented;
  consented = engine.consented(location.href, document.cookie, tcString || "", consentModeGranted());
  if (!allowed()) {
    if (was) {
      localStorage.removeItem(STATE_KEY);
      writeEvents([]);
      outbox = [];
    }
    return;
  }
  installCapture();
  installFlush();
  // Browser-only mode: the state starts now, unless the page has not been decided yet (its
  // first decision, with consent, starts it).
  if (!was && first !== true && !edgeMode() && lastDecision) {
    const d = decide();
    if (d && d.stateToken) localStorage.setItem(STATE_KEY, d.stateToken);
  }
}

function watchConsent() {
  consentChanged(true);
  if (typeof window.__tcfapi === "function") {
    window.__tcfapi("addEventListener", 2, (data, ok) => { if (ok && data && data.tcString) { tcString = data.tcString; consentChanged(); } });
  }
  const dl = (window.dataLayer = window.dataLayer || []);
  const push = dl.push;
  dl.push = function (...args) {
    const n = push.apply(this, args);
    if (args.some((a) => a && a[0] === "consent")) consentChanged();
    return n;
  };
  if (window.cookieStore) cookieStore.addEventListener("change", () => consentChanged());
}
