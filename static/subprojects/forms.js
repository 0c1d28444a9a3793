// Concept note and proposal forms: small helpers. Without JavaScript the forms still work in full.
(function () {
  "use strict";

  // Show only the option groups that match the chosen "parent" (sub-sectors of the chosen sector,
  // upazilas of the chosen districts). Selected options always stay visible.
  function filterGroups(select) {
    var parent = document.getElementById("id_" + select.getAttribute("data-filter-by"));
    if (!parent) { return; }
    var apply = function () {
      var chosen = Array.prototype.filter.call(parent.options, function (o) { return o.selected && o.value; })
        .map(function (o) { return o.text.trim(); });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var show = chosen.length === 0 || chosen.indexOf(group.label.trim()) !== -1 ||
          group.querySelector("option:checked") !== null;
        group.hidden = !show;
      });
    };
    parent.addEventListener("change", apply);
    apply();
  }
  document.querySelectorAll("select[data-filter-by]").forEach(filterGroups);

  // "Add a row" for formsets: clone the empty form kept in a <template>.
  document.querySelectorAll("[data-formset]").forEach(function (container) {
    var prefix = container.getAttribute("data-formset");
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var template = document.getElementById(prefix + "-empty");
    var body = container.querySelector("tbody");
    var button = container.querySelector("[data-add-row]");
    if (!total || !template || !body || !button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      body.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      // autosave.js keeps the new row (and restores as many rows as were saved).
      container.dispatchEvent(new CustomEvent("formset:row-added", { bubbles: true, detail: { index: index } }));
      // A person adding a row (not autosave restoring one) goes straight to its first field.
      if (!button.hasAttribute("data-restoring")) {
        var first = body.lastElementChild && body.lastElementChild.querySelector("input, select, textarea");
        if (first) { first.focus(); }
      }
    });
  });

  // Whole taka grouped as the server groups them (lakh/crore: 12,34,56,789), with Bangla digits when
  // the page shows them (data-bangla-digits, set by the template from the user's choice).
  function formatAmount(value, element) {
    var bangla = element.getAttribute("data-bangla-digits") === "1";
    return new Intl.NumberFormat(bangla ? "bn-IN" : "en-IN", { maximumFractionDigits: 0 }).format(value);
  }

  // Running total of the budget lines, compared with the call's ceiling.
  var budget = document.querySelector("[data-formset=budget_lines]");
  var output = document.getElementById("budget-total");
  if (budget && output) {
    var ceiling = parseFloat(output.getAttribute("data-ceiling"));
    var update = function () {
      var sum = 0;
      budget.querySelectorAll("input[name$='-amount']").forEach(function (input) {
        var row = input.closest("tr");
        var deleted = row && row.querySelector("input[name$='-DELETE']:checked");
        // Typed amounts may have Bangla digits and lakh/thousands commas (the server accepts both).
        var value = parseFloat(input.value.replace(/[\u09e6-\u09ef]/g, function (d) {
          return String(d.charCodeAt(0) - 0x09e6);
        }).replace(/,/g, "").trim());
        if (!deleted && !isNaN(value)) { sum += value; }
      });
      output.textContent = formatAmount(sum, output);
      output.classList.toggle("text-danger", sum > ceiling);
    };
    budget.addEventListener("input", update);
    budget.addEventListener("change", update);
    update();
  }
})();
