// openrftPlot: the console's own small canvas charts (no third-party code).
//
//   const chart = openrftPlot.lineChart(container, {title, xLabel, yLabel, height, series, markers});
//   chart.setSeries(series); chart.setMarkers(markers); chart.resetZoom();
//   openrftPlot.histogram(container, {title, values, bins, range, xLabel, height});
//
// Line charts: a hover tooltip with x and every series' value; drag to zoom the x range, double-click,
// Escape or the "Reset zoom" button to reset; legend buttons toggle series; Left/Right move the cursor
// when the chart has focus (Home/End jump to the ends). Marker flags are real <button>s over the canvas.
// A series with more points than the plot has pixel columns is drawn as min/max per column, so 10,000
// points cost what ~1,000 do. Colours are the Okabe-Ito palette (safe for colour-blind readers); dashed
// series and the legend's text tell series apart without colour too.
// Positions are set through element.style (CSSOM), which the console's CSP allows; no inline styles.
"use strict";

const openrftPlot = (() => {
  const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8E6C00"];
  const INK = "#1b1f24", MUTED = "#4a5361", GRID = "#e3e8ee", AXIS = "#8c959f";
  const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
  const MARKER_COLORS = { warn: "#b35c00", error: "#b3261e", info: "#0b5cad" };

  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // Numbers as people read them: integers plain, others with 3-4 significant figures.
  function fmtNum(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 100) return v.toFixed(1);
    if (a >= 1) return v.toFixed(3);
    if (a === 0) return "0";
    if (a < 0.001) return v.toExponential(2);
    return v.toFixed(3);
  }

  // "Nice" ticks: steps of 1, 2 or 5 times a power of ten, about `count` of them across [lo, hi].
  function niceTicks(lo, hi, count, integer) {
    if (!(hi > lo)) return { ticks: [lo], step: 1 };
    const raw = (hi - lo) / Math.max(1, count);
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) || 10 * pow;
    if (integer) step = Math.max(1, Math.round(step));
    const ticks = [];
    for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
      ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return { ticks, step };
  }

  function tickLabel(t, step) {
    if (Math.abs(t) >= 1e5 || step < 1e-3) return t === 0 ? "0" : t.toExponential(1);
    const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
    return t.toFixed(decimals);
  }

  // First index with xs[i] >= x (xs ascending).
  function lowerBound(xs, x) {
    let lo = 0, hi = xs.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function nearestIndex(xs, x) {
    if (!xs.length) return -1;
    const i = lowerBound(xs, x);
    if (i === 0) return 0;
    if (i >= xs.length) return xs.length - 1;
    return (x - xs[i - 1] <= xs[i] - x) ? i - 1 : i;
  }

  // A canvas that fills its box at the device's pixel ratio; returns the 2D context in CSS pixels.
  function sizeCanvas(canvas, width, height) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(width * dpr)), h = Math.max(1, Math.round(height * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    return ctx;
  }

  // The frame every chart shares: figure, title row, drawing area with canvas, tooltip and overlay.
  function frame(container, opts, kind) {
    container.replaceChildren();
    const figure = el("figure", `oplot oplot-${kind}`);
    const head = el("div", "oplot-head");
    const title = el("figcaption", "oplot-title", opts.title || "");
    const tools = el("div", "oplot-tools");
    head.append(title, tools);
    const area = el("div", "oplot-area");
    area.tabIndex = 0;
    area.setAttribute("role", "img");
    const canvas = el("canvas", "oplot-canvas");
    canvas.setAttribute("aria-hidden", "true");
    const overlay = el("div", "oplot-overlay");
    const tooltip = el("div", "oplot-tooltip");
    tooltip.hidden = true;
    tooltip.setAttribute("aria-hidden", "true");
    const live = el("div", "oplot-live");  // what the keyboard cursor points at, for screen readers
    live.setAttribute("aria-live", "polite");
    area.append(canvas, overlay, tooltip);
    figure.append(head, area, live);
    container.append(figure);
    return { figure, head, tools, area, canvas, overlay, tooltip, live, titleEl: title };
  }

  function placeTooltip(f, px, py, width) {
    f.tooltip.hidden = false;
    const tw = f.tooltip.offsetWidth, th = f.tooltip.offsetHeight;
    let left = px + 14;
    if (left + tw > width - 4) left = Math.max(4, px - tw - 14);
    f.tooltip.style.left = left + "px";
    f.tooltip.style.top = Math.max(4, py - th / 2) + "px";
  }

  function drawAxes(ctx, box, xt, yt, opts, xIsInt) {
    const { left, top, right, bottom } = box;
    ctx.lineWidth = 1;
    ctx.strokeStyle = GRID;
    ctx.fillStyle = MUTED;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of yt.ticks) {
      const y = Math.round(box.yToPx(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
      ctx.fillText(tickLabel(t, yt.step), left - 6, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of xt.ticks) {
      const x = Math.round(box.xToPx(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      ctx.fillText(xIsInt ? String(Math.round(t)) : tickLabel(t, xt.step), x, bottom + 5);
    }
    ctx.strokeStyle = AXIS;
    ctx.beginPath(); ctx.moveTo(left + 0.5, top); ctx.lineTo(left + 0.5, bottom + 0.5); ctx.lineTo(right, bottom + 0.5); ctx.stroke();
    ctx.fillStyle = INK;
    if (opts.xLabel) { ctx.textBaseline = "bottom"; ctx.fillText(opts.xLabel, (left + right) / 2, box.height - 2); }
    if (opts.yLabel) {
      ctx.save();
      ctx.translate(12, (top + bottom) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(opts.yLabel, 0, 0);
      ctx.restore();
    }
  }

  // Room on the right for half of the last x tick's label, so "10000" is not cut off.
  function rightPad(ctx, xt, xIsInt) {
    const t = xt.ticks[xt.ticks.length - 1];
    const label = xIsInt ? String(Math.round(t)) : tickLabel(t, xt.step);
    return Math.max(14, Math.ceil(ctx.measureText(label).width / 2) + 4);
  }

  function yTickWidth(ctx, yt) {
    return Math.max(...yt.ticks.map((t) => ctx.measureText(tickLabel(t, yt.step)).width), 10);
  }

  // ---------------------------------------------------------------------------------------------------
  function lineChart(container, options = {}) {
    const opts = { height: 220, xLabel: "", yLabel: "", title: "", ...options };
    const f = frame(container, opts, "line");
    const legend = el("div", "oplot-legend");
    legend.setAttribute("role", "group");
    legend.setAttribute("aria-label", `${opts.title || "chart"} series`);
    const reset = el("button", "oplot-reset secondary", "Reset zoom");
    reset.type = "button";
    reset.hidden = true;
    f.tools.append(legend, reset);
    const selection = el("div", "oplot-selection");
    selection.hidden = true;
    f.overlay.append(selection);
    const markerLayer = el("div", "oplot-markers");
    f.area.append(markerLayer);

    let series = [], markers = [], hidden = new Set(), zoom = null, cursorX = null, drag = null, box = null;
    let allX = [], dataMaxX = -Infinity, lastDraw = { points: 0, segments: 0 };

    function normalise(list) {
      return (list || []).map((s, i) => {
        const x = Array.from(s.x || [], Number), y = Array.from(s.y || [], (v) => (v === null || v === undefined ? null : Number(v)));
        // past the palette's eight colours, a repeated colour is drawn dashed, so no two series look alike
        const dashed = s.dashed === undefined ? i >= PALETTE.length : !!s.dashed;
        return { name: s.name || `series ${i + 1}`, x, y, dashed, color: s.color || PALETTE[i % PALETTE.length] };
      });
    }

    function unionX() {
      const seen = new Set();
      for (const s of series) for (let i = 0; i < s.x.length; i++) if (s.y[i] !== null) seen.add(s.x[i]);
      return Array.from(seen).sort((a, b) => a - b);
    }

    function renderLegend() {
      legend.replaceChildren();
      for (const s of series) {
        const b = el("button", "oplot-legend-item");
        b.type = "button";
        const swatch = el("span", "oplot-swatch" + (s.dashed ? " dashed" : ""));
        swatch.style.borderColor = s.color;
        swatch.setAttribute("aria-hidden", "true");
        b.append(swatch, el("span", "", s.name));
        b.setAttribute("aria-pressed", String(!hidden.has(s.name)));
        b.title = `Show or hide ${s.name}`;
        b.addEventListener("click", () => {
          if (hidden.has(s.name)) hidden.delete(s.name); else hidden.add(s.name);
          b.setAttribute("aria-pressed", String(!hidden.has(s.name)));
          draw();
        });
        legend.append(b);
      }
    }

    function describe() {
      const parts = series.map((s) => {
        for (let i = s.y.length - 1; i >= 0; i--) if (s.y[i] !== null) return `${s.name} ${fmtNum(s.y[i])} at ${opts.xLabel || "x"} ${fmtNum(s.x[i])}`;
        return `${s.name} no data yet`;
      });
      const warn = markers.length ? `; ${markers.length} marker${markers.length > 1 ? "s" : ""}` : "";
      f.area.setAttribute("aria-label", `${opts.title || "Chart"}: ${parts.join("; ") || "no data yet"}${warn}`);
    }

    function xExtent() {
      if (!allX.length) return [0, 1];
      const lo = allX[0], hi = allX[allX.length - 1];
      return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
    }

    function yExtent(x0, x1) {
      let lo = Infinity, hi = -Infinity;
      for (const s of series) {
        if (hidden.has(s.name)) continue;
        const a = Math.max(0, lowerBound(s.x, x0) - 1), b = Math.min(s.x.length, lowerBound(s.x, x1) + 1);
        for (let i = a; i < b; i++) { const v = s.y[i]; if (v !== null && Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } }
      }
      if (lo === Infinity) return [0, 1];
      if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 0.5; return [lo - pad, hi + pad]; }
      const pad = (hi - lo) * 0.06;
      return [lo - pad, hi + pad];
    }

    // One series' path; min/max per pixel column once points outnumber the columns.
    function drawSeries(ctx, s, x0, x1) {
      const a = Math.max(0, lowerBound(s.x, x0) - 1), b = Math.min(s.x.length, lowerBound(s.x, x1) + 1);
      const n = b - a;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dashed ? [6, 4] : []);
      ctx.beginPath();
      let pen = false, segments = 0;
      const plotW = box.right - box.left;
      if (n > plotW * 1.5) {
        let col = null, first = 0, last = 0, mn = 0, mx = 0;
        const flush = () => {
          if (col === null) return;
          const px = box.left + col + 0.5;
          if (!pen) { ctx.moveTo(px, box.yToPx(first)); pen = true; } else ctx.lineTo(px, box.yToPx(first));
          ctx.lineTo(px, box.yToPx(mn)); ctx.lineTo(px, box.yToPx(mx)); ctx.lineTo(px, box.yToPx(last));
          segments += 4;
        };
        for (let i = a; i < b; i++) {
          const v = s.y[i];
          if (v === null || !Number.isFinite(v)) { flush(); col = null; pen = false; continue; }
          const c = Math.floor(box.xToPx(s.x[i]) - box.left);
          if (c !== col) { flush(); col = c; first = mn = mx = last = v; } else { if (v < mn) mn = v; if (v > mx) mx = v; last = v; }
        }
        flush();
      } else {
        for (let i = a; i < b; i++) {
          const v = s.y[i];
          if (v === null || !Number.isFinite(v)) { pen = false; continue; }
          const px = box.xToPx(s.x[i]), py = box.yToPx(v);
          if (!pen) { ctx.moveTo(px, py); pen = true; } else { ctx.lineTo(px, py); segments++; }
        }
      }
      ctx.stroke();
      ctx.setLineDash([]);
      // Single points (no neighbour to join) and short series get dots, so they are visible at all.
      if (n <= 60) {
        ctx.fillStyle = s.color;
        for (let i = a; i < b; i++) {
          const v = s.y[i];
          if (v === null || !Number.isFinite(v)) continue;
          ctx.beginPath(); ctx.arc(box.xToPx(s.x[i]), box.yToPx(v), n <= 25 ? 2.5 : 1.5, 0, 2 * Math.PI); ctx.fill();
        }
      }
      return { points: n, segments };
    }

    function draw() {
      const width = Math.max(160, f.area.clientWidth || container.clientWidth || 400);
      const height = opts.height;
      const ctx = sizeCanvas(f.canvas, width, height);
      const [x0, x1] = zoom || xExtent();
      const [y0, y1] = yExtent(x0, x1);
      const xIsInt = allX.every(Number.isInteger);
      const xt = niceTicks(x0, x1, Math.max(2, Math.floor(width / 90)), xIsInt);
      const yt = niceTicks(y0, y1, Math.max(2, Math.floor(height / 45)), false);
      const left = Math.ceil(yTickWidth(ctx, yt)) + (opts.yLabel ? 28 : 12);
      const top = markers.length ? 30 : 10, bottom = height - (opts.xLabel ? 40 : 24), right = width - rightPad(ctx, xt, xIsInt);
      box = {
        left, top, right, bottom, width, height, x0, x1, y0, y1,
        xToPx: (x) => left + ((x - x0) / (x1 - x0 || 1)) * (right - left),
        yToPx: (y) => bottom - ((y - y0) / (y1 - y0 || 1)) * (bottom - top),
        pxToX: (px) => x0 + ((px - left) / (right - left || 1)) * (x1 - x0),
      };
      drawAxes(ctx, box, xt, yt, opts, xIsInt);
      lastDraw = { points: 0, segments: 0 };
      ctx.save();
      ctx.beginPath(); ctx.rect(left, top - 2, right - left + 2, bottom - top + 4); ctx.clip();
      for (const m of markers) {
        if (m.x < x0 || m.x > x1) continue;
        // A shaded band with a thin line: unlike any series (no dashes), so it is not read as data.
        const px = Math.round(box.xToPx(m.x)) + 0.5, color = MARKER_COLORS[m.kind] || MARKER_COLORS.warn;
        ctx.fillStyle = color + "26";
        ctx.fillRect(px - 3, top, 6, bottom - top);
        ctx.strokeStyle = color; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.stroke();
      }
      for (const s of series) {
        if (hidden.has(s.name)) continue;
        const d = drawSeries(ctx, s, x0, x1);
        lastDraw.points += d.points; lastDraw.segments += d.segments;
      }
      if (cursorX !== null && cursorX >= x0 && cursorX <= x1) {
        const px = Math.round(box.xToPx(cursorX)) + 0.5;
        ctx.strokeStyle = MUTED; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.stroke();
        for (const s of series) {
          if (hidden.has(s.name)) continue;
          const i = lowerBound(s.x, cursorX);
          if (i < s.x.length && s.x[i] === cursorX && s.y[i] !== null) {
            ctx.fillStyle = "#fff"; ctx.strokeStyle = s.color; ctx.lineWidth = 2;
            ctx.beginPath(); ctx.arc(px, box.yToPx(s.y[i]), 4, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
          }
        }
      }
      ctx.restore();
      if (!allX.length) {
        ctx.fillStyle = MUTED; ctx.textAlign = "center"; ctx.textBaseline = "middle";
        ctx.fillText("No data yet", (left + right) / 2, (top + bottom) / 2);
      }
      placeMarkers();
      reset.hidden = !zoom;
    }

    function placeMarkers() {
      markerLayer.replaceChildren();
      if (!box) return;
      for (const m of markers) {
        if (m.x < box.x0 || m.x > box.x1) continue;
        const b = el("button", `oplot-marker ${m.kind || "warn"}`, `⚑ ${m.label}`);
        b.type = "button";
        b.title = `${m.label} at ${opts.xLabel || "x"} ${fmtNum(m.x)}`;
        b.setAttribute("aria-label", b.title);
        b.style.left = box.xToPx(m.x) + "px";
        b.style.top = "2px";
        if (m.onClick) b.addEventListener("click", (ev) => { ev.stopPropagation(); m.onClick(m); });
        markerLayer.append(b);
      }
    }

    function showTooltip(px, py, announce = false) {
      if (cursorX === null) { f.tooltip.hidden = true; return; }
      const rows = [el("div", "oplot-tip-x", `${opts.xLabel || "x"} ${fmtNum(cursorX)}`)];
      for (const s of series) {
        if (hidden.has(s.name)) continue;
        const i = lowerBound(s.x, cursorX);
        const v = i < s.x.length && s.x[i] === cursorX ? s.y[i] : null;
        const row = el("div", "oplot-tip-row");
        const sw = el("span", "oplot-swatch" + (s.dashed ? " dashed" : ""));
        sw.style.borderColor = s.color;
        row.append(sw, el("span", "oplot-tip-name", s.name), el("span", "oplot-tip-value", fmtNum(v)));
        rows.push(row);
      }
      for (const m of markers) if (m.x === cursorX) rows.push(el("div", `oplot-tip-marker ${m.kind || "warn"}`, `⚑ ${m.label}`));
      f.tooltip.replaceChildren(...rows);
      placeTooltip(f, px, py, box.width);
      if (announce) f.live.textContent = rows.map((r) => r.textContent).join(", ");
    }

    function visibleX() {
      if (!box) return allX;
      const a = lowerBound(allX, box.x0), b = lowerBound(allX, box.x1 + 1e-12 * Math.abs(box.x1 || 1));
      return allX.slice(a, Math.max(a, b));
    }

    function moveCursorToPx(px, py) {
      const vis = visibleX();
      if (!vis.length) { cursorX = null; return; }
      cursorX = vis[nearestIndex(vis, box.pxToX(px))];
      draw();
      showTooltip(box.xToPx(cursorX), py);
    }

    const localXY = (ev) => { const r = f.area.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
    const inPlot = (px, py) => box && px >= box.left - 4 && px <= box.right + 4 && py >= box.top - 4 && py <= box.bottom + 4;

    f.area.addEventListener("mousedown", (ev) => {
      if (ev.button !== 0 || ev.target.closest(".oplot-marker")) return;
      const [px, py] = localXY(ev);
      if (!inPlot(px, py)) return;
      drag = { from: px, to: px };
      ev.preventDefault();
    });
    f.area.addEventListener("mousemove", (ev) => {
      if (ev.target.closest(".oplot-marker")) return;
      const [px, py] = localXY(ev);
      if (drag) {
        drag.to = Math.max(box.left, Math.min(box.right, px));
        const a = Math.min(drag.from, drag.to), b = Math.max(drag.from, drag.to);
        selection.hidden = false;
        selection.style.left = a + "px"; selection.style.width = (b - a) + "px";
        selection.style.top = box.top + "px"; selection.style.height = (box.bottom - box.top) + "px";
      }
      if (inPlot(px, py)) moveCursorToPx(px, py);
      else if (!drag) { cursorX = null; f.tooltip.hidden = true; draw(); }
    });
    window.addEventListener("mouseup", () => {
      if (!drag) return;
      const a = Math.min(drag.from, drag.to), b = Math.max(drag.from, drag.to);
      drag = null;
      selection.hidden = true;
      if (b - a >= 6) {
        const lo = box.pxToX(a), hi = box.pxToX(b);
        if (hi > lo) { zoom = [lo, hi]; draw(); }
      }
    });
    f.area.addEventListener("mouseleave", () => { if (!drag) { cursorX = null; f.tooltip.hidden = true; draw(); } });
    f.area.addEventListener("dblclick", (ev) => { if (!ev.target.closest(".oplot-marker")) api.resetZoom(); });
    f.area.addEventListener("keydown", (ev) => {
      if (ev.target !== f.area) return;
      const vis = visibleX();
      if (ev.key === "Escape") { api.resetZoom(); ev.preventDefault(); return; }
      if (!vis.length || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) return;
      ev.preventDefault();
      let i = cursorX === null ? (ev.key === "ArrowLeft" ? vis.length : -1) : lowerBound(vis, cursorX);
      if (ev.key === "ArrowLeft") i -= 1; else if (ev.key === "ArrowRight") i = (cursorX !== null && vis[i] === cursorX) ? i + 1 : i;
      if (ev.key === "Home") i = 0;
      if (ev.key === "End") i = vis.length - 1;
      cursorX = vis[Math.max(0, Math.min(vis.length - 1, i))];
      draw();
      showTooltip(box.xToPx(cursorX), (box.top + box.bottom) / 2, true);
    });
    f.area.addEventListener("blur", () => { if (cursorX !== null) { cursorX = null; f.tooltip.hidden = true; draw(); } });
    reset.addEventListener("click", () => api.resetZoom());

    if (window.ResizeObserver) {
      let lastW = 0;
      new ResizeObserver(() => { const w = f.area.clientWidth; if (w && w !== lastW) { lastW = w; draw(); } }).observe(f.area);
    }

    const api = {
      setSeries(list) {
        series = normalise(list);
        allX = unionX();
        const newMax = allX.length ? allX[allX.length - 1] : -Infinity;
        if (zoom && (newMax < dataMaxX || newMax < zoom[0])) zoom = null;  // the data shrank: the zoom means nothing now
        dataMaxX = newMax;
        for (const name of Array.from(hidden)) if (!series.some((s) => s.name === name)) hidden.delete(name);
        renderLegend();
        describe();
        draw();
      },
      setMarkers(list) { markers = (list || []).map((m) => ({ kind: "warn", ...m, x: Number(m.x) })); describe(); draw(); },
      resetZoom() { zoom = null; draw(); },
      // For tests and for pages that want to show the state: the x range shown and what the last draw cost.
      state() { return { xRange: box ? [box.x0, box.x1] : null, yRange: box ? [box.y0, box.y1] : null, zoomed: !!zoom, drawn: { ...lastDraw }, cursorX, hidden: Array.from(hidden) }; },
      element: f.figure,
    };
    markers = (opts.markers || []).map((m) => ({ kind: "warn", ...m, x: Number(m.x) }));
    api.setSeries(opts.series || []);
    return api;
  }

  // ---------------------------------------------------------------------------------------------------
  function histogram(container, options = {}) {
    const opts = { height: 200, bins: 10, xLabel: "value", yLabel: "count", title: "", ...options };
    const f = frame(container, opts, "histogram");
    let values = [], counts = [], edges = [], box = null, hover = -1;

    function bin() {
      const finite = values.filter((v) => v !== null && Number.isFinite(v));
      let [lo, hi] = opts.range || [Math.min(...finite), Math.max(...finite)];
      if (!finite.length && !opts.range) { lo = 0; hi = 1; }
      if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
      const n = Math.max(1, opts.bins | 0);
      edges = Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
      counts = new Array(n).fill(0);
      for (const v of finite) {
        if (v < lo || v > hi) continue;
        counts[Math.min(n - 1, Math.floor(((v - lo) / (hi - lo)) * n))] += 1;
      }
      const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
      const peak = counts.indexOf(Math.max(...counts));
      f.area.setAttribute("aria-label", `${opts.title || "Histogram"}: ${finite.length} values` +
        (finite.length ? `, mean ${fmtNum(mean)}, most in ${fmtNum(edges[peak])} to ${fmtNum(edges[peak + 1])} (${counts[peak]})` : ""));
    }

    function draw() {
      const width = Math.max(160, f.area.clientWidth || container.clientWidth || 400), height = opts.height;
      const ctx = sizeCanvas(f.canvas, width, height);
      const maxCount = Math.max(1, ...counts);
      const yt = niceTicks(0, maxCount, Math.max(2, Math.floor(height / 45)), true);
      const y1 = Math.ceil((maxCount * 1.05) / yt.step) * yt.step;  // headroom above the tallest bar
      if (yt.ticks[yt.ticks.length - 1] < y1) yt.ticks.push(y1);
      const lo = edges[0], hi = edges[edges.length - 1];
      const xt = niceTicks(lo, hi, Math.max(2, Math.floor(width / 90)), false);
      const left = Math.ceil(yTickWidth(ctx, yt)) + (opts.yLabel ? 28 : 12), top = 10;
      const bottom = height - (opts.xLabel ? 40 : 24), right = width - rightPad(ctx, xt, false);
      box = {
        left, top, right, bottom, width, height,
        xToPx: (x) => left + ((x - lo) / (hi - lo)) * (right - left),
        yToPx: (y) => bottom - (y / y1) * (bottom - top),
      };
      drawAxes(ctx, box, xt, yt, opts, false);
      for (let i = 0; i < counts.length; i++) {
        if (!counts[i]) continue;
        const a = box.xToPx(edges[i]) + 1, b = box.xToPx(edges[i + 1]) - 1, y = box.yToPx(counts[i]);
        ctx.fillStyle = i === hover ? "#00507d" : PALETTE[0];
        ctx.fillRect(a, y, Math.max(1, b - a), bottom - y);
      }
      if (!values.length) {
        ctx.fillStyle = MUTED; ctx.textAlign = "center"; ctx.textBaseline = "middle";
        ctx.fillText("No values", (left + right) / 2, (top + bottom) / 2);
      }
    }

    function show(i, py) {
      hover = i;
      draw();
      if (i < 0) { f.tooltip.hidden = true; return; }
      const label = `${fmtNum(edges[i])} to ${fmtNum(edges[i + 1])}: ${counts[i]} of ${values.length}`;
      f.tooltip.replaceChildren(el("div", "oplot-tip-x", label));
      placeTooltip(f, (box.xToPx(edges[i]) + box.xToPx(edges[i + 1])) / 2, py, box.width);
      f.live.textContent = label;
    }

    f.area.addEventListener("mousemove", (ev) => {
      const r = f.area.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
      if (!box || px < box.left || px > box.right) { show(-1, py); return; }
      const x = edges[0] + ((px - box.left) / (box.right - box.left)) * (edges[edges.length - 1] - edges[0]);
      show(Math.max(0, Math.min(counts.length - 1, lowerBound(edges, x) - 1)), py);
    });
    f.area.addEventListener("mouseleave", () => show(-1, 0));
    f.area.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
      ev.preventDefault();
      const next = hover < 0 ? 0 : hover + (ev.key === "ArrowLeft" ? -1 : 1);
      show(Math.max(0, Math.min(counts.length - 1, next)), (box.top + box.bottom) / 2);
    });
    f.area.addEventListener("blur", () => show(-1, 0));
    if (window.ResizeObserver) {
      let lastW = 0;
      new ResizeObserver(() => { const w = f.area.clientWidth; if (w && w !== lastW) { lastW = w; draw(); } }).observe(f.area);
    }

    const api = {
      setValues(list, more = {}) {
        values = Array.from(list || [], Number);
        Object.assign(opts, more);
        if (more.title !== undefined) f.titleEl.textContent = more.title;
        bin();
        draw();
      },
      state() { return { counts: counts.slice(), edges: edges.slice() }; },
      element: f.figure,
    };
    api.setValues(opts.values || []);
    return api;
  }

  return { lineChart, histogram, palette: PALETTE.slice(), fmtNum };
})();
