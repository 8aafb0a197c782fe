"""`explain --html`: the interactive page shows, position by position, what the engine computes.

The unit tests read the page's HTML and its embedded data; the browser tests
load it from a file in a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) and press its keys and buttons. Every
expected number comes from the engine's ``convolve`` or the plain-loop
reference, worked out here from the input: never from the page's own code.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcli.engine import convolve
from convcli.explanation import read_input, worked_out
from convcli.pictures.page import page_text, write_page
from helpers import SAMPLES
from helpers.reference import border_index, brute_force_size, correlate_reference

# (name, input, kernel as written, padding per side, pad mode, stride, dilation, flip)
# fmt: off
CASES = [
    # The seed's picture: a 2x2 kernel slid over a 4x4 image, no padding.
    ("seed-2x2-over-4x4", np.arange(1, 17).reshape(4, 4), [[1, 2], [3, 4]],
     [(0, 0), (0, 0)], "zero", (1, 1), (1, 1), False),
    ("sobel-padded-stride-2", np.arange(1, 26).reshape(5, 5), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
     [(1, 1), (1, 1)], "reflect", (2, 2), (1, 1), False),
    ("dilated-uneven-flipped", np.array([[3, -1, 4, 1, -5, 9], [2, 6, -5, 3, 5, -8], [9, 7, 9, -3, 2, 3], [8, 4, -6, 2, 6, 4]]),
     [[1, -2], [0, 3]], [(2, 0), (1, 2)], "wrap", (1, 2), (2, 1), True),
    ("1d-step-flipped", np.array([0, 0, 1, 1, 1, 0, 0]), [1, 0, -1],
     [(0, 0)], "zero", (1,), (1,), True),
    ("1d-padded-symmetric", np.array([4, -2, 7, 1, 0]), [2, 1, -1, 3],
     [(2, 1)], "symmetric", (1,), (1,), False),
]
# fmt: on
IDS = [case[0] for case in CASES]


def explained(case, steps: int = 10**6):
    _, x, k, pads, mode, stride, dilation, flip = case
    return worked_out(np.asarray(x, dtype=float), np.asarray(k, dtype=float), padding=pads,
                   pad_mode=mode, stride=stride, dilation=dilation, flip=flip, steps=steps)  # fmt: skip


def engine_output(case) -> np.ndarray:
    """The whole output, from the engine and (checked equal) from the plain loops."""
    _, x, k, pads, mode, stride, dilation, flip = case
    x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
    out = convolve(x, k, padding=pads, pad_mode=mode, stride=stride, dilation=dilation,
                   flip=flip, dtype=np.float64)  # fmt: skip
    reference = correlate_reference(x, k, pads, mode, 0.0, stride, dilation, flip)
    np.testing.assert_allclose(out, reference, atol=1e-9)
    return np.asarray(out)


def output_shape(case) -> tuple[int, ...]:
    _, x, k, pads, _, stride, dilation, _ = case
    shape = np.shape(x)
    return tuple(brute_force_size(n, b, a, m, s, d) for n, (b, a), m, s, d in
                 zip(shape, pads, np.shape(k), stride, dilation))  # fmt: skip


def reading_order(case) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in i) for i in np.ndindex(*output_shape(case))]


def window_cells(case, index: tuple[int, ...]) -> set[tuple[int, int]]:
    """The shown-grid cells under the kernel for output ``index``, from the definition."""
    _, _, k, _, _, stride, dilation, _ = case
    along = [
        [i * s + m * d for m in range(n)]
        for i, s, d, n in zip(index, stride, dilation, np.shape(k))
    ]
    if len(along) == 1:
        along = [[0], along[0]]
    return {(r, c) for r in along[0] for c in along[1]}


def shown_value(case, r: int, c: int) -> float:
    """The value of shown cell (r, c): the input extended by the border mode, from the definition."""
    _, x, _, pads, mode, _, _, _ = case
    x = np.asarray(x, dtype=float)
    where = [c] if x.ndim == 1 else [r, c]
    source = [border_index(p - before, n, mode) for p, (before, _), n in zip(where, pads, x.shape)]
    return 0.0 if None in source else float(x[tuple(source)])


def number(text: str) -> float:
    return float(text.strip("()"))


class Cells(HTMLParser):
    """The page's grid cells (``<td>``), by id: class, data attributes and text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.cells: dict[str, dict] = {}
        self._open: dict | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "td":
            self._open = dict(attrs) | {"text": ""}
            self.cells[self._open["id"]] = self._open

    def handle_endtag(self, tag):
        if tag == "td":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def grid(self, prefix: str) -> dict[tuple[int, int], dict]:
        return {(int(c["data-row"]), int(c["data-col"])): c
                for key, c in self.cells.items() if key.startswith(prefix + "-")}  # fmt: skip


