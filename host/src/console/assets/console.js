// pier console: plain JavaScript, no framework, no build step. It reads pier's own
// JSON under /console/api and its live feed; every text from outside goes into the
// page as text (textContent), never as markup.

const API = "/console/api";
const LIVE_MAX = 500;
const PAGES = ["mounts", "catalogue", "live", "metrics"];

const $ = (sel, root = document) => root.querySelector(sel);

/** An element `tag` with `attrs` and `children` (strings become text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function status(text) {
  $("#status").textContent = text;
}

// ---- access -------------------------------------------------------------------

function token() {
  return sessionStorage.getItem("pier-console-token");
}

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

let asking = null;

/** Shows the token form; resolves once a token was given. */
function askForToken(message) {
  $("#login").hidden = false;
  $("#main").hidden = true;
  $("#login-error").textContent = message || "";
  $("#token").focus();
  if (!asking) {
    asking = new Promise((resolve) => {
      $("#login").addEventListener("submit", (event) => {
        event.preventDefault();
        sessionStorage.setItem("pier-console-token", $("#token").value);
        $("#login").hidden = true;
        $("#main").hidden = false;
        asking = null;
        resolve();
      }, { once: true });
    });
  }
  return asking;
}

/** The error an answer of pier's carries, in its words. */
async function reason(response) {
  try {
    const body = await response.clone().json();
    if (body && body.error) return typeof body.error === "string" ? body.error : (body.error_description || JSON.stringify(body.error));
  } catch (_) { /* not JSON */ }
  return `${response.status} ${response.statusText}`;
}

/** `fetch` of the console's API, asking for a token when pier wants one. */
async function api(path, options = {}) {
  for (;;) {
    const response = await fetch(API + path, { ...options, headers: headers(options.headers) });
    if (response.status === 401 || response.status === 403) {
      const why = await reason(response);
      if (response.status === 403 && !token()) throw new Error(why);
      await askForToken(token() ? `Not accepted: ${why}` : "");
      continue;
    }
    return response;
  }
}

async function json(path) {
  const response = await api(path);
  if (!response.ok) throw new Error(await reason(response));
  return response.json();
}

// ---- pages ----------------------------------------------------------------------

let current = null;

function show(page, focus) {
  if (!PAGES.includes(page)) page = "mounts";
  current = page;
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.dataset.page !== page;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${page[0].toUpperCase()}${page.slice(1)} · pier console`;
  if (focus) $(`#h-${page}`).focus();
  refresh(page);
  if (page === "live") unseen = 0, badge();
}

function refresh(page) {
  const work = { mounts: loadMounts, catalogue: loadCatalogue, metrics: loadSeries, live: async () => {} }[page];
  work().catch((e) => status(`Could not load ${page}: ${e.message}`));
}

// ---- mounts ---------------------------------------------------------------------

const STATE_WORDS = {
  serving: ["✓ serving", "state-ok"],
  refused: ["✗ refused", "state-bad"],
  disabled: ["– disabled", "state-warn"],
};

function bytes(n) {
  if (n === undefined || n === null) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
}

function list(items) {
  return items && items.length ? items.join(", ") : "none";
}

