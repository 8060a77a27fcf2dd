// The survey page (web_survey.go): when an answer was refused, its error,
// shown above the questions and tied to the field, gets the focus, so that
// it is read out and the next Tab leads into the form.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const err = document.getElementById("survey-error");
  if (err) err.focus();
});
