// The jobs list (/jobs): polls /v1/fine_tuning/jobs and each job's reward series; no page reloads.
// Per job it keeps the train reward seen so far and asks only for steps after the last one
// (/metrics?series=train_reward_mean&after_step=N); a finished job is read once. A supervised or dpo job has
// no reward: its sparkline is the training loss (train_loss, `metric.train_loss` to the metrics endpoint).
"use strict";

(() => {
  const table = document.getElementById("jobs-table");
  if (!table) return;
  const body = table.querySelector("tbody");
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
  const known = new Map();  // job id -> {steps: [], rewards: [], lastStep, totalSteps, warnings, done}

  const label = (status) => status.replace(/_/g, " ");

  function eta(job, state) {
    if (TERMINAL.has(job.status)) return job.finished_at ? `finished ${openrft.when(job.finished_at)}` : "–";
    if (job.status === "paused") return "paused";
    if (!job.estimated_finish) return state && state.lastStep ? "estimating…" : "–";
    const left = job.estimated_finish - Date.now() / 1000;
    if (left <= 0) return "any moment";
    const mins = Math.round(left / 60);
    return mins < 1 ? `in ${Math.round(left)} s` : mins < 90 ? `in ${mins} min` : `in ${(left / 3600).toFixed(1)} h`;
  }

  function drawSparkline(canvas, ys, what) {
    const dpr = window.devicePixelRatio || 1, w = 120, h = 28;
    canvas.width = w * dpr; canvas.height = h * dpr;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const vals = ys.filter((v) => v !== null && Number.isFinite(v));
    if (!vals.length) { canvas.setAttribute("aria-label", `no ${what} yet`); return; }
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    const x = (i) => 2 + (ys.length === 1 ? (w - 4) / 2 : (i * (w - 4)) / (ys.length - 1));
    const y = (v) => h - 3 - ((v - lo) / (hi - lo)) * (h - 6);
    ctx.strokeStyle = "#0072B2"; ctx.lineWidth = 1.5; ctx.beginPath();
    let pen = false;
    ys.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) { pen = false; return; }
      if (pen) ctx.lineTo(x(i), y(v)); else { ctx.moveTo(x(i), y(v)); pen = true; }
    });
    ctx.stroke();
    const last = vals[vals.length - 1];
    ctx.fillStyle = "#0072B2"; ctx.beginPath(); ctx.arc(x(ys.length - 1), y(ys[ys.length - 1] ?? last), 2, 0, 2 * Math.PI); ctx.fill();
    canvas.setAttribute("aria-label", `${what} over ${ys.length} steps, last ${openrft.fmt(last, 3)}, min ${openrft.fmt(Math.min(...vals), 3)}, max ${openrft.fmt(Math.max(...vals), 3)}`);
    canvas.dataset.points = String(ys.length);
  }

  function newRow(job) {
    const e = openrft.el;
    return e("tr", { "data-job-id": job.id, "data-status": job.status },
      e("td", {}, e("a", { href: `/jobs/${encodeURIComponent(job.id)}`, class: "mono", text: job.id })),
      e("td", {}, e("span", { class: `badge ${job.status}`, "data-field": "status", text: label(job.status) })),
      e("td", { "data-field": "model", text: job.model }),
      e("td", { "data-field": "fine_tuned_model", class: "mono", text: job.fine_tuned_model || "–" }),
      e("td", { "data-field": "progress", class: "progress-cell" }, e("span", { class: "muted", text: "–" })),
      e("td", { "data-field": "eta", text: "–" }),
      e("td", { "data-field": "sparkline" }, e("canvas", { class: "sparkline", width: "120", height: "28", role: "img", "aria-label": "no reward yet" })),
      e("td", { "data-field": "warnings", class: "num", text: "–" }),
      e("td", {}, e("time", { "data-unix": String(job.created_at), text: openrft.when(job.created_at) })));
  }

  function renderRow(row, job, state) {
    row.dataset.status = job.status;
    const badge = row.querySelector('[data-field="status"]');
    badge.className = `badge ${job.status}`;
    badge.textContent = label(job.status);
    row.querySelector('[data-field="fine_tuned_model"]').textContent = job.fine_tuned_model || "–";
    row.querySelector('[data-field="eta"]').textContent = eta(job, state);
    if (!state) return;
    const cell = row.querySelector('[data-field="progress"]');
    if (state.lastStep || state.totalSteps) {
      const done = state.lastStep || 0, total = state.totalSteps || 0;
      const bar = openrft.el("progress", { max: String(total || 1), value: String(done), "aria-label": `step ${done} of ${total || "?"}` });
      cell.replaceChildren(bar, openrft.el("span", { text: `${done}/${total || "?"}` }));
    }
    drawSparkline(row.querySelector("canvas.sparkline"), state.rewards, state.what);
    const w = row.querySelector('[data-field="warnings"]');
    w.textContent = String(state.warnings);
    w.classList.toggle("warn-count", state.warnings > 0);
    w.title = state.warnings ? `${state.warnings} reward-hacking warning(s): open the job to read them` : "no reward-hacking warnings";
  }

  async function refreshMetrics(job) {
    let state = known.get(job.id);
    if (!state) { state = { rewards: [], lastStep: null, totalSteps: null, warnings: 0, warningIds: new Set(), done: false }; known.set(job.id, state); }
    if (state.done) return state;
    const after = state.lastStep ? `&after_step=${state.lastStep}` : "";
    const rft = ((job.method || {}).type || "supervised") === "reinforcement";
    const names = rft ? ["train_reward_mean"] : ["train_loss", "metric.train_loss"];
    state.what = rft ? "train reward" : "train loss";
    const m = await openrft.api(`/v1/fine_tuning/jobs/${encodeURIComponent(job.id)}/metrics?series=${names.join(",")}${after}`);
    state.rewards.push(...(names.map((n) => m.series[n]).find(Boolean) || m.steps.map(() => null)));
    state.lastStep = m.last_step;
    state.totalSteps = m.total_steps || state.totalSteps;
    for (const w of m.warnings) state.warningIds.add(w.event_id);  // a poll may repeat the last step's
    state.warnings = state.warningIds.size;
    state.done = TERMINAL.has(job.status) && TERMINAL.has(m.status);
    return state;
  }

  async function tick() {
    const list = await openrft.api("/v1/fine_tuning/jobs?limit=100");
    const rows = new Map(Array.from(body.querySelectorAll("tr[data-job-id]"), (r) => [r.dataset.jobId, r]));
    let previous = null;
    for (const job of list.data) {
      let row = rows.get(job.id);
      if (!row) {
        row = newRow(job);
        if (previous) previous.after(row); else body.prepend(row);
        table.hidden = false;
        document.getElementById("jobs-empty")?.remove();
      }
      previous = row;
      let state = null;
      try { state = await refreshMetrics(job); } catch (err) { console.error(err); }
      renderRow(row, job, state);
    }
    document.getElementById("jobs-live").textContent = `Updated ${new Date().toLocaleTimeString()} · every 2 seconds.`;
  }

  for (const t of document.querySelectorAll("time[data-unix]")) t.textContent = openrft.when(Number(t.dataset.unix));
  openrft.poll(tick, 2000);
})();
