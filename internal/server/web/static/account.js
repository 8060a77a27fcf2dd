// My Account (account.html). Every part of the page works without this
// file; it adds two things:
//   - after a save, the section saved (its confirmation, or its error) is
//     brought into view when the address does not already lead there (a
//     page answered to a form has no #section), and the focus moves to the
//     field in error, else to the message, so that it is read out;
//   - the section navigation marks the section in view (aria-current).
"use strict";

(() => {
  const status = document.querySelector("[data-section-status]");
  if (status) {
    const section = status.closest("section") || status;
    // Once the page has loaded: the browser's own scroll to #section
    // would take the focus back to the page.
    const show = () => {
      if (location.hash !== "#" + section.id) section.scrollIntoView({ block: "start" });
      // A section that focuses a field of its own (a new API token's key) keeps it.
      if (section.querySelector("[autofocus]")) return;
      const field = section.querySelector("[aria-invalid=true]");
      (field || status).focus({ preventScroll: true });
    };
    if (document.readyState === "complete") show();
    else window.addEventListener("load", show, { once: true });
  }

  const nav = document.querySelector(".account-nav");
  if (!nav || !("IntersectionObserver" in window)) return;
  const links = new Map();
  nav.querySelectorAll("a[href^='#']").forEach((a) => {
    const target = document.getElementById(a.getAttribute("href").slice(1));
    if (target) links.set(target, a);
  });
  const visible = new Set();
  const atEnd = () => window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2;
  const mark = () => {
    // The first section (in page order) with a part in the upper half of
    // the window; at the end of the page, the one the address names (the
    // last sections cannot scroll up to the top).
    let current = null;
    const named = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (named && links.has(named) && atEnd()) current = named;
    for (const target of links.keys()) {
      if (current) break;
      if (visible.has(target)) current = target;
    }
    links.forEach((a, target) => {
      if (target === current) a.setAttribute("aria-current", "location");
      else a.removeAttribute("aria-current");
    });
  };
  const observer = new IntersectionObserver((entries) => {
    entries.forEach((e) => { if (e.isIntersecting) visible.add(e.target); else visible.delete(e.target); });
    mark();
  }, { rootMargin: "0px 0px -50% 0px" });
  links.forEach((_, target) => observer.observe(target));
  window.addEventListener("hashchange", mark);
})();
