// A job's samples (/jobs/{id}/samples?step=N): the step's prompts with their G completions side by side,
// from /v1/fine_tuning/jobs/{id}/samples?step=N (every page of it), sorted and filtered by reward here,
// and a histogram of the step's completion rewards. Changing the step updates the URL (history) too.
"use strict";

(() => {
  const root = document.getElementById("samples-root");
  if (!root) return;
  const jobId = root.dataset.jobId;
  const steps = JSON.parse(document.getElementById("sample-steps").textContent);
  const $ = (id) => document.getElementById(id);
  const e = openrft.el;
  let step = Number(root.dataset.step);
  let groups = [];
  let histogram = null;

  async function load(n) {
    $("samples-status").textContent = `Loading step ${n}…`;
    const out = [];
    let after = null;
    do {
      const q = new URLSearchParams({ step: String(n), limit: "100" });
      if (after) q.set("after", after);
      const page = await openrft.api(`/v1/fine_tuning/jobs/${encodeURIComponent(jobId)}/samples?${q}`);
      out.push(...page.data);
      after = page.has_more ? page.last_id : null;
    } while (after);
    return out;
  }

  const num = (id) => { const v = $(id).value.trim(); return v === "" ? null : Number(v); };
  const spread = (g) => { const r = g.completions.map((c) => c.reward); return r.length ? Math.max(...r) - Math.min(...r) : 0; };

  function completionCard(c, index, best, worst) {
    const parts = Object.entries(c.components || {});
    const cls = "completion" + (best && !worst ? " best" : "") + (worst && !best ? " worst" : "");
    return e("article", { class: cls, "data-reward": String(c.reward), "aria-label": `completion ${index + 1}, reward ${openrft.fmt(c.reward, 3)}` },
      e("div", { class: "score" },
        e("span", {}, e("span", { class: "muted", text: "reward " }), e("span", { class: "reward", text: openrft.fmt(c.reward, 3) })),
        e("span", {}, e("span", { class: "muted", text: "advantage " }), e("span", { class: "advantage num", text: openrft.fmt(c.advantage, 3) })),
        e("span", { class: "muted", text: `#${index + 1} · ${c.completion_tokens} tokens${best && !worst ? " · highest" : ""}${worst && !best ? " · lowest" : ""}` })),
      c.error ? e("p", { class: "error", text: `${c.error.code}: ${c.error.message}` }) : null,
      e("pre", { text: c.text || "(empty completion)" }),
      parts.length ? e("ul", { class: "components", "aria-label": "reward components" },
        ...parts.map(([k, v]) => e("li", {}, e("span", { text: k }), e("span", { class: "v", text: openrft.fmt(v, 3) })))) : null);
  }

  function promptBox(messages) {
    return e("div", { class: "prompt" }, ...(messages || []).map((m) => e("div", {},
      e("span", { class: "role", text: m.role }), e("span", { text: typeof m.content === "string" ? m.content : JSON.stringify(m.content) }))));
  }

  function render() {
    const lo = num("reward-min"), hi = num("reward-max");
    const keep = (c) => (lo === null || c.reward >= lo) && (hi === null || c.reward <= hi);
    const order = $("sort-groups").value, corder = $("sort-completions").value;
    const sorted = groups.slice();
    if (order === "-reward") sorted.sort((a, b) => b.reward_mean - a.reward_mean);
    if (order === "reward") sorted.sort((a, b) => a.reward_mean - b.reward_mean);
    if (order === "-spread") sorted.sort((a, b) => spread(b) - spread(a));
    let shownCompletions = 0, shownGroups = 0;
    const cards = [];
    for (const g of sorted) {
      let cs = g.completions.map((c, i) => ({ c, i }));
      if (corder === "-reward") cs.sort((a, b) => b.c.reward - a.c.reward);
      if (corder === "reward") cs.sort((a, b) => a.c.reward - b.c.reward);
      cs = cs.filter(({ c }) => keep(c));
      if (!cs.length) continue;
      shownGroups++; shownCompletions += cs.length;
      const rewards = g.completions.map((c) => c.reward);
      const best = Math.max(...rewards), worst = Math.min(...rewards);
      cards.push(e("section", { class: "group", id: `sample-${g.id}`, "data-sample-id": g.id, "aria-label": `prompt ${g.group_index + 1} of step ${g.step}` },
        e("div", { class: "group-head" },
          e("h2", { text: `Prompt ${g.group_index + 1}` }),
          e("span", {}, e("span", { class: "muted", text: "mean reward " }), e("strong", { class: "group-mean", text: openrft.fmt(g.reward_mean, 3) })),
          e("span", { class: "muted", text: `std ${openrft.fmt(g.reward_std, 3)} · ${g.completions.length} completions${best === worst ? " · all equal: no learning signal" : ""}` }),
          e("span", { class: "muted mono", text: g.id })),
        promptBox(g.prompt),
        e("div", { class: "completions" }, ...cs.map(({ c, i }) => completionCard(c, i, c.reward === best, c.reward === worst)))));
    }
    $("groups").replaceChildren(...cards);
    const total = groups.reduce((n, g) => n + g.completions.length, 0);
    $("samples-status").textContent = `Step ${step}: ${groups.length} prompts, ${total} completions` +
      (shownCompletions !== total ? `; ${shownCompletions} completions in ${shownGroups} prompts match the reward range.` : ".");
    const target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target) {
      target.classList.add("highlight");
      target.querySelector(".group-head").append(e("span", { class: "badge warn", text: "the sample the link pointed to" }));
      target.scrollIntoView();
    }
  }

  function drawHistogram() {
    const values = groups.flatMap((g) => g.completions.map((c) => c.reward));
    let lo = Math.min(...values, 0), hi = Math.max(...values, 1);
    const opts = { title: `Rewards of the ${values.length} completions at step ${step}`, values, bins: 10, range: [lo, hi], xLabel: "reward", height: 180 };
    if (typeof openrftPlot === "undefined") return;
    histogram = openrftPlot.histogram($("reward-histogram"), opts);
  }

  async function show(n, push) {
    step = n;
    $("step-select").value = String(n);
    const i = steps.indexOf(n);
    $("step-prev").disabled = i <= 0;
    $("step-next").disabled = i < 0 || i >= steps.length - 1;
    if (push) history.pushState({ step: n }, "", `?step=${n}`);
    try {
      groups = await load(n);
    } catch (err) {
      $("samples-status").textContent = `Could not load step ${n}: ${err.message}`;
      return;
    }
    drawHistogram();
    render();
    if (!performance.getEntriesByName("openrft:samples-shown").length) performance.mark("openrft:samples-shown");  // the bench reads it
  }

  $("step-select").addEventListener("change", () => show(Number($("step-select").value), true));
  $("step-prev").addEventListener("click", () => { const i = steps.indexOf(step); if (i > 0) show(steps[i - 1], true); });
  $("step-next").addEventListener("click", () => { const i = steps.indexOf(step); if (i < steps.length - 1) show(steps[i + 1], true); });
  for (const id of ["sort-groups", "sort-completions", "reward-min", "reward-max"]) $(id).addEventListener("input", render);
  window.addEventListener("popstate", () => { const n = Number(new URLSearchParams(location.search).get("step")); if (steps.includes(n)) show(n, false); });
  show(step, false);
})();
