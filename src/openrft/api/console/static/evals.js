// Evals pages: a run's live counts and its output items (paged, pass/fail filter), and the validation
// table of a job, refreshed while the job runs. Data comes from the /v1 API (openrft.api).
"use strict";

(() => {
  const { api, el, fmt, poll, toast } = openrft;
  const ACTIVE = new Set(["queued", "in_progress"]);
  const PAGE_SIZE = 10;

  const percent = (passed, total) => total ? `${(100 * passed / total).toFixed(1)}% (${passed}/${total})` : "– (0/0)";
  const boot = (id) => { const node = document.getElementById(id); return node ? JSON.parse(node.textContent) : null; };

  function localTimes(root = document) {
    for (const node of root.querySelectorAll("time.when[data-unix]")) {
      const unix = Number(node.dataset.unix);
      if (unix) { node.textContent = openrft.when(unix); node.dateTime = new Date(unix * 1000).toISOString(); }
    }
  }

  // -- a run: counts while it runs ----------------------------------------------------------------------

  function showRun(run) {
    const status = document.getElementById("run-status");
    status.textContent = run.status;
    status.className = `badge ${run.status}`;
    document.getElementById("run-live").hidden = !ACTIVE.has(run.status);
    const c = run.result_counts;
    for (const key of ["total", "passed", "failed", "errored"]) document.getElementById(`count-${key}`).textContent = c[key];
    document.getElementById("count-rate").textContent = percent(c.passed, c.total);
    for (const r of run.per_testing_criteria_results) {
      const row = document.querySelector(`#criteria-table tr[data-criterion="${CSS.escape(r.testing_criteria)}"] .rate`);
      if (row) row.textContent = percent(r.passed, r.passed + r.failed);
    }
    const usage = document.querySelector("#usage-table tbody");
    if (run.per_model_usage.length) {
      usage.replaceChildren(...run.per_model_usage.map((u) => el("tr", {},
        el("td", {}, el("code", { text: u.model_name })), el("td", { class: "num", text: u.invocation_count }),
        el("td", { class: "num", text: u.prompt_tokens }), el("td", { class: "num", text: u.completion_tokens }),
        el("td", { class: "num", text: u.total_tokens }))));
    }
    const error = document.getElementById("run-error");
    error.hidden = !run.error;
    if (run.error) error.textContent = `The run failed: ${run.error.message} (${run.error.code})`;
  }

  // -- a run: its output items ----------------------------------------------------------------------------

  function messagesView(messages) {
    if (!messages || !messages.length) return el("p", { class: "muted", text: "(none)" });
    return el("div", {}, ...messages.map((m) => el("div", { class: "message" },
      el("span", { class: "role", text: m.role }), el("pre", { text: typeof m.content === "string" ? m.content : JSON.stringify(m.content) }))));
  }

  // An item without messages (a jsonl row's fields): each field on its own line.
  function fieldsView(fields) {
    const entries = Object.entries(fields);
    if (!entries.length) return el("p", { class: "muted", text: "(empty item)" });
    return el("dl", { class: "fields" }, ...entries.flatMap(([k, v]) => [
      el("dt", { text: k }), el("dd", {}, el("pre", { text: typeof v === "string" ? v : JSON.stringify(v, null, 2) }))]));
  }

  function gradesView(results, names) {
    const rows = results.map((r) => {
      const error = r.sample && r.sample.error;
      const verdict = error ? el("span", { class: "badge fail", text: "error" }) :
        el("span", { class: `badge ${r.passed ? "pass" : "fail"}`, text: r.passed ? "pass" : "fail" });
      return el("tr", {},
        el("td", { text: names[r.testing_criteria] || r.name }),
        el("td", { class: "num", text: fmt(r.score) }),
        el("td", {}, verdict, error ? el("span", { class: "muted", text: ` ${error.message}` }) : null));
    });
    return el("table", { class: "grades-table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Criterion" }), el("th", { scope: "col", class: "num", text: "Score" }),
        el("th", { scope: "col", text: "Grade" }))),
      el("tbody", {}, ...rows));
  }

  function itemView(item, names) {
    const sample = item.sample || {};
    const answer = (sample.output || []).map((m) => m.content || "").join("\n");
    const input = sample.input && sample.input.length ? sample.input : (item.datasource_item.messages || []);
    const fields = Object.fromEntries(Object.entries(item.datasource_item).filter(([k]) => k !== "messages"));
    return el("article", { class: "card item", "data-item": item.datasource_item_id, "aria-label": `Item ${item.datasource_item_id}` },
      el("header", { class: "row" },
        el("strong", { text: `Item ${item.datasource_item_id}` }),
        el("span", { class: `badge ${item.status}`, text: item.status }),
        sample.error ? el("span", { class: "badge fail", text: "generation failed" }) : null),
      el("div", { class: "item-grid" },
        input.length
          ? el("div", {}, el("h4", { text: "Input" }), messagesView(input),
            Object.keys(fields).length ? el("details", {}, el("summary", { text: "Item fields" }), el("pre", { text: JSON.stringify(fields, null, 2) })) : null)
          : el("div", {}, el("h4", { text: "Item" }), fieldsView(fields)),
        el("div", {}, el("h4", { text: "Output" }),
          sample.error ? el("p", { class: "error", text: sample.error.message || String(sample.error) }) : el("pre", { class: "answer", text: answer || "(empty answer)" })),
        el("div", {}, el("h4", { text: "Grades" }), gradesView(item.results || [], names))));
  }

  function itemsPager(state) {
    const box = document.getElementById("items");
    const prev = document.getElementById("items-prev");
    const next = document.getElementById("items-next");
    const range = document.getElementById("items-range");
    const filter = document.getElementById("item-filter");
    let cursors = [null];  // the `after` of each page seen: a stack, for Previous
    let last = null;

    async function load() {
      const after = cursors[cursors.length - 1];
      const query = new URLSearchParams({ limit: PAGE_SIZE, order: "asc" });
      if (after) query.set("after", after);
      if (filter.value) query.set("status", filter.value);
      const page = await api(`/v1/evals/${state.eval_id}/runs/${state.run_id}/output_items?${query}`);
      last = page;
      if (!page.data.length) {
        box.replaceChildren(el("p", { class: "muted", text: cursors.length > 1 ? "No more items." :
          (ACTIVE.has(state.status) ? "No item graded yet: they appear here as the run grades them." : "No items match this filter.") }));
      } else {
        box.replaceChildren(...page.data.map((item) => itemView(item, state.criteria)));
      }
      box.dataset.shown = filter.value || "all";  // which filter the items on screen answer (tests wait on it)
      const start = (cursors.length - 1) * PAGE_SIZE;
      range.textContent = page.data.length ? `items ${start + 1}–${start + page.data.length}${page.has_more ? "" : " (last page)"}` : "";
      prev.disabled = cursors.length <= 1;
      next.disabled = !page.has_more;
    }
    const safely = () => load().catch((e) => toast(`Could not load the output items: ${e.message}`, "error"));
    prev.addEventListener("click", () => { if (cursors.length > 1) { cursors.pop(); safely(); } });
    next.addEventListener("click", () => { if (last && last.has_more) { cursors.push(last.last_id); safely(); } });
    filter.addEventListener("change", () => { cursors = [null]; safely(); });
    safely();
    return { reload: safely, isFirstPage: () => cursors.length === 1 };
  }

  function runPage(state) {
    const pager = itemsPager(state);
    if (!ACTIVE.has(state.status)) return;
    let seen = -1;
    const stop = poll(async () => {
      const run = await api(`/v1/evals/${state.eval_id}/runs/${state.run_id}`);
      showRun(run);
      state.status = run.status;
      const total = run.result_counts.total;
      if (total !== seen && pager.isFirstPage()) { seen = total; pager.reload(); }
      if (!ACTIVE.has(run.status)) { stop(); pager.reload(); toast(`The run is ${run.status}.`, run.status === "completed" ? "info" : "error"); }
    }, 2000);
  }

  // -- a job's validation table: swapped in when a new evaluation step lands ---------------------------

  function validationPage(state) {
    const done = new Set(["succeeded", "failed", "cancelled"]);
    if (done.has(state.status)) return;
    let steps = state.steps.length;
    const stop = poll(async () => {
      const job = await api(`/v1/fine_tuning/jobs/${state.job_id}`);
      if (!job.eval_id) return;
      const runs = await api(`/v1/evals/${job.eval_id}/runs?limit=100&order=desc`);
      const n = runs.data.filter((r) => r.metadata && r.metadata.step !== undefined).length;
      if (n !== steps || done.has(job.status)) {
        steps = n;
        const html = await (await fetch(location.pathname, { credentials: "same-origin" })).text();
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (fresh) { document.getElementById("main").replaceChildren(...Array.from(fresh.childNodes).map((c) => document.importNode(c, true))); localTimes(); }
        if (done.has(job.status)) stop();
      }
    }, 3000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes();
    const run = boot("run-boot");
    if (run) runPage(run);
    const validation = boot("validation-boot");
    if (validation) validationPage(validation);
  });
})();