def embedded(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.DOTALL)
    assert found is not None
    return json.loads(found.group(1))


# ---------------------------------------------------------------------------------------
# The page's text, without a browser


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_embedded_step_is_the_engines_window_and_sum(case):
    page = page_text(explained(case), title=case[0])
    data = embedded(page)
    output = engine_output(case)
    order = reading_order(case)
    assert len(data["steps"]) == len(order) == output.size
    kernel = np.asarray(case[2], dtype=float)
    applied = np.flip(kernel) if case[7] else kernel
    assert [number(t) for t in data["kernel"]] == applied.ravel().tolist()
    for step, index in zip(data["steps"], order):
        assert step["target"] == f"output[{', '.join(map(str, index))}]"
        cells = window_cells(case, index)
        assert {(r, c) for r in step["rows"] for c in step["cols"]} == cells
        values = [shown_value(case, r, c) for r in step["rows"] for c in step["cols"]]
        assert [number(t) for t in step["window"]] == values
        assert number(step["sum"]) == pytest.approx(output[index], abs=1e-9)
        assert number(step["sum"]) == pytest.approx(float(np.dot(values, applied.ravel())))


@st.composite
def random_cases(draw: st.DrawFn):
    ndim = draw(st.sampled_from([1, 2]))
    sides = [draw(st.integers(1, 6)) for _ in range(ndim)]
    ksides = [draw(st.integers(1, 3)) for _ in range(ndim)]
    values = st.integers(-9, 9)
    x = np.array(draw(st.lists(values, min_size=int(np.prod(sides)), max_size=int(np.prod(sides)))))
    k = np.array(
        draw(st.lists(values, min_size=int(np.prod(ksides)), max_size=int(np.prod(ksides))))
    )
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(ndim)]
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    mode = draw(st.sampled_from(["zero", "reflect", "symmetric", "replicate", "wrap"]))
    return ("random", x.reshape(sides), k.reshape(ksides).tolist(), pads, mode, stride, dilation,
            draw(st.booleans()))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(random_cases())
