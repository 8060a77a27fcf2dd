// Preferences (My Account): the Example line follows the MAC address
// format, clock and time zone as they are picked, before Save. Each choice
// carries its example, formatted by the server (data-example on a format,
// data-time12 and data-time24 on a time zone); without this file the line
// shows the saved preferences.
"use strict";

(() => {
  const example = document.getElementById("prefs-example");
  if (!example) return;
  const form = example.closest("form");
  const mac = example.querySelector(".mac");
  const time = example.querySelector(".time");
  const zone = form.querySelector("select[name=timezone]");
  const hour24 = form.querySelector("input[name=hour24]");

  const update = () => {
    const format = form.querySelector("input[name=mac_format]:checked");
    if (format && format.dataset.example) mac.textContent = format.dataset.example;
    const opt = zone && zone.selectedOptions[0];
    if (opt) {
      const t = hour24 && hour24.checked ? opt.dataset.time24 : opt.dataset.time12;
      if (t) time.textContent = t;
    }
  };
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
})();
