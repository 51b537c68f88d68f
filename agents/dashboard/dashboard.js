// The Kafka Tasks dashboard: plain JavaScript over the orchestrator's REST API (no build step).
// Routes: #/ (pipelines), #/pipelines/<id> (one pipeline's graph), #/schedules. Views refresh
// every second while shown, so a running pipeline's steps change colour as they finish.
"use strict";

const REFRESH_MS = 1000;
const MAX_BRANCHES = 100; // of one parallel group drawn; the rest are counted
const view = document.getElementById("view");
const detail = document.getElementById("detail");
let timer = null;
let selectedUid = null;
let filters = { status: "", task: "" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  return addAll(node, children);
}

// Append `children` (nested arrays; null, undefined and false skipped) to `node`.
function addAll(node, children) {
  for (const child of [children].flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const fill = (node, ...children) => { node.replaceChildren(); return addAll(node, children); };

const badge = (status) => el("span", { class: `badge s-${status}`, "data-status": status }, status);
const time = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "");
function duration(start, end) {
  if (!start) return "";
  const seconds = (end || Date.now() / 1000) - start;
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`;
}
const show = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  document.getElementById("connection").textContent = response.ok ? "" : `${response.status}: ${body.error || ""}`;
  return { ok: response.ok, status: response.status, body };
}

function every(fn) {
  clearInterval(timer);
  fn();
  timer = setInterval(fn, REFRESH_MS);
}

// -- the list ------------------------------------------------------------------------------

function pipelinesPage() {
  const status = el("select", { id: "filter-status", onchange: (e) => { filters.status = e.target.value; } },
    ["", "RUNNING", "PAUSED", "COMPLETED", "FAILED", "CANCELLED"].map((s) =>
      el("option", s === filters.status ? { value: s, selected: "" } : { value: s }, s || "any status")));
  const task = el("input", { id: "filter-task", placeholder: "task name", value: filters.task,
    onchange: (e) => { filters.task = e.target.value.trim(); } });
  const body = el("tbody", { id: "pipelines" });
  fill(view, el("div", { class: "filters" }, status, task),
    el("table", {}, el("thead", {}, el("tr", {}, ["Pipeline", "Status", "Started", "Duration", "Tasks"].map((h) => el("th", {}, h)))), body));
  every(async () => {
    const query = new URLSearchParams({ limit: "200" });
    if (filters.status) query.set("status", filters.status);
    if (filters.task) query.set("task", filters.task);
    const { ok, body: answer } = await api(`/api/pipelines?${query}`);
    if (!ok) return;
    fill(body, answer.pipelines.map((p) =>
      el("tr", { class: "row", "data-pipeline": p.pipeline_id, onclick: () => { location.hash = `#/pipelines/${p.pipeline_id}`; } },
        el("td", {}, p.pipeline_id), el("td", {}, badge(p.status)), el("td", {}, time(p.started_at)),
        el("td", {}, duration(p.started_at, p.finished_at)), el("td", {}, p.tasks))));
    if (answer.incomplete.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, `not answering: ${answer.incomplete.join(", ")}`)));
  });
}

// -- one pipeline --------------------------------------------------------------------------

function drawChain(steps) {
  const chain = el("div", { class: "chain" });
  steps.forEach((step, i) => {
    if (i > 0) chain.append(el("div", { class: "arrow" }, "↓"));
    chain.append(step.type === "task" ? drawTask(step) : drawGroup(step));
  });
  return chain;
}

function drawGroup(group) {
  const shown = group.branches.map(drawChain); // the API sent the first MAX_BRANCHES
  const hidden = group.hidden_branches;
  return el("div", { class: "parallel", "data-group": group.group_id }, shown,
    hidden > 0 ? el("div", { class: "more" }, `+${hidden} more branches`) : null);
}

function drawTask(task) {
  const timing = task.finished_at ? duration(task.requested_at, task.finished_at) : task.requested_at ? "running…" : "";
  return el("div", { class: `task s-${task.status}${task.uid === selectedUid ? " selected" : ""}`, "data-uid": task.uid,
    "data-status": task.status, title: task.task_name, onclick: () => { selectedUid = task.uid; showTask(task); } },
  el("div", { class: "name" }, task.name.split(".").pop()), el("div", { class: "time" }, task.status, timing ? ` · ${timing}` : ""));
}

function showDetail(shown) {
  detail.hidden = !shown;
  document.body.classList.toggle("with-detail", shown);
}

