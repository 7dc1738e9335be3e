// Vitrine's one-line loader: <script src="/vitrine/vitrine.js"></script> in <head>.
// Hides exactly the configuration's slots (their selectors, markers or not) that the edge has
// not already decided, for at most 400 ms, while the module loads; then the module decides and
// swaps them before they are shown.
// Every file starts loading here, at once — the module (one file, with the wasm core's glue),
// the wasm compiled while it downloads, the configuration — so the page waits one round trip
// after this script, not a chain.
// Script-tag attributes: data-config (the compiled configuration's URL), data-collect (where
// exposure and conversion records go), data-search-form (a selector for the site's search
// forms). docs/browser.md.
(function () {
  // The files and the slots' selectors, written by `vitrine compile SITE --browser DIR`; these
  // defaults serve an unbuilt checkout (stable names, marked slots only).
  var site = /*vitrine:site*/{"module":"vitrine.mjs","wasm":"vitrine_core_bg.wasm","config":"config.bin","hide":["[data-vt-slot]"]}/*vitrine:site*/;
  var script = document.currentScript;
  var data = script.dataset;
  var base = new URL(".", script.src).href;
  var style = document.createElement("style");
  style.id = "vt-anti-flicker";
  // One rule per selector: a selector the browser does not know drops its rule only.
  style.textContent = site.hide.map(function (s) { return s + ":not([data-vt-applied]){visibility:hidden!important}"; }).join("\n");
  document.documentElement.appendChild(style);
  var done = false;
  function reveal() {
    if (done) return;
    done = true;
    style.remove();
    if (performance.mark) performance.mark("vitrine:revealed");
  }
  var timer = setTimeout(function () {
    if (performance.mark) performance.mark("vitrine:timeout");
    reveal();
  }, 400);
  var wasmUrl = base + site.wasm;
  // compileStreaming needs `Content-Type: application/wasm`; without it, compile the bytes.
  var compiled = WebAssembly.compileStreaming
    ? WebAssembly.compileStreaming(fetch(wasmUrl)).catch(function () { return fetch(wasmUrl).then(compileBytes); })
    : fetch(wasmUrl).then(compileBytes);
  function compileBytes(r) { return r.arrayBuffer().then(function (b) { return WebAssembly.compile(b); }); }
  var configUrl = new URL(data.config || site.config, base).href;
  var config = fetch(configUrl).then(function (r) {
    if (!r.ok) throw new Error("vitrine: cannot load the configuration " + configUrl + ": HTTP " + r.status);
    return r.arrayBuffer();
  });
  // Settled promises only: an unhandled rejection here would be reported twice.
  compiled.catch(function () {});
  config.catch(function () {});
  // The module, for pages that call its API (window.vitrine.then(function (v) { v.track(…) })).
  window.vitrine = import(base + site.module).then(function (m) {
    return m.init({
      base: base, auto: true, config: configUrl, collect: data.collect, searchForm: data.searchForm,
      preloaded: { module: compiled, config: config },
    }).then(function () { return m; });
  });
  window.vitrine
    .catch(function (e) { console.error(e && e.message ? e.message : e); })
    .then(function () { clearTimeout(timer); reveal(); });
})();
