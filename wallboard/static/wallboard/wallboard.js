/* The wallboard: tiles laid out from the snapshot, kept current by the server's pushes (ws, no polling).
 *
 * - The server sends a snapshot on every (re)connect and tile changes as they happen; the longest wait is
 *   counted up here every second from when the longest-waiting caller joined (corrected by the offset
 *   between the server's clock and ours), so thresholds on it turn a tile red without any message.
 * - Thresholds are evaluated here: amber / red per figure, the tile takes the worst; a tile turning red
 *   beeps once when the layout asks for sound (Web Audio: no file, no inline anything).
 * - Reconnects with backoff (1 s doubling to 30 s); 4401/4403/4404 are final (signed out, revoked, gone).
 * - Kiosk: a nightly reload (03:00 + a few minutes) keeps a TV fresh for weeks; the URL keeps ?kiosk=1.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("wallboard-config").textContent);
  var S = config.strings;
  var grid = document.getElementById("wb-tiles");
  var conn = document.getElementById("wb-conn");
  var alertBox = document.getElementById("wb-alert");
  var template = document.getElementById("wb-tile");
  var layout = config.layout;
  var data = {}; // tile key -> figures
  var nodes = {}; // tile key -> section
  var levels = {}; // tile key -> "ok" | "amber" | "red"
  var offset = 0; // server clock - our clock (ms)
  var socket = null;
  var retry = 1000;
  var final = false;
  var pingTimer = null;
  var audio = null;

  function setConn(state, text) {
    conn.dataset.state = state;
    conn.querySelector(".wb-conn__text").textContent = text;
    document.body.dataset.conn = state;
  }

  function showAlert(text) {
    alertBox.textContent = text;
    alertBox.hidden = !text;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    seconds = Math.max(0, Math.round(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function longestWait(tile) {
    if (!tile || !tile.oldest_joined_at) return null;
    return (Date.now() + offset - Date.parse(tile.oldest_joined_at)) / 1000;
  }

  function build() {
    grid.textContent = "";
    nodes = {};
    levels = {};
    if (!layout.tiles.length) {
      var empty = document.createElement("p");
      empty.className = "wb-empty";
      empty.textContent = S.noTiles;
      grid.appendChild(empty);
    }
    layout.tiles.forEach(function (spec) {
      var node = template.content.firstElementChild.cloneNode(true);
      node.dataset.key = spec.key;
      node.dataset.size = spec.size;
      node.querySelector(".tile__name").textContent = spec.label;
      node.setAttribute("aria-label", spec.label);
      grid.appendChild(node);
      nodes[spec.key] = node;
    });
    grid.setAttribute("aria-busy", "false");
  }

  function level(value, rule) {
    if (!rule || value === null || value === undefined) return "ok";
    var worse = rule.dir === "above" ? function (t) { return t !== null && value > t; }
                                     : function (t) { return t !== null && value < t; };
    if (worse(rule.red)) return "red";
    if (worse(rule.amber)) return "amber";
    return "ok";
  }

  var RANK = { ok: 0, amber: 1, red: 2 };

  // A figure's text, and (for a watched figure) its own level on the figure, never on the tile.
  function field(node, name, text, state) {
    var el = node.querySelector('[data-field="' + name + '"]');
    if (el.textContent !== text) el.textContent = text;
    if (state !== undefined && el.parentNode.classList.contains("fig")) el.parentNode.dataset.level = state;
  }

  function render() {
    layout.tiles.forEach(function (spec) {
      var node = nodes[spec.key];
      var tile = data[spec.key] || {};
      var t = spec.thresholds || {};
      var longest = longestWait(tile);
      var figures = {
        waiting: tile.waiting || 0, longest_wait: longest === null ? 0 : longest,
        service_level: tile.service_level === undefined ? null : tile.service_level, logged_in: tile.logged_in || 0
      };
      var marks = {};
      var worst = "ok";
      Object.keys(t).forEach(function (name) {
        marks[name] = level(figures[name], t[name]);
        if (RANK[marks[name]] > RANK[worst]) worst = marks[name];
      });
      field(node, "waiting", String(figures.waiting), marks.waiting || "ok");
      field(node, "longest_wait", duration(longest), marks.longest_wait || "ok");
      field(node, "service_level", tile.service_level === null || tile.service_level === undefined
        ? "–" : Math.round(tile.service_level) + " %", marks.service_level || "ok");
      field(node, "logged_in", String(figures.logged_in), marks.logged_in || "ok");
      field(node, "free", String(tile.free || 0));
      field(node, "busy", String(tile.busy || 0));
      field(node, "paused", String(tile.paused || 0));
      field(node, "answered", String(tile.answered || 0));
      field(node, "missed", String(tile.missed || 0));
      field(node, "avg_wait", duration(tile.avg_wait_s));
      field(node, "level", worst === "ok" ? "" : S[worst]);
      if (worst === "red" && levels[spec.key] !== undefined && levels[spec.key] !== "red" && layout.sound) beep();
      levels[spec.key] = worst;
      if (node.dataset.level !== worst) node.dataset.level = worst;
    });
  }

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      audio = audio || new Ctx();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.8);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.8);
    } catch (e) { /* no sound on this screen */ }
  }

  function onMessage(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (msg.type === "snapshot") {
      offset = Date.parse(msg.at) - Date.now();
      var relayout = JSON.stringify(msg.layout) !== JSON.stringify(layout) || !Object.keys(nodes).length;
      layout = msg.layout;
      if (relayout) build();
      data = msg.tiles || {};
      document.body.dataset.ready = "1";
      render();
    } else if (msg.type === "wallboard.tiles") {
      if (msg.full) data = {};
      Object.keys(msg.tiles || {}).forEach(function (key) { data[key] = msg.tiles[key]; });
      render();
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + config.ws);
    socket.onopen = function () {
      retry = 1000;
      setConn("live", S.live);
      showAlert("");
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (socket && socket.readyState === 1) socket.send(JSON.stringify({ action: "ping" }));
      }, 25000);
    };
    socket.onmessage = onMessage;
    socket.onclose = function (event) {
      clearInterval(pingTimer);
      socket = null;
      var message = { 4401: S.loggedOut, 4403: S.forbidden, 4404: S.notFound }[event.code];
      if (message) {
        final = true;
        setConn("closed", message);
        showAlert(message);
        return;
      }
      setConn("reconnecting", S.reconnecting);
      setTimeout(connect, retry + Math.random() * 500);
      retry = Math.min(retry * 2, 30000);
    };
  }

  function clock() {
    var el = document.getElementById("wb-clock");
    var now = new Date(Date.now() + offset);
    el.textContent = now.toLocaleTimeString(document.documentElement.lang || undefined,
                                            { hour: "2-digit", minute: "2-digit" });
  }

  function nightlyReload() {
    var now = new Date();
    var next = new Date(now.getFullYear(), now.getMonth(), now.getDate(), 3, 0, 0);
    if (next <= now) next.setDate(next.getDate() + 1);
    var wait = next - now + Math.floor(Math.random() * 10 * 60 * 1000); // not every screen at once
    setTimeout(function () { location.reload(); }, wait);
  }

  var fullscreen = document.getElementById("wb-fullscreen");
  if (fullscreen) {
    fullscreen.addEventListener("click", function () {
      if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen();
      if (layout.sound && !audio && (window.AudioContext || window.webkitAudioContext)) {
        audio = new (window.AudioContext || window.webkitAudioContext)(); // a click allows sound later
      }
    });
  }
  if (config.kiosk && navigator.wakeLock) {
    navigator.wakeLock.request("screen").catch(function () {});
  }
  build();
  setConn("connecting", S.connecting);
  connect();
  clock();
  setInterval(function () { if (!final) { render(); clock(); } }, 1000);
  if (config.kiosk) nightlyReload();
})();
