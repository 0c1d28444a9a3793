// SMART Portal: type-to-filter for long drop-downs (<select data-picker>: districts, upazilas).
// Without JavaScript the select works as it is. With it, a search box above the select keeps only the
// options whose name matches what is typed, in English or in Bangla script ("ঢাকা" finds Dhaka: the
// Bangla is read by sound and compared with the English spelling), plus any words in an option's
// data-search. Options are taken out of the select rather than hidden, because phones' native pickers
// ignore hidden options. The chosen option(s) always stay. The server puts a place's names in both
// languages in each option's data-search (core.pickers), so English typing works on Bangla pages too.
// Keyboard: type to filter; Enter picks the only match; Down arrow moves to the list; Escape clears.
// Texts come from this script's own tag in base.html (data-label, data-placeholder, data-status),
// translated there.
(function () {
  "use strict";

  var script = document.currentScript;
  var TEXTS = {
    label: (script && script.getAttribute("data-label")) || "Type to filter: {field}",
    placeholder: (script && script.getAttribute("data-placeholder")) || "",
    status: (script && script.getAttribute("data-status")) || "{shown} of {total} shown"
  };
  var BANGLA = /[\u0980-\u09FF]/;
  var numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

  // Bangla letters by sound, one Latin letter each; vowels and marks count for nothing (see skeleton).
  var SOUNDS = {
    "ক": "k", "খ": "k", "গ": "g", "ঘ": "g", "ঙ": "ng", "চ": "c", "ছ": "c", "জ": "j", "ঝ": "j", "ঞ": "n",
    "ট": "t", "ঠ": "t", "ড": "d", "ঢ": "d", "ণ": "n", "ত": "t", "থ": "t", "দ": "d", "ধ": "d", "ন": "n",
    "প": "p", "ফ": "p", "ব": "b", "ভ": "b", "ম": "m", "য": "j", "র": "r", "ল": "l", "শ": "s", "ষ": "s",
    "স": "s", "হ": "h", "ড়": "r", "ঢ়": "r", "য়": "y", "ৎ": "t", "ং": "ng", "ঁ": "~",
    "০": "0", "১": "1", "২": "2", "৩": "3", "৪": "4", "৫": "5", "৬": "6", "৭": "7", "৮": "8", "৯": "9"
  };

  function latinDigits(text) {
    return text.replace(/[০-৯]/g, function (d) { return SOUNDS[d]; });
  }

  // Bangla script → rough Latin consonants, in the same terms as skeleton() below.
  function transliterate(text) {
    var out = "";
    var chars = text.normalize("NFC");
    for (var i = 0; i < chars.length; i += 1) {
      var pair = chars.slice(i, i + 2);
      if (pair === "ড়" || pair === "ঢ়" || pair === "য়") { out += SOUNDS[pair]; i += 1; continue; }
      var sound = SOUNDS[chars[i]];
      out += sound !== undefined ? sound : (BANGLA.test(chars[i]) ? "" : chars[i]);
    }
    return out;
  }

  // The consonants of a Latin spelling, with the letters Bangladeshi English spells a sound with made
  // equal (z/j, v/b, f/p, c/k, x/ks), silent h and y dropped, and doubled letters written once.
  function skeleton(text) {
    return text.toLowerCase()
      .replace(/x/g, "ks").replace(/q/g, "k").replace(/c/g, "k").replace(/z/g, "j").replace(/v/g, "b")
      .replace(/f/g, "p").replace(/[^a-z0-9~]/g, "").replace(/[aeiouhyw]/g, "").replace(/(.)\1+/g, "$1")
      .replace(/ks/g, "k"); // ক্ষ is "ksh" in Lakshmipur but "kh" in Satkhira
  }

  function plain(text) {
    return latinDigits(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }

  function matcher(query) {
    var wanted = plain(query);
    if (!wanted) { return null; }
    // Chandrabindu (ঁ, "~") is spelt with an n in Chandpur but not in Chapainababganj: try both.
    var sound = BANGLA.test(query) ? skeleton(transliterate(query.normalize("NFC"))) : "";
    var sounds = sound ? [sound.replace(/~/g, "n"), sound.replace(/~/g, "")].filter(Boolean) : [];
    return function (option) {
      var words = option.text + " " + (option.getAttribute("data-search") || "");
      if (plain(words).indexOf(wanted) !== -1) { return true; }
      var spelt = sounds.length ? skeleton(words) : ""; // the Latin letters of the names only
      return sounds.some(function (s) { return spelt.indexOf(s) !== -1; });
    };
  }

  function labelOf(select) {
    var label = select.labels && select.labels[0];
    var text = label ? label.textContent : (select.getAttribute("aria-label") || select.name);
    return text.replace(/\*/g, "").replace(/\s+/g, " ").trim();
  }

  function enhance(select) {
    if (select.hasAttribute("data-picker-ready")) { return; }
    select.setAttribute("data-picker-ready", "");
    var items = [];
    var filter = document.createElement("input");
    var status = document.createElement("span");

    // The select's children as they come from the server (or from an htmx swap), in order.
    function read() {
      items = Array.prototype.map.call(select.children, function (child) {
        return { node: child, options: child.tagName === "OPTGROUP" ? Array.prototype.slice.call(child.children) : null };
      });
    }

    // Put `wanted` nodes into `parent` in their original order, take the others out.
    function place(parent, nodes, wanted) {
      var next = null;
      for (var i = nodes.length - 1; i >= 0; i -= 1) {
        var node = nodes[i];
        if (wanted(node)) {
          if (node.parentNode !== parent || node.nextSibling !== next) { parent.insertBefore(node, next); }
          next = node;
        } else if (node.parentNode === parent) {
          parent.removeChild(node);
        }
      }
    }

    function apply(announce) {
      var matches = matcher(filter.value);
      var chosen = Array.prototype.filter.call(select.options, function (o) { return o.selected; });
      var shown = 0;
      var total = 0;
      var keep = function (option) {
        var named = option.value !== "";
        // The blank choice of a single select stays, so "none" can still be picked.
        var show = !matches || chosen.indexOf(option) !== -1 || (!named && !select.multiple) || matches(option);
        if (named) { total += 1; shown += show ? 1 : 0; }
        return show;
      };
      var groupsShown = [];
      items.forEach(function (item) {
        if (!item.options) { return; }
        var any = false;
        place(item.node, item.options, function (option) { var show = keep(option); any = any || show; return show; });
        if (any) { groupsShown.push(item.node); }
      });
      place(select, items.map(function (item) { return item.node; }), function (node) {
        return node.tagName === "OPTGROUP" ? groupsShown.indexOf(node) !== -1 : keep(node);
      });
      // Moving options can reset a single select's choice: put it back as it was.
      chosen.forEach(function (option) { if (!option.selected) { option.selected = true; } });
      if (announce) {
        status.textContent = matches ? TEXTS.status.replace("{shown}", numbers.format(shown))
          .replace("{total}", numbers.format(total)) : "";
      }
    }

    filter.type = "search";
    filter.className = "form-control form-control-sm picker-filter";
    filter.autocomplete = "off";
    filter.spellcheck = false;
    filter.setAttribute("enterkeyhint", "search");
    filter.setAttribute("aria-label", TEXTS.label.replace("{field}", labelOf(select)));
    filter.placeholder = TEXTS.placeholder;
    filter.setAttribute("aria-controls", select.id || "");
    filter.setAttribute("data-autosave-skip", "");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");

    filter.addEventListener("input", function () { apply(true); });
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault(); // never submits the form from the search box
        var named = Array.prototype.filter.call(select.options, function (o) { return o.value !== ""; });
        var matches = matcher(filter.value);
        var hits = matches ? named.filter(matches) : [];
        if (hits.length === 1 && !hits[0].selected) {
          hits[0].selected = true;
          select.dispatchEvent(new Event("input", { bubbles: true }));
          select.dispatchEvent(new Event("change", { bubbles: true }));
        }
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        select.focus();
      } else if (event.key === "Escape" && filter.value) {
        event.preventDefault();
        filter.value = "";
        apply(true);
      }
    });
    // Reset the list before the form is restored from a draft or reset, so every option is there.
    select.addEventListener("picker:refresh", function () { read(); apply(false); });
    if (select.form) {
      select.form.addEventListener("autosave:restore", function () { filter.value = ""; apply(false); });
      select.form.addEventListener("reset", function () { filter.value = ""; apply(false); });
    }

    // Beside the select, not around it: Bootstrap shows a field's error as the select's next siblings.
    select.parentNode.insertBefore(filter, select);
    select.parentNode.insertBefore(status, select.nextSibling);
    select.classList.add("picker-select");
    read();
  }

  document.querySelectorAll("select[data-picker]").forEach(enhance);
  // htmx replaces a picker's options (the upazilas of the chosen district): read them again.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.matches && target.matches("select[data-picker-ready]")) {
      target.dispatchEvent(new Event("picker:refresh"));
    }
    if (target && target.querySelectorAll) {
      target.querySelectorAll("select[data-picker]").forEach(enhance);
    }
  });
})();
