// fleetd dashboard: plain JavaScript, no framework, no build step, nothing from outside this
// server. Every figure comes from fleetd's own API; the page only formats and draws it.
"use strict";

const PAGES = {
  overview: { title: "Overview", every: 2000, render: renderOverview },
  spend: { title: "Spend", every: 5000, render: renderSpend },
  models: { title: "Models", every: 3000, render: renderModels },
  flags: { title: "Flags", every: 5000, render: renderFlags },
  routing: { title: "Routing", every: 3000, render: renderRouting },
  agents: { title: "Agents", every: 2000, render: renderAgents },
};
const TOKEN_KEY = "fleetd.adminToken";
const state = { page: "overview", timer: null, spendPeriod: "day", flagScope: "global", busy: false, flagNotice: null };

// ---- small helpers -------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
function svg(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  return el;
}
const OPERATOR_KEY = "fleetd.operator";
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
const operator = () => sessionStorage.getItem(OPERATOR_KEY) || "";
const usd = (v) => (v === null || v === undefined ? "—" : "$" + Number(v).toFixed(4));
const ms = (v) => (v === null || v === undefined ? "—" : v < 10 ? v.toFixed(1) : Math.round(v).toString());
const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "—");
const dateTime = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  if (operator() && options.method && options.method !== "GET") headers["X-Fleetd-Operator"] = encodeURIComponent(operator());
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET", headers, cache: "no-store",
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (options.raw) {
    if (!response.ok) throw new APIError(response.status, "HTTP_" + response.status, await response.text());
    return response;
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!response.ok) {
    const err = (json && json.error) || {};
    throw new APIError(response.status, err.code || "HTTP_" + response.status, err.message || text || response.statusText);
  }
  return json;
}

function describe(error) {
  if (error instanceof APIError) {
    const hint = error.status === 401 || error.status === 403 ? " Enter the admin token above." : "";
    return `${error.status} ${error.code}: ${error.message}.${hint}`;
  }
  return String(error && error.message ? error.message : error);
}

function table(caption, columns, rows, attrs) {
  return h("div", Object.assign({ class: "table-wrap" }, attrs || {}),
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
      h("tbody", {}, rows.length === 0
        ? h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "Nothing yet."))
        : rows.map((row) => h("tr", row.attrs || {}, columns.map((c) => h("td", { class: c.num ? "num" : null, "data-col": c.key }, row[c.key])))))));
}

