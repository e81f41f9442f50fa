// The recording page's player: clicking the waveform or a time seeks the audio element (the
// browser fetches the rest with HTTP Range requests) and a playhead follows playback.
(function () {
  function init() {
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
    audio.addEventListener("timeupdate", function () {
      var d = duration();
      if (!head || !d) { return; }
      var x = (audio.currentTime / d * 1000).toFixed(1);
      head.setAttribute("x1", x); head.setAttribute("x2", x);
    });
    document.querySelectorAll("button.seek[data-seek]").forEach(function (b) {
      b.addEventListener("click", function () { seek(parseFloat(b.getAttribute("data-seek")) || 0); });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
