// Files pages: times shown in the reader's own time zone.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const node of document.querySelectorAll("time.when[data-unix]")) {
    const unix = Number(node.dataset.unix);
    if (unix) node.textContent = openrft.when(unix);
  }
});
