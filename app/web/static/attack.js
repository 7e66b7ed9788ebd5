// Attack panel: a sample query's clean and defended confidences, attack jobs against the candidate spec
// (launched, followed live, cancelled), and charts of earlier runs. Every chart is SVG drawn here from the
// service's JSON; every text is set with textContent.
import { api, authorisation } from "./api.js";

const JOB_STORAGE = "mlaas-attack-job";
const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 1000;
const FINISHED = ["done", "failed", "cancelled"];
const COLOURS = ["#175cd3", "#dc6803", "#039855", "#c11574", "#6941c6", "#0e9384", "#b42318", "#4e5ba6", "#667085"];
const $ = (id) => document.getElementById(id);
const el = {
  model: $("model"), spec: $("spec"),
  sampleChart: $("sample-chart"), sampleCaption: $("sample-caption"),
  form: $("attack-form"), attack: $("attack"), profile: $("profile"), people: $("people"), maxRows: $("max-rows"),
  run: $("run-attack"), cancel: $("cancel-attack"), error: $("attack-error"),
  status: $("job-status"), progress: $("job-progress"), rows: $("job-rows"), steps: $("job-steps"),
  elapsed: $("job-elapsed"), success: $("job-success"), figures: $("figures").tBodies[0], gallery: $("gallery"),
  tradeoff: $("tradeoff-chart"), rounding: $("rounding-chart"), historyNote: $("history-note"),
  runs: $("runs").tBodies[0],
};
let catalogue = null;
let sample = null;
let candidate = null; // { model, utility } of the spec the server last accepted
let history = { runs: [], evaluation: { points: [] } };
let job = null;
let pollTimer = null;
const images = new Map(); // path -> object URL (fetched with the key; <img> cannot send it)

async function imageURL(path) {
  if (!images.has(path)) {
    const response = await fetch(path, { headers: authorisation() });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    images.set(path, URL.createObjectURL(await response.blob()));
  }
  return images.get(path);
}

