// Vitrine's one-line loader: <script src="/vitrine/vitrine.js"></script> in <head>.
// Hides only the slots that the edge has not already decided, for at most 400 ms, while the
// module loads; then the module decides and swaps them before they are shown.
(function () {
  var script = document.currentScript;
  var base = new URL(".", script.src).href;
  var style = document.createElement("style");
  style.id = "vt-anti-flicker";
  style.textContent = "[data-vt-slot]:not([data-vt-applied]){visibility:hidden!important}";
  document.documentElement.appendChild(style);
  var done = false;
  function reveal() { if (!done) { done = true; style.remove(); } }
  var timer = setTimeout(reveal, 400);
  import(base + "vitrine.mjs")
    .then(function (m) { return m.init({ base: base, config: script.dataset.config, auto: true }); })
    .catch(function (e) { console.error("vitrine:", e); })
    .then(function () { clearTimeout(timer); reveal(); });
})();
