// Vitrine's one-line loader: <script src="/vitrine/vitrine.js"></script> in <head>.
// Hides only the slots that the edge has not already decided, for at most 400 ms, while the
// module loads; then the module decides and swaps them before they are shown.
// Every file starts loading here, at once — the module (one file, with the wasm core's glue),
// the wasm compiled while it downloads, the configuration — so the page waits one round trip
// after this script, not a chain.
(function () {
  var script = document.currentScript;
  var base = new URL(".", script.src).href;
  var style = document.createElement("style");
  style.id = "vt-anti-flicker";
  style.textContent = "[data-vt-slot]:not([data-vt-applied]){visibility:hidden!important}";
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
  var wasmUrl = base + "vitrine_core_bg.wasm";
  // compileStreaming needs `Content-Type: application/wasm`; without it, compile the bytes.
  var compiled = WebAssembly.compileStreaming
    ? WebAssembly.compileStreaming(fetch(wasmUrl)).catch(function () { return fetch(wasmUrl).then(compileBytes); })
    : fetch(wasmUrl).then(compileBytes);
  function compileBytes(r) { return r.arrayBuffer().then(function (b) { return WebAssembly.compile(b); }); }
  var config = fetch(script.dataset.config || base + "config.bin").then(function (r) {
    if (!r.ok) throw new Error("vitrine: config " + r.status);
    return r.arrayBuffer();
  });
  // Settled promises only: an unhandled rejection here would be reported twice.
  compiled.catch(function () {});
  config.catch(function () {});
  import(base + "vitrine.mjs")
    .then(function (m) { return m.init({ base: base, auto: true, preloaded: { module: compiled, config: config } }); })
    .catch(function (e) { console.error("vitrine:", e); })
    .then(function () { clearTimeout(timer); reveal(); });
})();
