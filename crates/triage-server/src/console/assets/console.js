// The triage agent console. Plain JS, no framework, no build step.
// Every piece of data (customer text, article text, labels, ids) reaches the page
// through textContent or setAttribute, never as markup: the page builds its elements
// with el() and svg() below and never hands a string to the HTML parser.
"use strict";

const S = {
  queue: [], // entries from /console/api/queue
  sel: 0, // selected queue index
  open: null, // open conversation id
  ctx: null, // its context package
  suggestions: [],
  suggSel: 0,
  labels: {}, // intent set -> labels
  clockSkew: 0, // server now - local now, ms
  view: "queue",
  stamp: null,
  limit: 50, // conversations fetched; "Show more" adds 50
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

function showError(msg) {
  const e = $("error");
  if (!msg) {
    e.hidden = true;
    return;
  }
  e.textContent = msg;
  e.hidden = false;
}

async function api(path, body) {
  const init = { headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    json = null;
  }
  if (!r.ok) {
    const why = (json && json.error && (json.error.message || json.error.code)) || r.statusText;
    const err = new Error(r.status + " " + path + ": " + why);
    err.status = r.status;
    throw err;
  }
  return json;
}

function ago(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + (s % 60) + "s";
  return Math.floor(m / 60) + "h " + (m % 60) + "m";
}

const serverNow = () => Date.now() + S.clockSkew;

// ---------------------------------------------------------------- queue

async function loadQueue() {
  const q = await api("/console/api/queue?limit=" + S.limit);
  S.clockSkew = q.now_ms - Date.now();
  // The events stream announces this stamp too: no second fetch for it.
  S.stamp = String(q.stamp);
  const selectedId = S.queue[S.sel] && S.queue[S.sel].conversation_id;
  S.queue = q.conversations;
  const keep = S.queue.findIndex((c) => c.conversation_id === selectedId);
  S.sel = keep >= 0 ? keep : Math.min(S.sel, Math.max(0, S.queue.length - 1));
  renderQueue(q.waiting);
}

function renderQueue(total) {
  const list = $("queue");
  clear(list);
  $("queue-count").textContent = String(total);
  $("queue-empty").hidden = S.queue.length > 0;
  S.queue.forEach((c, i) => {
    const h = c.handoff;
    const tier = c.customer && c.customer.tier;
    const vip = tier && tier.toLowerCase() === "vip";
    const item = el(
      "li",
      {
        class: "item p-" + h.priority + (i === S.sel ? " sel" : "") + (c.conversation_id === S.open ? " open" : ""),
        "data-id": c.conversation_id,
        "data-priority": h.priority,
        onclick: () => {
          S.sel = i;
          openConversation(c.conversation_id);
        },
      },
      el(
        "div",
        { class: "line" },
        vip ? el("span", { class: "badge vip", text: "VIP" }) : null,
        el("span", { class: "badge " + h.priority, text: h.priority }),
        el("span", { class: "badge", text: h.policy_action || h.shadow || h.action }),
        el("span", { class: "id", text: c.conversation_id }),
        el("span", { class: "wait", "data-since": c.waiting_since_ms || c.last_at_ms, text: ago(c.waiting_ms) }),
      ),
      el(
        "div",
        { class: "line small" },
        el("span", { class: "badge", title: "issue type", text: h.issue_type || (c.intent && c.intent.label) || "—" }),
        el("span", { class: "badge", title: "skill group", text: h.skill_group || "—" }),
        el("span", { class: "badge", title: "severity", text: h.severity }),
        el("span", { class: "badge", title: "channel", text: c.channel }),
        el("span", { class: "badge", title: "language", text: c.lang }),
        tier && !vip ? el("span", { class: "badge", title: "tier", text: tier }) : null,
      ),
      el("div", { class: "line" }, h.reasons.map((r) => el("span", { class: "badge reason", title: r.detail, text: r.code }))),
      c.preview ? el("div", { class: "preview", text: c.preview }) : null,
    );
    list.append(item);
  });
  if (total > S.queue.length && S.limit < 1000) {
    const more = el("button", { type: "button", id: "more", text: "Show more (" + (total - S.queue.length) + " not shown)" });
    more.addEventListener("click", () => {
      S.limit = Math.min(1000, S.limit + 50);
      refresh();
    });
    list.append(el("li", { class: "more" }, more));
  }
}

function tickWaits() {
  for (const w of document.querySelectorAll("#queue .wait")) {
    const since = Number(w.getAttribute("data-since"));
    if (since) w.textContent = ago(serverNow() - since);
  }
}

function moveSelection(d) {
  if (!S.queue.length) return;
  S.sel = Math.max(0, Math.min(S.queue.length - 1, S.sel + d));
  const items = $("queue").children;
  for (let i = 0; i < items.length; i++) items[i].classList.toggle("sel", i === S.sel);
  if (items[S.sel]) items[S.sel].scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- conversation

async function openConversation(id, refresh) {
  const before = S.open === id && S.ctx ? S.ctx.turns.length : -1;
  S.open = id;
  let ctx;
  try {
    ctx = await api("/v1/conversations/" + encodeURIComponent(id));
  } catch (e) {
    if (e.status === 404) {
      S.ctx = null;
      $("conv").hidden = true;
      $("conv-empty").hidden = false;
      $("conv-empty").textContent = "Conversation " + id + " expired.";
      return;
    }
    throw e;
  }
  S.ctx = ctx;
  renderConversation(ctx);
  for (const li of $("queue").children) li.classList.toggle("open", li.getAttribute("data-id") === id);
  if (!refresh || ctx.turns.length !== before) await loadSuggestions(id);
  renderFeedback(ctx);
  renderPicker(ctx);
}

function emotionText(em) {
  if (!em) return "emotion: —";
  const labels = em.labels && em.labels.length ? em.labels.join(", ") : em.dominant;
  return "sentiment " + em.sentiment + " (" + em.sentiment_score.toFixed(2) + "), frustration " + em.frustration.toFixed(2) + ", " + labels;
}

function renderConversation(ctx) {
  $("conv-empty").hidden = true;
  $("conv").hidden = false;
  const head = $("conv-head");
  clear(head);
  const cust = ctx.customer || {};
  const h = ctx.handoff;
  head.append(
    el("h3", {}, el("span", { class: "id", text: ctx.conversation_id })),
    el(
      "div",
      { class: "line" },
      el("span", { class: "badge", title: "customer", text: "customer " + (cust.id || "unknown") }),
      cust.tier ? el("span", { class: "badge" + (cust.tier.toLowerCase() === "vip" ? " vip" : ""), title: "tier", text: cust.tier }) : null,
      el("span", { class: "badge " + h.priority, text: h.priority }),
      el("span", { class: "badge", text: "severity " + h.severity }),
      el("span", { class: "badge", text: "to " + (h.skill_group || "—") }),
      el("span", { class: "badge", text: "issue " + (ctx.issue_type || "—") }),
      el("span", { class: "badge", text: "respond within " + ago(h.response_time_secs * 1000) }),
    ),
  );
  const list = $("turns");
  clear(list);
  for (const t of ctx.turns) {
    const d = t.handoff;
    const action = d.shadow || d.action;
    const intent = t.intent ? t.intent.label + " (" + (t.intent.confidence * 100).toFixed(0) + "%" + (t.intent.out_of_scope ? ", out of scope" : "") + ")" : "—";
    list.append(
      el(
        "li",
        { class: "turn " + action, "data-at": t.at_ms },
        el("div", { class: "meta" }, new Date(t.at_ms).toLocaleTimeString() + " · " + t.channel + " · " + t.lang),
        el("div", { class: "text", text: t.text === undefined || t.text === null ? "(text not kept)" : t.text }),
        el("div", { class: "meta intent" }, "intent: " + intent),
        el("div", { class: "meta emotion" }, emotionText(t.emotion)),
        el("div", { class: "meta decision" }, "decision: " + action + (d.shadow ? " (shadow)" : "") + ", " + d.priority + ", " + d.severity + " → " + (d.skill_group || "—")),
        d.reasons.length ? el("ul", { class: "reasons" }, d.reasons.map((r) => el("li", {}, el("b", { text: r.code }), ": " + r.detail))) : null,
      ),
    );
  }
  list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- assist

async function loadSuggestions(id) {
  const list = $("suggestions");
  const note = $("suggest-note");
  let r;
  try {
    r = await api("/v1/suggest", { conversation_id: id, mode: "agent" });
  } catch (e) {
    clear(list);
    S.suggestions = [];
    note.textContent = "No suggestions: " + e.message;
    return;
  }
  if (S.open !== id) return;
  S.suggestions = r.suggestions;
  S.suggSel = 0;
  note.textContent = "From the newest " + r.turns_used + " message(s); knowledge base generation " + r.kb_generation + ".";
  renderSuggestions();
}

function renderSuggestions() {
  const list = $("suggestions");
  clear(list);
  S.suggestions.forEach((s, i) => {
    list.append(
      el(
        "li",
        { class: "sugg" + (i === S.suggSel ? " sel" : ""), "data-id": s.id, "data-type": s.type, onclick: () => selectSuggestion(i) },
        el(
          "div",
          { class: "line" },
          el("kbd", { text: String(i + 1) }),
          s.type === "empathy" ? el("span", { class: "badge empathy", text: "empathy" }) : el("span", { class: "badge", text: s.type }),
          s.stale ? el("span", { class: "badge stale", title: "older than the knowledge base's maximum age: check before sending", text: "stale · " + s.updated }) : null,
          el("span", { class: "title", text: s.title }),
          el("span", { class: "wait", text: s.score.toFixed(2) }),
        ),
        el("div", { class: "answer", text: s.answer }),
        el(
          "div",
          { class: "row" },
          el("button", { type: "button", class: "accept", title: "Accept (a)", text: "Accept", onclick: (ev) => { ev.stopPropagation(); judge(i, true); } }),
          el("button", { type: "button", class: "reject", title: "Reject (x)", text: "Reject", onclick: (ev) => { ev.stopPropagation(); judge(i, false); } }),
          el("button", { type: "button", class: "copy", title: "Copy to reply (c)", text: "Copy to reply", onclick: (ev) => { ev.stopPropagation(); copyToReply(i); } }),
        ),
      ),
    );
  });
}

function selectSuggestion(i) {
  if (i < 0 || i >= S.suggestions.length) return;
  S.suggSel = i;
  const items = $("suggestions").children;
  for (let j = 0; j < items.length; j++) items[j].classList.toggle("sel", j === i);
}

async function judge(i, accepted) {
  const s = S.suggestions[i];
  if (!s || !S.open) return;
  await api("/v1/feedback", { conversation_id: S.open, suggestion_id: s.id, accepted });
  const item = $("suggestions").children[i];
  if (item) {
    for (const b of item.querySelectorAll("button.accept, button.reject")) b.classList.remove("done");
    const b = item.querySelector(accepted ? "button.accept" : "button.reject");
    if (b) b.classList.add("done");
  }
  await refreshFeedback();
}

function copyToReply(i) {
  const s = S.suggestions[i];
  if (!s) return;
  const reply = $("reply");
  reply.value = s.answer;
  reply.focus();
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(s.answer).catch(() => {});
}

async function loadLabels() {
  const info = await api("/info");
  const heads = info.heads || [];
  for (const h of heads) if (h.name.startsWith("intent.")) S.labels[h.name.slice(7)] = h.labels;
}

function renderPicker(ctx) {
  const pick = $("intent-picker");
  clear(pick);
  const last = ctx.turns[ctx.turns.length - 1];
  const set = (last && last.intent && last.intent.set) || Object.keys(S.labels)[0];
  for (const l of S.labels[set] || []) {
    const o = el("option", { value: l, text: l });
    if (last && last.intent && last.intent.label === l) o.selected = true;
    pick.append(o);
  }
}

async function sendCorrection() {
  if (!S.ctx) return;
  const last = S.ctx.turns[S.ctx.turns.length - 1];
  const label = $("intent-picker").value;
  if (!label) return;
  await api("/v1/feedback", { conversation_id: S.ctx.conversation_id, corrected_intent: label, turn_at_ms: last.at_ms });
  await refreshFeedback();
}

async function refreshFeedback() {
  if (!S.open) return;
  const ctx = await api("/v1/conversations/" + encodeURIComponent(S.open));
  S.ctx = ctx;
  renderFeedback(ctx);
}

function renderFeedback(ctx) {
  const list = $("feedback");
  clear(list);
  for (const f of ctx.feedback || []) {
    let what = f.suggestion_id ? (f.accepted ? "accepted " : "rejected ") + f.suggestion_id : "";
    if (f.corrected_intent) what += (what ? "; " : "") + "intent is " + f.corrected_intent;
    list.append(el("li", { text: new Date(f.at_ms).toLocaleTimeString() + " " + what }));
  }
}

// ---------------------------------------------------------------- overview

const COLORS = { bot: "#17803d", clarify: "#d9730d", handoff: "#c0262d" };

function barsH(rows, width) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  const rowH = 18;
  const label = 150;
  const g = svg("svg", { width, height: rows.length * rowH + 4, role: "img" });
  rows.forEach((r, i) => {
    const w = ((width - label - 40) * r.count) / max;
    g.append(
      svg("text", { x: 0, y: i * rowH + 13 }, r.name.length > 24 ? r.name.slice(0, 23) + "…" : r.name),
      svg("rect", { x: label, y: i * rowH + 3, width: Math.max(1, w), height: rowH - 6, fill: "#2557d6" }),
      svg("text", { x: label + w + 4, y: i * rowH + 13 }, r.count),
    );
  });
  return g;
}

function stacked(series, buckets, width, height) {
  const keys = Object.keys(series);
  const totals = Array.from({ length: buckets }, (_, b) => keys.reduce((a, k) => a + series[k][b], 0));
  const max = Math.max(1, ...totals);
  const bw = (width - 30) / buckets;
  const g = svg("svg", { width, height: height + 30, role: "img" });
  for (let b = 0; b < buckets; b++) {
    let y = height;
    for (const k of keys) {
      const h = (series[k][b] * height) / max;
      y -= h;
      if (h > 0) g.append(svg("rect", { x: 30 + b * bw + 1, y, width: bw - 2, height: h, fill: COLORS[k] || "#888" }, svg("title", {}, k + ": " + series[k][b])));
    }
  }
  g.append(svg("text", { x: 0, y: 10 }, max), svg("text", { x: 0, y: height }, 0), svg("text", { x: 30, y: height + 14 }, "-60 min"), svg("text", { x: width - 30, y: height + 14 }, "now"));
  keys.forEach((k, i) => g.append(svg("rect", { x: 30 + i * 80, y: height + 18, width: 10, height: 10, fill: COLORS[k] || "#888" }), svg("text", { x: 44 + i * 80, y: height + 27 }, k)));
  return g;
}

function line(values, width, height) {
  const max = Math.max(1, ...values);
  const step = (width - 10) / Math.max(1, values.length - 1);
  const pts = values.map((v, i) => (5 + i * step).toFixed(1) + "," + (height - (v * (height - 4)) / max).toFixed(1)).join(" ");
  return svg("svg", { width, height, role: "img" }, svg("polyline", { points: pts, fill: "none", stroke: "#c0262d", "stroke-width": 2 }));
}

async function loadOverview() {
  const o = await api("/console/api/overview");
  const buckets = o.window_ms / o.bucket_ms;
  const put = (id, node) => {
    clear($(id));
    $(id).append(node);
  };
  put("plot-series", stacked(o.series, buckets, 520, 140));
  put("containment", el("div", {}, el("span", { class: "big", text: (o.containment * 100).toFixed(0) + "%" }), " of " + o.conversations + " conversations answered by the bot"));
  put("plot-intents", o.intents.length ? barsH(o.intents.slice(0, 10), 480) : el("p", { class: "muted", text: "No intents yet." }));
  put("plot-reasons", o.reasons.length ? barsH(o.reasons.slice(0, 10), 480) : el("p", { class: "muted", text: "No handoff yet." }));
  put(
    "plot-surges",
    o.surges.length
      ? el("ul", {}, o.surges.map((s) => el("li", { class: "line" }, el("b", { text: s.issue_type }), " " + s.count + " conversations ", line(s.series, 240, 40))))
      : el("p", { class: "muted", text: "No surge in the last hour." }),
  );
}

function showView(v) {
  S.view = v;
  $("view-queue").hidden = v !== "queue";
  $("view-overview").hidden = v !== "overview";
  $("tab-queue").classList.toggle("on", v === "queue");
  $("tab-overview").classList.toggle("on", v === "overview");
  if (v === "overview") loadOverview().catch((e) => showError(e.message));
}

// ---------------------------------------------------------------- live updates

let refreshing = false;
let again = false;
async function refresh() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    do {
      again = false;
      await loadQueue();
      if (S.open) await openConversation(S.open, true);
      if (S.view === "overview") await loadOverview();
    } while (again);
    showError(null);
  } catch (e) {
    showError(e.message);
  } finally {
    refreshing = false;
  }
}

