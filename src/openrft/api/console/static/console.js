// The console's shared helpers: calls to the /v1 API with the session's CSRF token, messages, polling.
// Plain JavaScript, no build step. Pages add their own files (jobs.js, evals.js, ...).
"use strict";

const openrft = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  // The project the page shows: the admin's switcher may have chosen another than the key's own.
  const project = () => document.querySelector('meta[name="openrft-project"]')?.content || "";

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `HTTP ${status}`);
      this.status = status;
      this.code = error.code;
      this.param = error.param;
    }
  }

  // fetch() against our own API: the cookie authenticates, X-CSRF-Token proves the page is ours.
  async function api(path, { method = "GET", body, signal } = {}) {
    const headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
    if (project()) headers["OpenAI-Project"] = project();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, signal, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {  // the session ended: back to the sign-in page, then here
      const next = encodeURIComponent(location.pathname + location.search);
      location.assign(`/signin?next=${next}&reason=${encodeURIComponent("Your console session ended: sign in again.")}`);
      throw new ApiError(401, await response.json().catch(() => null));
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function toast(message, kind = "info") {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.dataset.kind = kind;
    box.classList.add("shown");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => box.classList.remove("shown"), 6000);
  }

  // A modal yes/no question (a <dialog>: keyboard and screen readers handle it); resolves true or false.
  function confirmAction(question, confirmLabel = "Confirm") {
    return new Promise((resolve) => {
      const dialog = document.createElement("dialog");
      dialog.className = "confirm";
      dialog.setAttribute("aria-labelledby", "confirm-question");
      dialog.innerHTML = `<p id="confirm-question"></p><form method="dialog" class="row">
        <button value="cancel" class="secondary">Back</button><button value="ok" class="danger"></button></form>`;
      dialog.querySelector("p").textContent = question;
      dialog.querySelector('button[value="ok"]').textContent = confirmLabel;
      dialog.addEventListener("close", () => { resolve(dialog.returnValue === "ok"); dialog.remove(); });
      document.body.append(dialog);
      dialog.showModal();
      dialog.querySelector('button[value="cancel"]').focus();
    });
  }

  // Run `fn` now and every `ms` while the page is visible; returns a function that stops it.
  function poll(fn, ms) {
    let timer = null, stopped = false;
    const tick = async () => {
      if (stopped) return;
      if (!document.hidden) { try { await fn(); } catch (e) { console.error(e); } }
      timer = setTimeout(tick, ms);
    };
    tick();
    return () => { stopped = true; clearTimeout(timer); };
  }

  const fmt = (x, digits = 3) => (x === null || x === undefined || Number.isNaN(x)) ? "–"
    : (typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : String(x));
  const when = (unix_s) => unix_s ? new Date(unix_s * 1000).toLocaleString() : "–";
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else if (v !== false && v != null) node.setAttribute(k, v);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };

  return { api, ApiError, toast, confirmAction, poll, fmt, when, el, csrf, project };
})();
