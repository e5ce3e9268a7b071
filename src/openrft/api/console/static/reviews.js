// Expert review (/reviews): save each verdict through POST /v1/reviews/ratings, then redraw the agreement
// of the reward with the ratings from GET /v1/reviews/agreement. The queue's rewards never reach this page;
// the agreement report shows the reward only for completions already rated.
"use strict";

(() => {
  const root = document.getElementById("review-root");
  if (!root) return;
  const { api, el, fmt, toast } = openrft;
  const scope = { job_id: root.dataset.jobId || null, run_id: root.dataset.runId || null };
  const total = Number(root.dataset.total || 0);
  const figures = document.getElementById("agreement-figures");
  const list = document.getElementById("disagreements");
  const threshold = document.getElementById("threshold");

  const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 1000) / 10}%`);

  // Landis and Koch's words for kappa, the usual reading.
  function kappaWords(k) {
    if (k === null || k === undefined) return "undefined";
    if (k < 0) return "worse than chance";
    if (k <= 0.2) return "slight";
    if (k <= 0.4) return "fair";
    if (k <= 0.6) return "moderate";
    if (k <= 0.8) return "substantial";
    return "almost perfect";
  }

  function countRated() {
    const rated = root.querySelectorAll(".completion[data-rating='good'], .completion[data-rating='bad']").length;
    const counter = document.getElementById("rated-count");
    if (counter) counter.textContent = String(rated);
    const status = document.getElementById("rated-status");
    if (status) status.classList.toggle("done", rated === total && total > 0);
  }

  async function rate(item, rating) {
    const target = JSON.parse(item.dataset.target);
    const comment = item.querySelector(".comment").value.trim();
    const saved = item.querySelector(".saved");
    saved.textContent = "Saving…";
    try {
      const body = { target, rating };
      if (comment) body.comment = comment;
      await api("/v1/reviews/ratings", { method: "POST", body });
    } catch (err) {
      saved.textContent = "Not saved";
      toast(`Could not save the rating: ${err.message}`, "error");
      return;
    }
    item.dataset.rating = rating;
    item.classList.remove("rated-good", "rated-bad");
    item.classList.add(`rated-${rating}`);
    for (const b of item.querySelectorAll("button.verdict")) b.setAttribute("aria-pressed", String(b.dataset.rating === rating));
    saved.textContent = `Saved: ${rating}${comment ? " (with comment)" : ""}`;
    countRated();
    await refresh();
  }

  for (const item of root.querySelectorAll(".completion")) {
    for (const button of item.querySelectorAll("button.verdict")) {
      button.addEventListener("click", () => rate(item, button.dataset.rating));
    }
    // A comment typed after the verdict is saved with it when the field is left.
    item.querySelector(".comment").addEventListener("change", () => {
      if (item.dataset.rating) rate(item, item.dataset.rating);
    });
  }

  function figure(label, value, note) {
    return el("div", { class: "figure" }, el("div", { class: "figure-label", text: label }),
      el("div", { class: "figure-value", text: value }), el("div", { class: "figure-note", text: note }));
  }

  function confusion(t) {
    const cell = (n, agree) => el("td", { class: `num ${agree ? "agree" : "disagree"}`, text: String(n) });
    return el("table", { class: "confusion" },
      el("caption", { class: "help", text: "Rated completions by verdict" }),
      el("thead", {}, el("tr", {}, el("td", {}), el("th", { scope: "col", text: "reward: good" }), el("th", { scope: "col", text: "reward: bad" }))),
      el("tbody", {},
        el("tr", {}, el("th", { scope: "row", text: "expert: good" }), cell(t.expert_good_reward_good, true), cell(t.expert_good_reward_bad, false)),
        el("tr", {}, el("th", { scope: "row", text: "expert: bad" }), cell(t.expert_bad_reward_good, false), cell(t.expert_bad_reward_bad, true))));
  }

  function components(report) {
    if (!report.components.length && !report.skipped_components.length) return null;
    const rows = report.components.map((c) => el("tr", {},
      el("th", { scope: "row", class: "mono", text: c.name }), el("td", { class: "num", text: String(c.n) }),
      el("td", { class: "num", text: pct(c.agreement_rate) }),
      el("td", { class: "num", text: `${fmt(c.cohen_kappa, 2)} (${kappaWords(c.cohen_kappa)})` })));
    const box = el("div", { class: "components" }, el("h3", { text: scope.job_id ? "Per grader component" : "Per testing criterion" }));
    if (rows.length) {
      box.append(el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col", text: scope.job_id ? "component" : "criterion" }),
        el("th", { scope: "col", class: "num", text: "rated" }), el("th", { scope: "col", class: "num", text: "agreement" }),
        el("th", { scope: "col", class: "num", text: "Cohen's kappa" }))), el("tbody", {}, ...rows)));
    }
    for (const s of report.skipped_components) {
      box.append(el("p", { class: "help", text: `${s.name}: not compared (${s.reason}).` }));
    }
    return box;
  }

  function drawFigures(report) {
    const o = report.overall;
    if (!o.n && !report.unscored) {
      figures.replaceChildren(el("p", { class: "muted", text: "No ratings yet: rate a completion and the agreement appears here." }));
      return;
    }
    const kappaNote = o.cohen_kappa === null
      ? "undefined: one side gave every completion the same verdict, so chance alone explains the agreement"
      : `${kappaWords(o.cohen_kappa)}; 1 = full agreement, 0 = no better than chance`;
    figures.replaceChildren(
      el("div", { class: "figures" },
        figure("Agreement rate", pct(o.agreement_rate), `${o.agreed} of ${o.n} rated completions agree`),
        figure("Cohen's kappa", fmt(o.cohen_kappa, 2), kappaNote),
        figure("Disagreements", String(report.disagreements), report.unscored ? `${report.unscored} not scored by the reward` : "listed first below")),
      confusion(o.table),
      components(report) || "");
  }

  function messagesText(prompt) {
    if (!Array.isArray(prompt)) return "";
    return prompt.map((m) => `${m.role}: ${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}`).join("\n");
  }

  function drawItems(report) {
    if (!report.items.length) {
      list.replaceChildren(el("p", { class: "muted", text: "Rate completions to fill this list." }));
      return;
    }
    const rows = report.items.map((item) => {
      const kind = item.agrees === null ? "unscored" : item.agrees ? "agrees" : "disagrees";
      const word = { agrees: "Agree", disagrees: "Disagree", unscored: "Reward has no score" }[kind];
      const parts = item.components.map((c) => `${c.name} ${fmt(c.value, 3)} (${c.verdict})`).join(", ");
      return el("tr", { class: kind },
        el("td", {}, el("span", { class: `badge ${kind === "agrees" ? "good" : kind === "disagrees" ? "bad" : "warn"}`, text: word })),
        el("td", {}, el("div", { class: "prompt-mini", text: messagesText(item.prompt) }), el("pre", { class: "text", text: item.completion ?? "(not stored any more)" })),
        el("td", {}, el("span", { class: `badge ${item.rating.rating}`, text: item.rating.rating }),
          item.rating.comment ? el("div", { class: "comment-shown", text: `“${item.rating.comment}”` }) : null,
          el("div", { class: "help mono", text: item.rating.rater })),
        el("td", {}, item.reward_verdict ? el("span", { class: `badge ${item.reward_verdict}`, text: item.reward_verdict }) : el("span", { class: "muted", text: "–" }),
          el("div", { class: "num-line", text: item.reward === null ? "" : `score ${fmt(item.reward, 3)}` }),
          parts ? el("div", { class: "help", text: parts }) : null));
    });
    list.replaceChildren(el("table", { class: "parts" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "" }), el("th", { scope: "col", text: "Prompt and completion" }),
        el("th", { scope: "col", text: "Expert" }), el("th", { scope: "col", text: "Reward" }))),
      el("tbody", {}, ...rows)));
  }

  async function refresh() {
    const params = new URLSearchParams();
    if (scope.job_id) params.set("job_id", scope.job_id);
    if (scope.run_id) params.set("run_id", scope.run_id);
    if (threshold && threshold.value !== "") params.set("threshold", threshold.value);
    try {
      const report = await api(`/v1/reviews/agreement?${params}`);
      drawFigures(report);
      drawItems(report);
    } catch (err) {
      figures.replaceChildren(el("p", { class: "error", role: "alert", text: `Could not compute the agreement: ${err.message}` }));
    }
  }

  threshold?.addEventListener("change", refresh);
  countRated();
  refresh();
})();
