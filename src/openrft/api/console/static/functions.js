// A reward function's page (/functions/NAME): invoke it on an event through the Lambda Invoke route, and run
// the preflight (POST /v1/preflights, then poll GET /v1/preflights/ID) with its reward histogram.
"use strict";

(() => {
  const root = document.getElementById("function-root");
  if (!root) return;
  const { api, el, fmt, poll, toast, csrf } = openrft;
  const name = root.dataset.name;

  // ---- invoke ------------------------------------------------------------------------------------------
  const form = document.getElementById("invoke-form");
  const eventBox = document.getElementById("invoke-event");
  const result = document.getElementById("invoke-result");
  const invokeStatus = document.getElementById("invoke-status");
  const sample = JSON.parse(document.getElementById("sample-event").textContent);

  document.getElementById("invoke-reset").addEventListener("click", () => { eventBox.value = sample; });

  function rewardsTable(value) {
    if (!Array.isArray(value) || !value.every((r) => r && typeof r === "object" && "aggregate_reward_score" in r)) return null;
    const names = [...new Set(value.flatMap((r) => (r.metrics_list || []).map((m) => m.name)))];
    return el("table", { class: "rewards" },
      el("caption", { class: "help", text: "The scores, one row per rollout" }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "id" }), el("th", { scope: "col", class: "num", text: "aggregate_reward_score" }),
        ...names.map((n) => el("th", { scope: "col", class: "num", text: n })))),
      el("tbody", {}, ...value.map((r) => el("tr", {}, el("td", { class: "mono", text: String(r.id) }),
        el("td", { class: "num", text: fmt(r.aggregate_reward_score, 4) }),
        ...names.map((n) => el("td", { class: "num", text: fmt((r.metrics_list || []).find((m) => m.name === n)?.value, 4) }))))));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let body;
    try {
      body = JSON.stringify(JSON.parse(eventBox.value));
    } catch (err) {
      result.replaceChildren(el("p", { class: "error", role: "alert", text: `The event is not valid JSON: ${err.message}` }));
      eventBox.focus();
      return;
    }
    const qualifier = document.getElementById("invoke-qualifier").value;
    invokeStatus.textContent = "Running…";
    const started = performance.now();
    let response, text;
    try {
      response = await fetch(`/2015-03-31/functions/${encodeURIComponent(name)}/invocations?Qualifier=${encodeURIComponent(qualifier)}`, {
        method: "POST", credentials: "same-origin", body,
        headers: {
          "Content-Type": "application/json", "X-CSRF-Token": csrf(), "X-Amz-Log-Type": "Tail",
          ...(openrft.project() ? { "OpenAI-Project": openrft.project() } : {}),  // the page's project
        },
      });
      text = await response.text();
    } catch (err) {
      invokeStatus.textContent = "";
      toast(`The call failed: ${err.message}`, "error");
      return;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    let value = null;
    try { value = JSON.parse(text); } catch { /* shown as text */ }
    const parts = [];
    const functionError = response.headers.get("X-Amz-Function-Error");
    if (!response.ok) {
      parts.push(el("p", { class: "error", role: "alert", text: `Refused (HTTP ${response.status}): ${value?.message || value?.Message || text}` }));
    } else if (functionError) {
      parts.push(el("p", { class: "error", role: "alert",
        text: `The function raised an error (${value?.errorType || functionError}): ${value?.errorMessage || ""}` }));
    } else {
      parts.push(el("p", { class: "ok", role: "status",
        text: `Version ${response.headers.get("X-Amz-Executed-Version")} answered in ${seconds} s.` }));
      const table = rewardsTable(value);
      if (table) parts.push(table);
    }
    parts.push(el("h3", { text: "Response" }), el("pre", { class: "response", text: value === null ? text : JSON.stringify(value, null, 2) }));
    const log = response.headers.get("X-Amz-Log-Result");
    if (log) {
      let decoded = "";
      try { decoded = new TextDecoder().decode(Uint8Array.from(atob(log), (c) => c.charCodeAt(0))); } catch { decoded = log; }
      parts.push(el("h3", { text: "Log tail" }), el("pre", { class: "log", text: decoded }));
    }
    invokeStatus.textContent = "";
    result.replaceChildren(...parts);
  });

  // ---- preflight ---------------------------------------------------------------------------------------
  const pfForm = document.getElementById("preflight-form");
  const pfStatus = document.getElementById("preflight-status");
  const pfResult = document.getElementById("preflight-result");
  const pfButton = document.getElementById("preflight-button");
  let chart = null, stop = null;

  const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 1000) / 10}%`);
  const box = (label, value, note) => el("div", { class: "figure" }, el("div", { class: "figure-label", text: label }),
    el("div", { class: "figure-value", text: value }), el("div", { class: "figure-note", text: note || "" }));
  const promptText = (p) => (Array.isArray(p) ? p.map((m) => `${m.role}: ${m.content}`).join("\n") : "(waiting)");

  function draw(pre) {
    const s = pre.summary || { samples: 0 };
    const values = pre.per_prompt.flatMap((p) => p.scores).filter((v) => v !== null && v !== undefined);
    const noSignal = s.flat_share === null || s.flat_share === undefined ? "–"
      : `${s.flat_prompts} of ${s.prompts_with_several_samples} prompts scored all their samples the same`;
    const errors = Object.entries(pre.errors || {}).map(([k, n]) => `${k}: ${n}`).join(", ");
    document.getElementById("preflight-figures").replaceChildren(
      box("No learning signal", pct(s.flat_share), noSignal),
      box("Mean reward", s.samples ? fmt(s.mean, 3) : "–", s.samples ? `std ${fmt(s.std, 3)}, ${fmt(s.min, 3)} to ${fmt(s.max, 3)}` : ""),
      box("Scored samples", `${s.samples || 0}`, `of ${pre.total_samples}; ${pre.prompts} prompts × ${pre.samples_per_prompt}`),
      box("Errors", String(Object.values(pre.errors || {}).reduce((a, b) => a + b, 0)), errors || "none"));
    const range = s.histogram && s.histogram.length ? [s.histogram[0][0], s.histogram[s.histogram.length - 1][1]] : [0, 1];
    const title = `Rewards of ${values.length} base-model samples`;
    const container = document.getElementById("preflight-histogram");
    if (typeof openrftPlot !== "undefined") {
      if (!chart) chart = openrftPlot.histogram(container, { title, values, bins: 10, range, xLabel: "reward" });
      else chart.setValues(values, { title, range });
    } else if (s.histogram) {
      container.replaceChildren(el("pre", { text: s.histogram.map(([lo, hi, c]) => `${fmt(lo, 2)}–${fmt(hi, 2)}  ${"#".repeat(c)} ${c}`).join("\n") }));
    }
    const rows = pre.per_prompt.map((p, i) => el("tr", {},
      el("td", { class: "num", text: String(i + 1) }), el("td", { class: "prompt-mini", text: promptText(p.prompt) }),
      el("td", { class: "mono", text: p.scores.map((v) => (v === null ? "·" : fmt(v, 2))).join("  ") }),
      el("td", {}, p.flat ? el("span", { class: "flat-yes", text: "no signal" }) : el("span", { class: "muted", text: p.scores.some((v) => v === null) ? "–" : "varies" }))));
    document.getElementById("preflight-prompts").replaceChildren(el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col", class: "num", text: "#" }), el("th", { scope: "col", text: "Prompt" }),
        el("th", { scope: "col", text: "Scores of its samples" }), el("th", { scope: "col", text: "Signal" }))),
      el("tbody", {}, ...rows)));
  }

  pfForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (stop) stop();
    const body = {
      function: document.getElementById("pf-ref").value,
      training_file: document.getElementById("pf-file").value,
      model: document.getElementById("pf-model").value,
      samples_per_prompt: Number(document.getElementById("pf-g").value),
      max_prompts: Number(document.getElementById("pf-n").value),
      max_completion_tokens: Number(document.getElementById("pf-tokens").value),
    };
    pfButton.disabled = true;
    pfStatus.textContent = "Starting…";
    let pre;
    try {
      pre = await api("/v1/preflights", { method: "POST", body });
    } catch (err) {
      pfButton.disabled = false;
      pfStatus.textContent = "";
      toast(`The preflight was refused${err.param ? ` (${err.param})` : ""}: ${err.message}`, "error");
      return;
    }
    pfResult.hidden = false;
    stop = poll(async () => {
      pre = await api(`/v1/preflights/${encodeURIComponent(pre.id)}`);
      draw(pre);
      const finished = ["completed", "failed", "canceled"].includes(pre.status);
      pfStatus.textContent = finished
        ? `Preflight ${pre.status}${pre.error ? `: ${pre.error.message}` : ""} (${pre.completed_samples} of ${pre.total_samples} samples).`
        : `Sampling and scoring: ${pre.completed_samples} of ${pre.total_samples} samples (${pre.status.replace("_", " ")})…`;
      if (finished) { stop(); pfButton.disabled = false; }
    }, 1000);
  });
})();
