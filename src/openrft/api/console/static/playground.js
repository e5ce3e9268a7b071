// The playground: one prompt sent to two models at once through /v1/chat/completions with stream=true;
// each answer is read from its server-sent events (fetch + ReadableStream) and shown as it arrives.
"use strict";

(() => {
  const form = document.getElementById("pg-form");
  if (!form) return;
  const send = document.getElementById("pg-send"), stop = document.getElementById("pg-stop");
  const sides = ["left", "right"].map((side) => {
    const box = document.getElementById(`answer-${side}`);
    return { side, box, select: document.getElementById(`model-${side}`), out: box.querySelector("[data-out]"),
      meta: box.querySelector("[data-meta]"), name: box.querySelector("[data-model-name]") };
  });
  let controller = null;

  for (const s of sides) s.select.addEventListener("change", () => {
    s.name.textContent = s.select.value;
    const url = new URL(location.href);  // the right-hand model is in the address, so the page can be linked
    if (s.side === "right") { url.searchParams.set("model", s.select.value); history.replaceState(null, "", url); }
  });

  // Yields the JSON of each `data:` event until `data: [DONE]`.
  async function* events(response) {
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (!data) continue;
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }

  async function ask(s, body, signal) {
    const started = performance.now();
    let first = null, text = "", finish = null, usage = null;
    s.box.classList.add("streaming");
    s.box.setAttribute("aria-busy", "true");  // screen readers read the answer once, when it is complete
    s.out.textContent = "";
    s.meta.textContent = "Waiting for the first token…";
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST", signal, credentials: "same-origin",
        headers: {
          "Content-Type": "application/json", Accept: "text/event-stream",
          "X-CSRF-Token": openrft.csrf(), "OpenAI-Project": openrft.project(),
        },
        body: JSON.stringify({ ...body, model: s.select.value }),
      });
      if (response.status === 401) { await openrft.api("/v1/models"); return; }  // api() sends us to sign-in
      if (!response.ok) {
        const err = await response.json().catch(() => null);
        throw new Error((err && err.error && err.error.message) || `HTTP ${response.status}`);
      }
      for await (const chunk of events(response)) {
        if (chunk.error) throw new Error(chunk.error.message || "the stream failed");
        if (chunk.usage) usage = chunk.usage;
        const choice = (chunk.choices || [])[0];
        if (!choice) continue;
        const piece = (choice.delta && choice.delta.content) || "";
        if (piece) {
          if (first === null) first = performance.now();
          text += piece;
          s.out.textContent = text;
          s.meta.textContent = `Streaming… ${text.length} characters`;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      const total = (performance.now() - started) / 1000;
      const parts = [`finished: ${finish || "?"}`];
      if (usage) parts.push(`${usage.completion_tokens} tokens`);
      if (first !== null) parts.push(`first token after ${((first - started) / 1000).toFixed(2)} s`);
      parts.push(`${total.toFixed(2)} s in all`);
      if (!text) s.out.textContent = "(an empty answer)";
      s.meta.textContent = parts.join(" · ");
      s.box.dataset.done = "true";
    } catch (e) {
      if (e.name === "AbortError") { s.meta.textContent = `Stopped after ${text.length} characters.`; return; }
      s.out.textContent = text;
      s.meta.textContent = "";
      s.meta.append(openrft.el("span", { class: "error", text: `Error: ${e.message}` }));
    } finally {
      s.box.classList.remove("streaming");
      s.box.setAttribute("aria-busy", "false");
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const prompt = form.elements.prompt.value.trim();
    if (!prompt) { form.elements.prompt.focus(); return; }
    const messages = [];
    const system = form.elements.system.value.trim();
    if (system) messages.push({ role: "system", content: system });
    messages.push({ role: "user", content: prompt });
    const temperature = Number(form.elements.temperature.value), maxTokens = Number(form.elements.max_tokens.value);
    const body = { messages, stream: true, stream_options: { include_usage: true } };
    if (form.elements.temperature.value !== "" && Number.isFinite(temperature)) body.temperature = temperature;
    if (form.elements.max_tokens.value !== "" && Number.isFinite(maxTokens)) body.max_completion_tokens = maxTokens;
    controller = new AbortController();
    send.disabled = true; stop.disabled = false;
    for (const s of sides) delete s.box.dataset.done;
    await Promise.all(sides.map((s) => ask(s, body, controller.signal)));  // both at once, side by side
    send.disabled = false; stop.disabled = true;
  });
  stop.addEventListener("click", () => controller && controller.abort());
  form.elements.prompt.addEventListener("keydown", (ev) => {  // Ctrl+Enter (or Cmd+Enter) sends
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && !send.disabled) { ev.preventDefault(); form.requestSubmit(); }
  });
})();