async function loadMounts() {
  const data = await json("/mounts");
  const body = $("#mounts-table tbody");
  const details = $("#mounts-details");
  // What the reader opened stays open across refreshes.
  const open = new Set([...details.querySelectorAll("details[open]")].map((d) => d.id));
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted.startsWith("mount-")) open.add(wanted);
  body.replaceChildren();
  details.replaceChildren();
  for (const m of data.mounts) {
    const [word, cls] = STATE_WORDS[m.state] || [m.state, ""];
    const calls = data.calls[m.namespace] || { calls: 0, errors: 0 };
    const version = m.digest ? m.digest.slice(0, 19) : (m.version ? m.version.slice(0, 12) : "–");
    const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
    const serves = `${count(m.tools, "tool")}, ${count(m.resources + m.templates, "resource")}, ${count(m.prompts, "prompt")}`;
    body.append(el("tr", { "data-mount": m.namespace },
      el("th", { scope: "row" }, el("a", { href: `#mount-${m.namespace}` }, m.namespace)),
      el("td", { class: `${cls} nowrap`, text: word }),
      el("td", {}, el("span", { class: "mono", text: m.source }), ` (${m.kind}, ${m.origin})`),
      el("td", { class: "mono", text: version }),
      el("td", { text: m.instances || "–" }),
      el("td", { text: serves }),
      el("td", { class: "num", text: String(calls.calls) }),
      el("td", { class: "num", text: String(calls.errors) }),
      el("td", { class: "num", text: bytes(m.resident_bytes) }),
    ));
    const grants = m.grants || {};
    const http = grants.http || {};
    const limits = m.limits ? Object.entries(m.limits).map(([k, v]) => `${k} ${v}`).join(", ") : undefined;
    const verification = m.verification
      ? `${m.verification.state}${m.verification.signer ? ` by ${m.verification.signer}` : ""}${m.verification.reason ? `: ${m.verification.reason}` : ""}`
      : undefined;
    details.append(el("details", { id: `mount-${m.namespace}`, open: open.has(`mount-${m.namespace}`) },
      el("summary", {}, el("strong", { text: m.namespace }), " ", el("span", { class: "desc", text: `${word} · ${m.source}` })),
      facts([
        ["Name", m.name],
        ["State", word],
        ["Error", m.error],
        ["Version", m.version],
        ["Digest", m.digest],
        ["Signature", verification],
        ["Instances", m.instances],
        ["HTTP requested", m.grants ? list(http.requested) : undefined],
        ["HTTP effective", m.grants ? list(http.effective) : undefined],
        ["HTTP lowered", m.grants && http.lowered && http.lowered.length ? list(http.lowered) : undefined],
        ["Private networks", m.grants ? (http.private_networks ? "yes" : "no") : undefined],
        ["Files", m.grants ? list((grants.files || []).map((f) => `${f.guest} (${f.mode})`)) : undefined],
        ["Config keys", m.grants ? list((grants.config || []).map((c) => c.secret ? `${c.key} (secret)` : c.key)) : undefined],
        ["Limits", limits],
        ["Compiled, resident", m.resident_bytes !== undefined ? bytes(m.resident_bytes) : undefined],
        ["Calls", `${calls.calls} (${calls.errors} failed)`],
      ]),
    ));
  }
  if (!data.mounts.length) {
    body.append(el("tr", {}, el("td", { colspan: "9", text: "No mounts yet: drop a plugin (.wasm) into the plugin directory, or add a [[mount]]." })));
  }
  const refused = $("#refused");
  refused.replaceChildren();
  for (const r of data.refused) {
    const what = r.mount ? `mount ${r.mount} (${r.file})` : r.file;
    refused.append(el("li", {},
      el("span", { class: "state-bad", text: "✗ refused " }), el("span", { class: "mono", text: what }), `: ${r.reason}`,
      r.serving ? ` (version ${r.serving.slice(0, 12)} keeps serving)` : "",
    ));
  }
  if (!data.refused.length) refused.append(el("li", { text: "Nothing refused." }));
  status(`${data.mounts.length} mounts · updated ${new Date().toLocaleTimeString()}`);
}

// ---- catalogue --------------------------------------------------------------------

/** One form field for property `name` of a tool's input schema. */
function field(tool, name, schema, required) {
  const id = `f-${tool}-${name}`;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  const hint = [type || "JSON", required ? "required" : "optional", schema.description].filter(Boolean).join(" · ");
  let input;
  if (Array.isArray(schema.enum)) {
    input = el("select", { id, name, required },
      required ? null : el("option", { value: "" }, "(none)"),
      schema.enum.map((v) => el("option", { value: JSON.stringify(v) }, String(v))));
    input.dataset.kind = "enum";
  } else if (type === "boolean") {
    input = el("input", { id, name, type: "checkbox" });
    input.dataset.kind = "boolean";
  } else if (type === "number" || type === "integer") {
    input = el("input", { id, name, type: "number", step: type === "integer" ? "1" : "any", required });
    input.dataset.kind = "number";
  } else if (type === "string") {
    input = el("input", { id, name, type: "text", required });
    input.dataset.kind = "string";
  } else {
    input = el("textarea", { id, name, required, placeholder: "JSON" });
    input.dataset.kind = "json";
  }
  if (schema.default !== undefined && input.dataset.kind !== "boolean") {
    input.value = typeof schema.default === "string" ? schema.default : JSON.stringify(schema.default);
  } else if (schema.default === true) input.checked = true;
  return el("div", { class: "field" },
    el("label", { for: id }, name, required ? " (required)" : ""),
    input,
    el("small", { id: `${id}-hint`, text: hint }));
}

