// Two-factor authentication pages (templates/_account_authentication.html,
// twofactor_codes.html). Every page works without this file.
"use strict";

(() => {
  // My Account → Authentication: the password and code to turn it off
  // show only once the box is unticked.
  const box = document.getElementById("enable_two_factor");
  const off = document.getElementById("two-factor-disable");
  if (box && off) {
    const update = (focus) => {
      off.hidden = box.checked;
      if (!box.checked && focus) {
        const pw = off.querySelector("input");
        if (pw) pw.focus();
      }
    };
    box.addEventListener("change", () => update(true));
    update(false);
  }

  // Recovery codes: copy them, or download them as a text file.
  const list = document.getElementById("recovery-codes");
  if (!list) return;
  const codes = () => Array.from(list.querySelectorAll("code"), (c) => c.textContent.trim());
  const status = document.getElementById("codes-status");
  const say = (msg) => { if (status) status.textContent = msg; };
  const text = () => [
    "Portal recovery codes for " + (list.dataset.email || "your account"),
    "Each code works once, instead of a code from your authenticator app.",
    "",
    ...codes(),
    "",
  ].join("\n");

  const copy = document.getElementById("copy-codes");
  if (copy) {
    copy.hidden = false;
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(codes().join("\n") + "\n");
        say("Copied.");
      } catch {
        const range = document.createRange();
        range.selectNodeContents(list);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        say("Selected: press Ctrl+C (⌘C on a Mac) to copy.");
      }
    });
  }

  const download = document.getElementById("download-codes");
  if (download) {
    download.hidden = false;
    download.addEventListener("click", () => {
      const url = URL.createObjectURL(new Blob([text()], { type: "text/plain;charset=utf-8" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "portal-recovery-codes.txt";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      say("Downloaded portal-recovery-codes.txt.");
    });
  }
})();
