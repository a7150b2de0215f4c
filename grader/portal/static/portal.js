// Polls an attempt's status until it is final, then swaps in the feedback without a reload.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("status");
  if (!status || !status.dataset.poll) return;
  const final = (s) => s === "graded" || s === "not graded";
  if (final(status.textContent.trim())) return;
  const show = async () => {
    const r = await fetch(window.location.href, {credentials: "same-origin", cache: "no-store"});
    if (!r.ok) throw new Error(String(r.status));
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
    document.querySelector("main").replaceChildren(
      ...Array.from(fresh.querySelector("main").childNodes, (n) => document.importNode(n, true)));
  };
  const poll = async () => {
    try {
      const r = await fetch(status.dataset.poll, {credentials: "same-origin", cache: "no-store"});
      if (r.ok) {
        const data = await r.json();
        status.textContent = data.status;
        status.className = "status " + data.status.replace(" ", "-");
        if (final(data.status)) { await show(); return; }
      }
    } catch (e) { /* the server may be restarting: try again */ }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
});
