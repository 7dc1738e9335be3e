// Vitrine's debug overlay (?vt-debug): what was decided and why. Loaded by the module only when
// the page asks for it, so shoppers never download it.

/** Why nothing is recorded for this visitor, by the module's code for it. */
const NOT_RECORDED = {
  gpc: "Global Privacy Control: nothing recorded",
  consent: "no consent (privacy.consent): context only, nothing recorded (docs/privacy.md)",
  bot: "bot user agent: nothing recorded (headless browsers and crawlers count as bots; test with a browser's user agent, docs/browser.md)",
};

export function overlay(decision, mode, why) {
  const unrecorded = why && NOT_RECORDED[why];
  if (unrecorded) console.info(`vitrine: ${unrecorded}`);
  document.getElementById("vt-debug")?.remove();
  const box = document.createElement("aside");
  box.id = "vt-debug";
  box.style.cssText = "position:fixed;right:12px;bottom:12px;width:380px;max-height:80vh;overflow:auto;z-index:2147483647;background:#111827;color:#f9fafb;font:12px/1.45 ui-monospace,monospace;padding:14px;border-radius:10px;box-shadow:0 8px 30px rgba(0,0,0,.35)";
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  let html = `<strong style="font-size:13px">Vitrine</strong> <span style="opacity:.7">${mode}</span>`;
  if (unrecorded) html += `<p data-vt-unrecorded style="color:#fbbf24;margin:8px 0 0">${esc(unrecorded)}</p>`;
  if (decision && decision.report) {
    const r = decision.report;
    if (r.context_only) html += `<p data-vt-context-only style="color:#fbbf24;margin:8px 0 0">${esc(r.context_only)}</p>`;
    html += `<h4 style="margin:10px 0 4px">Scores</h4>`;
    for (const [dim, v] of Object.entries(r.state ? r.state.scores : {})) {
      html += `<div style="display:flex;gap:6px;align-items:center"><span style="width:70px">${esc(dim)}</span><span style="flex:1;background:#374151;height:8px;border-radius:4px"><span data-vt-bar="${esc(dim)}" style="display:block;height:8px;border-radius:4px;background:#34d399;width:${Math.min(100, v)}%"></span></span><span style="width:44px;text-align:right">${v}</span></div>`;
    }
    html += `<h4 style="margin:10px 0 4px">Segments</h4><div>${r.segments.length ? r.segments.map(esc).join(", ") : "none"}</div>`;
    html += `<h4 style="margin:10px 0 4px">Slots</h4>`;
    for (const d of r.decisions) {
      html += `<div style="margin-bottom:6px"><b>${esc(d.slot)}</b> → ${esc(d.variant || "origin")}${d.arm ? ` <i>(${esc(d.arm)})</i>` : ""}<div style="opacity:.8">${esc(d.reason.text)}</div></div>`;
    }
  } else {
    html += `<h4 style="margin:10px 0 4px">Slots</h4>`;
    for (const el of document.querySelectorAll("[data-vt-slot][data-vt-applied], [data-vt-applied]")) {
      html += `<div><b>${esc(el.dataset.vtSlot || el.tagName.toLowerCase())}</b> → ${esc(el.dataset.vtApplied)}</div>`;
    }
    html += `<p style="opacity:.7">For scores and reasons, set a <code>vt_debug</code> cookie to the worker's debug token.</p>`;
  }
  box.innerHTML = html;
  document.body.appendChild(box);
}
