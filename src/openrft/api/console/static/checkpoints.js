// The checkpoints page: compare two models (checkpoints, the final model, the base model) on the job's
// validation set, as two runs of the job's linked eval created through /v1/evals, polled until both finish.
"use strict";

(() => {
  // While the job runs, re-read this page every 2 s and swap in its checkpoints table, the status and the
  // compare choices (the server renders them; no reload, and a choice already made is kept).
  function liveTable() {
    const live = document.getElementById("live");
    if (!live || live.dataset.terminal === "true") return;
    const stop = openrft.poll(async () => {
      const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok || response.redirected) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ["checkpoints-card", "job-status"]) {
        const now = document.getElementById(id), next = fresh.getElementById(id);
        if (now && next) now.replaceWith(document.importNode(next, true));
      }
      for (const id of ["model-a", "model-b"]) {
        const now = document.getElementById(id), next = fresh.getElementById(id);
        if (!now || !next) continue;
        const chosen = now.value;  // a choice the person made stays; untouched, the select takes the new default
        now.replaceChildren(...Array.from(next.options, (o) => document.importNode(o, true)));
        if (now.dataset.touched && Array.from(now.options).some((o) => o.value === chosen)) now.value = chosen;
        else now.value = next.value;
      }
      const button = document.getElementById("compare-run"), wait = document.getElementById("compare-wait");
      const few = (document.getElementById("model-b")?.options.length || 0) < 2;
      if (button && !button.dataset.running) button.disabled = few;
      if (wait) wait.hidden = !few;
      if (fresh.getElementById("live")?.dataset.terminal === "true") stop();
    }, 2000);
  }

  const configEl = document.getElementById("compare-config");
  const form = document.getElementById("compare-form");
  for (const t of document.querySelectorAll("time.when")) t.textContent = openrft.when(Number(t.dataset.unix));
  for (const id of ["model-a", "model-b"]) {
    document.getElementById(id)?.addEventListener("change", (ev) => { ev.target.dataset.touched = "true"; });
  }
  liveTable();
  if (!configEl || !form) return;
  const config = JSON.parse(configEl.textContent);
  const { el, api, fmt } = openrft;
  const TERMINAL = new Set(["completed", "failed", "canceled"]);
  const result = document.getElementById("compare-result");
  const button = document.getElementById("compare-run");

  // "ft:base:proj:sfx:ftjob-x:ckpt-step-4" -> "step 4"; the final model -> "final"; a base model as it is.
  function shortName(model) {
    const step = model.match(/:ckpt-step-(\d+)$/);
    if (step) return `step ${step[1]}`;
    return model.startsWith("ft:") ? "final model" : model;
  }

  function dataSource(model) {
    return {
      type: "completions",
      model,
      source: { type: "file_id", id: config.validation_file },
      input_messages: { type: "item_reference", item_reference: "item.messages" },
      sampling_params: config.sampling_params,
    };
  }

  function rateText(run) {
    const c = run.result_counts || {};
    if (!c.total) return "–";
    return `${Math.round((100 * c.passed) / c.total)}%`;
  }

  function renderSide(box, label, run) {
    const c = run.result_counts || {};
    const done = TERMINAL.has(run.status);
    const criteria = (run.per_testing_criteria_results || []).map((r) => {
      const total = (r.passed || 0) + (r.failed || 0);
      const name = String(r.testing_criteria || "").replace(/-[0-9a-f-]{36}$/, "");
      return el("li", {}, `${name}: ${total ? Math.round((100 * r.passed) / total) + "%" : "–"} (${r.passed || 0}/${total})`);
    });
    box.replaceChildren(...[  // replaceChildren would write a null as the text "null"
      el("h3", { text: `${label}: ${shortName(run.model || "")}` }),
      el("p", {}, el("code", { class: "model-id", text: run.model || "" })),
      el("p", {}, el("span", { class: `badge ${run.status}`, text: run.status }),
        done ? null : el("span", { class: "muted", text: " grading the validation items…" })),
      el("p", { class: "rate" }, el("span", { class: "big", "data-rate": run.id, text: rateText(run) }),
        el("span", { class: "muted", text: c.total ? ` pass rate (${c.passed} of ${c.total} passed${c.errored ? `, ${c.errored} errored` : ""})` : " pass rate" })),
      criteria.length ? el("ul", { class: "criteria", "aria-label": "Pass rate per criterion" }, ...criteria) : null,
 run.error && run.error.message ? el("p", { class: "error", text: `${run.error.code}: ${run.error.message}` }) : null,
      el("p", {}, el("a", { href: `/evals/${config.eval_id}/runs/${run.id}`, text: "Open this run's items" })),
    ].filter(Boolean));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const a = form.elements.a.value, b = form.elements.b.value;
    if (a === b) { openrft.toast("Pick two different models to compare.", "error"); return; }
    button.disabled = true;
    button.dataset.running = "true";
    button.textContent = "Running…";
    result.hidden = false;
    const links = document.getElementById("compare-links");
    links.replaceChildren();
    const sides = [document.getElementById("side-a"), document.getElementById("side-b")];
    try {
      const created = [], pair = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
      for (const [side, model, other] of [["A", a, b], ["B", b, a]]) {
        created.push(await api(`/v1/evals/${config.eval_id}/runs`, {
          method: "POST",
          body: {
            name: `compare: ${shortName(model)} vs ${shortName(other)}`,
            data_source: dataSource(model),
            metadata: { console: "checkpoints compare", job: config.job_id, pair, side },
          },
        }));
      }
      created.forEach((run, i) => renderSide(sides[i], i ? "B" : "A", run));
      const stop = openrft.poll(async () => {
        const now = await Promise.all(created.map((r) => api(`/v1/evals/${config.eval_id}/runs/${r.id}`)));
        now.forEach((run, i) => renderSide(sides[i], i ? "B" : "A", run));
        if (now.every((r) => TERMINAL.has(r.status))) {
          stop();
          button.disabled = false;
          delete button.dataset.running;
          button.textContent = "Run both on the validation set";
          links.replaceChildren(
            el("a", { class: "button", href: `/evals/${config.eval_id}/compare?a=${now[0].id}&b=${now[1].id}`, text: "Compare item by item" }),
            el("span", { class: "muted", text: `A ${rateText(now[0])} vs B ${rateText(now[1])}` }),
          );
          openrft.toast("Both runs finished.", "ok");
        }
      }, 1500);
    } catch (e) {
      openrft.toast(`Could not start the comparison: ${e.message}`, "error");
      sides[0].replaceChildren(el("p", { class: "error", text: e.message }));
      sides[1].replaceChildren();
      button.disabled = false;
      delete button.dataset.running;
      button.textContent = "Run both on the validation set";
    }
  });
})();
