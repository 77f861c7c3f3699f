// NanoAID console: live updates over server-sent events and keyboard shortcuts.
// Every page works without this file; it never builds HTML from strings (text goes in textContent).
"use strict";
(function () {
  const MAX_TILES = 48;
  const body = document.body;

  function setText(root, selector, text) {
    const el = root.querySelector(selector);
    if (el) el.textContent = text;
  }
  function fixed(x) { return (x === null || x === undefined) ? "–" : Number(x).toFixed(2); }

  function tile(ev) {
    const tpl = document.getElementById("tile-template");
    const node = tpl.content.firstElementChild.cloneNode(true);
    node.classList.add("tone-" + ev.tone, "fresh");
    node.dataset.frame = ev.frame_id || "";
    node.dataset.seq = ev.seq;
    const processed = ev.kind === "frame.processed" && ev.frame_id;
    const link = node.querySelector("a.thumb"), none = node.querySelector(".thumb.none");
    if (processed) {
      link.href = "/frames/" + encodeURIComponent(ev.frame_id);
      const img = link.querySelector("img");
      img.src = "/frames/" + encodeURIComponent(ev.frame_id) + "/image/thumbnail";
      img.alt = ev.name;
      none.remove();
      node.querySelector(".reason").remove();
    } else {
      link.remove();
      none.querySelector("span").textContent = ev.tone;
      node.querySelector(".nums").remove();
      setText(node, ".reason", ev.reason || "no reason recorded");
      node.querySelector(".reason").title = ev.reason || "";
    }
    setText(node, ".name", ev.name);
    node.querySelector(".name").title = ev.name;
    setText(node, ".lbl", processed ? (ev.label || "–") : ev.tone);
    setText(node, ".decision", ev.decision || "–");
    setText(node, ".score", fixed(ev.score));
    setText(node, ".coh", fixed(ev.coherency));
    return node;
  }

  function onCorrected(ev) {
    document.querySelectorAll('.tile[data-frame="' + CSS.escape(ev.frame_id || "") + '"]').forEach(function (t) {
      t.className = "tile tone-accepted fresh";
      setText(t, ".lbl", ev.label || "–");
      setText(t, ".decision", "accepted");
    });
  }

  function onEvent(ev) {
    document.querySelectorAll("[data-review-count]").forEach(function (el) {
      el.textContent = ev.review_waiting;
      el.classList.toggle("zero", ev.review_waiting === 0);
    });
    const last = document.querySelector("[data-last-seq]");
    if (last) last.textContent = ev.seq;
    const wall = document.querySelector("[data-wall]");
    if (!wall) return;
    if (ev.kind === "label.corrected") { onCorrected(ev); return; }
    if (!ev.kind.startsWith("frame.")) return;
    const empty = wall.querySelector("[data-empty]");
    if (empty) empty.remove();
    wall.prepend(tile(ev));
    while (wall.children.length > MAX_TILES) wall.lastElementChild.remove();
  }

  function connect() {
    if (!window.EventSource) return;
    const since = body.dataset.since || "";
    const url = "/events" + (since ? "?since=" + encodeURIComponent(since) : "");
    const source = new EventSource(url);
    const dot = document.querySelector("[data-conn]");
    source.onopen = function () { if (dot) dot.classList.add("on"); };
    source.onerror = function () { if (dot) dot.classList.remove("on"); };
    source.addEventListener("frame", function (msg) { onEvent(JSON.parse(msg.data)); });
  }

  function shortcuts() {
    const form = document.querySelector("[data-choices]");
    if (!form) return;
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || /INPUT|TEXTAREA|SELECT/.test(e.target.tagName)) return;
      const button = form.querySelector('button[data-key="' + CSS.escape(e.key) + '"]');
      if (button) { e.preventDefault(); button.click(); }
    });
  }

  connect();
  shortcuts();
})();
