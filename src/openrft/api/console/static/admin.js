// Admin pages: create and archive projects, create and revoke keys, through the /v1/organization API.
// After a change the page's table is swapped for a fresh server rendering (no full reload), so a new
// key's secret, shown once, stays on screen.
"use strict";

(() => {
  const { api, toast, confirmAction } = openrft;

  function localTimes(root = document) {
    for (const node of root.querySelectorAll("time.when[data-unix]")) {
      const unix = Number(node.dataset.unix);
      if (unix) node.textContent = openrft.when(unix);
    }
  }

  // Replace the element `id` with its copy from a fresh rendering of this page.
  async function refresh(id) {
    const response = await fetch(location.pathname, { credentials: "same-origin" });
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById(id);
    const current = document.getElementById(id);
    if (fresh && current) { current.replaceWith(document.importNode(fresh, true)); localTimes(document.getElementById(id)); }
  }

  const failed = (what) => (e) => toast(`${what}: ${e.message}`, "error");

  async function createProject(form) {
    const name = form.elements.name.value.trim();
    if (!name) return;
    const project = await api("/v1/organization/projects", { method: "POST", body: { name } });
    form.reset();
    await refresh("projects");
    toast(`Project ${project.name} created (${project.id}).`);
    document.querySelector(`tr[data-project="${CSS.escape(project.id)}"] a`)?.focus();
  }

  async function archiveProject(button) {
    const ok = await confirmAction(`Archive project ${button.dataset.name}? Every key of it is revoked at once, and an archived project cannot be restored. Its data stays.`, "Archive project");
    if (!ok) return;
    await api(`/v1/organization/projects/${encodeURIComponent(button.dataset.archive)}/archive`, { method: "POST" });
    await refresh("projects");
    toast(`Project ${button.dataset.name} archived; its keys are revoked.`);
  }

  async function createKey(form) {
    const name = form.elements.name.value.trim();
    if (!name) return;
    const project = form.dataset.project;
    const account = await api(`/v1/organization/projects/${encodeURIComponent(project)}/service_accounts`, { method: "POST", body: { name } });
    form.reset();
    const box = document.getElementById("new-secret");
    document.getElementById("new-secret-name").textContent = `"${account.api_key.name}"`;
    document.getElementById("new-secret-value").value = account.api_key.value;
    document.getElementById("new-secret-id").textContent = account.api_key.id;
    box.hidden = false;
    document.getElementById("new-secret-value").select();
    document.getElementById("copy-secret").focus();
    await refresh("keys");
  }

  async function copySecret() {
    const input = document.getElementById("new-secret-value");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      input.select();
      document.execCommand("copy");  // older browsers, or a page that is not a secure context
    }
    toast("Secret copied to the clipboard.");
  }

  function hideSecret() {
    document.getElementById("new-secret-value").value = "";
    document.getElementById("new-secret").hidden = true;
  }

  async function revokeKey(button) {
    const ok = await confirmAction(`Revoke key ${button.dataset.name} (${button.dataset.revoke})? Every client using it gets 401 from now on, and its console sessions end.`, "Revoke key");
    if (!ok) return;
    await api(`/v1/organization/projects/${encodeURIComponent(button.dataset.project)}/api_keys/${encodeURIComponent(button.dataset.revoke)}`, { method: "DELETE" });
    await refresh("keys");
    toast(`Key ${button.dataset.name} revoked.`);
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes();
    document.getElementById("create-project")?.addEventListener("submit", (e) => { e.preventDefault(); createProject(e.target).catch(failed("Could not create the project")); });
    document.getElementById("create-key")?.addEventListener("submit", (e) => { e.preventDefault(); createKey(e.target).catch(failed("Could not create the key")); });
    document.getElementById("copy-secret")?.addEventListener("click", () => copySecret().catch(failed("Could not copy")));
    document.getElementById("hide-secret")?.addEventListener("click", hideSecret);
    document.addEventListener("click", (e) => {  // buttons inside tables that are swapped after each change
      const archive = e.target.closest("button[data-archive]");
      if (archive) archiveProject(archive).catch(failed("Could not archive the project"));
      const revoke = e.target.closest("button[data-revoke]");
      if (revoke) revokeKey(revoke).catch(failed("Could not revoke the key"));
    });
  });
})();
