// Polls an attempt's state until it is graded or refused, swapping in the page without a
// reload each time the state changes: every second while it runs; while it waits in the queue
// (a deadline's burst) or is "not graded yet" (retried later), and while the server does not
// answer, less and less often (x1.25 each time), up to 5 s.
"use strict";
const MAX_DELAY_MS = 5000;
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("status");
  if (!status || !status.dataset.poll) return;
  const final = (s) => s === "graded" || s === "refused";
  let last = status.textContent.trim();
  let regrading = document.body.textContent.includes("being regraded");
  if (final(last) && !regrading) return;
  const show = async () => {
    const r = await fetch(window.location.href, {credentials: "same-origin", cache: "no-store"});
    if (!r.ok) throw new Error(String(r.status));
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
    document.querySelector("main").replaceChildren(
      ...Array.from(fresh.querySelector("main").childNodes, (n) => document.importNode(n, true)));
  };
  let waited = 0;  // polls since the attempt last ran (or the server last answered)
  const poll = async () => {
    try {
      const r = await fetch(status.dataset.poll, {credentials: "same-origin", cache: "no-store"});
      if (!r.ok) throw new Error(String(r.status));
      const data = await r.json();
      if (data.status !== last || data.regrading !== regrading) {
        last = data.status;
        regrading = data.regrading;
        await show();
      }
      if (final(data.status) && !data.regrading) return;
      waited = data.status === "running" ? 0 : waited + 1;
    } catch (e) {
      waited += 1;  // the server may be restarting or overloaded: ask again, less often
    }
    setTimeout(poll, Math.min(MAX_DELAY_MS, 1000 * 1.25 ** waited));
  };
  setTimeout(poll, 1000);
});
