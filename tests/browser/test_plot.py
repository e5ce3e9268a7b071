"""static/plot.js in a real browser: drawing, hover values, drag-to-zoom and reset, markers, 10,000 points.

The page is built with `set_content` around the real plot.js and CSS files (no server needed); the
charts are the ones the console pages use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import shots_dir

STATIC = Path(__file__).resolve().parents[2] / "src" / "openrft" / "api" / "console" / "static"

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head>
<body><main><div class="grid">
  <div class="card" id="reward"></div><div class="card" id="big"></div><div class="card" id="hist"></div>
  <div class="card" id="small"></div><div class="card" id="many"></div>
</div></main></body></html>"""

SETUP = """() => {
  window.clicked = [];
  const steps = Array.from({length: 40}, (_, i) => i + 1), fives = steps.filter((s) => s % 5 === 0);
  window.reward = openrftPlot.lineChart(document.getElementById("reward"), {
    title: "Reward", xLabel: "step", yLabel: "mean reward", height: 240,
    series: [
      {name: "train", x: steps, y: steps.map((s) => s === 20 ? null : 0.2 + 0.015 * s)},
      {name: "validation", x: fives, y: fives.map((s) => 0.15 + 0.012 * s), dashed: true},
    ],
    markers: [{x: 30, label: "reward rising, validation flat", kind: "warn", onClick: (m) => window.clicked.push(m.x)}],
  });
  const n = 10000, xs = Array.from({length: n}, (_, i) => i + 1);
  window.big = openrftPlot.lineChart(document.getElementById("big"), {
    title: "Entropy (10,000 steps)", xLabel: "step", yLabel: "nats", height: 240,
    series: [{name: "entropy", x: xs, y: xs.map((s) => 2 * Math.exp(-s / 4000) + 0.2 * Math.sin(s / 37))}],
  });
  window.small = openrftPlot.lineChart(document.getElementById("small"), {
    title: "KL to the base model", xLabel: "step", yLabel: "nats per token",
    series: [{name: "kl", x: [1, 2, 3, 4], y: [0, 2e-5, 5e-5, 6.5e-5]}],
  });
  window.many = openrftPlot.lineChart(document.getElementById("many"), {
    title: "Ten series", xLabel: "step", yLabel: "share",
    series: Array.from({length: 10},
      (_, k) => ({name: `signal ${k + 1}`, x: [1, 2, 3], y: [k / 10, (k + 1) / 10, k / 12]})),
  });
  const values = Array.from({length: 200}, (_, i) => ((i * 7919) % 200) / 200 * ((i * 31) % 3 === 0 ? 0.5 : 1));
  window.hist = openrftPlot.histogram(document.getElementById("hist"),
    {title: "Rewards at step 12", values, bins: 10, range: [0, 1], xLabel: "reward"});
}"""


@pytest.fixture
def plot_page(tab: Any, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Path]]:
    tab.set_content(PAGE)
    tab.add_style_tag(content=(STATIC / "console.css").read_text())
    tab.add_style_tag(content=(STATIC / "plot.css").read_text())
    tab.add_script_tag(content=(STATIC / "plot.js").read_text())
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.evaluate(SETUP)
    yield tab, shots_dir(request)
    assert not errors, errors


def test_draws_series_legend_axes_and_aria(plot_page: tuple[Any, Path]) -> None:
    page, shots = plot_page
    state = page.evaluate("window.reward.state()")
    assert state["drawn"]["points"] == 40 + 8
    assert state["xRange"] == [1, 40]
    legend = page.locator("#reward .oplot-legend-item")
    assert legend.all_inner_texts() == ["train", "validation"]
    label = page.locator("#reward .oplot-area").get_attribute("aria-label")
    assert label.startswith("Reward: train 0.800 at step 40; validation 0.630 at step 40")
    assert page.locator("#reward .oplot-area").get_attribute("role") == "img"
    # some pixels in the series' colour (Okabe-Ito blue) are on the canvas
    blue = page.evaluate("""() => {
      const c = document.querySelector('#reward canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 20 && Math.abs(d[i+1] - 114) < 20 && d[i+2] > 160) n++;
      return n; }""")
    assert blue > 200
    legend.nth(1).click()
    assert page.evaluate("window.reward.state()")["hidden"] == ["validation"]
    assert legend.nth(1).get_attribute("aria-pressed") == "false"
    page.screenshot(path=str(shots / "validation-hidden.png"), full_page=True)
    legend.nth(1).click()
    page.screenshot(path=str(shots / "charts.png"), full_page=True)