def test_on_random_cases_the_embedded_steps_are_the_definitions(case):
    assume(min(output_shape(case)) >= 1)
    data = embedded(page_text(explained(case), title="t"))
    output = engine_output(case)
    order = reading_order(case)
    assert [s["target"] for s in data["steps"]] == [
        f"output[{', '.join(map(str, i))}]" for i in order
    ]
    for step, index in zip(data["steps"], order):
        assert {(r, c) for r in step["rows"] for c in step["cols"]} == window_cells(case, index)
        values = [shown_value(case, r, c) for r in step["rows"] for c in step["cols"]]
        assert [number(t) for t in step["window"]] == values
        assert number(step["sum"]) == output[index]  # small integers: exact


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_grids_show_the_padded_input_the_kernel_and_the_engines_output(case):
    e = explained(case)
    cells = Cells(page_text(e, title="t"))
    x = np.asarray(case[1])
    pads = case[3]
    shown = cells.grid("s")
    sides = [n + b + a for n, (b, a) in zip(x.shape, pads)]
    assert len(shown) == int(np.prod(sides))
    for (r, c), cell in shown.items():
        assert number(cell["text"]) == shown_value(case, r, c)
        position = [c] if x.ndim == 1 else [r, c]
        inside = all(b <= p < b + n for p, (b, _), n in zip(position, pads, x.shape))
        kind = "input" if inside else "pad"
        assert cell["data-kind"] == kind
        assert kind in cell["class"].split()
        assert cell["text"].startswith("(") == (kind == "pad")  # as the terminal shows padding
    output = engine_output(case)
    grid = cells.grid("o")
    assert len(grid) == output.size
    for index in np.ndindex(*output.shape):
        place = (0, index[0]) if output.ndim == 1 else index
        assert number(grid[place]["text"]) == pytest.approx(output[index], abs=1e-9)
    kernel = np.asarray(case[2], dtype=float)
    applied = np.flip(kernel) if case[7] else kernel
    assert [
        number(c["text"]) for _, c in sorted(cells.grid("k").items())
    ] == applied.ravel().tolist()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_formula_carries_the_output_size_of_each_axis(case):
    page = page_text(explained(case), title="t")
    formulas = re.findall(r"<li>(\w+): (.*?)</li>", page)
    assert [name for name, _ in formulas] == (
        ["samples"] if np.ndim(case[1]) == 1 else ["rows", "cols"]
    )
    for (_, formula), size in zip(formulas, output_shape(case)):
        assert formula.endswith(f" = {size}")
        assert "⌊" in formula
        assert "⌋" in formula


def test_the_first_position_is_drawn_before_any_script_runs():
    case = CASES[1]
    page = page_text(explained(case), title="t")
    cells = Cells(page)
    marked = {place for place, c in cells.grid("s").items() if "window" in c["class"].split()}
    assert marked == window_cells(case, (0, 0))
    shown_sum = re.search(r'<output id="sum">(.*?)</output>', page).group(1)
    assert number(shown_sum) == engine_output(case)[0, 0]


def test_a_hostile_title_is_text_everywhere():
    title = "</script><script>alert(1)</script><!-- \"quoted\" & 'single' </style><img src=x onerror=alert(2)>\u2028"
    page = page_text(explained(CASES[0]), title=title)
    assert page.count("<script") == 2  # the data and the page's own script, nothing injected
    assert "<img src=x" not in page
    assert "</style><img" not in page
    assert re.search(r"<title>(.*?)</title>", page, re.DOTALL).group(1) == html.escape(title)
    assert embedded(page)["title"] == title
    assert "</" not in re.search(r'id="data">(.*?)</script>', page, re.DOTALL).group(1)


def test_the_page_asks_for_nothing_outside_itself():
    page = page_text(explained(CASES[1]), title="t")
    assert "://" not in page  # no address of any kind: pictures are data: URIs
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="(.*?)">', page).group(
        1
    )
    assert policy.startswith("default-src 'none';")
    assert "img-src data:;" in policy
    assert "unsafe-inline" not in policy
    # the inline style and script are allowed by their hashes, and nothing else is
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}';" in policy
    assert " style=" not in page  # an inline style attribute would be refused by the policy
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) == 2
    assert all(s.startswith("data:image/png;base64,") for s in sources)