/** The arguments the form holds, or throws naming the field that is not valid. */
function argumentsOf(form) {
  const args = {};
  for (const input of form.querySelectorAll("[data-kind]")) {
    const kind = input.dataset.kind;
    if (kind === "boolean") { args[input.name] = input.checked; continue; }
    if (input.value === "") continue;
    if (kind === "number") args[input.name] = Number(input.value);
    else if (kind === "string") args[input.name] = input.value;
    else {
      try { args[input.name] = JSON.parse(input.value); } catch (e) {
        input.focus();
        throw new Error(`${input.name} is not valid JSON: ${e.message}`);
      }
    }
  }
  return args;
}

function renderContent(item) {
  switch (item.type) {
    case "text": return el("pre", { class: "text", text: item.text });
    case "image": return el("img", { alt: `image (${item.mimeType})`, src: `data:${item.mimeType};base64,${item.data}` });
    case "resource": return el("pre", { text: `${item.resource.uri}\n${item.resource.text ?? "(binary)"}` });
    case "resource_link": return el("p", { class: "mono", text: `link: ${item.uri}` });
    default: return el("pre", { text: JSON.stringify(item, null, 2) });
  }
}

/** Shows one JSON-RPC message of a call's answer in `out`. */
function onCallMessage(out, message) {
  if (message.method === "notifications/progress") {
    const p = message.params;
    out.progress.textContent = `Progress: ${p.progress}${p.total ? ` of ${p.total}` : ""}${p.message ? ` — ${p.message}` : ""}`;
    return;
  }
  if (message.method === "notifications/message") {
    const p = message.params;
    const data = typeof p.data === "string" ? p.data : JSON.stringify(p.data);
    out.logs.append(el("li", {}, el("strong", { text: `${p.level}` }), p.logger ? ` [${p.logger}] ` : " ", data));
    out.logsBlock.hidden = false;
    return;
  }
  if (message.error) {
    out.result.append(el("p", { class: "error outcome", text: `✗ Error ${message.error.code}: ${message.error.message}` }));
    return;
  }
  const result = message.result;
  if (!result) return;
  if (result.resultType && result.resultType !== "complete") {
    out.result.append(el("p", { class: "outcome", text: `The answer is ${result.resultType}: the console does not answer a tool's questions.` }),
      el("pre", { text: JSON.stringify(result, null, 2) }));
    return;
  }
  out.result.append(el("p", { class: result.isError ? "error outcome" : "state-ok outcome",
    text: result.isError ? "✗ The tool answered with an error" : "✓ Result" }));
  for (const item of result.content || []) out.result.append(renderContent(item));
  if (result.structuredContent !== undefined) {
    out.result.append(el("h4", { text: "Structured content" }),
      el("pre", { class: "structured", text: JSON.stringify(result.structuredContent, null, 2) }));
  }
}

/** Reads an SSE body chunk by chunk, calling `each` with every event's data. */
async function readSse(body, each) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) each(data);
    }
  }
}

