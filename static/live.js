// The Live calls page: running durations tick in the browser between the server's updates.
// Each [data-clock] element carries the milliseconds it showed when rendered; the time it
// arrived is stamped on it, so the browser's and the server's clocks never need to agree.
(function () {
  function two(n) { return n < 10 ? "0" + n : "" + n; }
  function fmt(ms) {
    var s = Math.max(0, Math.round(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    return (h > 0 ? h + ":" + two(m) : "" + m) + ":" + two(s % 60);
  }
  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll("[data-clock]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], at = +el.getAttribute("data-at");
      if (!at) { at = now; el.setAttribute("data-at", "" + now); }
      el.textContent = fmt(+el.getAttribute("data-ms") + now - at);
    }
  }
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("htmx:sseMessage", tick);
  setInterval(tick, 500);
})();