def test_the_pictures_are_the_shown_grid_and_the_output():
    from io import BytesIO

    from PIL import Image

    case = CASES[2]
    page = page_text(explained(case), title="t")
    shown, out = re.findall(
        r'<img src="data:image/png;base64,([^"]*)" width="(\d+)" height="(\d+)"', page
    )
    x = np.asarray(case[1])
    sides = [n + b + a for n, (b, a) in zip(x.shape, case[3])]
    for (encoded, width, height), shape in ((shown, sides), (out, engine_output(case).shape)):
        picture = Image.open(BytesIO(base64.b64decode(encoded)))
        assert picture.size == (shape[1], shape[0])  # one pixel a cell
        assert int(width) % shape[1] == 0
        assert int(width) // shape[1] == int(height) // shape[0]
    grey = np.asarray(Image.open(BytesIO(base64.b64decode(shown[0]))).convert("L"), dtype=float)
    values = np.array([[shown_value(case, r, c) for c in range(sides[1])] for r in range(sides[0])])
    # the grey picture darkens and brightens with the values (a symmetric scale about 0 here)
    assert np.corrcoef(grey.ravel(), values.ravel())[0, 1] > 0.99


def test_context_cells_around_a_crop_are_marked_apart_from_padding():
    e = explained(CASES[1])
    context = ~e.inside
    context[-1, :] = False  # the last row stays padding: below the image, say
    page = page_text(dataclasses.replace(e, context=context), title="t")
    kinds = {place: c["data-kind"] for place, c in Cells(page).grid("s").items()}
    assert {p for p, k in kinds.items() if k == "context"} == set(zip(*np.nonzero(context)))
    assert {p for p, k in kinds.items() if k == "pad"} == {(6, c) for c in range(7)}
    assert 'class="swatch context"' in page
    assert 'class="swatch pad"' in page


def test_the_legend_names_only_the_kinds_shown():
    page = page_text(explained(CASES[0]), title="t")  # no padding, no context
    assert re.findall(r'class="swatch (\w+)"', page) == ["input", "window"]


