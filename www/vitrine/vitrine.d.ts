// Types of Vitrine's browser module (www/vitrine/vitrine.mjs).

export type VitrineEvent =
  | { type: "category_view"; category: string }
  | { type: "product_view" | "product_click" | "add_to_cart" | "purchase"; sku: string; category?: string; price?: number | string; value?: number; currency?: string; order?: string }
  | { type: "goal"; name: string; value?: number }
  | { type: "search"; query: string }
  | { type: "filter"; filter: string; value?: string };

export interface InitOptions {
  /** Where the wasm core and the configuration are served (default: next to the module). */
  base?: string;
  /** URL of the compiled site configuration (`vitrine compile`), relative to `base`; default config.bin. */
  config?: string;
  /** Personalize the page as soon as the DOM is ready (browser-only mode). */
  auto?: boolean;
  /** Traits the page knows (unverified: never unlock variants that require signed state). */
  traits?: { purchases90d?: number; aov?: number; tier?: string };
  /** Where event records are sent with sendBeacon (default: the worker's /vitrine/collect when a worker serves the page; else none is sent). */
  collect?: string;
  /** A CSS selector for the site's search forms (captured by their text input wherever they submit). */
  searchForm?: string;
  /** Downloads already under way (the loader starts both before the module arrives). */
  preloaded?: { module?: Promise<WebAssembly.Module>; config?: Promise<ArrayBuffer> };
}

/** An exposure record of the event schema (docs/events.md). */
export interface Exposure {
  type: "exposure"; v: 1; ts: number; site: string; visitor: string; session: string; request: string;
  slot: string; variant: string; experiment?: string; arm?: "treatment" | "control"; held_back?: string;
  segments: string[]; page_type: string; device: string; country?: string; trust: "signed" | "unsigned"; source: "edge" | "browser";
}

export interface SlotDecision {
  name: string;
  selector: string;
  action: "replace_inner" | "replace" | "insert_before" | "insert_after" | "prepend" | "append" | "set_attribute" | "remove" | "reorder";
  attribute: string | null;
  /** The variant shown, "reorder", or null for the origin content. */
  variant: string | null;
  content: string | null;
  order: number[] | null;
  reason: string;
}

export interface Decision {
  stateToken: string | null;
  segments: string[];
  slots: SlotDecision[];
  /** With decide({ explain: true }): scores, segments, reasons, exposures, issues. */
  report?: unknown;
  /** The state's visitor id (32 hex digits); null when nothing may be recorded (GPC, a bot's user agent). */
  visitor: string | null;
  /** One exposure record per slot shown (not for slots off the page, forced, or unkeyed grids), as NDJSON: what the beacon sends. */
  records: string;
  /** The same records as objects (parsed from `records` on first use); empty under GPC. */
  exposures: Exposure[];
}

/** Resolves once capture is live; `<html data-vt-ready>` is set then too. */
export function init(options?: InitOptions): Promise<unknown>;
export function track(event: VitrineEvent): void;
export function decide(options?: { explain?: boolean }): Decision | null;
export function apply(decision?: Decision): number;
export function refresh(): Decision | null;
/** Sends the waiting event records now (done by itself when the page is hidden or left). */
export function flush(): void;
/**
 * Reads consent again (`privacy.consent`, docs/privacy.md): a CMP's own callback may call it.
 * Granted: capture starts (and in browser-only mode the state); withdrawn: the state, the
 * click stream and the waiting records are deleted.
 */
export function consentChanged(): void;

/** The wasm core's classes (docs/browser.md, "The wasm core"). */
export declare class Engine {
  constructor(compiled: Uint8Array, stateKeys?: string);
  slots(url: string): unknown;
  page(url: string): { type: string; params: Record<string, string>; sku: string | null; category: string | null; query: string | null } | null;
  decide(request: PageRequest): Decision | null;
  /** Server-side build only (`make wasm-node`). */
  decideToken(url: string, cookie: string, userAgent: string, nowMs: number, id: string): string | undefined;
  /** Whether the page's signals grant the consent the site asks for (`true` if it asks none). */
  consented(url: string, cookie: string, tcString: string, consentModeGranted: string): boolean;
}
export declare class PageRequest {
  constructor(url: string, nowMs: number);
  cookie?: string;
  userAgent?: string;
  referrer?: string;
  gpc: boolean;
  /** `Engine.consented`'s answer: without consent, context only (no state, no records). */
  consent: boolean;
  country?: string;
  id?: string;
  /** Also return the explain report; allows `?vt-force`. */
  explain: boolean;
  /** The slots whose element the page holds, `\x1e`-separated. */
  onPage?: string;
  setTraits(purchases90d: number, aov: number, tier: string): void;
  setItems(slot: string, packed: string): void;
  free(): void;
}

declare global {
  /** Set by the loader (vitrine.js): the module, once it has initialized. */
  interface Window { vitrine: Promise<typeof import("./vitrine")> }
}
