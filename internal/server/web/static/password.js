// Ticks the password rules (templates/_password_rules.html) as the user
// types. The server checks every rule again; this only shows them early.
"use strict";

(() => {
  const list = document.querySelector("[data-password-rules]");
  if (!list) return;
  const input = document.getElementById(list.dataset.passwordRules);
  const confirm = document.getElementById(list.dataset.passwordRules + "_confirm");
  if (!input) return;

  const chars = (s) => [...s].length;
  const kinds = (s) => {
    const seen = new Set();
    for (const c of s) {
      if (/\p{Lu}/u.test(c)) seen.add("upper");
      else if (/\p{L}/u.test(c)) seen.add("lower");
      else if (/\p{N}/u.test(c)) seen.add("digit");
      else seen.add("special");
    }
    return seen.size;
  };
  // Rules the browser cannot check (common passwords, history) stay neutral.
  const checks = {
    min_length: (s, n) => chars(s) >= n,
    max_length: (s, n) => chars(s) <= n,
    requires_special_char: (s) => /[^\p{L}\p{N}]/u.test(s),
    min_character_classes: (s, n) => kinds(s) >= n,
    confirm: () => confirm !== null && confirm.value === input.value,
  };

  const update = () => {
    const typed = input.value.normalize("NFKC");
    list.querySelectorAll("li[data-rule]").forEach((li) => {
      const check = checks[li.dataset.rule];
      if (!check) return;
      if (input.value === "") {
        li.removeAttribute("data-state");
        return;
      }
      li.dataset.state = check(typed, Number(li.dataset.value)) ? "ok" : "bad";
    });
  };
  input.addEventListener("input", update);
  if (confirm) confirm.addEventListener("input", update);
  update();
})();