function listen() {
  const live = $("live");
  const es = new EventSource("/console/api/events");
  es.addEventListener("queue", (ev) => {
    live.textContent = "live";
    live.classList.remove("off");
    if (S.stamp !== ev.data) {
      S.stamp = ev.data;
      refresh();
    }
  });
  es.onerror = () => {
    live.textContent = "reconnecting";
    live.classList.add("off");
  };
}

// ---------------------------------------------------------------- keyboard

function onKey(ev) {
  const t = ev.target;
  const typing = t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT");
  if (ev.key === "Escape") {
    if (typing) t.blur();
    return;
  }
  if (ev.key === "Enter" && t && t.id === "intent-picker") {
    ev.preventDefault();
    sendCorrection().catch((e) => showError(e.message));
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const act = (p) => p.catch((e) => showError(e.message));
  switch (ev.key) {
    case "j":
    case "ArrowDown":
      moveSelection(1);
      break;
    case "k":
    case "ArrowUp":
      moveSelection(-1);
      break;
    case "Enter":
      if (S.queue[S.sel] && (!t || t.tagName !== "BUTTON")) act(openConversation(S.queue[S.sel].conversation_id));
      else return;
      break;
    case "a":
      act(judge(S.suggSel, true));
      break;
    case "x":
      act(judge(S.suggSel, false));
      break;
    case "c":
      copyToReply(S.suggSel);
      break;
    case "i":
      $("intent-picker").focus();
      break;
    case "q":
      showView("queue");
      break;
    case "o":
      showView("overview");
      break;
    case "?":
      $("help").showModal();
      break;
    default:
      if (/^[1-9]$/.test(ev.key)) selectSuggestion(Number(ev.key) - 1);
      else return;
  }
  ev.preventDefault();
}

function start() {
  document.addEventListener("keydown", onKey);
  $("tab-queue").addEventListener("click", () => showView("queue"));
  $("tab-overview").addEventListener("click", () => showView("overview"));
  $("help-btn").addEventListener("click", () => $("help").showModal());
  $("correct").addEventListener("click", () => sendCorrection().catch((e) => showError(e.message)));
  loadLabels().catch((e) => showError(e.message));
  // "console-ready": the queue is on screen (the browser test reports its time).
  // Events start once the queue is in: their first stamp is then the one just read.
  refresh().then(() => {
    performance.mark("console-ready");
    listen();
  });
  setInterval(tickWaits, 1000);
}

start();
