// Small progressive enhancements; every page works without them.
document.addEventListener("click", (ev) => {
  const opener = ev.target.closest("[data-dialog]");
  if (opener) {
    const dlg = document.getElementById(opener.dataset.dialog);
    if (dlg && dlg.showModal) {
      ev.preventDefault();
      document.querySelectorAll("details.menu[open]").forEach((d) => d.removeAttribute("open"));
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
  document.querySelectorAll("details.menu[open]").forEach((d) => {
    if (!d.contains(ev.target)) d.removeAttribute("open");
  });
});

document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    ev.preventDefault();
    return;
  }
  // The Create Organization dialog posts into a new tab; close it here.
  if (form.id === "create-org-form") {
    setTimeout(() => { form.reset(); form.closest("dialog").close(); }, 0);
  }
});

document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") {
    document.querySelectorAll("details.menu[open]").forEach((d) => d.removeAttribute("open"));
  }
});
