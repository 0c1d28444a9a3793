// TEC score sheet: the weighted total worked out as scores are typed, and the score level each score
// falls in highlighted. The server recalculates the total when the sheet is saved and its figure is the
// one that counts; this shows the same figure: each score as a share of its maximum times the weight,
// added up exactly (whole numbers, no floating point) and rounded to 2 places, halves up, as
// subprojects.evaluation.weighted_total does.
(function () {
  "use strict";

  var form = document.querySelector("form.score-form");
  var output = form && form.querySelector("[data-score-total]");
  if (!form || !output || typeof BigInt !== "function") { return; }
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input[data-score]"));
  var partial = form.querySelector("[data-score-partial]");
  var bangla = output.getAttribute("data-bangla-digits") === "1";
  var numbers = new Intl.NumberFormat(bangla ? "bn-IN" : "en-IN");

  // "7", "7.5", "7.25" as hundredths (725n); null when not a number with at most 2 decimals.
  function hundredths(text) {
    // A score typed in Bangla digits counts as the same number (the server reads both).
    text = String(text).replace(/[\u09e6-\u09ef]/g, function (d) { return String(d.charCodeAt(0) - 0x09e6); });
    var match = /^\s*([0-9]+)(?:[.,]([0-9]{1,2}))?\s*$/.exec(text);
    if (!match) { return null; }
    return BigInt(match[1]) * 100n + BigInt(((match[2] || "") + "00").slice(0, 2));
  }

  function gcd(a, b) { while (b) { var t = a % b; a = b; b = t; } return a; }

  function digits(text) {
    return bangla ? text.replace(/\d/g, function (d) { return "০১২৩৪৫৬৭৮৯"[d]; }) : text;
  }

  // The total out of 100 as a string with 2 decimals, or null while a score is not a valid one.
  function total() {
    var terms = [];
    for (var i = 0; i < inputs.length; i += 1) {
      var input = inputs[i];
      var max = BigInt(input.getAttribute("data-max"));
      var weight = hundredths(input.getAttribute("data-weight"));
      if (input.value.trim() === "") { continue; } // not scored yet: counts 0, as on the server
      var score = hundredths(input.value);
      if (score === null || score > max * 100n || weight === null) { return null; }
      terms.push({ score: score, weight: weight, max: max });
    }
    // Σ score/100 × weight/100 / max = N / (10000 × L), L the least common multiple of the maxima.
    var lcm = terms.reduce(function (l, t) { return l / gcd(l, t.max) * t.max; }, 1n);
    var n = terms.reduce(function (sum, t) { return sum + t.score * t.weight * (lcm / t.max); }, 0n);
    // In hundredths of a point, halves up: floor(N / (100 L) + 1/2).
    var cents = (2n * n + 100n * lcm) / (200n * lcm);
    return (cents / 100n).toString() + "." + (cents % 100n).toString().padStart(2, "0");
  }

  function highlight(input) {
    var row = input.closest("[data-score-row]");
    var levels = row ? row.querySelectorAll(".score-levels li[data-high]") : [];
    var value = hundredths(input.value);
    var found = false;
    Array.prototype.forEach.call(levels, function (li) {
      var high = hundredths(li.getAttribute("data-high"));
      var current = value !== null && !found && high !== null && value <= high;
      if (current) { found = true; }
      li.classList.toggle("current", current);
    });
  }

  function update() {
    var figure = total();
    output.textContent = figure === null ? "—" : digits(figure);
    var scored = inputs.filter(function (input) { return input.value.trim() !== ""; }).length;
    if (partial) {
      partial.textContent = scored < inputs.length ? (output.getAttribute("data-partial") || "")
        .replace("{scored}", numbers.format(scored)).replace("{total}", numbers.format(inputs.length)) : "";
    }
    inputs.forEach(highlight);
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  var line = output.closest("[hidden]");
  if (line) { line.hidden = false; } // shown only where it can be worked out
  update();
})();
