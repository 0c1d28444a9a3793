// SMART Portal: drafts of long forms kept on the device while they are typed (issue 15).
//
// A <form data-autosave="KEY" data-autosave-user="USER ID"> saves its fields, including formset rows
// added in the page, to localStorage as they are typed. The copy is the user's own (the key holds the
// user id and the address the form is sent to) and is never of a password or a file. When the form is opened again and
// the copy differs from what the page shows, a banner offers to restore it or to discard it.
//
// A copy survives the submission itself: it is only cleared when the server's answer is a success (the
// next page, in the same tab, shows a success message and no error). If the connection drops while the
// form is sent, there is no answer page, the copy stays, and the form offers it the next time.
// A refused form comes back with what was typed and its errors: the copy is kept until it is saved.
// Signing out (the form marked data-autosave-clear) removes every copy from the device.
//
// Texts are translated by the server and passed on the form: data-autosave-restore ("... {time}"),
// data-autosave-discard, data-autosave-found, data-autosave-restored; data-autosave-locale formats time.
(function () {
  "use strict";

  var PREFIX = "smart-autosave:";
  var SENT = "smart-autosave-sent"; // sessionStorage: which copy the last submission in this tab sent
  var SENT_FRESH_MS = 10 * 60 * 1000;
  var DELAY_MS = 700;
  var SKIPPED_TYPES = ["password", "file", "hidden", "submit", "button", "reset", "image"];

  function usable(storage) {
    try {
      var probe = PREFIX + "probe";
      storage.setItem(probe, "1");
      storage.removeItem(probe);
      return true;
    } catch (e) {
      return false; // private mode or storage switched off: forms work as before
    }
  }
  if (!window.localStorage || !usable(window.localStorage)) { return; }
  var store = window.localStorage;
  var session = window.sessionStorage && usable(window.sessionStorage) ? window.sessionStorage : null;

  function read(key) {
    try { return JSON.parse(store.getItem(key) || "null"); } catch (e) { return null; }
  }
  function write(key, value) {
    try { store.setItem(key, JSON.stringify(value)); } catch (e) { /* storage full: nothing kept */ }
  }

  var signedOut = false; // once set, nothing more is written (a pending save would bring a copy back)

  function clearAll() {
    signedOut = true;
    for (var i = store.length - 1; i >= 0; i -= 1) {
      var key = store.key(i);
      if (key && key.indexOf(PREFIX) === 0) { store.removeItem(key); }
    }
    if (session) { session.removeItem(SENT); }
  }

  // Sign-out forgets every draft kept on this device (a shared phone must not show them to the next user).
  document.addEventListener("submit", function (event) {
    if (event.target.hasAttribute("data-autosave-clear") && !event.defaultPrevented) { clearAll(); }
  });

  function kept(element) {
    if (!element.name || element.disabled || element.closest("[data-autosave-skip]")) { return false; }
    if (element.name === "csrfmiddlewaretoken") { return false; }
    return SKIPPED_TYPES.indexOf((element.type || "").toLowerCase()) === -1;
  }

  // What the form holds now: each kept field's value(s) by name, and the number of rows of each formset.
  function snapshot(form) {
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!kept(element)) { return; }
      var name = element.name;
      if (element.type === "checkbox" || element.type === "radio") {
        fields[name] = fields[name] || [];
        if (element.checked) { fields[name].push(element.value); }
      } else if (element.tagName === "SELECT" && element.multiple) {
        fields[name] = Array.prototype.filter.call(element.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; }).sort();
      } else if (Object.prototype.hasOwnProperty.call(fields, name)) {
        fields[name] = [].concat(fields[name], element.value);
      } else {
        fields[name] = element.value;
      }
    });
    var rows = {};
    form.querySelectorAll("input[name$='-TOTAL_FORMS']").forEach(function (input) {
      rows[input.name.slice(0, -"-TOTAL_FORMS".length)] = parseInt(input.value, 10) || 0;
    });
    return { fields: fields, rows: rows };
  }

  function canonical(state) {
    var keys = Object.keys(state.fields).sort();
    var rows = Object.keys(state.rows).sort();
    return JSON.stringify([keys.map(function (k) { return [k, state.fields[k]]; }),
      rows.map(function (k) { return [k, state.rows[k]]; })]);
  }
  function same(a, b) { return canonical(a) === canonical(b); }

  function hasErrors(scope) {
    return scope.querySelector(".is-invalid, .invalid-feedback.d-block, .errorlist, .alert-danger") !== null;
  }
  function pageShowsSuccess() {
    return document.querySelector(".messages .alert-success") !== null && !hasErrors(document);
  }

  // The answer to the last submission in this tab, read once, on the first page after it.
  var sent = null;
  if (session) {
    try { sent = JSON.parse(session.getItem(SENT) || "null"); } catch (e) { sent = null; }
    session.removeItem(SENT);
    if (sent && Date.now() - sent.at > SENT_FRESH_MS) { sent = null; }
  }
  var saved = sent && pageShowsSuccess();
  if (saved) { store.removeItem(sent.key); }
  else if (sent) {
    var copy = read(sent.key);
    if (copy) { copy.pending = false; write(sent.key, copy); }
  }

  function formatTime(at, form) {
    var locale = form.getAttribute("data-autosave-locale") || document.documentElement.lang || undefined;
    try {
      return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(at));
    } catch (e) {
      return new Date(at).toLocaleString();
    }
  }

  function setValues(form, state) {
    var seen = {};
    var changed = [];
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!kept(element) || !Object.prototype.hasOwnProperty.call(state.fields, element.name)) { return; }
      var value = state.fields[element.name];
      var before;
      if (element.type === "checkbox" || element.type === "radio") {
        before = element.checked;
        element.checked = value.indexOf(element.value) !== -1;
        if (before !== element.checked) { changed.push(element); }
      } else if (element.tagName === "SELECT" && element.multiple) {
        before = JSON.stringify(Array.prototype.map.call(element.options, function (o) { return o.selected; }));
        Array.prototype.forEach.call(element.options, function (o) { o.selected = value.indexOf(o.value) !== -1; });
        if (before !== JSON.stringify(Array.prototype.map.call(element.options, function (o) { return o.selected; }))) {
          changed.push(element);
        }
      } else {
        var index = seen[element.name] || 0;
        seen[element.name] = index + 1;
        var text = Array.isArray(value) ? (value[index] !== undefined ? value[index] : "") : value;
        if (element.value !== text) { element.value = text; changed.push(element); }
      }
    });
    // Let the page react as if typed (running totals, dependent lists).
    changed.forEach(function (element) {
      element.dispatchEvent(new Event("input", { bubbles: true }));
      element.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  function addRows(form, rows) {
    Object.keys(rows).forEach(function (prefix) {
      var total = form.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
      var container = form.querySelector("[data-formset='" + prefix + "']");
      var button = container && container.querySelector("[data-add-row]");
      if (!total || !button) { return; }
      button.setAttribute("data-restoring", "");
      var guard = 200;
      while ((parseInt(total.value, 10) || 0) < rows[prefix] && guard > 0) {
        button.click();
        guard -= 1;
      }
      button.removeAttribute("data-restoring");
    });
  }

  function setUp(form) {
    var user = form.getAttribute("data-autosave-user");
    if (!user) { return; }
    // The address the form is sent to (the page's own when it has no action): the same on the page and
    // on the refused answer, which a form sending elsewhere (the TEC score sheet) is shown at.
    var path = new URL(form.action || window.location.href, window.location.href).pathname;
    var key = PREFIX + user + ":" + path + "#" + form.getAttribute("data-autosave");
    var initial = snapshot(form);
    var copy = read(key);
    var timer = null;
    var banner = null;

    function save(pending) {
      window.clearTimeout(timer);
      timer = null;
      if (signedOut) { return; }
      var state = snapshot(form);
      if (same(state, initial) && !pending) {
        store.removeItem(key); // back to what the server has: nothing to keep
        return;
      }
      write(key, { version: 1, at: Date.now(), pending: Boolean(pending), state: state });
    }
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(save, DELAY_MS);
    }

    function showBanner(found) {
      banner = document.createElement("div");
      banner.className = "alert alert-warning autosave-banner";
      banner.setAttribute("role", "status");
      banner.setAttribute("data-testid", "autosave-banner");
      var text = document.createElement("p");
      text.className = "mb-2";
      text.textContent = form.getAttribute("data-autosave-found") || "";
      var buttons = document.createElement("div");
      buttons.className = "d-flex flex-wrap gap-2";
      var restore = document.createElement("button");
      restore.type = "button";
      restore.className = "btn btn-sm btn-portal";
      restore.textContent = (form.getAttribute("data-autosave-restore") || "Restore unsaved changes from {time}")
        .replace("{time}", formatTime(found.at, form));
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "btn btn-sm btn-outline-secondary";
      discard.textContent = form.getAttribute("data-autosave-discard") || "Discard";
      buttons.appendChild(restore);
      buttons.appendChild(discard);
      if (text.textContent) { banner.appendChild(text); }
      banner.appendChild(buttons);
      form.insertBefore(banner, form.firstChild);

      restore.addEventListener("click", function () {
        form.dispatchEvent(new Event("autosave:restore"));
        addRows(form, found.state.rows);
        setValues(form, found.state);
        save(false);
        banner.classList.replace("alert-warning", "alert-success");
        banner.textContent = form.getAttribute("data-autosave-restored") || "";
        if (!banner.textContent) { banner.remove(); }
      });
      discard.addEventListener("click", function () {
        store.removeItem(key);
        save(false); // what was typed since the page opened is still kept
        banner.remove();
        banner = null;
      });
    }

    if (copy && copy.state) {
      if (same(copy.state, initial)) {
        // The page already shows it: saved by the server, or refused and shown again with its errors.
        if (!hasErrors(form) && !document.querySelector(".messages .alert-danger")) { store.removeItem(key); }
      } else if (!saved || sent.key !== key) {
        showBanner(copy);
      }
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("formset:row-added", later);
    // On the document, after portal.js's confirmation: a cancelled submission sends nothing.
    document.addEventListener("submit", function (event) {
      if (event.target !== form || event.defaultPrevented) { return; }
      // Kept until the server's answer shows it saved (see the top of this file).
      save(true);
      if (session) { session.setItem(SENT, JSON.stringify({ key: key, at: Date.now() })); }
      if (banner) { banner.remove(); }
    });
    // Phones stop background tabs without warning: write what is pending when the page is hidden.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && timer !== null) { save(false); }
    });
    window.addEventListener("pagehide", function () { if (timer !== null) { save(false); } });
  }

  document.querySelectorAll("form[data-autosave]").forEach(setUp);
})();
