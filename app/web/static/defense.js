// Defence tuning page: builds a spec, lets the server validate it, shows its utility, applies it.
"use strict";

(() => {
  const KEY_STORAGE = "mlaas-admin-key";
  const FORM_ORDER = ["noise", "round", "top_k", "cutoff", "label_only"];
  const $ = (id) => document.getElementById(id);
  const el = {
    keyForm: $("key-form"), key: $("admin-key"), keyStatus: $("key-status"),
    model: $("model"), username: $("username"),
    roundOn: $("round-on"), roundSlider: $("round-slider"), roundValue: $("round-value"),
    noiseKind: $("noise-kind"), noiseScale: $("noise-scale"), noiseDeterministic: $("noise-deterministic"),
    topK: $("top-k"), cutoff: $("cutoff"), labelOnly: $("label-only"),
    spec: $("spec"), specNote: $("spec-note"), specError: $("spec-error"),
    apply: $("apply"), remove: $("remove"), applyStatus: $("apply-status"),
    utility: $("utility"), utilityCaption: $("utility-caption"), settings: $("settings").tBodies[0],
  };
  let utilityRequest = 0;
  let settingsRequest = 0;

  function debounce(fn, ms) {
    let timer;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // One admin call: the parsed JSON answer, or an Error carrying the server's message.
  async function api(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE) || ""}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = body;
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data && data.error;
      const message = (error && (error.message || error)) || (data && data.message) || text;
      throw new Error(`${response.status}: ${message || response.statusText}`);
    }
    return data;
  }

  const scope = () => document.querySelector("input[name=scope]:checked").value;

  function scopeTarget() {
    const name = scope() === "model" ? el.model.value : el.username.value.trim();
    if (scope() === "global") return { label: "global", path: "/admin/defense" };
    if (!name) return null;
    const segment = scope() === "model" ? "models" : "users";
    return { label: `${scope()} ${name}`, path: `/admin/${segment}/${encodeURIComponent(name)}/defense` };
  }

  // The rounding slider works on log10(r); two significant digits land exactly on the study's marks.
  const sliderToR = (value) => Number((10 ** Number(value)).toPrecision(2));

  function numberOf(input) {
    return Number.isFinite(input.valueAsNumber) ? input.valueAsNumber : null;
  }

  function formSpec() {
    const steps = [];
    if (el.noiseKind.value) {
      const step = { noise: el.noiseKind.value, scale: numberOf(el.noiseScale) };
      if (el.noiseDeterministic.checked) step.deterministic = true;
      steps.push(step);
    }
    if (el.roundOn.checked) steps.push({ round: numberOf(el.roundValue) });
    if (el.topK.value !== "") steps.push({ top_k: numberOf(el.topK) });
    if (el.cutoff.value !== "") steps.push({ cutoff: numberOf(el.cutoff) });
    if (el.labelOnly.checked) steps.push({ label_only: true });
    return steps;
  }

  const specText = (steps) =>
    steps.length ? `[\n${steps.map((step) => `  ${JSON.stringify(step)}`).join(",\n")}\n]` : "[]";

  // Mirror a hand-written spec in the form; false when the form cannot express it.
  function showInForm(steps) {
    if (!Array.isArray(steps)) return false;
    const kinds = steps.map((step) => step && typeof step === "object" && FORM_ORDER.find((kind) => kind in step));
    const positions = kinds.map((kind) => FORM_ORDER.indexOf(kind));
    if (positions.some((position, i) => position < 0 || (i > 0 && position <= positions[i - 1]))) return false;
    const by = Object.fromEntries(steps.map((step, i) => [kinds[i], step]));
    el.noiseKind.value = by.noise ? by.noise.noise : "";
    if (by.noise) el.noiseScale.value = by.noise.scale;
    el.noiseDeterministic.checked = Boolean(by.noise && by.noise.deterministic);
    el.roundOn.checked = Boolean(by.round);
    if (by.round) {
      el.roundValue.value = by.round.round;
      placeSlider(by.round.round);
    }
    el.topK.value = by.top_k ? by.top_k.top_k : "";
    el.cutoff.value = by.cutoff ? by.cutoff.cutoff : "";
    el.labelOnly.checked = Boolean(by.label_only);
    return true;
  }

  function placeSlider(r) {
    if (typeof r !== "number" || !(r > 0)) return;
    el.roundSlider.value = Math.min(-1, Math.max(-3, Math.log10(r)));
    el.roundSlider.setAttribute("aria-valuetext", `r = ${r}`);
  }

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
      const report = await api("POST", `/admin/models/${encodeURIComponent(model)}/utility`, el.spec.value);
      if (request !== utilityRequest) return;
      showSpecError("");
      fillUtility(report);
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
      rows.map(([, path]) => api("GET", path).then((answer) => answer.spec, (error) => error)),
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
      const answer = await api(method, target.path, body);
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
    try {
      const names = await api("GET", "/ui/models");
      const previous = el.model.value;
      el.model.replaceChildren(...names.map((name) => new Option(name, name)));
      if (names.includes(previous)) el.model.value = previous;
      el.model.disabled = false;
      el.keyStatus.textContent = `Connected: ${names.length} models`;
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
  el.roundSlider.addEventListener("input", () => {
    const r = sliderToR(el.roundSlider.value);
    el.roundOn.checked = true;
    el.roundValue.value = r;
    el.roundSlider.setAttribute("aria-valuetext", `r = ${r}`);
    formChanged();
  });
  for (const mark of document.querySelectorAll("button[data-r]")) {
    mark.addEventListener("click", () => {
      el.roundOn.checked = true;
      el.roundValue.value = mark.dataset.r;
      placeSlider(Number(mark.dataset.r));
      formChanged();
    });
  }
  el.roundValue.addEventListener("input", () => {
    el.roundOn.checked = true;
    placeSlider(numberOf(el.roundValue));
    formChanged();
  });
  for (const input of [el.roundOn, el.noiseKind, el.noiseScale, el.noiseDeterministic, el.topK, el.cutoff, el.labelOnly]) {
    input.addEventListener("input", formChanged);
  }
  el.spec.addEventListener("input", specEdited);
  el.apply.addEventListener("click", apply);
  el.remove.addEventListener("click", remove);

  const stored = sessionStorage.getItem(KEY_STORAGE);
  if (stored) {
    el.key.value = stored;
    connect();
  }
})();