function node(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function shape(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

const fixed = (value, digits = 3) => (typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—");
const seconds = (value) => (typeof value === "number" ? `${value.toFixed(1)} s` : "—");
const currentSpec = () => {
  try {
    return JSON.parse(el.spec.value);
  } catch {
    return null;
  }
};

// --- charts -------------------------------------------------------------------------------------------

function axes(svg, box, x, y, xLabel, yLabel) {
  const { left, top, right, bottom } = box;
  svg.append(shape("line", { x1: left, y1: bottom, x2: right, y2: bottom, stroke: "#98a2b3" }));
  svg.append(shape("line", { x1: left, y1: top, x2: left, y2: bottom, stroke: "#98a2b3" }));
  for (const tick of x.ticks) {
    svg.append(shape("line", { x1: x.at(tick.value), y1: bottom, x2: x.at(tick.value), y2: bottom + 4, stroke: "#98a2b3" }));
    svg.append(shape("text", { x: x.at(tick.value), y: bottom + 16, "text-anchor": "middle" }, tick.label));
  }
  for (const tick of y.ticks) {
    svg.append(shape("line", { x1: left, y1: y.at(tick.value), x2: right, y2: y.at(tick.value), stroke: "#eaecf0" }));
    svg.append(shape("text", { x: left - 6, y: y.at(tick.value) + 4, "text-anchor": "end" }, tick.label));
  }
  svg.append(shape("text", { x: (left + right) / 2, y: bottom + 32, "text-anchor": "middle" }, xLabel));
  svg.append(
    shape("text", { x: 12, y: (top + bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(top + bottom) / 2})` }, yLabel),
  );
}

function linear(low, high, from, to, count = 5) {
  const span = high - low || 1;
  const at = (value) => from + ((value - low) / span) * (to - from);
  const ticks = Array.from({ length: count + 1 }, (_, i) => {
    const value = low + (span * i) / count;
    return { value, label: Number(value.toPrecision(2)).toString() };
  });
  return { at, ticks };
}

function legend(svg, entries, x, y) {
  entries.forEach(([label, colour, hollow], i) => {
    const row = y + i * 15;
    svg.append(shape("circle", { cx: x, cy: row - 4, r: 4, fill: hollow ? "#fff" : colour, stroke: colour, "stroke-width": 2 }));
    svg.append(shape("text", { x: x + 9, y: row }, label));
  });
}

function drawSample() {
  if (!sample) return;
  const rowHeight = 22;
  const width = 520;
  const left = 110;
  const height = 40 + rowHeight * sample.classes.length;
  const svg = shape("svg", { viewBox: `0 0 ${width} ${height}`, "data-bars": sample.classes.length * 2 });
  const x = linear(0, 1, left, width - 20, 4);
  sample.classes.forEach((entry, i) => {
    const top = 24 + i * rowHeight;
    svg.append(shape("text", { x: left - 6, y: top + 12, "text-anchor": "end" }, entry.name));
    svg.append(shape("rect", { x: left, y: top + 1, width: x.at(entry.clean) - left, height: 8, fill: "#98a2b3", class: "bar clean" }));
    svg.append(shape("rect", { x: left, y: top + 10, width: x.at(entry.defended) - left, height: 8, fill: "#175cd3", class: "bar defended" }));
    const title = shape("title", {}, `${entry.name}: clean ${entry.clean.toFixed(4)}, defended ${entry.defended.toFixed(4)}`);
    svg.lastChild.append(title);
  });
  for (const tick of x.ticks) {
    svg.append(shape("line", { x1: x.at(tick.value), y1: 18, x2: x.at(tick.value), y2: height - 14, stroke: "#eaecf0" }));
    svg.append(shape("text", { x: x.at(tick.value), y: height - 2, "text-anchor": "middle" }, tick.label));
  }
  legend(svg, [["clean", "#98a2b3"], ["defended", "#175cd3"]], width - 110, height - 46);
  el.sampleChart.replaceChildren(svg);
  el.sampleCaption.textContent =
    `${sample.model}, held-out row ${sample.row} (true class ${sample.true_class}): label ${sample.clean_label} clean, ` +
    `${sample.defended_label} under ${JSON.stringify(sample.spec)}; the ${sample.classes.length} classes with the highest clean confidence.`;
}

function allPoints() {
  return [...history.runs, ...(history.evaluation.points || [])].filter((p) => !el.model.value || p.model === el.model.value);
}

function attackColours(points) {
  const names = [...new Set(points.map((p) => p.attack))].sort();
  return new Map(names.map((name, i) => [name, COLOURS[i % COLOURS.length]]));
}

function drawTradeoff() {
  const points = allPoints().filter((p) => typeof p.success === "number" && typeof p.utility_cost === "number");
  const width = 520;
  const height = 300;
  const box = { left: 50, top: 14, right: width - 150, bottom: height - 44 };
  const costs = points.map((p) => p.utility_cost);
  const own = candidate && typeof candidate.cost === "number" ? candidate.cost : null;
  if (own !== null) costs.push(own);
  const x = linear(Math.min(0, ...costs), Math.max(0.05, ...costs), box.left, box.right);
  const y = linear(0, 1, box.bottom, box.top);
  const svg = shape("svg", { viewBox: `0 0 ${width} ${height}`, "data-points": points.length });
  axes(svg, box, x, y, "utility cost (accuracy lost)", "attack success");
  const colours = attackColours(points);
  for (const p of points) {
    const dot = shape("circle", {
      cx: x.at(p.utility_cost), cy: y.at(p.success), r: 4, class: `point ${p.source}`,
      fill: p.source === "run" ? "#fff" : colours.get(p.attack), stroke: colours.get(p.attack), "stroke-width": 2,
    });
    dot.append(shape("title", {}, `${p.attack} on ${p.model}, ${p.defence || JSON.stringify(p.spec)}: success ${fixed(p.success)}, cost ${fixed(p.utility_cost)}`));
    svg.append(dot);
  }
  if (own !== null) {
    svg.append(shape("line", { x1: x.at(own), y1: box.top, x2: x.at(own), y2: box.bottom, stroke: "#b42318", "stroke-dasharray": "5 4", class: "candidate" }));
    svg.append(shape("text", { x: x.at(own) + 4, y: box.top + 10 }, "candidate"));
  }
  legend(svg, [...colours].map(([name, colour]) => [name, colour]), box.right + 20, box.top + 10);
  legend(svg, [["page runs", "#667085", true]], box.right + 20, box.bottom);
  el.tradeoff.replaceChildren(svg);
}

function drawRounding() {
  const points = allPoints().filter((p) => typeof p.success === "number" && typeof p.rounding === "number");
  const width = 520;
  const height = 300;
  const box = { left: 50, top: 14, right: width - 150, bottom: height - 44 };
  // Log scale of r from 0.001 to 0.1; no defence (r = 0) sits left of it, labelled "none".
  const levels = [0.001, 0.01, 0.1];
  const logLow = -3.5;
  const position = (r) => (r > 0 ? Math.log10(r) : logLow);
  const xScale = linear(logLow, -1, box.left, box.right);
  const x = {
    at: (value) => xScale.at(value),
    ticks: [{ value: logLow, label: "none" }, ...levels.map((r) => ({ value: Math.log10(r), label: String(r) }))],
  };
  const y = linear(0, 1, box.bottom, box.top);
  const svg = shape("svg", { viewBox: `0 0 ${width} ${height}`, "data-points": points.length });
  axes(svg, box, x, y, "rounding level r", "attack success");
  const colours = attackColours(points);
  for (const [name, colour] of colours) {
    const own = points.filter((p) => p.attack === name);
    const byLevel = new Map();
    for (const p of own) byLevel.set(p.rounding, [...(byLevel.get(p.rounding) || []), p.success]);
    const line = [...byLevel]
      .map(([r, values]) => [position(r), values.reduce((a, b) => a + b, 0) / values.length])
      .sort((a, b) => a[0] - b[0]);
    if (line.length > 1) {
      const path = line.map(([r, s], i) => `${i ? "L" : "M"}${x.at(r).toFixed(1)},${y.at(s).toFixed(1)}`).join(" ");
      svg.append(shape("path", { d: path, fill: "none", stroke: colour, "stroke-width": 1.5 }));
    }
    for (const p of own) {
      const dot = shape("circle", {
        cx: x.at(position(p.rounding)), cy: y.at(p.success), r: 4, class: `point ${p.source}`,
        fill: p.source === "run" ? "#fff" : colour, stroke: colour, "stroke-width": 2,
      });
      dot.append(shape("title", {}, `${name} on ${p.model}, r = ${p.rounding || "none"}: success ${fixed(p.success)}`));
      svg.append(dot);
    }
  }
  legend(svg, [...colours], box.right + 20, box.top + 10);
  el.rounding.replaceChildren(svg);
}

function drawCharts() {
  drawTradeoff();
  drawRounding();
  const source = history.evaluation.path ? `the evaluation in ${history.evaluation.path}` : "no evaluation results.json found";
  el.historyNote.textContent = `${history.runs.length} finished runs from this page and ${(history.evaluation.points || []).length} cells from ${source}; points without a success figure (not judged) are left out.`;
}

// --- data -----------------------------------------------------------------------------------------------

async function refreshSample() {
  const spec = currentSpec();
  if (!el.model.value || !Array.isArray(spec)) return;
  try {
    sample = await api("POST", `/ui/api/models/${encodeURIComponent(el.model.value)}/sample`, { spec });
    drawSample();
    fillAttacks();
  } catch (error) {
    el.sampleCaption.textContent = `No sample: ${error.message}`;
  }
}

async function refreshHistory() {
  try {
    const [found, listed] = await Promise.all([api("GET", "/ui/api/history"), api("GET", "/ui/api/jobs")]);
    history = found;
    drawCharts();
    fillRuns(listed.jobs);
  } catch (error) {
    el.historyNote.textContent = `No history: ${error.message}`;
  }
}

function successText(outputs) {
  const success = outputs && outputs.success;
  if (!success) return "—";
  if (typeof success.top1 === "number") {
    const hits = typeof success.hits === "number" ? ` (${success.hits}/${success.n})` : "";
    return `${success.top1.toFixed(3)}${hits}`;
  }
  return `not judged${success.reason ? `: ${success.reason}` : ""}`;
}

function fillRuns(jobs) {
  el.runs.replaceChildren(
    ...jobs.map((entry) => {
      const cost = entry.utility ? entry.utility.clean_accuracy - entry.utility.accuracy : null;
      const outputs = entry.outputs || {};
      const cells = [
        entry.model,
        node("code", {}, JSON.stringify(entry.spec)),
        entry.attack,
        entry.status === "done" ? successText(outputs) : "—",
        fixed(cost),
        String(outputs.rows ?? (entry.progress && entry.progress.rows) ?? "—"),
        seconds(outputs.seconds ?? (entry.progress && entry.progress.elapsed)),
        entry.error ? `${entry.status}: ${entry.error}` : entry.status,
      ];
      return node("tr", { "data-job": entry.id }, ...cells.map((cell) => node("td", {}, cell)));
    }),
  );
}

function fillAttacks() {
  if (!catalogue) return;
  const family = sample && sample.kind === "image" ? "face" : "tree";
  const previous = el.attack.value;
  const offered = catalogue.attacks.filter((a) => a.family === family);
  el.attack.replaceChildren(...offered.map((a) => new Option(`${a.name}: ${a.title}`, a.name)));
  if (offered.some((a) => a.name === previous)) el.attack.value = previous;
  el.attack.disabled = !offered.length;
  el.people.disabled = family !== "face";
  el.run.disabled = !offered.length || Boolean(job && !FINISHED.includes(job.status));
}

async function loadCatalogue() {
  try {
    catalogue = await api("GET", "/ui/api/attacks");
    el.profile.replaceChildren(...catalogue.profiles.map((name) => new Option(name, name)));
    el.profile.value = catalogue.profiles.includes("tiny") ? "tiny" : catalogue.profiles[0];
    el.profile.disabled = false;
    fillAttacks();
  } catch (error) {
    el.error.textContent = `Attacks unavailable: ${error.message}`;
  }
}

// --- jobs -----------------------------------------------------------------------------------------------

function people() {
  const text = el.people.value.trim();
  if (text === "all") return "all";
  const values = text.split(",").map((v) => v.trim()).filter(Boolean).map(Number);
  if (!values.length || values.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error('people: class indices separated by commas (such as 0,1), or "all"');
  }
  return values;
}

async function launch(event) {
  event.preventDefault();
  el.error.textContent = "";
  const spec = currentSpec();
  if (!Array.isArray(spec)) {
    el.error.textContent = "The spec above is not valid JSON.";
    return;
  }
  try {
    const body = {
      model: el.model.value, spec, attack: el.attack.value, profile: el.profile.value,
      max_rows: el.maxRows.value ? Number(el.maxRows.value) : null,
    };
    if (!el.people.disabled) body.people = people();
    follow(await api("POST", "/ui/api/jobs", body));
  } catch (error) {
    el.error.textContent = `Not started: ${error.message}`;
  }
}

async function cancel() {
  if (!job) return;
  try {
    show(await api("POST", `/ui/api/jobs/${encodeURIComponent(job.id)}/cancel`));
  } catch (error) {
    el.error.textContent = `Not cancelled: ${error.message}`;
  }
}

function follow(started) {
  sessionStorage.setItem(JOB_STORAGE, started.id);
  el.gallery.replaceChildren();
  el.figures.replaceChildren();
  el.success.textContent = "";
  show(started);
  poll();
}

async function poll() {
  clearTimeout(pollTimer);
  if (!job) return;
  try {
    show(await api("GET", `/ui/api/jobs/${encodeURIComponent(job.id)}`));
  } catch (error) {
    el.status.textContent = `Lost the job: ${error.message}`;
    return;
  }
  if (!FINISHED.includes(job.status)) pollTimer = setTimeout(poll, POLL_MS);
  else refreshHistory();
}

function show(current) {
  job = { ...(job && job.id === current.id ? job : {}), ...current };
  const progress = job.progress || {};
  const running = !FINISHED.includes(job.status);
  const phase = progress.phase ? `, ${progress.phase}` : "";
  const person = typeof progress.current === "number" ? ` person ${progress.current}` : "";
  el.status.textContent = `Job ${job.id}: ${job.attack} on ${job.model} under ${JSON.stringify(job.spec)}: ${job.status}${running ? phase + person : ""}${job.error ? ` (${job.error})` : ""}`;
  el.status.dataset.status = job.status;
  el.rows.textContent = typeof progress.rows === "number" ? progress.rows.toLocaleString("en") : "—";
  el.steps.textContent = progress.total_steps ? `${progress.steps || 0} / ${progress.total_steps}` : "—";
  el.elapsed.textContent = seconds(progress.elapsed);
  el.progress.max = progress.total_steps || 1;
  el.progress.value = job.status === "done" ? el.progress.max : progress.steps || 0;
  el.cancel.disabled = !running;
  el.run.disabled = running || !el.attack.options.length;
  if (job.params && job.params.labels) showGallery(job.params.labels, job.files || [], progress.people || {});
  if (job.status === "done") showFigures(job.outputs || {});
}

function showGallery(labels, files, people) {
  for (const label of labels) {
    let figure = el.gallery.querySelector(`figure[data-label="${label}"]`);
    if (!figure) {
      const photo = node("img", { alt: `Real held-out photo of class ${label}`, class: "photo" });
      const pending = node("div", { class: "pending", "data-for": `recon-${label}` }, "waiting");
      figure = node("figure", { "data-label": String(label) }, node("div", { class: "pair" }, photo, pending), node("figcaption"));
      el.gallery.append(figure);
      imageURL(`/ui/api/models/${encodeURIComponent(job.model)}/photos/${label}`)
        .then((url) => { photo.src = url; })
        .catch(() => { photo.alt = `no held-out photo of class ${label}`; });
    }
    const person = people[String(label)];
    figure.querySelector("figcaption").textContent = person
      ? `${person.class}: confidence ${fixed(person.confidence)}, ${person.rows} rows${person.stop ? `, stop: ${person.stop}` : ""}`
      : `class ${label}`;
    const name = `recon-${label}.png`;
    const pending = figure.querySelector(".pending");
    if (files.includes(name) && pending && !pending.dataset.loading) {
      pending.dataset.loading = "true";
      imageURL(`/ui/api/jobs/${encodeURIComponent(job.id)}/files/${name}`).then((url) => {
        const image = node("img", { alt: `Reconstruction of class ${label}`, class: "reconstruction", src: url });
        pending.replaceWith(image);
      }, () => { delete pending.dataset.loading; });
    }
  }
}

function showFigures(outputs) {
  el.success.textContent = `Success (${(outputs.success && outputs.success.judge) || "face recogniser"} top-1): ${successText(outputs)}`;
  const metrics = outputs.metrics || {};
  const rows = Object.entries(metrics).map(([name, value]) =>
    node("tr", {}, node("th", { scope: "row" }, name), node("td", {}, typeof value === "number" ? fixed(value) : String(value ?? "n/a"))),
  );
  if (outputs.stopped) rows.push(node("tr", {}, node("th", { scope: "row" }, "stopped"), node("td", {}, outputs.stopped)));
  el.figures.replaceChildren(...rows);
}

// --- wiring ---------------------------------------------------------------------------------------------

document.addEventListener("mlaas:connected", async () => {
  await loadCatalogue();
  refreshSample();
  refreshHistory();
  const previous = sessionStorage.getItem(JOB_STORAGE);
  if (previous && !job) {
    job = { id: previous };
    poll();
  }
});
document.addEventListener("mlaas:candidate", (event) => {
  const utility = event.detail.utility;
  candidate = { model: event.detail.model, cost: utility.clean_accuracy - utility.accuracy };
  refreshSample();
  drawCharts();
});
el.form.addEventListener("submit", launch);
el.cancel.addEventListener("click", cancel);