async function callTool(tool, form, out) {
  out.result.replaceChildren(el("p", { text: "Calling…" }));
  out.logs.replaceChildren();
  out.logsBlock.hidden = true;
  out.progress.textContent = "";
  let args;
  try { args = argumentsOf(form); } catch (e) {
    out.result.replaceChildren(el("p", { class: "error", text: e.message }));
    return;
  }
  const started = performance.now();
  const response = await api("/call", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: tool, arguments: args }),
  });
  out.result.replaceChildren();
  const type = response.headers.get("content-type") || "";
  if (type.startsWith("text/event-stream")) {
    await readSse(response.body, (data) => {
      try { onCallMessage(out, JSON.parse(data)); } catch (_) { /* not a message */ }
    });
  } else if (type.startsWith("application/json")) {
    const body = await response.json();
    if (body.jsonrpc) onCallMessage(out, body);
    else out.result.append(el("p", { class: "error outcome", text: `✗ ${body.error || response.statusText}` }));
  } else {
    out.result.append(el("p", { class: "error outcome", text: `✗ ${response.status}: ${await response.text()}` }));
  }
  out.timing.textContent = `${Math.round(performance.now() - started)} ms`;
}

function toolBlock(tool) {
  const schema = tool.inputSchema || {};
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const form = el("form", { class: "call", "aria-label": `Call ${tool.name}` },
    Object.entries(props).map(([name, s]) => field(tool.name, name, s || {}, required.has(name))),
    el("div", {}, el("button", { type: "submit" }, `Call ${tool.name}`)));
  const out = {
    result: el("div", { class: "result", "aria-live": "polite" }),
    progress: el("p", { class: "progress", "aria-live": "polite" }),
    logs: el("ol", { class: "logs" }),
    timing: el("p", { class: "hint timing" }),
  };
  out.logsBlock = el("div", { hidden: true }, el("h4", { text: "Log messages" }), out.logs);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    callTool(tool.name, form, out).catch((e) => out.result.replaceChildren(el("p", { class: "error", text: e.message })));
  });
  const annotations = tool.annotations ? Object.entries(tool.annotations).map(([k, v]) => `${k}: ${v}`).join(", ") : "";
  return el("details", { class: "tool", "data-tool": tool.name, "data-mount": tool.mount },
    el("summary", {}, el("strong", { class: "mono", text: tool.name }), " ",
      el("span", { class: "desc", text: `(${tool.mount}) ${tool.title || tool.description || ""}` })),
    tool.description ? el("p", { text: tool.description }) : null,
    annotations ? el("p", { class: "hint", text: annotations }) : null,
    form, out.progress, out.logsBlock, out.result, out.timing,
    el("details", {}, el("summary", { text: "Input schema" }), el("pre", { text: JSON.stringify(schema, null, 2) })),
    tool.outputSchema ? el("details", {}, el("summary", { text: "Output schema" }), el("pre", { text: JSON.stringify(tool.outputSchema, null, 2) })) : null,
  );
}

let catalogueLoaded = false;

/** Each tool's block, by name, with the tool it was made for: a tool that did not
 * change keeps its block (what was typed, the last result) when the catalogue is
 * read again. */
const toolBlocks = new Map();

async function loadCatalogue() {
  const data = await json("/catalogue");
  const blocks = data.tools.map((t) => {
    const made = JSON.stringify(t);
    const kept = toolBlocks.get(t.name);
    if (kept && kept.made === made) return kept.block;
    const block = toolBlock(t);
    if (kept) block.open = kept.block.open;
    toolBlocks.set(t.name, { made, block });
    return block;
  });
  const names = new Set(data.tools.map((t) => t.name));
  for (const name of [...toolBlocks.keys()]) if (!names.has(name)) toolBlocks.delete(name);
  $("#tools").replaceChildren(...blocks);
  if (!data.tools.length) $("#tools").append(el("p", { text: "No tools." }));
  const rows = (sel, items, cells) => {
    const body = $(`${sel} tbody`);
    body.replaceChildren(...items.map((i) => el("tr", {}, cells(i).map((c, n) => el(n ? "td" : "th", n ? {} : { scope: "row" }, c)))));
    if (!items.length) body.append(el("tr", {}, el("td", { colspan: "4", text: "None." })));
  };
  rows("#resources", data.resources, (r) => [el("span", { class: "mono", text: r.uri }), r.name, r.mimeType || "–", r.mount]);
  rows("#templates", data.templates, (t) => [el("span", { class: "mono", text: t.uriTemplate }), t.name, t.mount]);
  rows("#prompts", data.prompts, (p) => [el("span", { class: "mono", text: p.name }), (p.arguments || []).map((a) => a.name + (a.required ? "*" : "")).join(", ") || "–", p.mount]);
  filter();
  catalogueLoaded = true;
  status(`${data.tools.length} tools · ${data.resources.length + data.templates.length} resources · ${data.prompts.length} prompts`);
}