function showTask(task) {
  showDetail(true);
  fill(detail, 
    el("h3", {}, task.name), badge(task.status), el("p", { class: "muted" }, `uid ${task.uid} · attempt ${task.attempt ?? "-"}`),
    el("p", {}, `requested ${time(task.requested_at)}`, task.finished_at ? ` · finished ${time(task.finished_at)} · ${duration(task.requested_at, task.finished_at)}` : ""),
    el("h4", {}, "Arguments"), el("pre", {}, show(task.args)),
    Object.keys(task.kwargs || {}).length ? [el("h4", {}, "Keyword arguments"), el("pre", {}, show(task.kwargs))] : null,
    "result" in task ? [el("h4", {}, "Result"), el("pre", { id: "task-result" }, show(task.result))] : null,
    task.error ? el("div", { class: "error" }, el("h4", {}, `${task.error.type}: ${task.error.message}`), el("pre", {}, task.error.stacktrace)) : null,
    task.message && !task.error ? el("p", {}, task.message) : null,
    el("button", { onclick: () => { showDetail(false); selectedUid = null; } }, "Close"));
}

function findTask(steps, uid) {
  for (const step of steps) {
    if (step.type === "task" && step.uid === uid) return step;
    if (step.type === "parallel") for (const branch of step.branches) { const found = findTask(branch, uid); if (found) return found; }
  }
  return null;
}

function pipelinePage(id) {
  const header = el("div", {});
  const graph = el("div", { class: "graph", id: "graph" });
  const outcome = el("div", { id: "outcome" });
  const act = (action) => async () => {
    const { body } = await api(`/api/pipelines/${encodeURIComponent(id)}/${action}`, { method: "POST" });
    document.getElementById("action-answer").textContent = body.message || body.error || "";
  };
  // Disabled until the pipeline's status says which apply.
  const buttons = ["cancel", "pause", "unpause"].map((a) => el("button", { id: a, onclick: act(a), disabled: "" }, a[0].toUpperCase() + a.slice(1)));
  fill(view, header, el("div", { class: "toolbar" }, buttons, el("span", { id: "action-answer", class: "muted" })), graph, outcome);
  let finished = false;
  every(async () => {
    if (finished) return;
    const { ok, status, body: p } = await api(`/api/pipelines/${encodeURIComponent(id)}?max_branches=${MAX_BRANCHES}`);
    if (!ok) { fill(header, el("h2", {}, id), el("p", {}, status === 404 ? "unknown pipeline" : "not available")); return; }
    const counts = Object.entries(p.task_counts).map(([s, n]) => `${n} ${s.toLowerCase()}`).join(", ");
    fill(header, el("h2", {}, "Pipeline ", el("code", {}, p.pipeline_id), " ", el("span", { id: "pipeline-status" }, badge(p.status))),
      el("p", { class: "muted" }, `started ${time(p.started_at)} · ${duration(p.started_at, p.finished_at)} · ${counts}`,
        p.parent ? [" · child of ", el("a", { href: `#/pipelines/${p.parent}` }, p.parent)] : null));
    fill(graph, drawChain(p.steps));
    const running = ["PENDING", "RUNNING", "PAUSED", "CANCELLING", "REVERTING"].includes(p.status);
    buttons[0].disabled = !running;
    buttons[1].disabled = p.status !== "RUNNING";
    buttons[2].disabled = p.status !== "PAUSED";
    fill(outcome, 
      "result" in p ? [el("h3", {}, "Result"), el("pre", { id: "pipeline-result" }, show(p.result))] : null,
      p.error ? el("div", { class: "error" }, el("h3", {}, `${p.error.type}: ${p.error.message}`), el("pre", {}, p.error.stacktrace)) : null,
      Object.keys(p.children).length ? [el("h3", {}, "Child pipelines"), el("ul", {}, Object.keys(p.children).map((c) => el("li", {}, el("a", { href: `#/pipelines/${c}` }, c))))] : null);
    if (selectedUid) { const task = findTask(p.steps, selectedUid); if (task) showTask(task); }
    finished = !running;
  });
}

// -- schedules -----------------------------------------------------------------------------

function schedulesPage() {
  const body = el("tbody", { id: "schedules" });
  fill(view, el("table", {}, el("thead", {}, el("tr", {},
    ["Schedule", "CRON", "Status", "Next run", "Last run", "Runs", "Tasks"].map((h) => el("th", {}, h)))), body));
  every(async () => {
    const { ok, body: answer } = await api("/api/schedules");
    if (!ok) return;
    fill(body, answer.schedules.map((s) => el("tr", {},
      el("td", {}, s.name), el("td", {}, el("code", {}, s.cron)), el("td", {}, badge(s.status), s.problem ? ` ${s.problem}` : ""),
      el("td", {}, s.next_slot ? new Date(s.next_slot * 1000).toLocaleString() : ""),
      el("td", {}, s.last_slot ? new Date(s.last_slot * 1000).toLocaleString() : ""), el("td", {}, s.runs), el("td", {}, s.tasks.join(", ")))));
  });
}

function route() {
  showDetail(false);
  selectedUid = null;
  const hash = location.hash || "#/";
  if (hash.startsWith("#/pipelines/")) pipelinePage(decodeURIComponent(hash.slice("#/pipelines/".length)));
  else if (hash === "#/schedules") schedulesPage();
  else pipelinesPage();
}

window.addEventListener("hashchange", route);
route();
