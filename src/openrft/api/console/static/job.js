// A job's page (/jobs/{id}): live curves from /v1/fine_tuning/jobs/{id}/metrics (polled with after_step),
// the reward-hacking warnings as flags on the curves and as a list, each opening its evidence, the audit
// trail, the event log, and pause / resume / cancel through the /v1 endpoints after a confirmation.
// A supervised or dpo job (no grader, no warnings) gets its own charts: loss and token accuracy (SFT), loss,
// reward accuracy and reward margin (DPO), each on train, the step's validation batch and the full validation set.
"use strict";

(() => {
  const dataNode = document.getElementById("job-data");
  if (!dataNode) return;
  let job = JSON.parse(dataNode.textContent);
  const method = JSON.parse(document.getElementById("job-method").textContent);
  const jobPath = `/v1/fine_tuning/jobs/${encodeURIComponent(job.id)}`;
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
  const $ = (id) => document.getElementById(id);
  const e = openrft.el;

  // -- the metrics: one column per series, aligned with `steps` -------------------------------------
  const data = { steps: [], series: new Map(), warnings: [], audit: [], sampleSteps: new Set(), lastStep: null, totalSteps: null };

  function absorb(m) {
    const before = data.steps.length;
    for (const [name, column] of Object.entries(m.series)) {
      if (!data.series.has(name)) data.series.set(name, new Array(before).fill(null));
    }
    data.steps.push(...m.steps);
    for (const [name, column] of data.series) {
      const fresh = m.series[name];
      if (fresh) column.push(...fresh); else for (let i = 0; i < m.steps.length; i++) column.push(null);
    }
    const seen = new Set(data.warnings.map((w) => w.event_id));  // a poll may repeat the last step's warnings
    const newWarnings = m.warnings.filter((w) => !seen.has(w.event_id));
    data.warnings.push(...newWarnings);
    for (const entry of m.audit) {
      const known = data.audit.find((a) => a.event_id === entry.event_id);
      if (known) Object.assign(known, entry); else data.audit.push(entry);
    }
    data.sampleSteps = new Set(m.sample_steps);
    if (m.last_step !== null) data.lastStep = m.last_step;
    data.totalSteps = m.total_steps || data.totalSteps;
    return m.steps.length > 0 || newWarnings.length > 0 || m.audit.length > 0;
  }

  // -- the charts ------------------------------------------------------------------------------------
  // fixed: [series name, legend label, dashed]; prefix: every series starting with it (legend: the rest).
  const CHARTS = [
    { id: "reward", title: "Reward", yLabel: "mean reward", always: true,
      fixed: [["train_reward_mean", "train"], ["valid_reward_mean", "validation", true]], prefix: [["grader_valid.", "validation: ", true, 2]] },
    { id: "components", title: "Reward components (train mean per step)", yLabel: "mean", prefix: [["component.", ""], ["grader.", "grader ", false, 2]] },
    { id: "penalties", title: "Penalties (higher is worse)", yLabel: "mean", prefix: [["penalty.", ""]] },
    { id: "guards", title: "Guard graders (validation score, never rewarded)", yLabel: "score", prefix: [["guard.", "", true]] },
    { id: "entropy", title: "Entropy", yLabel: "nats per token", always: true, fixed: [["entropy", "entropy"]] },
    { id: "kl", title: "KL to the base model", yLabel: "nats per token", always: true, fixed: [["kl", "train (policy update)"], ["kl_eval", "validation", true]] },
    { id: "length", title: "Response length", yLabel: "tokens", always: true, fixed: [["response_length_mean", "mean completion tokens"]] },
    { id: "grad", title: "Gradient norm", yLabel: "norm", always: true, fixed: [["grad_norm", "grad norm"]] },
    { id: "loss", title: "Policy loss", yLabel: "loss", always: true, fixed: [["loss", "loss"]] },
    { id: "time", title: "Step time", yLabel: "seconds", always: true, fixed: [["step_time_s", "whole step"]], prefix: [["timing.", ""]] },
    { id: "signals", title: "Monitor signals (shares, 0 to 1)", yLabel: "share", fixed: [["frac_reward_zero_std", "groups without signal"]], prefix: [["signal.", ""]] },
    { id: "metrics", title: "Other numbers the grader reported", yLabel: "mean", prefix: [["metric.", ""]] },
  ];
  // SFT / DPO metrics events carry OpenAI's names at the top level (train_loss, valid_loss, full_valid_loss, ...);
  // the metrics endpoint names a top-level number it has no fixed series for `metric.NAME`: either is read.
  const splits = (name, title, yLabel, id) => ({ id, title, yLabel, always: true, fixed: [
    [`train_${name}`, "train"], [`valid_${name}`, "validation batch", true], [`full_valid_${name}`, "full validation"]] });
  const CHOSEN = "#0072B2", REJECTED = "#D55E00";  // one colour per answer, train solid and validation dashed
  const TUNING_CHARTS = {
    supervised: [splits("loss", "Loss (assistant tokens)", "nats per token", "loss"),
      splits("mean_token_accuracy", "Mean token accuracy", "share of tokens", "accuracy")],
    dpo: [splits("loss", "DPO loss", "loss", "loss"), splits("reward_accuracy", "Reward accuracy (chosen above rejected)", "share of pairs", "accuracy"),
      splits("reward_margin", "Reward margin (chosen minus rejected)", "beta x log-ratio", "margin"),
      { id: "rewards", title: "Implicit rewards of the chosen and the rejected answers", yLabel: "beta x log-ratio", fixed: [
        ["train_chosen_reward", "chosen (train)", false, CHOSEN], ["train_rejected_reward", "rejected (train)", false, REJECTED],
        ["valid_chosen_reward", "chosen (validation batch)", true, CHOSEN], ["valid_rejected_reward", "rejected (validation batch)", true, REJECTED],
        ["full_valid_chosen_reward", "chosen (full validation)", false, "#009E73"], ["full_valid_rejected_reward", "rejected (full validation)", false, "#CC79A7"]] }],
  };
  const fixedNames = (defs) => new Set(defs.flatMap((d) => (d.fixed || []).map(([n]) => n)));
  if (TUNING_CHARTS[method]) {
    const taken = fixedNames(TUNING_CHARTS[method]);
    CHARTS.splice(0, CHARTS.length, ...TUNING_CHARTS[method],
      { id: "lr", title: "Learning rate", yLabel: "learning rate", fixed: [["learning_rate", "learning rate"]] },
      { id: "grad", title: "Gradient norm", yLabel: "norm", fixed: [["grad_norm", "grad norm"]] },
      { id: "time", title: "Step time", yLabel: "seconds", prefix: [["timing.", ""]] },
      { id: "tokens", title: "Tokens per step", yLabel: "tokens", fixed: [["tokens", "training tokens"]] },
      { id: "padding", title: "Padding (share of the padded token slots)", yLabel: "share", fixed: [["padding_fraction", "padding"]] },
      { id: "metrics", title: "Other numbers the trainer reported", yLabel: "value", prefix: [["metric.", ""]],
        skip: new Set([...taken, "learning_rate", "grad_norm", "tokens", "padding_fraction", "step", "total_steps"]) });
  }
  const charts = new Map();  // id -> {chart, box}
  const curves = $("curves");

  function seriesOf(def) {
    const out = [];
    const add = (name, label, dashed, color) => {
      const column = data.series.get(name) || data.series.get(`metric.${name}`);
      if (!column) return;
      const x = [], y = [];
      for (let i = 0; i < column.length; i++) if (column[i] !== null) { x.push(data.steps[i]); y.push(column[i]); }
      if (x.length) out.push({ name: label, x, y, dashed: !!dashed, ...(color ? { color } : {}) });
    };
    for (const [name, label, dashed, color] of def.fixed || []) add(name, label, dashed, color);
    for (const [prefix, label, dashed, min] of def.prefix || []) {
      const names = Array.from(data.series.keys())
        .filter((n) => n.startsWith(prefix) && !(def.skip && def.skip.has(n.slice(prefix.length)))).sort();
      if (names.length < (min || 1)) continue;
      for (const n of names) add(n, label + n.slice(prefix.length).replace(/_/g, " "), dashed);
    }
    return out;
  }

  // Few warnings: each flag names its signal; many (they would overlap): each flag is its number in the list.
  const MANY_WARNINGS = 6;
  function markers() {
    const many = data.warnings.length > MANY_WARNINGS;
    return data.warnings.map((w, i) => ({
      x: w.step, label: many ? `#${i + 1}` : w.signal.replace(/_/g, " "), kind: "warn", onClick: () => openEvidence(w),
    }));
  }

  function drawCharts() {
    if (typeof openrftPlot === "undefined") { $("curves-status").textContent = "The chart library did not load."; return; }
    const flags = markers();
    for (const def of CHARTS) {
      const series = seriesOf(def);
      let entry = charts.get(def.id);
      if (!entry && (series.length || def.always)) {
        const box = e("div", { class: "card", id: `chart-${def.id}`, "data-points": "0" });
        const later = CHARTS.slice(CHARTS.indexOf(def) + 1).map((d) => charts.get(d.id)).find(Boolean);
        if (later) later.box.before(box); else curves.append(box);  // the order of CHARTS, whenever each appears
        const chart = openrftPlot.lineChart(box, { title: def.title, xLabel: "step", yLabel: def.yLabel, height: 220, series, markers: flags });
        entry = { chart, box };
        charts.set(def.id, entry);
      } else if (entry) {
        entry.chart.setSeries(series);
        entry.chart.setMarkers(flags);
      }
      if (entry) entry.box.dataset.points = String(series.length ? series[0].x.length : 0);
    }
    curves.dataset.points = String(data.steps.length);
    if (data.steps.length && !performance.getEntriesByName("openrft:curves-drawn").length) {
      performance.mark("openrft:curves-drawn");  // bench/bench_console.py reads it
    }
  }

  // -- warnings and their evidence -------------------------------------------------------------------
  function samplesLink(step, id) {
    return `/jobs/${encodeURIComponent(job.id)}/samples?step=${step}#sample-${encodeURIComponent(id)}`;
  }

  function openEvidence(w) {
    const d = w.data || {};
    $("evidence-title").textContent = `Warning at step ${w.step}: ${w.signal.replace(/_/g, " ")}`;
    $("evidence-message").textContent = w.message;
    $("evidence-fix").textContent = d.fix ? `What to do: ${d.fix}` : "";
    $("evidence-fix").hidden = !d.fix;
    const rows = Object.entries(d.values || {}).filter(([k]) => k !== "step").map(([k, v]) => e("tr", {}, e("th", { scope: "row", text: k.replace(/_/g, " ") }), e("td", { class: "num", text: openrft.fmt(v, 4) })));
    $("evidence-values").querySelector("tbody").replaceChildren(...rows);
    const stored = data.sampleSteps.has(w.step);
    const ids = d.sample_ids || [];
    $("evidence-samples").replaceChildren(...(ids.length
      ? ids.map((id) => e("li", {}, stored ? e("a", { href: samplesLink(w.step, id), class: "mono", text: `${id} (step ${w.step})` })
                                            : e("span", { class: "mono", text: `${id} (step ${w.step}'s samples were pruned)` })))
      : [e("li", { class: "muted", text: "No stored samples for this step." })]));
    $("evidence-json").textContent = JSON.stringify(d, null, 2);
    $("evidence").showModal();
  }

  function renderWarnings() {
    if (!$("warnings-count")) return;  // a supervised or dpo job's page has no warnings section
    $("warnings-count").textContent = String(data.warnings.length);
    $("warnings-count").className = data.warnings.length ? "badge warn" : "badge";
    $("warnings-empty").hidden = data.warnings.length > 0;
    $("warnings-box").hidden = data.warnings.length === 0;
    const rows = data.warnings.map((w, i) => e("tr", { "data-step": String(w.step) },
      e("td", { class: "num", text: `#${i + 1}` }), e("td", { class: "num", text: String(w.step) }),
      e("td", {}, e("span", { class: "badge warn", text: w.signal.replace(/_/g, " ") })),
      e("td", { text: w.message }),
      e("td", {}, e("button", { type: "button", class: "secondary", onclick: () => openEvidence(w), text: "Evidence",
        "aria-label": `Evidence of warning #${i + 1} (step ${w.step})` }))));
    $("warnings-table").querySelector("tbody").replaceChildren(...rows.reverse());  // newest first
  }

  // -- audit trail -----------------------------------------------------------------------------------
  function renderAudit() {
    if (!$("audit-table")) return;  // nor an audit trail of reward functions
    const tbody = $("audit-table").querySelector("tbody");
    if (!data.audit.length) return;
    const rows = [];
    data.audit.forEach((a, i) => {
      const next = data.audit.slice(i + 1).find((b) => b.step !== null);
      const from = a.step === null ? "the step running now" : `${a.step}`;
      const to = a.step === null ? "" : next ? (next.step - 1 > a.step ? `–${next.step - 1}` : "") : (TERMINAL.has(job.status) ? `–${data.lastStep ?? a.step}` : " onwards");
      const grader = `${a.grader.type || "?"}${a.grader.name && a.grader.name !== a.grader.type ? ` "${a.grader.name}"` : ""}`;
      const fns = a.functions.length ? a.functions : [{ function_name: "–", version: "–", code_sha256: "–" }];
      for (const f of fns) {
        rows.push(e("tr", {}, e("td", { text: `${from}${to}` }), e("td", { text: grader }), e("td", { class: "mono", text: f.function_name || "–" }),
          e("td", { class: "mono", text: f.version || "–" }), e("td", { class: "mono", text: f.code_sha256 || "–" })));
      }
    });
    tbody.replaceChildren(...rows);
  }

  // -- header and controls ---------------------------------------------------------------------------
  function etaText() {
    if (TERMINAL.has(job.status)) return job.finished_at ? `finished ${openrft.when(job.finished_at)}` : "–";
    if (job.status === "paused") return "paused: resume to go on";
    if (!job.estimated_finish) return "estimated after the first step";
    const left = job.estimated_finish - Date.now() / 1000;
    if (left <= 0) return "any moment";
    const mins = Math.round(left / 60);
    return `${new Date(job.estimated_finish * 1000).toLocaleTimeString()} (${mins < 1 ? `${Math.round(left)} s` : `${mins} min`} left)`;
  }

  function renderHeader() {
    const badge = $("job-status");
    badge.className = `badge ${job.status}`;
    badge.textContent = job.status.replace(/_/g, " ");
    $("job-ft-model").textContent = job.fine_tuned_model || (TERMINAL.has(job.status) ? "none" : "not yet (when training succeeds)");
    const done = data.lastStep || 0, total = data.totalSteps || 0;
    $("job-progress").max = total || 1;
    $("job-progress").value = done;
    $("job-progress-text").textContent = total ? `step ${done} of ${total}` : (done ? `step ${done}` : "not started");
    $("job-eta").textContent = etaText();
    const err = $("job-error");
    err.hidden = !job.error;
    if (job.error) err.textContent = `${job.error.code}: ${job.error.message}`;
    const s = job.status;
    $("btn-pause").disabled = !["queued", "running", "validating_files"].includes(s);
    $("btn-resume").disabled = s !== "paused";
    $("btn-cancel").disabled = TERMINAL.has(s);
    $("controls-help").textContent = TERMINAL.has(s) ? `The job has ${s === "cancelled" ? "been cancelled" : s}: nothing to control.`
      : s === "paused" ? "Paused at a checkpoint: resume continues from it." : s === "running" ? "Pause checkpoints at the next step boundary; resume goes on from there." : "";
  }

  const ACTIONS = {
    pause: ["Pause this job? The trainer saves a checkpoint at the next step and stops; resume goes on from it.", "Pause"],
    resume: ["Resume this job from its last checkpoint?", "Resume"],
    cancel: ["Cancel this job? It stops at the next step and cannot be resumed.", "Cancel job"],
  };
  for (const action of Object.keys(ACTIONS)) {
    $(`btn-${action}`).addEventListener("click", async () => {
      const [question, label] = ACTIONS[action];
      if (!(await openrft.confirmAction(question, label))) return;
      try {
        job = await openrft.api(`${jobPath}/${action}`, { method: "POST" });
        renderHeader();
        openrft.toast(`${label}: the job is ${job.status.replace(/_/g, " ")}.`, "ok");
        refreshEvents();
      } catch (err) {
        openrft.toast(err.message, "error");
      }
    });
  }

  // The resolved hyperparameters: "auto" until the trainer pins them, so re-read with the job.
  let hpShown = "";
  function renderHyperparameters() {
    const hp = ((job.method || {})[method] || {}).hyperparameters || {};
    const key = JSON.stringify(hp);
    if (key === hpShown) return;
    hpShown = key;
    const rows = Object.keys(hp).sort().map((k) => e("tr", { "data-hp": k }, e("th", { scope: "row" }, e("code", { text: k })),
      e("td", { class: "mono", text: typeof hp[k] === "object" ? JSON.stringify(hp[k]) : String(hp[k]) })));
    const tbody = $("hp-body");
    tbody.querySelectorAll("tr[data-hp]").forEach((r) => r.remove());
    tbody.prepend(...rows);
  }

  // -- event log -------------------------------------------------------------------------------------
  let events = [];  // newest first
  const showMetrics = $("events-metrics");
  function renderEvents() {
    const shown = events.filter((ev) => showMetrics.checked || ev.type !== "metrics");
    $("events-table").querySelector("tbody").replaceChildren(...shown.map((ev) => e("tr", { class: `level-${ev.level}` },
      e("td", { text: openrft.when(ev.created_at) }), e("td", {}, e("span", { class: `badge ${ev.level === "info" ? "" : ev.level === "warn" ? "warn" : "failed"}`, text: ev.level })),
      e("td", { text: ev.message }))));
  }
  showMetrics.addEventListener("change", renderEvents);
  let olderLeft = true;  // the API pages events newest first; `after` = the oldest already shown
  $("events-older").addEventListener("click", async () => {
    if (!events.length) return;
    const page = await openrft.api(`${jobPath}/events?limit=500&after=${encodeURIComponent(events[events.length - 1].id)}`);
    events = events.concat(page.data);
    olderLeft = page.has_more;
    $("events-older").disabled = !olderLeft;
    $("events-older").textContent = olderLeft ? "Show older events" : "No older events";
    renderEvents();
  });
  async function refreshEvents() {
    const page = await openrft.api(`${jobPath}/events?limit=100`);
    const seen = new Set(events.map((ev) => ev.id));
    const fresh = page.data.filter((ev) => !seen.has(ev.id));
    if (!events.length && !page.has_more) $("events-older").hidden = true;  // all of them are shown already
    if (fresh.length) { events = fresh.concat(events); renderEvents(); }
  }

  // -- polling ---------------------------------------------------------------------------------------
  let finalRead = false;
  async function refreshMetrics() {
    const after = data.lastStep ? `?after_step=${data.lastStep}` : "";
    const m = await openrft.api(`${jobPath}/metrics${after}`);
    const changed = absorb(m);
    if (changed || !charts.size) { drawCharts(); renderWarnings(); }
    renderAudit();
    const n = data.steps.length;
    $("curves-status").textContent = n ? `${n} step${n === 1 ? "" : "s"}${TERMINAL.has(m.status) ? "" : " · live"}` : "No steps finished yet: curves fill in as the job trains.";
  }

  for (const t of document.querySelectorAll("time[data-unix]")) t.textContent = openrft.when(Number(t.dataset.unix));
  renderHeader();
  const stop = openrft.poll(async () => {
    const wasTerminal = TERMINAL.has(job.status);
    const [fresh] = await Promise.all([openrft.api(jobPath).catch((err) => err), refreshMetrics()]);
    if (fresh instanceof Error) { if (fresh.status === 404) { stop(); return; } throw fresh; }
    job = fresh;
    renderHeader();
    renderHyperparameters();
    await refreshEvents();
    if (wasTerminal && TERMINAL.has(job.status)) { if (finalRead) stop(); finalRead = true; }
  }, 1500);
})();
