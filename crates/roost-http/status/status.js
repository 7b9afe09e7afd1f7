// Roost's status page: polls this node every two seconds. /status/cluster is public;
// /admin/status needs the operator key, kept in sessionStorage (this tab only) and sent only
// as a Bearer header to this node. The page never asks for payloads, and renders every value
// as text, never as markup.
"use strict";

const REFRESH_MS = 2000;
const TIMEOUT_MS = 15000;
const KEY_SLOT = "roost-operator-key";

/** The previous head seq of each queue, for publish rates: id -> {head, at}. */
const heads = new Map();
/** The queue the "One queue" form asks about, and its key (memory only). */
let oneQueue = null;

function operatorKey() {
  return sessionStorage.getItem(KEY_SLOT) || "";
}

/** Takes a key passed as #key=… (fragments never reach the server) and clears the address bar. */
function keyFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (key) {
    sessionStorage.setItem(KEY_SLOT, key);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

async function getJson(path, bearer) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const headers = bearer ? { Authorization: "Bearer " + bearer } : {};
    const resp = await fetch(path, { headers, signal: ctl.signal, cache: "no-store" });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      throw new Error((body.code || resp.status) + ": " + (body.error || resp.statusText));
    }
    return body;
  } finally {
    clearTimeout(timer);
  }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

/** Replaces a table's rows; each row is a list of [label, text, class] cells plus attributes. */
function fill(tableId, rows) {
  const table = document.getElementById(tableId);
  const labels = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  const body = table.querySelector("tbody");
  body.replaceChildren(
    ...rows.map(({ cells, attrs }) => {
      const tr = document.createElement("tr");
      for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
      cells.forEach(([text, cls], i) => {
        const td = el("td", text, cls);
        td.dataset.label = labels[i] || "";
        tr.append(td);
      });
      return tr;
    }),
  );
}

function fmt(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en");
}

function count(n, one, many) {
  return fmt(n) + " " + (n === 1 ? one : many);
}

function renderCluster(c) {
  const live = new Map(c.nodes.map((n) => [n.id, n.live]));
  fill(
    "nodes",
    c.nodes.map((n) => {
      const leads = c.groups.filter((g) => g.leader === n.id).map((g) => g.group);
      const lags = c.groups.map((g) => g.lag[n.id]).filter((l) => l !== null && l !== undefined);
      const behind = n.live && lags.length ? Math.max(...lags) : null;
      return {
        attrs: { "data-node": n.id, "data-live": n.live },
        cells: [
          [n.id + (n.id === c.node_id ? " (this node)" : "")],
          [n.http_addr, "id"],
          [n.live ? "up" : "down", n.live ? "up" : "down"],
          [leads.length ? leads.join(", ") : "—"],
          [behind === null ? "—" : fmt(behind) + " entries", "num"],
        ],
      };
    }),
  );
  fill(
    "groups",
    c.groups.map((g) => {
      const leaderUp = g.leader !== null && live.get(g.leader) === true;
      const leader =
        g.leader === null ? "none" : g.leader + (leaderUp ? "" : " (down)");
      const lag = Object.entries(g.lag)
        .map(([node, l]) => {
          const unknown = live.get(Number(node)) ? "?" : "down";
          return node + ": " + (l === null ? unknown : fmt(l));
        })
        .join(" · ");
      return {
        attrs: { "data-group": g.group, "data-leader": g.leader === null ? "" : g.leader },
        cells: [
          [g.group === 0 ? "0 (metadata)" : g.group],
          [leader, leaderUp ? "up" : "down"],
          [fmt(g.term), "num"],
          [fmt(g.commit_index), "num"],
          [lag || "—", "num"],
        ],
      };
    }),
  );
  const problems = [];
  for (const n of c.nodes) if (!n.live) problems.push("node " + n.id + " is down");
  for (const g of c.groups) {
    if (g.leader === null || live.get(g.leader) !== true) {
      problems.push("group " + g.group + " has no live leader");
    }
  }
  const alerts = document.getElementById("alerts");
  alerts.textContent = problems.join("; ");
  alerts.hidden = problems.length === 0;
}

function rate(id, head, now) {
  const prev = heads.get(id);
  heads.set(id, { head, at: now });
  if (!prev || now <= prev.at) return "—";
  const perSec = ((head - prev.head) * 1000) / (now - prev.at);
  return perSec.toFixed(perSec < 10 ? 1 : 0) + "/s";
}