/// Replaces `root`'s children with `children`, arrays flattened and empty slots dropped.
function fill(root, ...children) {
  root.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

/// "Task type" → "task type", "API key" stays.
function lowerFirst(name) { return /^[A-Z]{2}/.test(name) ? name : name.charAt(0).toLowerCase() + name.slice(1); }

function pill(text, kind) { return h("span", { class: "pill " + kind }, text); }

// ---- charts ---------------------------------------------------------------------------------

/// A small line chart of `values` (nulls are gaps) over the window, drawn as SVG.
function chart(label, values, format, unit) {
  const present = values.filter((v) => v !== null && v !== undefined);
  const max = Math.max(1e-9, ...present);
  const width = 300, height = 70, n = values.length;
  const x = (i) => (n <= 1 ? 0 : (i / (n - 1)) * width);
  const y = (v) => height - 2 - (v / max) * (height - 6);
  const el = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true" });
  el.append(svg("line", { class: "axis", x1: 0, y1: height - 1, x2: width, y2: height - 1 }));
  let segment = [];
  const flush = () => {
    if (segment.length === 0) return;
    const points = segment.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const first = x(segment[0][0]).toFixed(1), last = x(segment[segment.length - 1][0]).toFixed(1);
    el.append(svg("polygon", { class: "area", points: `${first},${height - 1} ${points} ${last},${height - 1}` }));
    if (segment.length === 1) {
      // A lone reading: a dot, since a line needs two.
      el.append(svg("circle", { class: "dot", cx: x(segment[0][0]).toFixed(1), cy: y(segment[0][1]).toFixed(1), r: 3 }));
    } else {
      el.append(svg("polyline", { class: "line", points }));
    }
    segment = [];
  };
  values.forEach((v, i) => { if (v === null || v === undefined) flush(); else segment.push([i, v]); });
  flush();
  const latest = [...values].reverse().find((v) => v !== null && v !== undefined);
  const summary = `${label}: latest ${latest === undefined ? "none" : format(latest) + " " + unit}, peak ${present.length ? format(max) + " " + unit : "none"} over the window`;
  return { el, latest, max: present.length ? max : null, summary };
}

// ---- pages ----------------------------------------------------------------------------------

async function renderOverview(root) {
  const live = await api("/v1/stats/live");
  const b = live.buckets;
  const minutes = Math.round(live.windowSeconds / 60);
  // Headline figures: rates over the last minute (the newest bucket is still filling), the
  // latest reading for latencies, the current value for gauges.
  const minute = b.slice(-Math.max(1, Math.round(60 / live.bucketSeconds)));
  const minuteSeconds = minute.length * live.bucketSeconds;
  const sum = (key) => minute.reduce((total, x) => total + x[key], 0);
  const latest = (values) => [...values].reverse().find((v) => v !== null && v !== undefined);
  const series = [
    { key: "tasksPerSecond", label: "Tasks per second", unit: "/s", note: "last minute", fmt: (v) => v.toFixed(2),
      values: b.map((x) => x.tasksPerSecond), headline: sum("tasks") / minuteSeconds },
    { key: "errors", label: "Errors", unit: "", note: "last minute", fmt: (v) => String(Math.round(v)), values: b.map((x) => x.errors), headline: sum("errors") },
    { key: "latencyP50Ms", label: "Latency p50", unit: "ms", note: "latest bucket", fmt: ms, values: b.map((x) => x.latencyP50Ms) },
    { key: "latencyP99Ms", label: "Latency p99", unit: "ms", note: "latest bucket", fmt: ms, values: b.map((x) => x.latencyP99Ms) },
    { key: "firstChunkP50Ms", label: "Time to first chunk p50", unit: "ms", note: "latest bucket", fmt: ms, values: b.map((x) => x.firstChunkP50Ms) },
    { key: "activeStreams", label: "Active streams", unit: "", note: "now", fmt: (v) => String(Math.round(v)), values: b.map((x) => x.activeStreams), headline: live.activeStreams },
    { key: "queueDepth", label: "Queue depth", unit: "waiting", note: "now", fmt: (v) => String(Math.round(v)), values: b.map((x) => x.queueDepth), headline: live.queueDepth },
  ];
  series.forEach((s) => { if (s.headline === undefined) s.headline = latest(s.values); });
  const totals = h("div", { class: "grid" },
    h("section", { class: "card", "aria-labelledby": "t-tasks" }, h("h2", { id: "t-tasks" }, "Tasks since start"),
      h("div", { class: "big", "data-figure": "totalTasks" }, String(live.totalTasks))),
    h("section", { class: "card", "aria-labelledby": "t-errors" }, h("h2", { id: "t-errors" }, "Failed since start"),
      h("div", { class: "big", "data-figure": "totalErrors" }, String(live.totalErrors))),
    h("section", { class: "card", "aria-labelledby": "t-streams" }, h("h2", { id: "t-streams" }, "Streams open now"),
      h("div", { class: "big", "data-figure": "activeStreams" }, String(live.activeStreams))),
    h("section", { class: "card", "aria-labelledby": "t-queue" }, h("h2", { id: "t-queue" }, "Tasks waiting now"),
      h("div", { class: "big", "data-figure": "queueDepth" }, String(live.queueDepth))));
  const charts = h("div", { class: "grid" }, series.map((s) => {
    const c = chart(s.label, s.values, s.fmt, s.unit);
    return h("figure", { class: "card", role: "img", "aria-label": c.summary, "data-chart": s.key },
      h("figcaption", {}, s.label),
      h("div", { class: "big", "data-figure": "headline" }, s.headline === undefined ? "—" : s.fmt(s.headline), " ",
        h("span", { class: "unit" }, [s.unit, s.note].filter(Boolean).join(", "))),
      c.el,
      h("div", { class: "axis-labels", "aria-hidden": "true" }, h("span", {}, `−${minutes} min`), h("span", {}, c.max === null ? "" : "max " + s.fmt(c.max)), h("span", {}, "now")));
  }));
  fill(root, totals,
    h("h2", {}, `Last ${minutes} minutes, in ${live.bucketSeconds}-second buckets`), charts);
}

async function renderSpend(root) {
  const period = state.spendPeriod;
  const [costs, byKey, byTenant] = await Promise.all([
    api(`/v1/costs?period=${period}`),
    api(`/v1/costs?period=${period}&by=key`).catch(() => null),
    api(`/v1/costs?period=${period}&by=tenant`).catch(() => null),
  ]);
  const select = h("select", { id: "spend-period", onchange: (e) => { state.spendPeriod = e.target.value; refresh(); } },
    ["day", "week", "month"].map((p) => h("option", { value: p, selected: p === period }, { day: "Today", week: "This week", month: "This month" }[p])));
  const download = h("button", { type: "button", id: "spend-csv", onclick: () => downloadCSV(period) }, "Download CSV");
  const budgets = (costs.budget && costs.budget.periods) || [];
  const use = Object.fromEntries((costs.budgetUse || []).map((u) => [u.period, u]));
  const budgetCards = h("div", { class: "grid" }, budgets.map((b) => {
    const used = use[b.period] ? use[b.period].usedFraction : null;
    const kind = used === null || used === undefined ? "" : used >= 1 ? "bad" : used >= 0.8 ? "warn" : "";
    return h("section", { class: "card", "data-budget": b.period, "aria-labelledby": "budget-" + b.period },
      h("h2", { id: "budget-" + b.period }, { day: "Today", week: "This week", month: "This month" }[b.period] || b.period),
      h("div", { class: "big", "data-figure": "spent-" + b.period }, usd(b.spent)),
      b.limit === null || b.limit === undefined
        ? h("div", { class: "muted" }, "no budget")
        : [h("div", { class: "meter " + kind, role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(Math.min(used || 0, 1) * 100), "aria-label": `${b.period} budget used` },
            h("span", { style: null, "data-width": Math.min(100, (used || 0) * 100).toFixed(1) })),
           h("div", { class: "muted" }, `${pct(used)} of ${usd(b.limit)}`, b.reserved ? ` (incl. ${usd(b.reserved)} reserved)` : "")]);
  }));
  const lineColumns = (name) => [
    { key: "name", label: name }, { key: "cost", label: "Cost", num: true }, { key: "entries", label: "Calls", num: true },
    { key: "input", label: "Input tokens", num: true }, { key: "output", label: "Output tokens", num: true }];
  const lineRows = (lines) => (lines || []).map((l) => ({ name: l.name, cost: usd(l.cost), entries: l.entries, input: l.inputTokens, output: l.outputTokens,
    attrs: { "data-line": l.name } }));
  const report = costs.report;
  const sections = [
    ["Model", report.byModel, "by-model"], ["Provider", report.byProvider, "by-provider"], ["Task type", report.byTaskType, "by-task-type"],
    ["Agent type", costs.byAgentType, "by-agent-type"], ["Agent", report.byAgent, "by-agent"],
    ["API key", byKey && byKey.report.byKey, "by-key"], ["Tenant", byTenant && byTenant.report.byTenant, "by-tenant"],
  ];
  const alerts = costs.alerts || [];
  fill(root, 
    h("div", { class: "row" }, h("label", { for: "spend-period" }, "Period"), select, download,
      h("span", { class: "muted" }, `${report.periodKey} (${report.timeZone}) · total `, h("strong", { "data-figure": "total" }, usd(report.total.cost)),
        ` in ${report.total.entries} calls`)),
    budgets.length ? h("h2", {}, "Against the budget") : h("p", { class: "muted" }, "Cost tracking has no budget configured."),
    budgetCards,
    sections.map(([name, lines, id]) => lines ? [h("h2", { id }, "By " + lowerFirst(name)), table(`Spend by ${lowerFirst(name)}, ${report.periodKey}`, lineColumns(name), lineRows(lines), { "data-table": id })] : null),
    h("h2", {}, "Alerts raised"),
    table("Budget alerts (COST_002)", [
      { key: "at", label: "Raised" }, { key: "period", label: "Period" }, { key: "threshold", label: "Threshold", num: true },
      { key: "spent", label: "Spent", num: true }, { key: "limit", label: "Limit", num: true }],
      alerts.map((a) => ({ at: dateTime(a.raisedAt), period: `${a.period} ${a.periodKey}`, threshold: a.thresholdPercent + "%", spent: usd(a.spent), limit: usd(a.limit) })),
      { "data-table": "alerts" }));
  // Widths are set through the CSSOM (allowed by the content security policy, unlike style attributes).
  root.querySelectorAll(".meter > span").forEach((bar) => { bar.style.width = bar.dataset.width + "%"; });
}

async function downloadCSV(period) {
  try {
    const response = await api(`/v1/costs?period=${period}&format=csv`, { raw: true });
    const blob = await response.blob();
    const link = h("a", { href: URL.createObjectURL(blob), download: `fleetd-costs-${period}.csv` });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  } catch (error) { showError(error); }
}

function breakerPill(breaker) {
  if (!breaker) return pill("closed", "ok");
  const kind = breaker.state === "closed" ? "ok" : breaker.state === "open" ? "bad" : "warn";
  return pill(breaker.state === "halfOpen" ? "half-open" : breaker.state, kind);
}

async function renderModels(root) {
  const { models } = await api("/v1/models?format=fleetd");
  const rows = models.map(({ status, quota, trafficShare }) => {
    const breaker = status.breaker, provider = status.providerBreaker;
    const reopens = [["model", breaker], ["provider", provider]].filter(([, b]) => b && b.state !== "closed" && b.openUntil);
    // The model's own last error first; the provider's (shared by its models) marked as such.
    const ownError = (status.stats && status.stats.lastError) || (breaker && breaker.lastError);
    const lastError = ownError || (provider && provider.lastError ? "provider: " + provider.lastError : null);
    // A model without its API key is not one an operator switched off: it says which variable to set.
    const health = status.missingAPIKey ? pill(`no key (${status.missingAPIKey})`, "warn")
      : !status.enabled ? pill("disabled", "off")
      : [breaker, provider].some((b) => b && !b.acceptingCalls) ? pill("refusing calls", "bad") : pill("healthy", "ok");
    health.dataset.figure = "health";
    if (status.disabledReason) health.title = status.disabledReason;
    return {
      attrs: { "data-model": status.name },
      name: h("span", { class: "mono" }, status.name),
      provider: status.provider, health,
      breaker: h("span", { class: "breakers", "data-figure": "breaker", "data-state": breaker ? breaker.state : "closed" },
        h("span", {}, h("span", { class: "muted" }, "model "), breakerPill(breaker)),
        h("span", {}, h("span", { class: "muted" }, "provider "), breakerPill(provider))),
      reopens: reopens.length ? h("span", { class: "breakers" }, reopens.map(([scope, b]) =>
        h("span", {}, h("span", { class: "muted" }, scope + " "), h("time", { datetime: b.openUntil, "data-figure": "reopens" }, time(b.openUntil))))) : "—",
      quota: h("span", { "data-figure": "quota" }, quota.allowed ? pct(quota.usedFraction) : `${pct(quota.usedFraction)} (over)`),
      share: h("span", { "data-figure": "share" }, pct(trafficShare)),
      calls: status.stats ? `${status.stats.successes} ok / ${status.stats.failures} failed` : "0",
      latency: status.stats ? ms(status.stats.meanLatencyMs) : "—",
      lastError: lastError ? h("span", { class: "mono" }, lastError) : "—",
    };
  });
  fill(root, table("Every model with its health, breakers, quota and share of routed calls", [
    { key: "name", label: "Model" }, { key: "provider", label: "Provider" }, { key: "health", label: "Health" },
    { key: "breaker", label: "Breaker" }, { key: "reopens", label: "Reopens at" }, { key: "quota", label: "Provider quota used", num: true },
    { key: "share", label: "Share of routed calls", num: true }, { key: "calls", label: "Calls" }, { key: "latency", label: "Mean latency ms", num: true },
    { key: "lastError", label: "Last error" }], rows, { "data-table": "models" }));
}

const STICKINESS = ["default", "userId", "sessionId", "tenantId", "random"];

function describeSetting(setting) {
  if (!setting) return "not set";
  if (!setting.enabled) return "off";
  if (!setting.rollout) return "on for everyone";
  return `on for ${setting.rollout.percentage}% (sticky by ${setting.rollout.stickiness})`;
}

async function renderFlags(root) {
  // A change is on its way, or a slider is being dragged: the next poll redraws.
  if (state.busy || document.querySelector("#page input[type=range]:active")) return;
  const [flags, agents, history] = await Promise.all([
    api("/v1/flags"),
    api("/v1/agents").catch(() => ({ agents: [] })),
    api("/v1/flags/history?limit=50").catch((error) => ({ error })),
  ]);
  const names = Object.keys(flags.flags).sort();
  const agentTypes = [...new Set([...agents.agents.map((a) => a.type), ...Object.keys(flags.agentTypeOverrides)])].sort();
  const environments = [...new Set([...Object.keys(flags.environmentOverrides), flags.context.environment].filter(Boolean))].sort();
  const scopes = [["global", "Global"], ...environments.map((e) => ["environment:" + e, "Environment " + e]), ...agentTypes.map((t) => ["agentType:" + t, "Agent type " + t])];
  if (!scopes.some(([v]) => v === state.flagScope)) state.flagScope = "global";
  const settingAt = (name, scope) => {
    if (scope === "global") return flags.global[name];
    const [kind, value] = scope.split(":");
    const table = kind === "environment" ? flags.environmentOverrides : flags.agentTypeOverrides;
    return (table[value] || {})[name];
  };
  const scopeSelect = h("select", { id: "flag-scope", onchange: (e) => { state.flagScope = e.target.value; refresh(); } },
    scopes.map(([value, label]) => h("option", { value, selected: value === state.flagScope }, label)));
  // The verdicts as a task at the chosen scope gets them (that agent type, or that environment).
  const [scopeKind, scopeValue] = state.flagScope.split(":");
  const scoped = scopeKind === "global" ? flags
    : await api(`/v1/flags?${scopeKind === "environment" ? "environment" : "agentType"}=${encodeURIComponent(scopeValue)}`).catch(() => flags);
  const cards = names.map((name) => {
    const verdict = (scoped.flags || flags.flags)[name] || flags.flags[name];
    // With no override at this scope, the controls start from what the scope inherits (the global
    // setting): changing only the stickiness must not turn the flag off there.
    const own = settingAt(name, state.flagScope);
    const current = own || flags.global[name] || { enabled: false };
    const percentage = current.rollout ? current.rollout.percentage : current.enabled ? 100 : 0;
    const stickiness = current.rollout ? current.rollout.stickiness : "default";
    const id = "flag-" + name;
    const share = h("output", { class: "share", id: id + "-share", for: id + "-rollout", "data-figure": "share" }, `${percentage} of 100 buckets`);
    const enabled = h("input", { type: "checkbox", id: id + "-enabled", checked: current.enabled });
    const slider = h("input", { type: "range", id: id + "-rollout", min: 0, max: 100, step: 1, value: percentage,
      "aria-describedby": id + "-share", oninput: (e) => { share.textContent = `${e.target.value} of 100 buckets`; } });
    // A custom stickiness from the file (orgId, …) is offered as it is, not shown as "default".
    const stickinessChoices = STICKINESS.includes(stickiness) ? STICKINESS : [...STICKINESS, stickiness];
    const sticky = h("select", { id: id + "-stickiness" }, stickinessChoices.map((s) => h("option", { value: s, selected: s === stickiness }, s)));
    // The last change's outcome stays on its flag across the page's redraws.
    const notice = state.flagNotice && state.flagNotice.flag === name ? state.flagNotice : null;
    const result = h("div", { id: id + "-result", "aria-live": "polite" },
      notice ? h("p", { class: "notice " + (notice.ok ? "ok" : "bad"), "data-result": notice.ok ? "ok" : "refused" }, notice.text) : null);
    const apply = () => changeFlag(name, { enabled: enabled.checked, percentage: Number(slider.value), stickiness: sticky.value }, result);
    enabled.addEventListener("change", () => {
      // Turned on from 0 buckets: on for everyone (a 0% rollout would leave it off).
      if (enabled.checked && Number(slider.value) === 0) {
        slider.value = 100;
        share.textContent = "100 of 100 buckets";
      }
      apply();
    });
    slider.addEventListener("change", apply);
    sticky.addEventListener("change", apply);
    const overrideLines = [
      ...Object.entries(flags.environmentOverrides).filter(([, o]) => o[name]).map(([env, o]) => `environment ${env}: ${describeSetting(o[name])}`),
      ...Object.entries(flags.agentTypeOverrides).filter(([, o]) => o[name]).map(([type, o]) => `agent type ${type}: ${describeSetting(o[name])}`),
    ];
    return h("section", { class: "flag", "data-flag": name, "aria-labelledby": id + "-title" },
      h("h2", { id: id + "-title" }, name),
      h("div", { class: "row" },
        h("span", {}, "Verdict here: ", h("span", { "data-figure": "verdict" }, verdict.enabled ? pill("on", "ok") : pill("off", "off")), " ", h("span", { class: "muted" }, `(${verdict.rule})`)),
        h("span", {}, "Global: ", h("strong", { "data-figure": "global" }, describeSetting(flags.global[name]))),
        state.flagScope !== "global" && !own ? h("span", { class: "muted", "data-figure": "inherited" }, "no override at this scope: the controls show the global setting") : null),
      overrideLines.length ? h("ul", { class: "overrides" }, overrideLines.map((l) => h("li", {}, l))) : h("p", { class: "muted overrides" }, "No environment or agent-type overrides."),
      h("div", { class: "row" },
        h("span", {}, enabled, " ", h("label", { for: id + "-enabled" }, "Enabled")),
        h("label", { for: id + "-rollout" }, "Rollout"), slider, share,
        h("label", { for: id + "-stickiness" }, "Sticky by"), sticky),
      result);
  });
  const runtime = flags.runtimeChanges || [];
  const historyView = history.error
    ? h("p", { class: "notice bad" }, "History: " + describe(history.error))
    : table("What changed when and by whom (since fleetd started)", [
      { key: "at", label: "When" }, { key: "flag", label: "Flag" }, { key: "scope", label: "Scope" },
      { key: "before", label: "Before" }, { key: "after", label: "After" }, { key: "by", label: "By" }],
      history.changes.map((c) => ({ at: dateTime(c.at), flag: h("span", { class: "mono" }, c.flag), scope: c.scope,
        before: describeSetting(c.before), after: describeSetting(c.after), by: c.by + (c.from ? " from " + c.from : "") })), { "data-table": "flag-history" });
  fill(root, 
    h("div", { class: "row" }, h("label", { for: "flag-scope" }, "Change at scope"), scopeSelect,
      h("span", { class: "muted" }, `Verdicts for environment ${flags.context.environment || "(none)"}; config generation ${flags.configGeneration}; ${runtime.length} runtime change(s) over the file.`)),
    h("p", { class: "muted" }, "Changes need the admin token. A rollout gives the flag to that many of 100 sticky buckets."),
    cards, h("h2", {}, "Change history"), historyView);
}

async function changeFlag(name, change, result) {
  const body = { enabled: change.enabled, rollout: { percentage: change.percentage, stickiness: change.stickiness } };
  const [kind, value] = state.flagScope.split(":");
  if (kind === "environment") body.environment = value;
  if (kind === "agentType") body.agentType = value;
  state.busy = true;
  try {
    const flags = await api("/v1/flags/" + encodeURIComponent(name), { method: "PUT", body });
    const table = kind === "environment" ? (flags.environmentOverrides[value] || {}) : kind === "agentType" ? (flags.agentTypeOverrides[value] || {}) : flags.global;
    const saved = table[name];
    const share = saved && saved.enabled ? (saved.rollout ? saved.rollout.percentage : 100) : 0;
    state.flagNotice = { flag: name, ok: true,
      text: `Saved: ${name} at ${state.flagScope} is ${describeSetting(saved)}; ${share} of 100 buckets now get it. Generation ${flags.configGeneration}.` };
  } catch (error) {
    state.flagNotice = { flag: name, ok: false, text: "Not changed: " + describe(error) };
  } finally {
    state.busy = false;
  }
  refresh();
}

async function renderRouting(root) {
  let explainBox = root.querySelector("#explain");
  if (!explainBox) explainBox = buildExplain();
  const recent = await api("/v1/routing/recent?limit=50");
  const f = (x) => Number(x).toFixed(2);
  const rows = recent.selections.map((s) => ({
    attrs: { "data-task": s.taskId },
    at: time(s.at), task: h("span", { class: "mono" }, s.taskId),
    model: h("span", {}, h("span", { class: "mono" }, s.selected), s.answeredBy !== s.selected ? h("span", { class: "muted" }, ` → ${s.answeredBy}`) : null),
    type: s.taskType, complexity: f(s.complexity),
    factors: h("span", { class: "factors" }, `tokens ${f(s.factors.tokenCount)} · code ${f(s.factors.codeComplexity)} · context ${f(s.factors.contextSize)} · reasoning ${f(s.factors.requiresReasoning)} · creativity ${f(s.factors.requiresCreativity)}`),
    reason: s.reason, cost: usd(s.cost),
  }));
  const recentTable = table("Recent selections, newest first", [
    { key: "at", label: "When" }, { key: "task", label: "Task" }, { key: "model", label: "Model" }, { key: "type", label: "Type" },
    { key: "complexity", label: "Complexity", num: true }, { key: "factors", label: "Factors" }, { key: "reason", label: "Reason" },
    { key: "cost", label: "Cost", num: true }], rows, { "data-table": "selections", id: "recent" });
  const old = root.querySelector("#recent");
  if (old && root.contains(explainBox)) old.replaceWith(recentTable);
  else fill(root, explainBox, h("h2", {}, "Recent selections"), recentTable);
}

function buildExplain() {
  const output = h("div", { id: "explain-result", "aria-live": "polite" });
  const text = h("textarea", { id: "explain-text", name: "prompt", required: true, placeholder: "Paste a task to see which model fleetd would pick" });
  const type = h("select", { id: "explain-type" }, ["", "code", "reasoning", "math", "text", "creative", "analysis", "documentation", "debugging", "testing", "translation", "summarization", "chat"]
    .map((t) => h("option", { value: t }, t || "(infer)")));
  const form = h("form", { class: "card explain", id: "explain", "aria-labelledby": "explain-title", onsubmit: async (e) => {
    e.preventDefault();
    const body = { prompt: text.value };
    if (type.value) body.type = type.value;
    try {
      const s = await api("/v1/route", { method: "POST", body });
      const fx = s.complexity.factors;
      output.replaceChildren(h("div", { class: "notice ok", "data-result": "explained" },
        h("p", {}, "Would pick ", h("strong", { class: "mono", "data-figure": "model" }, s.modelName), ` (complexity ${s.complexity.overall.toFixed(3)}, ${s.complexity.taskType}, est. ${usd(s.estimatedCost)})`),
        h("p", {}, s.reason),
        h("p", { class: "factors" }, Object.entries(fx).map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join(" · ")),
        s.fallbackModels.length ? h("p", {}, "Fallbacks: ", s.fallbackModels.join(" → ")) : null));
    } catch (error) {
      output.replaceChildren(h("p", { class: "notice bad" }, describe(error)));
    }
  } },
  h("h2", { id: "explain-title" }, "Explain a routing decision"),
  h("label", { for: "explain-text" }, "Task text"), text,
  h("div", { class: "row" }, h("label", { for: "explain-type" }, "Task type"), type, h("button", { type: "submit", id: "explain-submit" }, "Explain")),
  output);
  return form;
}

async function renderAgents(root) {
  const { agents } = await api("/v1/agents");
  const rows = agents.map((a) => ({
    attrs: { "data-agent": a.id },
    id: h("span", { class: "mono" }, a.id), type: a.type,
    state: a.currentTask ? pill("busy", "warn") : pill("idle", "ok"),
    task: a.currentTask ? h("span", { class: "mono" }, a.currentTask) : "—",
    since: a.busySince ? time(a.busySince) : "—",
    completed: h("span", { "data-figure": "completed" }, String(a.completed)),
    failed: h("span", { "data-figure": "failed" }, String(a.failed)),
    heartbeat: time(a.lastHeartbeat),
  }));
  const busy = agents.filter((a) => a.currentTask).length;
  fill(root, 
    h("p", {}, h("strong", { "data-figure": "agents" }, String(agents.length)), " agents, ", h("strong", { "data-figure": "busy" }, String(busy)), " busy"),
    table("Every agent, its state and current task", [
      { key: "id", label: "Agent" }, { key: "type", label: "Type" }, { key: "state", label: "State" }, { key: "task", label: "Current task" },
      { key: "since", label: "Busy since" }, { key: "completed", label: "Completed", num: true }, { key: "failed", label: "Failed", num: true },
      { key: "heartbeat", label: "Last heartbeat" }], rows, { "data-table": "agents" }));
}

// ---- shell ----------------------------------------------------------------------------------

function showError(error) {
  const banner = document.getElementById("error");
  if (!error) { banner.hidden = true; banner.textContent = ""; return; }
  banner.hidden = false;
  banner.textContent = describe(error);
}

async function refresh() {
  clearTimeout(state.timer);
  const page = PAGES[state.page];
  const root = document.getElementById("page");
  // Redraws replace the page's elements; keep keyboard focus on the control of the same id.
  const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : null;
  try {
    await page.render(root);
    if (focused && document.activeElement === document.body) {
      const again = document.getElementById(focused);
      if (again) again.focus();
    }
    showError(null);
    document.getElementById("status").textContent = "Updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = state.page;
  } catch (error) {
    showError(error);
    document.getElementById("status").textContent = "Not updated";
    document.body.dataset.loaded = state.page + ":error";
  }
  // A hidden tab stops polling; showing it again refreshes at once (see the visibilitychange handler).
  if (!document.hidden) state.timer = setTimeout(refresh, page.every);
}

function go(name, push) {
  state.page = PAGES[name] ? name : "overview";
  document.getElementById("title").textContent = PAGES[state.page].title;
  document.title = PAGES[state.page].title + " · fleetd";
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.dataset.page === state.page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  if (push) history.pushState({ page: state.page }, "", "/ui/" + state.page);
  document.getElementById("page").replaceChildren();
  delete document.body.dataset.loaded;
  refresh();
}

function showTokenState() {
  document.getElementById("token-state").textContent = token() ? "token set for this tab" : "no token";
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("#nav a").forEach((a) => a.addEventListener("click", (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    go(a.dataset.page, true);
    document.getElementById("main").focus();
  }));
  window.addEventListener("popstate", () => go(location.pathname.split("/")[2], false));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("token");
    if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    const name = document.getElementById("operator").value.trim();
    if (name) sessionStorage.setItem(OPERATOR_KEY, name); else sessionStorage.removeItem(OPERATOR_KEY);
    state.flagNotice = null;
    showTokenState();
    refresh();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(OPERATOR_KEY);
    state.flagNotice = null;
    document.getElementById("operator").value = "";
    showTokenState();
    refresh();
  });
  document.getElementById("operator").value = operator();
  showTokenState();
  go(location.pathname.startsWith("/ui/") ? location.pathname.split("/")[2] : "overview", false);
});
