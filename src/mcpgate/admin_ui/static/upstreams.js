// An upstream's page: its live region (ui.js's data-refresh) stops fetching once the upstream has
// settled — ready, failed or disabled — so a person who opens a tool's schema keeps it open.
"use strict";
document.addEventListener("refreshed", (event) => {
  const region = event.target;
  if (region.querySelector("[data-settled]")) region.dataset.paused = "settled";
});