function statusTable(tableId, byStatus) {
  const rows = Object.entries(byStatus).map(([status, n]) => ({
    attrs: { "data-status": status },
    cells: [[status], [fmt(n), "num"]],
  }));
  fill(tableId, rows.length ? rows : [{ cells: [["none"], ["0", "num"]] }]);
}

function renderWorkload(w) {
  const now = Date.now();
  const q = w.queues;
  document.getElementById("totals").textContent =
    count(q.count, "queue", "queues") + " · " +
    count(q.message_count, "message", "messages") + " stored · " +
    count(q.dlq_count, "dead letter", "dead letters") + " · " +
    count(w.work_queues, "work queue", "work queues");
  const un = document.getElementById("unavailable");
  un.textContent = w.unavailable_shards.length
    ? "Not counted (no leader answered): " +
      w.unavailable_shards.map((u) => "shard " + u.shard).join(", ")
    : "";
  un.hidden = w.unavailable_shards.length === 0;
  fill(
    "queues",
    q.deepest.map((x) => {
      const slowest = x.consumers.map((c) => c.consumer_id + " " + fmt(c.lag)).join(", ");
      const more = x.consumer_count > x.consumers.length
        ? " (+" + (x.consumer_count - x.consumers.length) + " more)" : "";
      return {
        attrs: { "data-queue": x.id },
        cells: [
          [x.id, "id"],
          [fmt(x.message_count), "num"],
          [fmt(x.dlq_count), x.dlq_count > 0 ? "num warn" : "num"],
          [fmt(x.held_count), "num"],
          [rate(x.id, x.head_seq, now), "num"],
          [(slowest || "none registered") + more],
        ],
      };
    }),
  );
  statusTable("jobs", w.jobs);
  statusTable("tasks", w.tasks);
}

async function loadCluster() {
  try {
    renderCluster(await getJson("/status/cluster"));
    return true;
  } catch (e) {
    const alerts = document.getElementById("alerts");
    alerts.textContent = "This node did not answer: " + e.message;
    alerts.hidden = false;
    return false;
  }
}

async function loadWorkload() {
  const key = operatorKey();
  const locked = document.getElementById("locked");
  const box = document.getElementById("workload");
  if (!key) {
    locked.hidden = false;
    box.hidden = true;
    return;
  }
  try {
    renderWorkload(await getJson("/admin/status", key));
    document.getElementById("key").placeholder = "set for this tab";
    locked.hidden = true;
    box.hidden = false;
  } catch (e) {
    locked.hidden = false;
    locked.textContent = "The operator view failed: " + e.message;
    box.hidden = true;
  }
}

async function loadQueue() {
  if (!oneQueue) return;
  const box = document.getElementById("queue");
  const summary = document.getElementById("queue-summary");
  box.hidden = false;
  try {
    const q = await getJson("/q/" + encodeURIComponent(oneQueue.id), oneQueue.key);
    summary.textContent =
      fmt(q.message_count) + " messages stored · head seq " + fmt(q.head_seq) + " · " +
      fmt(q.dlq_count) + " dead letters · " + fmt(q.held_count) + " held · publish rate " +
      rate("one:" + oneQueue.id, q.head_seq, Date.now());
    fill(
      "queue-consumers",
      q.consumers.map((c) => ({
        cells: [[c.consumer_id], [fmt(c.cursor), "num"], [fmt(c.lag), "num"]],
      })),
    );
  } catch (e) {
    summary.textContent = "Not shown: " + e.message;
    fill("queue-consumers", []);
  }
}

async function tick() {
  const ok = await loadCluster();
  await Promise.all([loadWorkload(), loadQueue()]);
  document.getElementById("updated").textContent =
    (ok ? "Updated " : "Last tried ") + new Date().toLocaleTimeString() +
    " · refreshes every " + REFRESH_MS / 1000 + " s";
  setTimeout(tick, REFRESH_MS);
}

function setup() {
  keyFromFragment();
  document.getElementById("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("key");
    if (input.value.trim()) sessionStorage.setItem(KEY_SLOT, input.value.trim());
    input.value = "";
    document.getElementById("locked").textContent = "Checking the key…";
    loadWorkload();
  });
  document.getElementById("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_SLOT);
    location.reload();
  });
  document.getElementById("queue-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = document.getElementById("queue-id").value.trim();
    const key = document.getElementById("queue-key").value.trim();
    document.getElementById("queue-key").value = "";
    oneQueue = id && key ? { id, key } : null;
    loadQueue();
  });
  tick();
}

setup();