function filter() {
  const q = $("#filter").value.trim().toLowerCase();
  for (const block of document.querySelectorAll("#tools details.tool")) {
    block.hidden = q !== "" && !`${block.dataset.tool} ${block.dataset.mount}`.toLowerCase().includes(q);
  }
}

// ---- live -------------------------------------------------------------------------

let unseen = 0;

function badge() {
  $("#live-count").textContent = unseen ? String(unseen) : "";
}

const ms = (v) => (v < 10 ? v.toFixed(2) : Math.round(v)) + " ms";

/** What a live row shows of `event`: kind, what, outcome, detail. */
function describe(e) {
  switch (e.kind) {
    case "call":
      return ["call", `${e.method} ${e.target} (${e.mount})`, e.outcome,
        [ms(e.ms), e.instance ? `${e.instance} instance` : null, e.subject ? `by ${e.subject}` : null, e.error].filter(Boolean).join(" · ")];
    case "change":
      return ["change", e.plugin, e.change,
        [e.version ? `version ${e.version}` : null, e.previous ? `was ${e.previous}` : null,
          e.lists && e.lists.length ? `lists changed: ${e.lists.join(", ")}` : null, e.reason].filter(Boolean).join(" · ")];
    case "lists":
      return ["lists", `${e.mount}: ${e.component} switched ${e.enabled ? "on" : "off"}`, "changed",
        e.lists.length ? `lists changed: ${e.lists.join(", ")}` : ""];
    case "egress":
      return ["egress", `${e.plugin}: ${e.method} ${e.url}`, e.outcome, e.detail || ""];
    case "refusal":
      return ["refusal", e.reason, "refused", e.detail || ""];
    case "dropped":
      return ["dropped", `${e.count} events`, "missed", "this view fell behind"];
    default:
      return [e.kind, "", "", JSON.stringify(e)];
  }
}

const GOOD = new Set(["ok", "mounted", "swapped", "changed"]);

function liveRow(e) {
  const [kind, what, outcome, detail] = describe(e);
  const cls = GOOD.has(outcome) ? "state-ok" : (outcome === "unmounted" || outcome === "missed" ? "state-warn" : "state-bad");
  const mark = cls === "state-ok" ? "✓ " : cls === "state-warn" ? "– " : "✗ ";
  const time = new Date(e.at || Date.now()).toLocaleTimeString();
  return el("tr", { "data-kind": kind, "data-outcome": outcome },
    el("td", { class: "mono", text: time }), el("td", { text: kind }),
    el("td", { class: "mono", text: what }), el("td", { class: cls, text: mark + outcome }),
    el("td", { text: detail }));
}

function onEvent(e) {
  if (!$("#live-pause").checked) {
    const body = $("#live tbody");
    body.prepend(liveRow(e));
    while (body.children.length > LIVE_MAX) body.lastElementChild.remove();
    if (current !== "live") unseen += 1, badge();
  }
  if (e.kind === "change" || e.kind === "lists") {
    if (current === "mounts") refresh("mounts");
    if (current === "catalogue" || catalogueLoaded) loadCatalogue().catch(() => {});
  }
}

