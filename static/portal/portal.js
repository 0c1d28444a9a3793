// SMART Portal: small progressive enhancements. Everything works without this file.
(function () {
  "use strict";
  // A form, or the button that submits it, with data-confirm asks before submitting (e.g. irreversible
  // transitions, locking one's scores). The button's question wins over the form's. Cancelling sends nothing.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
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
  // A panel that sits beside a form on wide screens (<details data-open-wide>, e.g. the proposal beside
  // the TEC score sheet) folds away on phones, where it would push the form far down; it opens again
  // when the screen is wide (its summary is hidden there).
  var wide = window.matchMedia("(min-width: 992px)");
  var panels = document.querySelectorAll("details[data-open-wide]");
  var fit = function () { panels.forEach(function (panel) { panel.open = wide.matches; }); };
  if (panels.length) {
    fit();
    wide.addEventListener("change", fit);
  }
})();
