// The survey (web_survey.go): the prompt's Not now and Don't ask again are
// sent without leaving the page, and its confirmation takes the prompt's
// place; on the survey page, an error of the last answer gets the focus.
// Without this script both forms work as ordinary forms.
"use strict";

document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (!form.matches || !form.matches("form[data-survey-prompt]")) return;
  ev.preventDefault();
  const body = new URLSearchParams(new FormData(form, ev.submitter));
  body.set("inline", "1");
  const buttons = form.querySelectorAll("button, a");
  buttons.forEach((b) => b.setAttribute("aria-disabled", "true"));
  fetch(form.action, { method: "POST", body, credentials: "same-origin", headers: { "Accept": "text/plain" } })
    .then((res) => {
      if (!res.ok) throw new Error(res.status);
      return res.text();
    })
    .then((msg) => {
      const prompt = form.closest(".survey-prompt");
      const done = prompt.querySelector(".survey-prompt-done");
      prompt.querySelector("#survey-prompt-text").hidden = true;
      form.hidden = true;
      done.textContent = msg;
      prompt.classList.add("answered");
      done.focus(); // the button pressed is gone: keep the keyboard's place here
    })
    .catch(() => {
      // Send it the ordinary way: the page comes back with the confirmation.
      delete form.dataset.surveyPrompt;
      form.requestSubmit(ev.submitter);
    });
});

document.addEventListener("DOMContentLoaded", () => {
  const err = document.getElementById("survey-error");
  if (err) err.focus();
});
