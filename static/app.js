// callrec's small behaviours on top of htmx: confirmations and upload progress.
// The question is the submitting button's data-confirm, else the form's.
document.addEventListener("submit", function (ev) {
  var f = ev.target, b = ev.submitter;
  var msg = (b && b.getAttribute("data-confirm")) || (f.getAttribute && f.getAttribute("data-confirm"));
  if (msg && !window.confirm(msg)) { ev.preventDefault(); }
}, true);
