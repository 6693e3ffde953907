/* The operator console: one websocket (ws/console/), a snapshot on every (re)connect, then events.
 *
 * The picture (state S) is only ever *replaced* by a snapshot and *patched* by events that carry whole
 * objects (a call's current view, a waiting caller, a person's status), so applying an event twice is
 * harmless and a reconnect can never leave a ghost call behind. While the connection is down the page
 * says so, greys out and refuses actions; the next snapshot replaces everything.
 *
 * No framework: lists are keyed (one element per call / person / queue, updated in place, so the
 * keyboard focus stays where it was); text goes in with textContent only.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("console-config").textContent);
  var T = config.strings;
  var STORE_KEY = "vaxel.console.shortcuts." + config.user_id;

  // ------------------------------------------------------------------------------------ state
  var S = {
    me: { user_id: config.user_id },
    calls: new Map(),      // call id → the bridge's call view
    waiting: new Map(),    // call id → waiting caller
    people: new Map(),     // user id → person (directory entry)
    statuses: new Map(),   // status id → status
    queueNames: new Map(), // queue id → the queue's name (events carry Asterisk's name for it)
    lines: new Map(),      // user id → line word from the hints
    devices: new Map(),    // device → {user_id, state}
    consult: new Map(),    // call id → target (an attended transfer I started)
    muted: new Map(),      // call id → held by the console's hold (at once; the bridge's call.held follows)
    callbacks: new Map(),  // callback id → a callback to make (callback.changed keeps it current)
    offset: 0,             // server clock − browser clock (ms)
    ready: false,
  };
  var chosen = { waiting: null, call: null, person: null };
  var ws = null;
  var attempt = 0;
  var lastMessage = 0;
  var reconnectTimer = null;
  var nextId = 1;
  var pending = new Map();
  var stopped = false;

  // ------------------------------------------------------------------------------------ helpers
  function $(id) { return document.getElementById(id); }

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") el.textContent = v;
        else if (k === "className") el.className = v;
        else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : v);
      });
    }
    (children || []).forEach(function (c) { if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return el;
  }

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, k) { return values[k] === undefined ? "" : values[k]; });
  }

  function now() { return Date.now() + S.offset; }

  function duration(since) {
    var t = Date.parse(since);
    if (isNaN(t)) return "";
    var s = Math.max(0, Math.floor((now() - t) / 1000));
    var m = Math.floor(s / 60), hrs = Math.floor(m / 60);
    var ss = String(s % 60).padStart(2, "0");
    return hrs ? hrs + ":" + String(m % 60).padStart(2, "0") + ":" + ss : m + ":" + ss;
  }

  function clock(iso) {
    // "13:00" today; "tis 13:00" / "Tue 13:00" on another day.
    var d = new Date(iso);
    if (isNaN(d)) return "";
    var lang = document.documentElement.lang || undefined;
    var time = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    if (d.toDateString() === new Date(now()).toDateString()) return time;
    return d.toLocaleDateString(lang, { weekday: "short", day: "numeric", month: "short" }) + " " + time;
  }

  function fold(text) {
    return (text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }

  function phone(number) { return window.vaxelPhone ? window.vaxelPhone.format(number) : number; }

  function queueName(id, fallback) { return S.queueNames.get(id) || fallback || ""; }

  // A colleague is shown by the name the directory has (a phone's caller ID may carry none, or its
  // SIP account instead of a number); anyone else by name and number as the call says.
  // Numbers are shown the Swedish way (portal/phone.js); the state and what is sent keep E.164.
  function who(p) {
    var known = p && p.user_id != null ? S.people.get(p.user_id) : null;
    var number = p && /^\+?[0-9*#]+$/.test(p.number || "") ? phone(p.number) : "";
    if (known) return { name: known.name || (p && p.name) || "", number: number || known.extension || "" };
    return { name: (p && p.name) || "", number: number };
  }

  function partyLabel(p) {
    if (!p) return T.unknownCaller;
    var w = who(p);
    if (w.name && w.number && w.name !== w.number) return w.name + " (" + w.number + ")";
    return w.name || w.number || T.unknownCaller;
  }

  function announce(text) {
    var el = $("announcer");
    el.textContent = "";
    window.setTimeout(function () { el.textContent = text; }, 30);
  }

  var toastTimer = null;
  function toast(text, ok) {
    var el = $("toast");
    el.textContent = text;
    el.className = "toast " + (ok ? "toast--ok" : "toast--error");
    el.setAttribute("role", ok ? "status" : "alert");
    el.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () { el.hidden = true; }, ok ? 4000 : 9000);
  }

  // ------------------------------------------------------------------------------------ the connection
  function setConn(state, text) {
    var el = $("conn");
    el.dataset.state = state;
    el.className = "conn conn--" + state;
    el.querySelector(".conn__text").textContent = text;
    var root = $("console");
    root.dataset.state = state;
    root.setAttribute("aria-busy", state === "live" ? "false" : "true");
  }

  function connect() {
    if (stopped) return;
    window.clearTimeout(reconnectTimer);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.ws +
      "?lang=" + encodeURIComponent(document.documentElement.lang || "");
    var socket;
    try { socket = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ws = socket;
    socket.onopen = function () { lastMessage = Date.now(); };
    socket.onmessage = function (e) {
      if (socket !== ws) return;
      lastMessage = Date.now();
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      handle(msg);
    };
    socket.onclose = function (e) {
      if (socket !== ws) return;
      ws = null;
      pending.forEach(function (p) { if (p.button) p.button.removeAttribute("aria-disabled"); });
      pending.clear();
      if (e.code === 4401) { stopped = true; setConn("closed", T.loggedOut); return; }
      if (e.code === 4403) { stopped = true; setConn("closed", T.forbidden); return; }
      S.ready = false;
      setConn("reconnecting", T.reconnecting);
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    window.clearTimeout(reconnectTimer);
    attempt += 1;
    var delay = Math.min(10000, 400 * Math.pow(2, Math.min(attempt, 5))) * (0.75 + Math.random() * 0.5);
    reconnectTimer = window.setTimeout(connect, attempt === 1 ? 150 : delay);
  }

  // The heartbeat: a connection that says nothing for 30 s (a dead network, a sleeping laptop) is
  // dropped and made again, with a fresh snapshot.
  window.setInterval(function () {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastMessage > 30000) { ws.close(); ws.onclose({ code: 1006 }); return; }
    ws.send(JSON.stringify({ action: "ping" }));
  }, 12000);
  window.addEventListener("offline", function () {
    if (ws) { var s = ws; ws = null; s.onclose = null; s.close(); }
    S.ready = false;
    setConn("reconnecting", T.reconnecting);
    scheduleReconnect();
  });
  window.addEventListener("online", function () { if (!ws && !stopped) { attempt = 0; connect(); } });

  function send(action, args, button) {
    if (!ws || ws.readyState !== WebSocket.OPEN || !S.ready) { toast(T.reconnecting, false); return false; }
    var id = nextId++;
    var msg = Object.assign({ action: action, id: id }, args || {});
    pending.set(id, { action: action, args: args || {}, button: button || null });
    if (button) button.setAttribute("aria-disabled", "true");
    ws.send(JSON.stringify(msg));
    return true;
  }

  // ------------------------------------------------------------------------------------ applying messages
  function handle(msg) {
    var type = msg.type || "";
    if (type === "snapshot") return applySnapshot(msg);
    if (type === "result") return applyResult(msg);
    if (type === "pong") return;
    if (!S.ready) return;
    if (type.indexOf("call.") === 0 || type.indexOf("recording.") === 0) {
      if (type === "call.ended" || type === "call.merged") {
        S.calls.delete(msg.call_id);
        dropWaiting(msg.call_id, false);
        S.consult.delete(msg.call_id);
        S.muted.delete(msg.call_id);
      } else if (type === "call.hold") {
        if (msg.held) S.muted.set(msg.call_id, true); else S.muted.delete(msg.call_id);
      } else if (msg.call && msg.call.id) {
        S.calls.set(msg.call_id, msg.call);
      }
      renderCalls(); renderLines(); renderListenable();
      return;
    }
    switch (type) {
      case "queue.caller_joined":
        var fresh = !S.waiting.has(msg.call_id);
        S.waiting.set(msg.call_id, {
          call_id: msg.call_id, queue_id: msg.queue_id, queue: msg.queue, position: msg.position,
          joined_at: msg.at, caller: msg.caller,
        });
        renderWaiting();
        if (fresh) announce(fmt(T.newCall, { queue: queueName(msg.queue_id, msg.queue), caller: partyLabel(msg.caller) }));
        return;
      case "queue.position":
        // app_queue renumbered the queue (someone ahead was answered or left): No. 2 is now No. 1.
        var moved = S.waiting.get(msg.call_id);
        if (moved) { moved.position = msg.position; renderWaiting(); }
        return;
      case "queue.caller_left":
      case "queue.caller_abandoned":
        dropWaiting(msg.call_id, type === "queue.caller_abandoned");
        return;
      case "agent.logged_in": case "agent.logged_out": case "agent.paused": case "agent.status":
        patchAgent(msg.user_id, msg.queue_id, {
          logged_in: type !== "agent.logged_out", paused: !!msg.paused, reason: msg.reason || "",
          status: msg.status || "", in_call: !!msg.in_call,
        });
        return;
      case "agent.changed":
        patchAgent(msg.user_id, msg.queue_id, { logged_in: msg.logged_in, paused: msg.paused, reason: msg.pause_reason || "" });
        return;
      case "line.state":
        if (msg.user_id != null) { S.lines.set(msg.user_id, msg.state); renderLines(); }
        return;
      case "device.state":
        S.devices.set(msg.device, { user_id: msg.user_id, state: msg.state });
        renderLines();
        return;
      case "listen_in.refused":
        // Asterisk (pbx-listen) found every licence in use when the phone answered: the phone said so too.
        toast(fmt(T.listenRefused, { limit: msg.limit }), false);
        return;
      case "queue.callback_requested":
        // The list follows callback.changed; this only says it out loud as it happens. Only a queue's own
        // callback is the queue's to make; a request, or one the queue could not keep ("unserved"), is ours.
        announce(fmt(msg.kind === "queue" ? T.callbackQueued : T.callbackAsked, {
          number: msg.number, queue: queueName(msg.queue_id, msg.queue),
        }));
        return;
      case "callback.changed":
        var cb = msg.callback || {};
        if (cb.status === "open" && cb.kind === "request") S.callbacks.set(cb.id, cb);
        else if (S.callbacks.delete(cb.id) && cb.done_by_id !== S.me.user_id && cb.done_by) {
          announce(fmt(T.callbackDoneBy, { name: cb.done_by, number: phone(cb.number) }));
        }
        renderCallbacks();
        return;
      case "presence.changed":
        var person = S.people.get(msg.user_id);
        if (!person) return;
        var st = S.statuses.get(msg.status_id);
        person.presence = msg.status ? {
          status: msg.status, status_id: msg.status_id, message: msg.message, until: msg.until,
          color: st ? st.color : null,
        } : null;
        renderPerson(person);
        return;
    }
  }

  function renderListenable() {
    if (!S.me || !S.me.can_listen) return;
    S.people.forEach(function (p) { renderPerson(p); });
  }

  function dropWaiting(callId, abandoned) {
    var w = S.waiting.get(callId);
    if (!w) return;
    S.waiting.delete(callId);
    renderWaiting();
    if (abandoned) announce(fmt(T.callGone, { caller: partyLabel(w.caller) }));
  }

  function applySnapshot(snap) {
    S.offset = Date.parse(snap.at) - Date.now() || 0;
    S.me = snap.me;
    S.calls = new Map((snap.calls || []).map(function (c) { return [c.id, c]; }));
    S.waiting = new Map((snap.waiting || []).map(function (w) { return [w.call_id, w]; }));
    S.statuses = new Map((snap.statuses || []).map(function (s) { return [s.id, s]; }));
    S.people = new Map((snap.people || []).map(function (p) { return [p.user_id, p]; }));
    S.queueNames = new Map((snap.queues || []).map(function (q) { return [q.id, q.name]; }));
    S.lines = new Map();
    (snap.lines || []).forEach(function (l) { if (l.user_id != null) S.lines.set(l.user_id, l.state); });
    S.devices = new Map((snap.devices || []).map(function (d) { return [d.device, { user_id: d.user_id, state: d.state }]; }));
    (snap.presence || []).forEach(function () {}); // Asterisk's presence: the database's status is what we show
    S.myQueues = snap.my_queues || [];
    S.callbacks = new Map((snap.callbacks || []).map(function (c) { return [c.id, c]; }));
    // A transfer I was making survives a reconnect only if its call is still there.
    S.consult.forEach(function (_t, id) { if (!S.calls.has(id)) S.consult.delete(id); });
    S.muted.forEach(function (_t, id) { if (!S.calls.has(id)) S.muted.delete(id); });
    var wasReady = S.ready;
    S.ready = true;
    attempt = 0;
    buildPeople();
    renderWaiting(); renderCalls(); renderQueues(); renderLines(); renderCallbacks();
    var el = $("conn");
    var again = el.dataset.state === "reconnecting";
    setConn("live", T.live);
    if (again && !wasReady) announce(T.reconnected);
  }

  function applyResult(msg) {
    var p = pending.get(msg.id);
    pending.delete(msg.id);
    if (p && p.button) p.button.removeAttribute("aria-disabled");
    if (msg.ok && p) {
      if (p.action === "transfer" && p.args.announced) S.consult.set(p.args.call_id, p.args.target);
      if (p.action === "transfer" && !p.args.announced) S.consult.delete(p.args.call_id);
      if (p.action === "complete_transfer" || p.action === "cancel_transfer") S.consult.delete(p.args.call_id);
      renderCalls();
    }
    toast(msg.message || (msg.ok ? T.done : ""), !!msg.ok);
  }

  function patchAgent(userId, queueId, values) {
    var person = S.people.get(userId);
    if (person) {
      (person.queues || []).forEach(function (q) { if (q.queue_id === queueId) Object.assign(q, values); });
      renderPerson(person);
    }
    if (userId === S.me.user_id) {
      (S.myQueues || []).forEach(function (q) { if (q.queue_id === queueId) Object.assign(q, values); });
      renderQueues();
    }
  }

  // ------------------------------------------------------------------------------------ line status
  var RANK = { unknown: 0, unavailable: 1, free: 2, ringing: 3, in_call: 4 };
  var WORDS = {
    idle: "free", not_inuse: "free", in_use: "in_call", inuse: "in_call", busy: "in_call", on_hold: "in_call",
    onhold: "in_call", ringing: "ringing", ringinuse: "in_call", ringinginuse: "in_call", in_use_ringing: "in_call",
    unavailable: "unavailable", invalid: "unavailable",
  };
  function word(state) { return WORDS[String(state || "").toLowerCase().replace(/ /g, "_")] || "unknown"; }
  function strongest(a, b) { return (RANK[a] || 0) >= (RANK[b] || 0) ? a : b; }

  function lineStates() {
    var out = new Map();
    var fromDevices = new Map();
    S.devices.forEach(function (d) {
      if (d.user_id == null) return;
      fromDevices.set(d.user_id, strongest(fromDevices.get(d.user_id) || "unknown", word(d.state)));
    });
    var fromCalls = new Map();
    S.calls.forEach(function (call) {
      if (call.state === "ended") return;
      (call.parties || []).forEach(function (p) {
        if (p.user_id == null) return;
        fromCalls.set(p.user_id, strongest(fromCalls.get(p.user_id) || "unknown", p.state === "up" ? "in_call" : "ringing"));
      });
    });
    S.people.forEach(function (_p, uid) {
      var base = S.lines.has(uid) ? word(S.lines.get(uid)) : (fromDevices.get(uid) || "unknown");
      out.set(uid, strongest(base, fromCalls.get(uid) || "unknown"));
    });
    return out;
  }

  function renderLines() {
    lineStates().forEach(function (line, uid) {
      var person = S.people.get(uid);
      if (person && person.line !== line) { person.line = line; renderPerson(person); }
    });
  }

  // ------------------------------------------------------------------------------------ keyed lists
  function sync(list, items, key, make, update) {
    var existing = new Map();
    Array.prototype.forEach.call(list.children, function (el) { existing.set(el.dataset.key, el); });
    var prev = null;
    items.forEach(function (item) {
      var k = String(key(item));
      var el = existing.get(k);
      if (el) existing.delete(k); else { el = make(item); el.dataset.key = k; }
      update(el, item);
      var want = prev ? prev.nextSibling : list.firstChild;
      if (want !== el) list.insertBefore(el, want);
      prev = el;
    });
    existing.forEach(function (el) {
      var hadFocus = el.contains(document.activeElement);
      el.remove();
      if (hadFocus) {
        var heading = list.parentNode.querySelector("h2");
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    });
  }

  function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

  function button(label, action, extra) {
    return h("button", Object.assign({ type: "button", className: "button-small", "data-do": action, text: label }, extra || {}));
  }

  // ------------------------------------------------------------------------------------ waiting calls
  function renderWaiting() {
    var items = Array.from(S.waiting.values()).sort(function (a, b) {
      return String(a.joined_at).localeCompare(String(b.joined_at)) || String(a.call_id).localeCompare(String(b.call_id));
    });
    if (chosen.waiting && !S.waiting.has(chosen.waiting)) chosen.waiting = null;
    sync($("waiting"), items, function (w) { return w.call_id; }, function () {
      return h("li", { className: "row row--waiting", tabindex: "-1" }, [
        h("div", { className: "row__main" }, [h("span", { className: "who" }), h("span", { className: "number" })]),
        h("div", { className: "row__meta" }, [
          h("span", { className: "queue-tag" }), h("span", { className: "position" }),
          h("span", { className: "wait number", "aria-label": "" }),
        ]),
        h("div", { className: "row__actions" }, [button(T.answer, "answer", { className: "button-small button--primary" })]),
      ]);
    }, function (el, w) {
      var caller = w.caller || {};
      var named = who(caller);
      el.dataset.callId = w.call_id;
      setText(el.querySelector(".who"), named.name || named.number || T.unknownCaller);
      setText(el.querySelector(".number"), named.name && named.number ? named.number : "");
      setText(el.querySelector(".queue-tag"), queueName(w.queue_id, w.queue));
      setText(el.querySelector(".position"), w.position ? fmt(T.position, { n: w.position }) : "");
      el.querySelector(".wait").dataset.since = w.joined_at || "";
      el.classList.toggle("is-chosen", chosen.waiting === w.call_id);
      el.setAttribute("aria-current", chosen.waiting === w.call_id ? "true" : "false");
      el.querySelector("[data-do=answer]").setAttribute("aria-label", T.answer + ": " + partyLabel(caller) + ", " + queueName(w.queue_id, w.queue));
    });
    setText($("waiting-count"), String(items.length));
    $("waiting-empty").hidden = items.length > 0;
    tick();
  }

  // ------------------------------------------------------------------------------------ my calls
  function myParty(call) {
    return (call.parties || []).find(function (p) { return p.user_id === S.me.user_id; }) || null;
  }

  function otherParty(call) {
    var others = (call.parties || []).filter(function (p) { return p.user_id !== S.me.user_id; });
    var external = others.find(function (p) { return p.kind === "external"; });
    return external || others[0] || call.caller;
  }

  function isHeld(call) { return !!call.held || S.muted.has(call.id); }

  function myCalls() {
    return Array.from(S.calls.values()).filter(function (c) {
      return c.state !== "ended" && (myParty(c) || S.consult.has(c.id));
    }).sort(function (a, b) { return String(a.started_at).localeCompare(String(b.started_at)); });
  }

  function renderCalls() {
    var items = myCalls();
    if (chosen.call && !items.some(function (c) { return c.id === chosen.call; })) chosen.call = null;
    if (!chosen.call && items.length) chosen.call = items[items.length - 1].id;
    sync($("calls"), items, function (c) { return c.id; }, function () {
      var actions = h("div", { className: "row__actions" }, [
        button(T.hold, "hold"), button(T.transfer, "transfer"), button(T.announce, "announce"),
        button(T.external, "external"), button(T.complete, "complete", { className: "button-small button--primary" }),
        button(T.cancelTransfer, "cancelTransfer"), button(T.recordStart, "record"),
        button(T.recordPause, "recordPause", { "data-shortcut": "recordPause" }),
        button(T.hangup, "hangup", { className: "button-small button--danger" }),
      ]);
      return h("li", { className: "row row--call", tabindex: "-1", draggable: "true" }, [
        h("div", { className: "row__main" }, [
          h("span", { className: "who" }), h("span", { className: "badge state" }),
          h("span", { className: "badge badge--urgent rec", text: "● " + T.recording }),
        ]),
        h("div", { className: "row__meta" }, [
          h("span", { className: "queue-tag" }), h("span", { className: "consult" }), h("span", { className: "wait number" }),
        ]),
        actions,
      ]);
    }, function (el, call) {
      var mine = myParty(call);
      var held = !!call.held || S.muted.has(call.id);
      var consulting = S.consult.has(call.id) || call.state === "transferring";
      el.dataset.callId = call.id;
      el.dataset.state = call.state;
      setText(el.querySelector(".who"), partyLabel(otherParty(call)));
      var stateWord = T["state_" + (held && call.state === "up" ? "held" : call.state)] || call.state;
      setText(el.querySelector(".state"), stateWord);
      el.querySelector(".rec").hidden = !call.recording;
      setText(el.querySelector(".rec"), "● " + (call.recording_paused ? T.recordingPaused : T.recording));
      setText(el.querySelector(".queue-tag"), call.queue ? queueName(call.queue.id, call.queue.name) : (call.direction === "internal" ? T.internal : ""));
      setText(el.querySelector(".consult"), S.consult.has(call.id) ? fmt(T.consulting, { target: S.consult.get(call.id) }) : "");
      el.querySelector(".wait").dataset.since = call.answered_at || call.started_at || "";
      var up = call.state === "up" || call.state === "held" || call.state === "transferring";
      var q = function (a) { return el.querySelector("[data-do=" + a + "]"); };
      setText(q("hold"), held ? T.resume : T.hold);
      q("hold").setAttribute("aria-pressed", held ? "true" : "false");
      q("hold").hidden = !up || consulting;
      q("transfer").hidden = !up || consulting;
      q("announce").hidden = !up || consulting;
      q("external").hidden = !up || consulting;
      q("complete").hidden = !consulting;
      q("cancelTransfer").hidden = !consulting;
      q("record").hidden = !up || !S.me.can_record;
      setText(q("record"), call.recording ? T.recordStop : T.recordStart);
      q("recordPause").hidden = !up || !S.me.can_record || !call.recording;
      setText(q("recordPause"), call.recording_paused ? T.recordResume : T.recordPause);
      q("recordPause").setAttribute("aria-pressed", call.recording_paused ? "true" : "false");
      q("hangup").hidden = !mine && !consulting;
      el.classList.toggle("is-chosen", chosen.call === call.id);
      el.setAttribute("aria-current", chosen.call === call.id ? "true" : "false");
    });
    setText($("calls-count"), String(items.length));
    $("calls-empty").hidden = items.length > 0;
    document.body.classList.toggle("has-call", !!chosen.call);
    tick();
  }

  // ------------------------------------------------------------------------------------ colleagues
  function buildPeople() {
    var items = Array.from(S.people.values());
    var list = $("people");
    sync(list, items, function (p) { return p.user_id; }, function (p) {
      return h("li", { className: "row person", tabindex: "-1" }, [
        h("span", { className: "line-dot", "aria-hidden": "true" }),
        h("div", { className: "row__main" }, [
          h("span", { className: "who" }), h("span", { className: "ext number" }), h("span", { className: "dept muted" }),
        ]),
        h("div", { className: "row__meta" }, [
          h("span", { className: "line-label" }),
          h("span", { className: "presence-badge" }, [h("span", { className: "swatch", "aria-hidden": "true" }), h("span", { className: "presence-text" })]),
        ]),
        h("ul", { className: "chips", "aria-label": T.queuesOf }),
        h("div", { className: "row__actions person__actions" }, [button(T.transfer, "transferTo"), button(T.announce, "announceTo")]),
        h("div", { className: "row__actions person__listen" }, [
          button(T.listenIn, "listenMenu", { "aria-haspopup": "dialog", "aria-controls": "listen-dialog", "data-shortcut": "listenIn" }),
        ]),
      ]);
    }, function (el, p) { fillPerson(el, p); });
    var dl = $("people-numbers");
    dl.textContent = "";
    items.forEach(function (p) { if (p.extension) dl.appendChild(h("option", { value: p.extension, text: p.name })); });
    setText($("people-count"), String(items.length));
    filterPeople();
  }

  function renderPerson(p) {
    var el = $("people").querySelector('[data-key="' + p.user_id + '"]');
    if (el) fillPerson(el, p);
  }

  function fillPerson(el, p) {
    el.dataset.uid = p.user_id;
    el.dataset.line = p.line || "unknown";
    el.dataset.search = fold([p.name, p.extension, p.department, p.title].join(" "));
    setText(el.querySelector(".who"), p.name);
    setText(el.querySelector(".ext"), p.extension || "");
    setText(el.querySelector(".dept"), [p.department, p.title].filter(Boolean).join(" · "));
    setText(el.querySelector(".line-label"), T["line_" + (p.line || "unknown")] || p.line);
    var pres = el.querySelector(".presence-badge");
    var swatch = pres.querySelector(".swatch");
    if (p.presence) {
      var parts = [p.presence.status];
      if (p.presence.message) parts.push(p.presence.message);
      var text = parts.join(" – ");
      if (p.presence.until) text += ", " + fmt(T.until, { time: clock(p.presence.until) });
      setText(pres.querySelector(".presence-text"), text);
      swatch.className = "swatch";
      swatch.style.background = p.presence.color || "#d97706";
      pres.dataset.status = p.presence.status;
    } else {
      setText(pres.querySelector(".presence-text"), T.available);
      swatch.className = "swatch swatch--available";
      swatch.style.background = "";
      delete pres.dataset.status;
    }
    var chips = el.querySelector(".chips");
    chips.textContent = "";
    (p.queues || []).forEach(function (q) {
      var state = !q.logged_in ? T.loggedOutQ : q.paused ? (q.reason ? fmt(T.pausedReason, { reason: q.reason }) : T.paused) : T.loggedIn;
      chips.appendChild(h("li", {
        className: "chip" + (q.logged_in ? (q.paused ? " chip--paused" : " chip--in") : " chip--out"),
        text: q.queue, title: state, "aria-label": q.queue + ": " + state,
      }));
    });
    el.setAttribute("aria-label", [p.name, p.extension, T["line_" + (p.line || "unknown")],
      pres.querySelector(".presence-text").textContent].filter(Boolean).join(", "));
    var canTransfer = !!p.extension && p.user_id !== S.me.user_id;
    el.querySelector(".person__actions").hidden = !canTransfer;
    el.querySelector("[data-do=transferTo]").setAttribute("aria-label", fmt(T.transferTo, { name: p.name }));
    el.querySelector("[data-do=announceTo]").setAttribute("aria-label", fmt(T.announceTo, { name: p.name }));
    el.title = canTransfer ? fmt(T.dropHint, { name: p.name }) : "";
    var listenable = S.me.can_listen && p.user_id !== S.me.user_id ? colleagueCall(p) : null;
    el.querySelector(".person__listen").hidden = !listenable;
    el.querySelector("[data-do=listenMenu]").setAttribute("aria-label", fmt(T.listenInOn, { name: p.name }));
    el.classList.toggle("is-chosen", chosen.person === p.user_id);
  }

  function filterPeople() {
    var terms = fold($("search").value).split(/\s+/).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call($("people").children, function (el) {
      var hay = el.dataset.search || "";
      var ok = terms.every(function (t) { return hay.indexOf(t) !== -1; });
      el.hidden = !ok;
      if (ok) shown += 1;
    });
    $("people-empty").hidden = shown > 0;
  }

  // ------------------------------------------------------------------------------------ callbacks to make
  function renderCallbacks() {
    var items = Array.from(S.callbacks.values()).sort(function (a, b) {
      return String(a.requested_at).localeCompare(String(b.requested_at)) || a.id - b.id;
    });
    sync($("callbacks"), items, function (c) { return String(c.id); }, function () {
      return h("li", { className: "row row--callback" }, [
        h("div", { className: "row__main" }, [h("span", { className: "who number" }), h("span", { className: "from muted" })]),
        h("div", { className: "row__meta" }, [h("span", { className: "queue-tag" }), h("span", { className: "when" })]),
        h("div", { className: "row__actions" }, [button(T.calledBack, "calledBack", { className: "button-small button--primary" })]),
      ]);
    }, function (el, c) {
      setText(el.querySelector(".who"), phone(c.number));
      setText(el.querySelector(".from"), c.caller_number && c.caller_number !== c.number ? fmt(T.callbackFrom, { number: phone(c.caller_number) }) : "");
      setText(el.querySelector(".queue-tag"), queueName(c.queue_id, c.queue));
      setText(el.querySelector(".when"), clock(c.requested_at));
      el.querySelector("[data-do=calledBack]").setAttribute("aria-label", T.calledBack + ": " + phone(c.number));
    });
    setText($("callbacks-count"), String(items.length));
    $("callbacks-empty").hidden = items.length > 0;
  }

  // ------------------------------------------------------------------------------------ my queues
  function renderQueues() {
    var items = S.myQueues || [];
    sync($("my-queues"), items, function (q) { return q.agent_id; }, function () {
      return h("li", { className: "row row--queue" }, [
        h("div", { className: "row__main" }, [h("span", { className: "who" }), h("span", { className: "badge qstate" })]),
        h("div", { className: "row__actions" }, [
          button(T.login, "queueToggle"), button(T.pause, "pauseToggle"),
        ]),
      ]);
    }, function (el, q) {
      el.dataset.agentId = q.agent_id;
      el.dataset.state = !q.logged_in ? "out" : q.paused ? "paused" : "in";
      setText(el.querySelector(".who"), q.queue);
      var label = !q.logged_in ? T.loggedOutQ : q.paused ? (q.reason ? fmt(T.pausedReason, { reason: q.reason }) : T.paused) : T.loggedIn;
      setText(el.querySelector(".qstate"), label);
      el.querySelector(".qstate").className = "badge qstate " + (q.logged_in ? (q.paused ? "badge--warn" : "badge--ok") : "");
      var toggle = el.querySelector("[data-do=queueToggle]");
      setText(toggle, q.logged_in ? T.logout : T.login);
      var pause = el.querySelector("[data-do=pauseToggle]");
      setText(pause, q.paused ? T.unpause : T.pause);
      pause.hidden = !q.logged_in;
      toggle.setAttribute("aria-label", (q.logged_in ? T.logout : T.login) + ": " + q.queue);
      pause.setAttribute("aria-label", (q.paused ? T.unpause : T.pause) + ": " + q.queue);
    });
    $("queues-empty").hidden = items.length > 0;
  }

  // ------------------------------------------------------------------------------------ the ticking clocks
  function tick() {
    document.querySelectorAll("#waiting .wait, #calls .wait").forEach(function (el) {
      var text = duration(el.dataset.since);
      setText(el, text);
    });
  }
  window.setInterval(tick, 1000);

  // ------------------------------------------------------------------------------------ actions
  function chosenCall() {
    if (chosen.call && S.calls.has(chosen.call)) return S.calls.get(chosen.call);
    var mine = myCalls();
    return mine.length ? mine[mine.length - 1] : null;
  }

  function personById(uid) { return S.people.get(Number(uid)); }

  var transferFor = null;
  function openTransfer(call, preset, mode) {
    if (!call) { toast(T.pickCallFirst, false); return; }
    transferFor = call.id;
    $("transfer-what").textContent = partyLabel(otherParty(call));
    $("transfer-target").value = preset || "";
    $("transfer-form").dataset.prefer = mode || "blind";
    $("transfer-dialog").showModal();
    $("transfer-target").focus();
  }

  function transfer(call, target, announced, button) {
    if (!call) { toast(T.pickCallFirst, false); return; }
    send("transfer", { call_id: call.id, target: String(target).replace(/[\s-]/g, ""), announced: !!announced }, button);
  }

  // A colleague's connected call that I am not on myself: what listen-in can join.
  function colleagueCall(p) {
    var found = null;
    S.calls.forEach(function (c) {
      if (found || c.state === "ended") return;
      var parties = c.parties || [];
      var theirs = parties.some(function (x) { return x.user_id === p.user_id && x.state === "up"; });
      var mine = parties.some(function (x) { return x.user_id === S.me.user_id; });
      if (theirs && !mine) found = c;
    });
    return found;
  }

  var listenFor = null;
  function openListen(p, call) {
    listenFor = call.id;
    var others = (call.parties || []).filter(function (x) { return x.user_id !== p.user_id; });
    $("listen-what").textContent = fmt(T.listenWith, { name: p.name, other: partyLabel(others[0] || call.caller) });
    $("listen-dialog").showModal();
    $("listen-form").querySelector("button[value=listen]").focus();
  }

  var pauseFor = null;
  function openPause(agentIds, label) {
    pauseFor = agentIds;
    $("pause-what").textContent = label || "";
    $("pause-reason").value = "";
    $("pause-dialog").showModal();
    $("pause-reason").focus();
  }

  var ACTIONS = {
    help: function () { toggleHelp(); },
    search: function () { $("search").focus(); $("search").select(); },
    answer: function () {
      var id = chosen.waiting || (Array.from(S.waiting.values()).sort(function (a, b) {
        return String(a.joined_at).localeCompare(String(b.joined_at));
      })[0] || {}).call_id;
      if (!id) { toast(T.pickWaitingFirst, false); return; }
      var el = $("waiting").querySelector('[data-key="' + CSS.escape(id) + '"] [data-do=answer]');
      send("answer", { call_id: id }, el);
    },
    nextWaiting: function () { move("waiting", 1); },
    prevWaiting: function () { move("waiting", -1); },
    nextCall: function () { move("call", 1); },
    prevCall: function () { move("call", -1); },
    hold: function () { var c = chosenCall(); if (!c) return toast(T.pickCallFirst, false); send("hold", { call_id: c.id, hold: !isHeld(c) }); },
    transfer: function () { transferToChosen(false); },
    announce: function () { transferToChosen(true); },
    complete: function () { var c = chosenCall(); if (!c) return toast(T.pickCallFirst, false); send("complete_transfer", { call_id: c.id }); },
    cancelTransfer: function () { var c = chosenCall(); if (!c) return toast(T.pickCallFirst, false); send("cancel_transfer", { call_id: c.id }); },
    external: function () { openTransfer(chosenCall(), "", "blind"); },
    hangup: function () { var c = chosenCall(); if (!c) return toast(T.pickCallFirst, false); send("hangup", { call_id: c.id }); },
    record: function () {
      var c = chosenCall(); if (!c) return toast(T.pickCallFirst, false);
      send("record", { call_id: c.id, op: c.recording ? "stop" : "start" });
    },
    recordPause: function () {
      var c = chosenCall(); if (!c) return toast(T.pickCallFirst, false);
      if (!c.recording) return toast(T.recordStart, false);
      send("record", { call_id: c.id, op: c.recording_paused ? "resume" : "pause" });
    },
    listenIn: function () {
      var p = chosen.person != null ? personById(chosen.person) : null;
      var call = p ? colleagueCall(p) : null;
      if (!call || !S.me.can_listen) return toast(T.pickColleagueInCall, false);
      openListen(p, call);
    },
    dial: function () { $("dial-number").value = ""; $("dial-dialog").showModal(); $("dial-number").focus(); },
    queueLogin: function () {
      var qs = S.myQueues || [];
      var anyIn = qs.some(function (q) { return q.logged_in; });
      qs.forEach(function (q) { if (q.logged_in === anyIn) send(anyIn ? "queue_logout" : "queue_login", { agent_id: q.agent_id }); });
    },
    queuePause: function () {
      var qs = (S.myQueues || []).filter(function (q) { return q.logged_in; });
      if (!qs.length) return;
      var anyActive = qs.some(function (q) { return !q.paused; });
      if (anyActive) openPause(qs.filter(function (q) { return !q.paused; }).map(function (q) { return q.agent_id; }),
        qs.map(function (q) { return q.queue; }).join(", "));
      else qs.forEach(function (q) { send("queue_resume", { agent_id: q.agent_id }); });
    },
  };

  function transferToChosen(announced) {
    var call = chosenCall();
    if (!call) { toast(T.pickCallFirst, false); return; }
    var p = chosen.person != null ? personById(chosen.person) : null;
    if (p && p.extension && p.user_id !== S.me.user_id) transfer(call, p.extension, announced);
    else openTransfer(call, "", announced ? "announced" : "blind");
  }

  function move(kind, step) {
    var list = kind === "waiting" ? $("waiting") : $("calls");
    var rows = Array.prototype.slice.call(list.children);
    if (!rows.length) return;
    var current = kind === "waiting" ? chosen.waiting : chosen.call;
    var i = rows.findIndex(function (r) { return r.dataset.key === current; });
    i = i === -1 ? (step > 0 ? 0 : rows.length - 1) : (i + step + rows.length) % rows.length;
    var row = rows[i];
    if (kind === "waiting") { chosen.waiting = row.dataset.key; renderWaiting(); }
    else { chosen.call = row.dataset.key; renderCalls(); }
    row.focus();
  }

  // Clicks inside the lists (one listener per list).
  $("waiting").addEventListener("click", function (e) {
    var row = e.target.closest("li.row");
    if (!row) return;
    chosen.waiting = row.dataset.key;
    renderWaiting();
    if (e.target.closest("[data-do=answer]")) send("answer", { call_id: row.dataset.key }, e.target.closest("button"));
  });

  $("calls").addEventListener("click", function (e) {
    var row = e.target.closest("li.row");
    if (!row) return;
    chosen.call = row.dataset.key;
    var call = S.calls.get(row.dataset.key);
    var b = e.target.closest("button[data-do]");
    renderCalls();
    if (!b || !call) return;
    switch (b.dataset.do) {
      case "hold": send("hold", { call_id: call.id, hold: !isHeld(call) }, b); break;
      case "transfer": openTransfer(call, "", "blind"); break;
      case "announce": openTransfer(call, "", "announced"); break;
      case "external": openTransfer(call, "", "blind"); break;
      case "complete": send("complete_transfer", { call_id: call.id }, b); break;
      case "cancelTransfer": send("cancel_transfer", { call_id: call.id }, b); break;
      case "record": send("record", { call_id: call.id, op: call.recording ? "stop" : "start" }, b); break;
      case "recordPause": send("record", { call_id: call.id, op: call.recording_paused ? "resume" : "pause" }, b); break;
      case "hangup": send("hangup", { call_id: call.id }, b); break;
    }
  });

  $("people").addEventListener("click", function (e) {
    var row = e.target.closest("li.row");
    if (!row) return;
    var p = personById(row.dataset.key);
    var prev = chosen.person != null ? personById(chosen.person) : null;
    chosen.person = p ? p.user_id : null;
    if (prev) renderPerson(prev);
    if (p) renderPerson(p);
    var b = e.target.closest("button[data-do]");
    if (!b || !p) return;
    if (b.dataset.do === "listenMenu") {
      var call = colleagueCall(p);
      if (call) openListen(p, call);
      return;
    }
    transfer(chosenCall(), p.extension, b.dataset.do === "announceTo", b);
  });
  $("people").addEventListener("focusin", function (e) {
    var row = e.target.closest("li.row");
    if (!row) return;
    var prev = chosen.person != null ? personById(chosen.person) : null;
    chosen.person = Number(row.dataset.key);
    if (prev) renderPerson(prev);
    renderPerson(personById(row.dataset.key));
  });

  $("callbacks").addEventListener("click", function (e) {
    var b = e.target.closest("button[data-do=calledBack]");
    var row = e.target.closest("li.row");
    if (!b || !row) return;
    send("callback_done", { callback_id: Number(row.dataset.key) }, b);
  });

  $("my-queues").addEventListener("click", function (e) {
    var b = e.target.closest("button[data-do]");
    var row = e.target.closest("li.row");
    if (!b || !row) return;
    var q = (S.myQueues || []).find(function (x) { return String(x.agent_id) === row.dataset.key; });
    if (!q) return;
    if (b.dataset.do === "queueToggle") send(q.logged_in ? "queue_logout" : "queue_login", { agent_id: q.agent_id }, b);
    else if (q.paused) send("queue_resume", { agent_id: q.agent_id }, b);
    else openPause([q.agent_id], q.queue);
  });

  // Search: instant, client-side; arrow keys walk the matches.
  $("search").addEventListener("input", filterPeople);
  $("search").addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "Enter") {
      var first = $("people").querySelector("li.row:not([hidden])");
      if (first) { e.preventDefault(); first.focus(); }
    } else if (e.key === "Escape") { $("search").value = ""; filterPeople(); }
  });
  $("people").addEventListener("keydown", function (e) {
    var row = e.target.closest("li.row");
    if (!row || e.target !== row) return;
    var dir = e.key === "ArrowDown" ? "nextElementSibling" : e.key === "ArrowUp" ? "previousElementSibling" : null;
    if (!dir) return;
    e.preventDefault();
    var next = row[dir];
    while (next && next.hidden) next = next[dir];
    if (next) next.focus(); else if (e.key === "ArrowUp") $("search").focus();
  });
  ["waiting", "calls"].forEach(function (id) {
    $(id).addEventListener("keydown", function (e) {
      if (e.target.closest("li.row") !== e.target) return;
      if (e.key === "ArrowDown") { e.preventDefault(); move(id === "waiting" ? "waiting" : "call", 1); }
      if (e.key === "ArrowUp") { e.preventDefault(); move(id === "waiting" ? "waiting" : "call", -1); }
    });
  });

  // Drag a call onto a colleague: a blind transfer (Shift: announced).
  $("calls").addEventListener("dragstart", function (e) {
    var row = e.target.closest("li.row");
    if (!row) return;
    e.dataTransfer.setData("text/x-vaxel-call", row.dataset.key);
    e.dataTransfer.setData("text/plain", row.querySelector(".who").textContent);
    e.dataTransfer.effectAllowed = "move";
    document.body.classList.add("is-dragging");
  });
  document.addEventListener("dragend", function () {
    document.body.classList.remove("is-dragging");
    document.querySelectorAll(".person.is-drop").forEach(function (el) { el.classList.remove("is-drop"); });
  });
  $("people").addEventListener("dragover", function (e) {
    var row = e.target.closest("li.person");
    if (!row || !Array.prototype.includes.call(e.dataTransfer.types, "text/x-vaxel-call")) return;
    var p = personById(row.dataset.key);
    if (!p || !p.extension || p.user_id === S.me.user_id) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".person.is-drop").forEach(function (el) { if (el !== row) el.classList.remove("is-drop"); });
    row.classList.add("is-drop");
  });
  $("people").addEventListener("drop", function (e) {
    var row = e.target.closest("li.person");
    var callId = e.dataTransfer.getData("text/x-vaxel-call");
    if (!row || !callId) return;
    e.preventDefault();
    row.classList.remove("is-drop");
    var p = personById(row.dataset.key);
    var call = S.calls.get(callId);
    if (p && call) transfer(call, p.extension, e.shiftKey);
  });

  // Dialogs.
  $("transfer-form").addEventListener("submit", function (e) {
    var mode = e.submitter ? e.submitter.value : $("transfer-form").dataset.prefer;
    if (mode === "cancel") return;
    var call = S.calls.get(transferFor);
    transfer(call, $("transfer-target").value.trim(), mode === "announced");
  });
  $("transfer-target").addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      if (!$("transfer-target").checkValidity()) { $("transfer-target").reportValidity(); return; }
      $("transfer-dialog").close();
      transfer(S.calls.get(transferFor), $("transfer-target").value.trim(), $("transfer-form").dataset.prefer === "announced");
    }
  });
  $("dial-form").addEventListener("submit", function (e) {
    if (e.submitter && e.submitter.value === "cancel") return;
    send("call", { number: $("dial-number").value.trim().replace(/[\s-]/g, "") });
  });
  $("listen-form").addEventListener("submit", function (e) {
    var mode = e.submitter ? e.submitter.value : "cancel";
    if (mode === "cancel" || !listenFor) return;
    send("listen", { call_id: listenFor, mode: mode });
  });
  $("pause-form").addEventListener("submit", function (e) {
    if (e.submitter && e.submitter.value === "cancel") return;
    var reason = $("pause-reason").value.trim();
    (pauseFor || []).forEach(function (id) { send("queue_pause", { agent_id: id, reason: reason }); });
  });
  $("dial-button").addEventListener("click", function () { ACTIONS.dial(); });
  $("status-button").addEventListener("click", function () {
    var select = $("status-choice");
    while (select.options.length > 1) select.remove(1);
    S.statuses.forEach(function (st) { select.appendChild(h("option", { value: st.id, text: st.name })); });
    var mine = S.people.get(S.me.user_id);
    var current = mine && mine.presence;
    select.value = current ? String(current.status_id) : "";
    $("status-message").value = current ? current.message || "" : "";
    $("status-until").value = current && current.until ? new Date(current.until).toTimeString().slice(0, 5) : "";
    $("status-dialog").showModal();
    select.focus();
  });
  $("status-choice").addEventListener("change", function () {
    var st = S.statuses.get(Number($("status-choice").value));
    if (st) $("status-message").value = st.default_message || "";
  });
  $("status-form").addEventListener("submit", function (e) {
    if (e.submitter && e.submitter.value === "cancel") return;
    var id = $("status-choice").value;
    var args = { status_id: id ? Number(id) : null, message: $("status-message").value.trim() };
    var time = $("status-until").value;
    if (id && time) {
      var parts = time.split(":");
      var until = new Date(now());
      until.setHours(Number(parts[0]), Number(parts[1]), 0, 0);
      if (until.getTime() <= now()) until.setDate(until.getDate() + 1);
      args.until = until.toISOString();
    }
    send("presence", args);
  });
  $("help-button").addEventListener("click", function () { toggleHelp(); });

  // ------------------------------------------------------------------------------------ shortcuts
  function loadKeys() {
    var keys = {};
    Object.keys(config.shortcuts).forEach(function (a) { keys[a] = config.shortcuts[a].key; });
    try {
      var mine = JSON.parse(window.localStorage.getItem(STORE_KEY) || "{}");
      Object.keys(mine).forEach(function (a) { if (a in keys && typeof mine[a] === "string") keys[a] = mine[a]; });
    } catch (e) { /* private mode, bad JSON: the defaults */ }
    return keys;
  }
  var keys = loadKeys();

  function saveKeys() {
    var overrides = {};
    Object.keys(keys).forEach(function (a) { if (keys[a] !== config.shortcuts[a].key) overrides[a] = keys[a]; });
    try { window.localStorage.setItem(STORE_KEY, JSON.stringify(overrides)); } catch (e) { /* not kept */ }
    showKeys();
  }

  function keyName(e) {
    var k = e.key;
    if (k.length === 1) k = k === " " ? "Space" : k;
    var prefix = (e.ctrlKey ? "Ctrl+" : "") + (e.altKey ? "Alt+" : "") + (e.metaKey ? "Meta+" : "");
    if (k.length > 1 && e.shiftKey && k !== "Shift") prefix += "Shift+";
    return prefix + k;
  }

  function showKeys() {
    document.querySelectorAll("#shortcut-rows tr").forEach(function (tr) {
      tr.querySelector(".shortcut-key").textContent = keys[tr.dataset.action] || "";
    });
    document.querySelectorAll("[data-shortcut]").forEach(function (el) {
      var k = keys[el.dataset.shortcut];
      if (k) el.setAttribute("aria-keyshortcuts", k === "?" ? "Shift+?" : k);
      var kbd = el.querySelector("kbd");
      if (kbd) kbd.textContent = k;
    });
  }
  showKeys();

  var capturing = null;
  $("shortcut-rows").addEventListener("click", function (e) {
    var b = e.target.closest(".shortcut-change");
    if (!b) return;
    capturing = b.closest("tr").dataset.action;
    $("shortcut-message").textContent = T.pressKey;
    b.closest("tr").querySelector(".shortcut-key").textContent = "…";
  });
  $("shortcut-reset").addEventListener("click", function () {
    try { window.localStorage.removeItem(STORE_KEY); } catch (e) { /* nothing kept */ }
    keys = loadKeys();
    showKeys();
    $("shortcut-message").textContent = T.done;
  });

  function toggleHelp() {
    var dlg = $("help");
    if (dlg.open) dlg.close(); else { capturing = null; $("shortcut-message").textContent = ""; dlg.showModal(); }
  }

  document.addEventListener("keydown", function (e) {
    if (capturing) {
      if (["Shift", "Control", "Alt", "Meta"].indexOf(e.key) !== -1) return;
      e.preventDefault(); e.stopPropagation();
      var action = capturing;
      capturing = null;
      if (e.key === "Escape") { showKeys(); $("shortcut-message").textContent = ""; return; }
      var k = keyName(e);
      var taken = Object.keys(keys).find(function (a) { return a !== action && keys[a] === k; });
      if (taken) {
        $("shortcut-message").textContent = fmt(T.keyTaken, { key: k, action: config.shortcuts[taken].label });
        showKeys();
        return;
      }
      keys[action] = k;
      saveKeys();
      $("shortcut-message").textContent = T.done;
      return;
    }
    if (e.defaultPrevented || e.isComposing) return;
    var t = e.target;
    var typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    var dialogOpen = document.querySelector("dialog[open]");
    var k = keyName(e);
    if (dialogOpen) {
      if (dialogOpen.id === "help" && k === keys.help && !typing) { e.preventDefault(); toggleHelp(); }
      return;
    }
    if (typing) return;
    var action = Object.keys(keys).find(function (a) { return keys[a] === k; });
    if (!action) return;
    e.preventDefault();
    ACTIONS[action]();
  });

  // ------------------------------------------------------------------------------------ go
  setConn("connecting", T.connecting);
  connect();
  // A test (or a curious operator) can see what the page believes.
  window.vaxelConsole = { state: S, reconnect: function () { if (ws) ws.close(); } };
})();
