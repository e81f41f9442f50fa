// callrec's small behaviours on top of htmx: confirmations and upload progress.
// The question is the submitting button's data-confirm, else the form's.
document.addEventListener("submit", function (ev) {
  var f = ev.target, b = ev.submitter;
  var msg = (b && b.getAttribute("data-confirm")) || (f.getAttribute && f.getAttribute("data-confirm"));
  if (msg && !window.confirm(msg)) { ev.preventDefault(); }
}, true);

// A select marked data-autosubmit submits its form when changed (the language menus): no inline
// handler, which the Content-Security-Policy would refuse.
document.addEventListener("change", function (ev) {
  var el = ev.target;
  if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.requestSubmit(); }
});
