// callrec's small behaviours on top of htmx: confirmations, the phone menu, the column names of
// stacked table rows, and forms answered in place.
(function () {
  // The question is the submitting button's data-confirm, else the form's. A refused question
  // stops the event before htmx sees it, so neither the browser nor htmx sends the form.
  document.addEventListener("submit", function (ev) {
    var f = ev.target, b = ev.submitter;
    var msg = (b && b.getAttribute("data-confirm")) || (f.getAttribute && f.getAttribute("data-confirm"));
    if (msg && !window.confirm(msg)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
  }, true);

  // A select marked data-autosubmit submits its form when changed (a filter that has nothing
  // else to choose): no inline handler, which the Content-Security-Policy would refuse. The
  // language menu is not one: it has its own button.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.requestSubmit(); }
  });

  // The menu button (phones): the navigation opens and closes under it.
  function initMenu() {
    var btn = document.querySelector(".menu-toggle");
    var top = btn && btn.closest("header");
    if (!btn || !top) { return; }
    top.classList.add("has-menu"); // without this script the navigation simply stays open
    btn.addEventListener("click", function () {
      var open = btn.getAttribute("aria-expanded") !== "true";
      btn.setAttribute("aria-expanded", open ? "true" : "false");
      top.classList.toggle("menu-open", open);
    });
  }

  // On a phone a table's rows stack; each cell shows its column's name before it.
  function labelCells(root) {
    var tables = (root.matches && root.matches("main table") ? [root] : []).concat(
      Array.prototype.slice.call((root.querySelectorAll ? root : document).querySelectorAll("main table")));
    if (root.closest) {
      var up = root.closest("main table");
      if (up) { tables.push(up); }
    }
    tables.forEach(function (t) {
      var heads = t.querySelectorAll("thead th");
      if (!heads.length) { return; }
      t.querySelectorAll("tbody tr").forEach(function (tr) {
        var cells = tr.children;
        if (cells.length !== heads.length) { return; } // a row spanning the table (an empty list)
        for (var i = 0; i < cells.length; i++) {
          var name = heads[i].textContent.replace(/[▲▼]/g, "").trim();
          if (name && !cells[i].hasAttribute("data-label")) { cells[i].setAttribute("data-label", name); }
        }
      });
    });
  }

  function init() {
    initMenu();
    labelCells(document);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  document.addEventListener("htmx:afterSettle", function (ev) { labelCells(ev.target); });
  document.addEventListener("htmx:sseMessage", function (ev) { labelCells(ev.target); });

  // A form answered in place leaves the page where it is; its message (beside the control that
  // was used) is scrolled into view only when it is not in view already.
  document.addEventListener("htmx:afterSettle", function (ev) {
    var m = ev.target.querySelector && ev.target.querySelector("[data-flash-here]");
    if (!m) { return; }
    var r = m.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) { m.scrollIntoView({block: "nearest"}); }
  });

  // A refused form (422) comes back with its messages beside the fields: show it like a success.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (ev.detail.xhr && ev.detail.xhr.status === 422) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });
})();
