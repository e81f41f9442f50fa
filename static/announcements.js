// Announcements: upload with a progress bar (XMLHttpRequest reports upload progress; fetch does
// not), and htmx swaps of a slot's form that failed validation (422 carries the errors).
(function () {
  if (window.callrecAnnouncements) { return; }
  window.callrecAnnouncements = true;

  function csrf(form) {
    var f = form.querySelector('input[name="_csrf"]');
    return f ? f.value : "";
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute("data-upload") || !window.FormData) { return; }
    ev.preventDefault();
    var bar = form.querySelector("progress");
    var out = form.querySelector('[data-testid="upload-error"]');
    var btn = form.querySelector('button[type="submit"]');
    var input = form.querySelector('input[type="file"]');
    var max = Number(form.getAttribute("data-max-bytes") || 0);
    // The multipart body is a little larger than the file; the server has the last word.
    if (max > 0 && input && input.files.length && input.files[0].size > max) {
      out.textContent = form.getAttribute("data-too-large");
      out.hidden = false;
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRF-Token", csrf(form));
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.addEventListener("load", function () {
      btn.disabled = false;
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        window.location.assign(window.location.pathname);
        return;
      }
      bar.hidden = true;
      var msg = xhr.statusText;
      if (xhr.status === 413) { msg = form.getAttribute("data-too-large"); }
      try { msg = JSON.parse(xhr.responseText).error.message; } catch (e) { /* keep the text above */ }
      out.textContent = msg;
      out.hidden = false;
    });
    xhr.addEventListener("error", function () {
      btn.disabled = false;
      bar.hidden = true;
      out.textContent = form.getAttribute("data-network-error") || "Network error";
      out.hidden = false;
    });
    out.hidden = true;
    bar.value = 0;
    bar.hidden = false;
    btn.disabled = true;
    xhr.send(new FormData(form));
  }, false);

  // Converting a long file takes a few seconds: show that the click was taken.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (ev.defaultPrevented || !form.action || !/\/convert$/.test(form.action)) { return; }
    var btn = form.querySelector('button[type="submit"]');
    if (btn) { btn.setAttribute("aria-busy", "true"); setTimeout(function () { btn.disabled = true; }, 0); }
  }, false);

  document.addEventListener("htmx:beforeSwap", function (ev) {
    var d = ev.detail;
    if (d.xhr && (d.xhr.status === 422 || d.xhr.status === 503) && d.elt && d.elt.closest && d.elt.closest("[data-announce]")) {
      d.shouldSwap = true;
      d.isError = false;
    }
  });
})();