def test_hover_shows_x_and_each_series_value(plot_page: tuple[Any, Path]) -> None:
    page, shots = plot_page
    area = page.locator("#reward .oplot-area")
    box = area.bounding_box()
    # move across the plot until the tooltip says step 10
    for frac in [i / 200 for i in range(20, 120)]:
        page.mouse.move(box["x"] + box["width"] * frac, box["y"] + box["height"] / 2)
        if page.evaluate("window.reward.state().cursorX") == 10:
            break
    tooltip = page.locator("#reward .oplot-tooltip")
    assert tooltip.is_visible()
    text = tooltip.inner_text()
    assert "step 10" in text
    assert "train\n0.350" in text or "train 0.350" in text.replace("\t", " ").replace("\n", " ")
    assert "validation" in text and "0.270" in text
    page.screenshot(path=str(shots / "hover.png"), full_page=True)
    # the gap at step 20 reads as a dash
    for frac in [i / 400 for i in range(150, 300)]:
        page.mouse.move(box["x"] + box["width"] * frac, box["y"] + box["height"] / 2)
        if page.evaluate("window.reward.state().cursorX") == 20:
            break
    assert "\N{EN DASH}" in tooltip.inner_text()


def test_drag_zooms_and_reset_restores(plot_page: tuple[Any, Path]) -> None:
    page, shots = plot_page
    box = page.locator("#reward .oplot-area").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    state = page.evaluate("window.reward.state()")
    assert state["zoomed"]
    lo, hi = state["xRange"]
    assert 5 < lo < hi < 30
    assert state["drawn"]["points"] < 48
    reset = page.locator("#reward").get_by_role("button", name="Reset zoom")
    assert reset.is_visible()
    page.screenshot(path=str(shots / "zoomed.png"), full_page=True)
    reset.click()
    assert page.evaluate("window.reward.state()")["xRange"] == [1, 40]
    assert not reset.is_visible()
    # double-click and Escape reset too
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.up()
    assert page.evaluate("window.reward.state().zoomed")
    page.mouse.dblclick(box["x"] + box["width"] * 0.5, y)
    assert not page.evaluate("window.reward.state().zoomed")
    # setSeries keeps a zoom while the data grows
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.up()
    before = page.evaluate("window.reward.state().xRange")
    page.evaluate(
        "(k) => window.reward.setSeries([{name: 'train', x: k.map(i => i + 1), y: k.map(i => i / 50)}])",
        list(range(50)),
    )
    assert page.evaluate("window.reward.state().xRange") == before
    page.locator("#reward .oplot-area").focus()
    page.keyboard.press("Escape")
    assert page.evaluate("window.reward.state().xRange") == [1, 50]


def test_keyboard_moves_the_cursor(plot_page: tuple[Any, Path]) -> None:
    page, _ = plot_page
    area = page.locator("#reward .oplot-area")
    area.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("window.reward.state().cursorX") == 1
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("window.reward.state().cursorX") == 3
    page.keyboard.press("End")
    assert page.evaluate("window.reward.state().cursorX") == 40
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("window.reward.state().cursorX") == 39
    assert "step 39" in page.locator("#reward .oplot-live").inner_text()


def test_marker_is_a_button_that_calls_back(plot_page: tuple[Any, Path]) -> None:
    page, _ = plot_page
    marker = page.get_by_role("button", name="reward rising, validation flat at step 30")
    assert marker.is_visible()
    marker.click()
    assert page.evaluate("window.clicked") == [30]
    marker.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("window.clicked") == [30, 30]
    page.evaluate("window.reward.setMarkers([])")
    assert page.locator("#reward .oplot-marker").count() == 0


def test_ten_thousand_points_draw_as_min_max_columns(plot_page: tuple[Any, Path]) -> None:
    page, shots = plot_page
    state = page.evaluate("window.big.state()")
    assert state["drawn"]["points"] == 10000
    width = page.locator("#big .oplot-area").bounding_box()["width"]
    assert 0 < state["drawn"]["segments"] <= 4 * width  # decimated: a few segments per pixel column
    box = page.locator("#big .oplot-area").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    assert "step" in page.locator("#big .oplot-tooltip").inner_text()
    page.screenshot(path=str(shots / "big.png"), full_page=True)


def test_small_values_and_many_series_stay_readable(plot_page: tuple[Any, Path]) -> None:
    page, shots = plot_page
    labels = page.evaluate("window.small.state().yRange")
    assert labels[0] < 0 < labels[1]
    # series past the palette's eight colours are dashed
    dashed = page.locator("#many .oplot-legend-item .oplot-swatch.dashed").count()
    assert dashed == 2
    page.locator("#small").screenshot(path=str(shots / "small-values.png"))
    page.locator("#many").screenshot(path=str(shots / "many-series.png"))


def test_histogram_bins_and_hover(plot_page: tuple[Any, Path]) -> None:
    page, _ = plot_page
    state = page.evaluate("window.hist.state()")
    assert sum(state["counts"]) == 200
    assert len(state["counts"]) == 10
    assert state["edges"][0] == 0 and state["edges"][-1] == 1
    label = page.locator("#hist .oplot-area").get_attribute("aria-label")
    assert label.startswith("Rewards at step 12: 200 values, mean")
    box = page.locator("#hist .oplot-area").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    assert " of 200" in page.locator("#hist .oplot-tooltip").inner_text()
