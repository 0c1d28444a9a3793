// SMART Portal: small progressive enhancements. Everything works without this file.
(function () {
  "use strict";
  // Forms with data-confirm ask before submitting (e.g. irreversible transitions).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // Disable submit buttons once a form is sent, so a slow link does not invite double submissions.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var buttons = event.target.querySelectorAll("button[type=submit]");
    window.setTimeout(function () {
      buttons.forEach(function (button) { button.disabled = true; });
    }, 0);
  });
})();
