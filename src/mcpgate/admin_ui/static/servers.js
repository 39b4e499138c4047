// mcpgate admin UI, the server form's tool picker: progressive enhancement only. Without this file
// the picker is the full list and "Select all" asks the server; with it, the search box shows (ui.js
// filters as you type), "Select all" checks in place, and the count follows every checkbox.
"use strict";
(function () {
  function picker(form) {
    const list = form.querySelector("#picker");
    const count = form.querySelector("#selected-count");
    if (!list) return;
    const boxes = () => list.querySelectorAll('input[type=checkbox][name="tools"]');
    const shown = (group) =>
      Array.from(group.querySelectorAll('input[type=checkbox][name="tools"]')).filter((box) => !box.closest("[hidden]"));

    const update = () => {
      const chosen = new Set();
      for (const box of boxes()) if (box.checked) chosen.add(box.value);
      if (count) count.textContent = `${chosen.size} selected`;
      for (const button of list.querySelectorAll("[data-select-group]")) {
        const group = form.querySelector(button.dataset.selectGroup);
        const visible = group ? shown(group) : [];
        const label = button.querySelector("[data-label]");
        if (label) label.textContent = visible.length && visible.every((box) => box.checked) ? "Clear all" : "Select all";
      }
    };

    // "Select all" of one upstream: the tools the search leaves shown (all of them with no search).
    for (const button of list.querySelectorAll("[data-select-group]")) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        const group = form.querySelector(button.dataset.selectGroup);
        if (!group) return;
        const visible = shown(group);
        const check = !visible.every((box) => box.checked);
        for (const box of visible) box.checked = check;
        update();
      });
    }
    list.addEventListener("change", update);

    const search = form.querySelector("#tool-search");
    if (search) {
      for (const el of form.querySelectorAll("[data-script-only]")) el.hidden = false;
      search.addEventListener("input", update);
      // Enter in the search box would submit (save) the form: here it only searches.
      search.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });
    }
    update();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form.server-form")) picker(form);
  });
})();
