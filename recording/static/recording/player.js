// The recording player: play, pause, stop, ±10 s, seek on the waveform, volume, mute and speed.
// The waveform is drawn from the peaks the worker computed (no decoding in the browser); the audio comes
// from our own view with HTTP Range requests, so seeking fetches only what it needs.
(function () {
  "use strict";

  function format(seconds) {
    if (!isFinite(seconds)) { seconds = 0; }
    var s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function setup(root) {
    var audio = root.querySelector("audio");
    var canvas = root.querySelector("canvas");
    var time = root.querySelector("[data-time]");
    var playButton = root.querySelector('[data-act="play"]');
    var muteButton = root.querySelector('[data-act="mute"]');
    var peaksNode = document.getElementById("waveform-peaks");
    var peaks = peaksNode ? JSON.parse(peaksNode.textContent) : {};
    var agent = peaks.agent || [];
    var other = peaks.customer || [];
    // [[from, to], ...] seconds: the parts paused during the call (MixMonitorMute), silence in both files.
    var pausedNode = document.getElementById("waveform-paused");
    var paused = pausedNode ? JSON.parse(pausedNode.textContent) || [] : [];
    var styles = getComputedStyle(root);

    function duration() { return isFinite(audio.duration) ? audio.duration : Number(canvas.getAttribute("aria-valuemax")) || 0; }

    function draw() {
      var ctx = canvas.getContext("2d");
      var w = canvas.width, h = canvas.height, mid = h / 2;
      var n = Math.max(agent.length, other.length, 1);
      var played = duration() ? audio.currentTime / duration() : 0;
      ctx.clearRect(0, 0, w, h);
      var total = duration();
      if (total) {
        ctx.fillStyle = styles.getPropertyValue("--wave-paused") || "rgba(100, 116, 139, 0.25)";
        paused.forEach(function (part) {
          var from = Math.max(0, Number(part[0]) || 0), to = part[1] == null ? total : Math.min(total, Number(part[1]));
          if (to > from) { ctx.fillRect(Math.floor(from / total * w), 0, Math.max(1, Math.ceil((to - from) / total * w)), h); }
        });
      }
      for (var i = 0; i < n; i++) {
        var x = Math.floor(i * w / n), bw = Math.max(1, Math.floor(w / n) - 1);
        var done = i / n < played;
        ctx.fillStyle = done ? styles.getPropertyValue("--wave-agent-played") || "#1d4ed8" : styles.getPropertyValue("--wave-agent") || "#93c5fd";
        var a = (agent[i] || 0) / 100 * (mid - 2);
        ctx.fillRect(x, mid - a, bw, a);
        ctx.fillStyle = done ? styles.getPropertyValue("--wave-other-played") || "#15803d" : styles.getPropertyValue("--wave-other") || "#86efac";
        var o = (other[i] || 0) / 100 * (mid - 2);
        ctx.fillRect(x, mid, bw, o);
      }
      ctx.fillStyle = "#111";
      ctx.fillRect(Math.floor(played * w), 0, 2, h);
      time.textContent = format(audio.currentTime) + " / " + format(duration());
      canvas.setAttribute("aria-valuenow", String(Math.floor(audio.currentTime)));
      playButton.textContent = audio.paused ? playButton.dataset.play : playButton.dataset.pause;
    }

    function seek(to) {
      audio.currentTime = Math.max(0, Math.min(duration(), to));
      draw();
    }

    playButton.dataset.play = playButton.textContent;
    playButton.dataset.pause = root.dataset.pauseLabel || "Pause";
    root.querySelector('[data-act="play"]').addEventListener("click", function () {
      if (audio.paused) { audio.play(); } else { audio.pause(); }
    });
    root.querySelector('[data-act="stop"]').addEventListener("click", function () { audio.pause(); seek(0); });
    root.querySelector('[data-act="back"]').addEventListener("click", function () { seek(audio.currentTime - 10); });
    root.querySelector('[data-act="forward"]').addEventListener("click", function () { seek(audio.currentTime + 10); });
    muteButton.addEventListener("click", function () {
      audio.muted = !audio.muted;
      muteButton.setAttribute("aria-pressed", String(audio.muted));
    });
    root.querySelector("[data-volume]").addEventListener("input", function (e) { audio.volume = Number(e.target.value); });
    root.querySelector("[data-speed]").addEventListener("change", function (e) { audio.playbackRate = Number(e.target.value); });
    canvas.addEventListener("click", function (e) {
      var box = canvas.getBoundingClientRect();
      seek((e.clientX - box.left) / box.width * duration());
    });
    canvas.addEventListener("keydown", function (e) {
      if (e.key === "ArrowLeft") { seek(audio.currentTime - 5); e.preventDefault(); }
      if (e.key === "ArrowRight") { seek(audio.currentTime + 5); e.preventDefault(); }
    });
    ["timeupdate", "play", "pause", "loadedmetadata", "ended", "seeked"].forEach(function (name) {
      audio.addEventListener(name, draw);
    });
    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-player]").forEach(setup);
  });
})();