def test_the_same_explanation_makes_the_same_bytes(tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    write_page(explained(CASES[2]), first, title="same")
    write_page(explained(CASES[2]), second, title="same")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().decode("utf-8") == page_text(explained(CASES[2]), title="same")
    write_page(explained(CASES[0]), first, title="replaced")  # over an existing page
    assert "<title>replaced</title>" in first.read_text("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]  # no temporary left


def test_no_positions_makes_a_page_with_nothing_to_step_through():
    page = page_text(explained(CASES[0], steps=0), title="t")
    assert embedded(page)["steps"] == []
    assert "no window positions written out" in page


def test_only_the_positions_written_out_are_stepped_through():
    page = page_text(explained(CASES[1], steps=2), title="t")
    data = embedded(page)
    assert [s["target"] for s in data["steps"]] == ["output[0, 0]", "output[0, 1]"]
    assert "(9 in all)" in data["of"]


# ---------------------------------------------------------------------------------------
# In a real browser


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="module")
def browser():
    paths = _browser_paths()
    if paths is None:
        pytest.skip("no chromium/chromedriver: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium: pip install -e '.[test]'"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,900"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # The driver is Debian's: named here, so that Selenium looks for (and downloads) nothing.
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    yield driver
    driver.quit()


def open_page(browser, tmp_path: Path, case, title: str = "page", steps: int = 10**6):
    path = tmp_path / "page.html"
    write_page(explained(case, steps), path, title=title)
    browser.get_log("browser")  # what an earlier page logged
    browser.get_log("performance")
    browser.get(path.as_uri())
    return path


def on_screen(browser) -> tuple[set[tuple[int, int]], float, str]:
    """The highlighted window cells, the shown sum and the position text, as the browser has them."""
    from selenium.webdriver.common.by import By

    cells = {(int(c.get_attribute("data-row")), int(c.get_attribute("data-col")))
             for c in browser.find_elements(By.CSS_SELECTOR, "td.cell.window")}  # fmt: skip
    return (
        cells,
        number(browser.find_element(By.ID, "sum").text),
        browser.find_element(By.ID, "position").text,
    )


def filled(browser) -> set[tuple[int, int]]:
    from selenium.webdriver.common.by import By

    return {(int(c.get_attribute("data-row")), int(c.get_attribute("data-col")))
            for c in browser.find_elements(By.CSS_SELECTOR, "table.output td.filled")}  # fmt: skip


def press(browser, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(key).perform()


def place(index: tuple[int, ...]) -> tuple[int, int]:
    return (0, index[0]) if len(index) == 1 else (index[0], index[1])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_right_arrow_moves_the_window_to_the_engines_next_position(browser, tmp_path, case):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, tmp_path, case)
    output = engine_output(case)
    order = reading_order(case)
    for n, index in enumerate(order):
        if n:
            press(browser, Keys.ARROW_RIGHT)
        cells, shown_sum, position = on_screen(browser)
        assert cells == window_cells(case, index), f"position {n + 1}"
        assert shown_sum == pytest.approx(output[index], abs=1e-9)
        assert position == f"position {n + 1} of {len(order)}"
        assert filled(browser) == {place(i) for i in order[: n + 1]}
    press(browser, Keys.ARROW_RIGHT)  # past the last: stays
    assert on_screen(browser)[0] == window_cells(case, order[-1])
    press(browser, Keys.ARROW_LEFT)
    cells, shown_sum, _ = on_screen(browser)
    assert cells == window_cells(case, order[-2])
    assert shown_sum == pytest.approx(output[order[-2]], abs=1e-9)
    assert filled(browser) == {place(i) for i in order[:-1]}
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_the_buttons_move_the_window(browser, tmp_path):
    from selenium.webdriver.common.by import By

    case = CASES[1]
    open_page(browser, tmp_path, case)
    output, order = engine_output(case), reading_order(case)

    def button(name):
        return browser.find_element(By.ID, name)

    def at(n):
        cells, shown_sum, position = on_screen(browser)
        assert cells == window_cells(case, order[n])
        assert shown_sum == pytest.approx(output[order[n]])
        assert position == f"position {n + 1} of {len(order)}"

    assert not button("first").is_enabled()
    assert not button("previous").is_enabled()
    labels = {
        name: button(name).get_attribute("aria-label")
        for name in ("first", "previous", "play", "next", "last")
    }
    assert labels == {"first": "First position", "previous": "Previous position", "play": "Play",
                      "next": "Next position", "last": "Last position"}  # fmt: skip
    button("next").click()
    at(1)
    button("next").click()
    at(2)
    button("previous").click()
    at(1)
    button("last").click()
    at(len(order) - 1)
    assert not button("next").is_enabled()
    assert not button("last").is_enabled()
    assert filled(browser) == {place(i) for i in order}
    button("first").click()
    at(0)
    assert filled(browser) == {place(order[0])}


def test_play_steps_through_to_the_last_position_and_stops(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    case = CASES[3]  # 5 positions: 4 moves of 0.8 s
    open_page(browser, tmp_path, case)
    order = reading_order(case)
    play = browser.find_element(By.ID, "play")
    play.click()
    assert play.get_attribute("aria-pressed") == "true"
    WebDriverWait(browser, 15).until(
        lambda b: b.find_element(By.ID, "play").get_attribute("aria-pressed") == "false"
    )
    cells, shown_sum, position = on_screen(browser)
    assert cells == window_cells(case, order[-1])
    assert shown_sum == pytest.approx(engine_output(case)[order[-1]])
    assert position == f"position {len(order)} of {len(order)}"


def test_the_page_makes_no_request_and_its_policy_refuses_one(browser, tmp_path):
    path = open_page(browser, tmp_path, CASES[1])
    requested = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert requested
    assert all(url == path.as_uri() or url.startswith("data:") for url in requested)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    # A request the page did try would be refused by its Content-Security-Policy (never sent):
    # the nearest address there is, on this machine, and a closed port.
    refused = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.addEventListener('securitypolicyviolation', e => done(e.effectiveDirective));"
        "fetch('http://127.0.0.1:9/').catch(() => {});"
    )
    assert refused == "connect-src"


def test_a_hostile_title_stays_text_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By

    title = (
        '</script><script>document.title="owned"</script><b>bold</b> & <img src=x onerror=alert(1)>'
    )
    open_page(browser, tmp_path, CASES[0], title=title)
    assert browser.title == title
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert browser.find_elements(By.CSS_SELECTOR, "h1 *") == []
    assert on_screen(browser)[1] == engine_output(CASES[0])[0, 0]  # the script ran, and is ours


def test_an_image_crop_steps_as_the_engine_computes_on_the_whole_image(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    image = read_input(str(SAMPLES / "camera.png"), 2)
    laplacian = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    start = (200, 250)
    e = worked_out(image, laplacian, padding=[(1, 1), (1, 1)], pad_mode="reflect", steps=10**6,
                crop=(*start, 6, 6))  # fmt: skip
    path = tmp_path / "crop.html"
    write_page(e, path, title="camera.png")
    browser.get(path.as_uri())
    whole = convolve(
        image, laplacian, padding=[(1, 1), (1, 1)], pad_mode="reflect", dtype=np.float64
    )
    kinds = {place: c["data-kind"] for place, c in Cells(page_text(e, title="t")).grid("s").items()}
    assert set(kinds.values()) == {"input", "context"}  # inside the image: no padding
    for n, index in enumerate(np.ndindex(6, 6)):
        if n:
            press(browser, Keys.ARROW_RIGHT)
        # With "same" padding and stride 1, the output at crop cell (i, j) is at image pixel
        # start + (i, j), and its window covers the pixels one around it.
        pixel = (start[0] + index[0], start[1] + index[1])
        cells = {(int(c.get_attribute("data-row")), int(c.get_attribute("data-col"))): number(c.text)
                 for c in browser.find_elements(By.CSS_SELECTOR, "td.cell.window")}  # fmt: skip
        around = image[pixel[0] - 1 : pixel[0] + 2, pixel[1] - 1 : pixel[1] + 2]
        assert len(cells) == 9
        assert [cells[place] for place in sorted(cells)] == pytest.approx(around.ravel(), rel=1e-3)
        assert number(browser.find_element(By.ID, "sum").text) == pytest.approx(
            whole[pixel], rel=1e-3, abs=1e-9
        )
        assert browser.find_element(By.ID, "target").text == f"output[{pixel[0]}, {pixel[1]}]"
        if n == 10:
            break


def veiled_cells(browser, shape: tuple[int, int]) -> set[tuple[int, int]]:
    """The output picture's cells the browser shows veiled (not yet computed), from the layout."""
    from selenium.webdriver.common.by import By

    picture = browser.find_element(By.XPATH, "//div[@id='veil-row']/parent::div/img")
    frame = picture.rect
    rows, cols = shape
    cell_h, cell_w = frame["height"] / rows, frame["width"] / cols
    veiled = set()
    for veil in browser.find_elements(By.CSS_SELECTOR, ".veil"):
        if not veil.is_displayed():
            continue
        box = veil.rect
        top = round((box["y"] - frame["y"]) / cell_h)
        left = round((box["x"] - frame["x"]) / cell_w)
        bottom, right = top + round(box["height"] / cell_h), left + round(box["width"] / cell_w)
        veiled |= {(r, c) for r in range(top, bottom) for c in range(left, right)}
    return veiled


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_output_picture_shows_only_the_outputs_computed_so_far(browser, tmp_path, case):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, tmp_path, case)
    order = [place(index) for index in reading_order(case)]
    size = output_shape(case)
    shape = (size[0], size[1]) if len(size) == 2 else (1, size[0])  # 1-D: the output as one row
    every = {(r, c) for r in range(shape[0]) for c in range(shape[1])}
    for n in range(len(order)):
        assert veiled_cells(browser, shape) == every - set(order[: n + 1]), n
        press(browser, Keys.ARROW_RIGHT)
    press(browser, Keys.HOME)
    assert veiled_cells(browser, shape) == every - {order[0]}
