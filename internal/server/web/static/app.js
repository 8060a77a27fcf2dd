// Small progressive enhancements; every page works without them.
"use strict";

const openMenus = () => document.querySelectorAll("details.menu[open]");

document.addEventListener("click", (ev) => {
  const opener = ev.target.closest("[data-dialog]");
  if (opener) {
    const dlg = document.getElementById(opener.dataset.dialog);
    if (dlg && dlg.showModal) {
      ev.preventDefault();
      // A form's own submit button that asks first (without this script
      // it submits at once): the form is checked before the question.
      if (opener.type === "submit" && opener.form && !opener.form.reportValidity()) return;
      openMenus().forEach((d) => d.removeAttribute("open"));
      // A dialog shared by the rows of a table (the inventory's) gets the
      // row's form address and values from the button that opens it.
      const form = dlg.querySelector("form");
      if (form && opener.dataset.action) form.action = opener.dataset.action;
      dlg.querySelectorAll("[data-from]").forEach((el) => { el.value = opener.dataset[el.dataset.from] || ""; });
      dlg.querySelectorAll("[data-text]").forEach((el) => { el.textContent = opener.dataset[el.dataset.text] || ""; });
      dlg.showModal();
      const input = dlg.querySelector("input:not([type=hidden])");
      if (input) input.focus();
    }
    return;
  }
  const closer = ev.target.closest("[data-close]");
  if (closer) {
    closer.closest("dialog").close();
    return;
  }
  // Close open menus when clicking elsewhere.
  openMenus().forEach((d) => {
    if (!d.contains(ev.target)) d.removeAttribute("open");
  });
});

// One menu at a time.
document.addEventListener("toggle", (ev) => {
  const menu = ev.target;
  if (menu.matches && menu.matches("details.menu") && menu.open) {
    openMenus().forEach((d) => { if (d !== menu) d.removeAttribute("open"); });
  }
}, true);

// A dialog's form is empty again when the dialog opens the next time.
document.addEventListener("close", (ev) => {
  if (ev.target.matches && ev.target.matches("dialog")) {
    ev.target.querySelectorAll("form").forEach((f) => f.reset());
  }
}, true);

document.addEventListener("submit", (ev) => {
  const form = ev.target;
  // A long upload says it is under way (the inventory's CSV).
  if (form.dataset.busy) {
    const btn = form.querySelector("button[type=submit]");
    if (btn) {
      setTimeout(() => { btn.disabled = true; btn.textContent = form.dataset.busy; }, 0);
      form.setAttribute("aria-busy", "true");
    }
  }
  // The Create Organization dialog posts into a new tab; close it here.
  if (form.id === "create-org-form") {
    setTimeout(() => form.closest("dialog").close(), 0);
  }
});

// Escape closes an open menu and gives the focus back to its button.
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  openMenus().forEach((d) => {
    d.removeAttribute("open");
    if (d.contains(document.activeElement)) d.querySelector("summary").focus();
  });
});
