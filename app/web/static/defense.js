// Defence tuning page: builds a spec, lets the server validate it, shows its utility, applies it.
import { KEY_STORAGE, apiText } from "./api.js";

const $ = (id) => document.getElementById(id);
const el = {
  keyForm: $("key-form"), key: $("admin-key"), keyStatus: $("key-status"),
  model: $("model"), username: $("username"), steps: $("steps"),
  spec: $("spec"), specNote: $("spec-note"), specError: $("spec-error"),
  apply: $("apply"), remove: $("remove"), applyStatus: $("apply-status"),
  utility: $("utility"), utilityCaption: $("utility-caption"), settings: $("settings").tBodies[0],
};
let utilityRequest = 0;
let settingsRequest = 0;
// The step editor, one entry per defence step in the order the form composes them:
// { step (its description from /ui/defense-steps), on (checkbox), controls: [{ param, read, write }] }.
let editors = [];

function debounce(fn, ms) {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

const scope = () => document.querySelector("input[name=scope]:checked").value;

function scopeTarget() {
  const name = scope() === "model" ? el.model.value : el.username.value.trim();
  if (scope() === "global") return { label: "global", path: "/admin/defense" };
  if (!name) return null;
  const segment = scope() === "model" ? "models" : "users";
  return { label: `${scope()} ${name}`, path: `/admin/${segment}/${encodeURIComponent(name)}/defense` };
}

// A log-scale slider works on log10(value); two significant digits land exactly on marks such as 0.05.
const sliderToValue = (position) => Number((10 ** Number(position)).toPrecision(2));

function numberOf(input) {
  return Number.isFinite(input.valueAsNumber) ? input.valueAsNumber : null;
}

function node(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

// Perturbations that may move the label first, then the steps that coarsen or withhold
// (registry order within each group): noise before rounding, so the output stays on the grid.
const formOrder = (steps) => [...steps.filter((s) => s.changes_label), ...steps.filter((s) => !s.changes_label)];

function buildEditors(steps) {
  editors = formOrder(steps).map((step) => {
    const on = node("input", { type: "checkbox", id: `${step.kind}-on`, "aria-label": `Use ${step.kind}` });
    const fieldset = node("fieldset", { class: "row" }, node("legend", {}, step.kind), node("label", {}, on, " use"));
    const editor = { step, on, controls: step.params.map((param) => paramControl(step, param, fieldset)) };
    fieldset.append(node("span", { class: "note step-note" }, step.description));
    on.addEventListener("input", formChanged);
    fieldset.addEventListener("input", (event) => {
      if (event.target !== on) {
        on.checked = true;
        formChanged();
      }
    });
    el.steps.append(fieldset);
    return editor;
  });
}

// The input(s) for one parameter, appended to the step's fieldset, with how to read and set its value.
function paramControl(step, param, fieldset) {
  if (param.type === "true") return { param, read: () => true, write: () => {} };
  const own = param.path.length === 1 && param.name === step.kind;
  const id = `${own ? step.kind : `${step.kind}-${param.name}`}-value`;
  const title = `${param.description}: ${param.expected}`;
  const label = () => node("label", { for: id, title }, own ? param.description : param.name);
  if (param.type === "boolean") {
    const box = node("input", { type: "checkbox", id, title });
    box.checked = Boolean(param.default);
    fieldset.append(node("label", { title }, box, ` ${param.name}`));
    return { param, read: () => box.checked, write: (value) => { box.checked = Boolean(value); } };
  }
  if (param.type === "choice") {
    const select = node("select", { id, title }, ...param.choices.map((choice) => new Option(choice, choice)));
    select.value = param.default;
    fieldset.append(label(), select);
    return { param, read: () => select.value, write: (value) => { select.value = value; } };
  }
  const input = node("input", { type: "number", id, title, step: param.type === "integer" ? "1" : "any" });
  if (param.minimum !== null && param.minimum !== undefined) input.min = param.minimum;
  if (param.maximum !== null && param.maximum !== undefined) input.max = param.maximum;
  input.value = param.default;
  fieldset.append(label(), input);
  const slider = param.log_scale && param.marks.length ? logSlider(id, param, input, fieldset) : null;
  return {
    param,
    read: () => numberOf(input),
    write: (value) => {
      input.value = value;
      if (slider) slider.place(value);
    },
  };
}

// A log-scale slider spanning the decades of the parameter's marks, and one button per mark.
function logSlider(id, param, input, fieldset) {
  const low = Math.floor(Math.log10(Math.min(...param.marks)) + 1e-9);
  const high = Math.ceil(Math.log10(Math.max(...param.marks)) - 1e-9);
  const sliderId = id.replace(/-value$/, "-slider");
  const ticks = node("datalist", { id: `${sliderId}-marks` });
  ticks.append(...param.marks.map((mark) => new Option("", Math.log10(mark))));
  const slider = node("input", {
    type: "range", id: sliderId, min: low, max: high, step: "0.01", list: ticks.id,
    "aria-label": `${param.description}, log scale from ${10 ** low} to ${10 ** high}`,
  });
  const place = (value) => {
    if (typeof value !== "number" || !(value > 0)) return;
    slider.value = Math.min(high, Math.max(low, Math.log10(value)));
    slider.setAttribute("aria-valuetext", `${param.name} = ${value}`);
  };
  place(param.default);
  slider.addEventListener("input", () => {
    const value = sliderToValue(slider.value);
    input.value = value;
    slider.setAttribute("aria-valuetext", `${param.name} = ${value}`);
  });
  input.addEventListener("input", () => place(numberOf(input)));
  const marks = param.marks.map((mark) => {
    const button = node("button", { type: "button" }, String(mark));
    button.addEventListener("click", () => {
      input.value = mark;
      place(mark);
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    return button;
  });
  const group = node("span", { class: "marks", role: "group", "aria-label": `Suggested values of ${param.name}` });
  group.append(...marks);
  input.before(slider, ticks);
  input.after(group);
  return { place };
}

const valueAt = (step, path) =>
  path.reduce((object, key) => (object && typeof object === "object" ? object[key] : undefined), step);

function setAt(step, path, value) {
  let object = step;
  for (const key of path.slice(0, -1)) object = object[key] ??= {};
  object[path[path.length - 1]] = value;
}

function formSpec() {
  const steps = [];
  for (const { step, on, controls } of editors) {
    if (!on.checked) continue;
    const spec = {};
    for (const { param, read } of controls) {
      const value = read();
      if (param.required || value !== param.default) setAt(spec, param.path, value);
    }
    steps.push(spec);
  }
  return steps;
}

const specText = (steps) =>
  steps.length ? `[\n${steps.map((step) => `  ${JSON.stringify(step)}`).join(",\n")}\n]` : "[]";

// Mirror a hand-written spec in the form; false when the form cannot express it (order, unknown steps).
function showInForm(steps) {
  if (!Array.isArray(steps)) return false;
  const positions = steps.map((step) =>
    step && typeof step === "object" ? editors.findIndex((editor) => editor.step.kind in step) : -1,
  );
  if (positions.some((position, i) => position < 0 || (i > 0 && position <= positions[i - 1]))) return false;
  editors.forEach((editor, index) => {
    const step = steps[positions.indexOf(index)];
    editor.on.checked = Boolean(step);
    if (!step) return;
    for (const { param, write } of editor.controls) {
      const value = valueAt(step, param.path);
      write(value === undefined ? param.default : value);
    }
  });
  return true;
}

// The step editor comes from the registry the server parses specs with.
const stepsLoaded = (async () => {
  try {
    const response = await fetch("/ui/defense-steps");
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    buildEditors(await response.json());
  } catch (error) {
    el.specNote.textContent = `The step editor could not be loaded (${error.message}); the spec text still works.`;
  } finally {
    el.steps.setAttribute("aria-busy", "false");
  }
})();

function showSpecError(message) {
  el.specError.textContent = message;
  el.spec.setAttribute("aria-invalid", message ? "true" : "false");
}

function fillUtility(report) {
  for (const cell of el.utility.querySelectorAll("td[data-key]")) {
    const value = report && report[cell.dataset.key];
    cell.textContent = typeof value === "number" ? value.toFixed(4) : "—";
  }
  el.utilityCaption.textContent = report
    ? `${report.model}: ${report.heldout_rows} held-out rows under ${JSON.stringify(report.defense)}`
    : "";
}

async function refreshUtility() {
  const model = el.model.value;
  if (!model) return;
  const request = ++utilityRequest;
  if (!el.spec.value.trim()) {
    showSpecError("The spec is empty: write [] for no defence.");
    fillUtility(null);
    return;
  }
  el.utility.setAttribute("aria-busy", "true");
  try {
    const report = await apiText("POST", `/admin/models/${encodeURIComponent(model)}/utility`, el.spec.value);
    if (request !== utilityRequest) return;
    showSpecError("");
    fillUtility(report);
    // The attack panel (attack.js) follows the candidate the server accepted.
    document.dispatchEvent(new CustomEvent("mlaas:candidate", { detail: { model, utility: report } }));
  } catch (error) {
    if (request !== utilityRequest) return;
    showSpecError(error.message);
    fillUtility(null);
  } finally {
    if (request === utilityRequest) el.utility.setAttribute("aria-busy", "false");
  }
}

async function refreshSettings() {
  const request = ++settingsRequest;
  const rows = [["Global", "/admin/defense"]];
  const model = el.model.value;
  const user = el.username.value.trim();
  if (model) rows.push([`Model ${model}`, `/admin/models/${encodeURIComponent(model)}/defense`]);
  if (user) rows.push([`User ${user}`, `/admin/users/${encodeURIComponent(user)}/defense`]);
  const specs = await Promise.all(
    rows.map(([, path]) => apiText("GET", path).then((answer) => answer.spec, (error) => error)),
  );
  if (request !== settingsRequest) return;
  el.settings.replaceChildren(...rows.map(([label], i) => settingsRow(label, specs[i])));
}

function settingsRow(label, spec) {
  const row = document.createElement("tr");
  const heading = document.createElement("th");
  heading.scope = "row";
  heading.textContent = label;
  const cell = document.createElement("td");
  const code = document.createElement("code");
  code.textContent = spec instanceof Error ? spec.message : JSON.stringify(spec);
  cell.append(code);
  const actions = document.createElement("td");
  if (!(spec instanceof Error)) {
    const edit = document.createElement("button");
    edit.type = "button";
    edit.textContent = "Edit";
    edit.setAttribute("aria-label", `Edit the ${label.toLowerCase()} spec`);
    edit.addEventListener("click", () => {
      el.spec.value = specText(spec);
      specEdited();
    });
    actions.append(edit);
  }
  row.append(heading, cell, actions);
  return row;
}

const scheduleUtility = debounce(refreshUtility, 300);
const scheduleSettings = debounce(refreshSettings, 300);

function formChanged() {
  el.spec.value = specText(formSpec());
  el.specNote.textContent = "";
  scheduleUtility();
}

function specEdited() {
  let steps;
  try {
    steps = JSON.parse(el.spec.value);
  } catch {
    steps = undefined;
  }
  el.specNote.textContent =
    steps === undefined || showInForm(steps)
      ? ""
      : "The form cannot show this spec; Apply sends the text as it is, and a form change rewrites it.";
  scheduleUtility();
}

async function change(method, body, done) {
  const target = scopeTarget();
  if (!target) {
    el.applyStatus.textContent = "Enter a user name for the user scope.";
    return;
  }
  el.applyStatus.textContent = "Sending…";
  try {
    const answer = await apiText(method, target.path, body);
    el.applyStatus.textContent = done(target, answer);
  } catch (error) {
    el.applyStatus.textContent = `Refused by the server (${target.label}): ${error.message}`;
  }
  refreshSettings();
}

function apply() {
  change("PUT", el.spec.value, (target, answer) => `Accepted: ${target.label} is now ${JSON.stringify(answer.spec)}`);
}

function remove() {
  if (scope() === "global") {
    change("PUT", "[]", () => "Removed: the global default is now []");
  } else {
    change("DELETE", undefined, (target) => `Removed the ${target.label} setting`);
  }
}

async function connect(event) {
  if (event) event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, el.key.value.trim());
  el.keyStatus.textContent = "Connecting…";
  await stepsLoaded;
  try {
    const names = await apiText("GET", "/ui/models");
    const previous = el.model.value;
    el.model.replaceChildren(...names.map((name) => new Option(name, name)));
    if (names.includes(previous)) el.model.value = previous;
    el.model.disabled = false;
    el.keyStatus.textContent = `Connected: ${names.length} models`;
    document.dispatchEvent(new CustomEvent("mlaas:connected", { detail: { models: names } }));
    refreshSettings();
    refreshUtility();
  } catch (error) {
    el.keyStatus.textContent = `Not connected: ${error.message}`;
  }
}

el.keyForm.addEventListener("submit", connect);
el.model.addEventListener("change", () => {
  refreshSettings();
  scheduleUtility();
});
el.username.addEventListener("input", () => {
  document.querySelector("input[name=scope][value=user]").checked = true;
  scheduleSettings();
});
el.spec.addEventListener("input", specEdited);
el.apply.addEventListener("click", apply);
el.remove.addEventListener("click", remove);

const stored = sessionStorage.getItem(KEY_STORAGE);
if (stored) {
  el.key.value = stored;
  connect();
}