async function listen() {
  for (;;) {
    try {
      const response = await api("/events");
      if (!response.ok) throw new Error(await reason(response));
      $("#live-state").textContent = "● connected";
      await readSse(response.body, (data) => {
        try { onEvent(JSON.parse(data)); } catch (_) { /* not an event */ }
      });
      $("#live-state").textContent = "○ disconnected; reconnecting…";
    } catch (e) {
      $("#live-state").textContent = `○ disconnected (${e.message}); reconnecting…`;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ---- metrics ------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

/** A sparkline of `values` (nulls are gaps) over `slots` points, the newest at the
 * right, with its caption. */
function spark(label, values, unit, slots) {
  const known = values.filter((v) => v !== null && v !== undefined);
  const max = Math.max(...known, 0) || 1;
  const last = values.length ? values[values.length - 1] : null;
  const peak = known.length ? Math.max(...known) : null;
  const fmt = (v) => (v === null || v === undefined ? "–" : `${v < 10 ? v.toFixed(2) : Math.round(v)} ${unit}`);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${slots} 100`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${label}: now ${fmt(last)}, peak ${fmt(peak)}`);
  const base = document.createElementNS(SVG, "line");
  base.setAttribute("x1", "0"); base.setAttribute("x2", String(slots)); base.setAttribute("y1", "100"); base.setAttribute("y2", "100");
  svg.append(base);
  const offset = slots - values.length;
  let points = [];
  const flush = () => {
    // A lone point is drawn as a short dash.
    if (points.length === 1) {
      const [x, y] = points[0];
      points = [[x - 0.5, y], [x + 0.5, y]];
    }
    if (points.length) {
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points.map(([x, y]) => `${x},${y}`).join(" "));
      svg.append(line);
    }
    points = [];
  };
  values.forEach((v, i) => {
    if (v === null || v === undefined) return flush();
    points.push([offset + i + 0.5, Number((100 - (v / max) * 95).toFixed(2))]);
  });
  flush();
  return el("figure", {}, svg, el("figcaption", {}, `${label}: `, el("strong", { text: `now ${fmt(last)}` }), ` (peak ${fmt(peak)})`));
}

async function loadSeries() {
  const data = await json("/series");
  const charts = $("#charts");
  const names = new Set();
  for (const p of data.points) Object.keys(p.mounts).forEach((n) => names.add(n));
  charts.replaceChildren();
  if (!names.size) {
    charts.append(el("p", { text: data.points.length ? "No calls yet." : `The first points come ${data.every_seconds} seconds after pier starts.` }));
  }
  // The axis spans two minutes at first, then grows to all the points kept.
  const slots = Math.min(Math.max(data.points.length, 24), data.points_kept);
  for (const name of [...names].sort()) {
    const rps = data.points.map((p) => (p.mounts[name] ? p.mounts[name].rps : 0));
    const p99 = data.points.map((p) => (p.mounts[name] ? p.mounts[name].p99_ms : null));
    const errors = data.points.map((p) => (p.mounts[name] ? p.mounts[name].errors : 0));
    const failing = errors.length && errors[errors.length - 1] > 0 ? ` · ✗ ${errors[errors.length - 1].toFixed(2)} errors/s` : "";
    charts.append(el("section", { class: "chart", "data-mount": name, "aria-label": `Mount ${name}` },
      el("h3", {}, name, el("span", { class: "hint", text: failing })),
      spark(`${name} requests per second`, rps, "req/s", slots),
      spark(`${name} p99 latency`, p99, "ms", slots)));
  }
  status(`metrics · ${data.points.length} points`);
}

// ---- start --------------------------------------------------------------------------

/** Opens page or mount `hash` names (`#live`, `#mount-calc`). */
function route(focus) {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash.startsWith("mount-")) {
    if (current !== "mounts") show("mounts", false);
    const details = document.getElementById(hash);
    if (details) {
      details.open = true;
      details.querySelector("summary").focus();
    }
    return;
  }
  show(hash || "mounts", focus);
}

window.addEventListener("hashchange", () => route(true));
$("#filter").addEventListener("input", filter);
$("#live-clear").addEventListener("click", () => $("#live tbody").replaceChildren());
setInterval(() => {
  if (document.hidden || !$("#main") || $("#main").hidden) return;
  if (current === "metrics") refresh("metrics");
  if (current === "mounts") refresh("mounts");
}, 5000);
route(false);
listen();
