// API Tokens (My Account): the Copy button beside a new key.
"use strict";

document.addEventListener("click", async (ev) => {
  const button = ev.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  const status = document.getElementById(field.id.replace(/-key$/, "-copied"));
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value);
    copied = true;
  } catch (_) {
    // Without the clipboard API (plain http), select the key for Ctrl+C.
    field.focus();
    field.select();
    try { copied = document.execCommand("copy"); } catch (_) { copied = false; }
  }
  if (status) status.textContent = copied ? "Copied to the clipboard." : "Select the key and copy it (Ctrl+C or ⌘C).";
});
