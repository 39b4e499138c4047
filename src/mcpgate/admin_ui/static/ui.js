// mcpgate admin UI: progressive enhancement only. Every page works without this file; with it,
// live regions refresh themselves, copy buttons copy, lists filter as you type, and forms ask
// before they delete. No framework, no other host (the page's CSP allows this origin only).
"use strict";
(function () {
  const csrf = () => (document.querySelector('input[name="csrf"]') || {}).value || "";

  // <div data-refresh="/admin/live" data-every="3">: fetched again every few seconds, swapped in.
  // Paused while the tab is hidden or the region has data-paused; a sign-out stops it.
  function refresh(region) {
    const every = Math.max(1, Number(region.dataset.every || 5)) * 1000;
    let busy = false;
    const tick = async () => {
      if (busy || document.hidden || region.hasAttribute("data-paused")) return;
      busy = true;
      try {
        const answer = await fetch(region.dataset.refresh, { credentials: "same-origin", headers: { "x-csrf-token": csrf() } });
        if (answer.status === 401) { region.dataset.paused = "signed-out"; region.insertAdjacentHTML("afterbegin", '<p class="error" role="alert">Signed out: reload the page to sign in again.</p>'); return; }
        if (answer.ok) {
          const html = await answer.text();
          if (html !== region.dataset.last) { region.innerHTML = html; region.dataset.last = html; wire(region); }
          region.dispatchEvent(new CustomEvent("refreshed", { bubbles: true }));
        }
      } catch (error) { /* the next tick tries again */ } finally { busy = false; }
    };
    region.refreshNow = tick;
    setInterval(tick, every);
  }

  // <button data-copy="#target">: copies the target's text (or value); says so for a moment.
  function copy(button) {
    button.addEventListener("click", async () => {
      const target = document.querySelector(button.dataset.copy);
      if (!target) return;
      const text = "value" in target && target.tagName !== "BUTTON" ? target.value : target.textContent;
      try { await navigator.clipboard.writeText(text.trim()); }
      catch (error) { const range = document.createRange(); range.selectNodeContents(target); const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); document.execCommand("copy"); }
      const label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("aria-live", "polite");
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  }

  // <input data-filter="#list">: hides the list's [data-filter-item] rows that do not contain every word typed.
  function filter(input) {
    const list = document.querySelector(input.dataset.filter);
    if (!list) return;
    const apply = () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const item of list.querySelectorAll("[data-filter-item]")) {
        const text = (item.dataset.filterItem + " " + item.textContent).toLowerCase();
        const match = words.every((word) => text.includes(word));
        item.hidden = !match;
        if (match) shown += 1;
      }
      for (const group of list.querySelectorAll("[data-filter-group]")) {
        group.hidden = !group.querySelector("[data-filter-item]:not([hidden])");
      }
      const count = document.querySelector(input.dataset.filterCount || "#no-such-element");
      if (count) count.textContent = `${shown} shown`;
    };
    input.addEventListener("input", apply);
    apply();
  }

  // <form data-confirm="Remove x?">: asks first. Any form: its submit buttons are disabled once sent.
  function guardForm(form) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.confirm && !confirm(form.dataset.confirm)) { event.preventDefault(); return; }
      for (const button of form.querySelectorAll("button[type=submit], button:not([type])")) {
        setTimeout(() => { button.disabled = true; }, 0); // after the browser has taken the button's own name=value
      }
    });
  }

  // <input type="checkbox" data-toggle-refresh="#region">: starts and stops a live region.
  function toggleRefresh(box) {
    const region = document.querySelector(box.dataset.toggleRefresh);
    if (!region) return;
    const apply = () => { if (box.checked) { region.removeAttribute("data-paused"); if (region.refreshNow) region.refreshNow(); } else { region.dataset.paused = "off"; } };
    box.addEventListener("change", apply);
    apply();
  }

  function wire(root) {
    for (const el of root.querySelectorAll("[data-copy]")) copy(el);
    for (const el of root.querySelectorAll("input[data-filter]")) filter(el);
    for (const el of root.querySelectorAll("form")) guardForm(el);
  }

  document.addEventListener("DOMContentLoaded", () => {
    wire(document);
    for (const el of document.querySelectorAll("[data-refresh]")) refresh(el);
    for (const el of document.querySelectorAll("[data-toggle-refresh]")) toggleRefresh(el);
  });
})();
