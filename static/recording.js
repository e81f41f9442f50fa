// The recording page's player: clicking the waveform or a time seeks the audio element (the
// browser fetches the rest with HTTP Range requests) and a playhead follows playback.
(function () {
  // A list's play buttons share one audio element: a click plays that row's recording (or
  // pauses it when it is the one playing).
  function initList() {
    var audio = document.querySelector("audio.list-player");
    if (!audio) { return; }
    var current = null;
    function mark(b, on) {
      if (!b) { return; }
      b.classList.toggle("playing", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
    audio.addEventListener("pause", function () { mark(current, false); });
    audio.addEventListener("ended", function () { mark(current, false); });
    audio.addEventListener("play", function () { mark(current, true); });
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest && ev.target.closest("button.play[data-src]");
      if (!b) { return; }
      if (b === current && !audio.paused) { audio.pause(); return; }
      mark(current, false);
      if (b !== current) { audio.src = b.getAttribute("data-src"); current = b; }
      var p = audio.play();
      if (p && p.catch) { p.catch(function () { mark(b, false); }); }
    });
  }
  function init() {
    initList();
    var box = document.querySelector('[data-testid="player"]');
    if (!box) { return; }
    var audio = box.querySelector("audio");
    var svg = box.querySelector("svg.waveform");
    var head = svg && svg.querySelector(".playhead");
    var known = parseFloat(box.getAttribute("data-duration")) || 0;
    function duration() { return isFinite(audio.duration) && audio.duration > 0 ? audio.duration : known; }
    function seek(sec) {
      var d = duration();
      audio.currentTime = Math.max(0, Math.min(sec, d || sec));
      var p = audio.play();
      if (p && p.catch) { p.catch(function () {}); }
    }
    if (svg) {
      svg.addEventListener("click", function (ev) {
        var r = svg.getBoundingClientRect();
        seek((ev.clientX - r.left) / r.width * duration());
      });
    }
    function clock(sec) {
      var s = Math.max(0, Math.round(sec)), m = Math.floor(s / 60);
      return m + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
    }
    // The waveform is a slider: arrow keys seek 5 s, Page Up/Down 30 s, Home/End the ends.
    if (svg) {
      svg.addEventListener("keydown", function (ev) {
        var step = {ArrowRight: 5, ArrowUp: 5, ArrowLeft: -5, ArrowDown: -5, PageUp: 30, PageDown: -30}[ev.key];
        var to = null;
        if (step !== undefined) { to = audio.currentTime + step; }
        if (ev.key === "Home") { to = 0; }
        if (ev.key === "End") { to = duration(); }
        if (to === null) { return; }
        ev.preventDefault();
        seek(to);
      });
    }
    audio.addEventListener("timeupdate", function () {
      var d = duration();
      if (svg) {
        svg.setAttribute("aria-valuenow", String(Math.round(audio.currentTime)));
        svg.setAttribute("aria-valuetext", clock(audio.currentTime));
      }
      if (!head || !d) { return; }
      var x = (audio.currentTime / d * 1000).toFixed(1);
      head.setAttribute("x1", x); head.setAttribute("x2", x);
    });
    // The file name's copy button.
    document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        var el = document.getElementById(b.getAttribute("data-copy"));
        var status = b.parentElement.querySelector(".copy-status");
        if (!el || !navigator.clipboard) { return; }
        navigator.clipboard.writeText(el.textContent.trim()).then(function () {
          if (status) { status.textContent = b.getAttribute("data-copied"); }
        }, function () {});
      });
    });
    document.querySelectorAll("button.seek[data-seek]").forEach(function (b) {
      b.addEventListener("click", function () { seek(parseFloat(b.getAttribute("data-seek")) || 0); });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
