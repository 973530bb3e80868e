"""The HTML report in a real browser (Debian's headless chromium; CI installs it in .ci/run, this test
installs nothing): it renders without console errors, its tables are there and every image decodes.

The report has no JavaScript (by design), so the check runs from the outside: chromium prints the DOM after
layout (`--dump-dom`), and a small probe page (written beside the report, never part of it) loads the report
in an iframe and writes, into its own DOM, the table count and each image's naturalWidth.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cyclip_bench.report import build_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-file-access-from-files",
]

PROBE = """<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="r" src="report.html" style="width:1200px;height:800px"></iframe>
<script>
document.getElementById("r").addEventListener("load", function () {
  var d = document.getElementById("r").contentDocument;
  var imgs = Array.prototype.slice.call(d.images);
  var widths = imgs.map(function (i) { return i.complete ? i.naturalWidth : -1; });
  document.getElementById("out").textContent =
    "tables=" + d.querySelectorAll("table").length + " images=" + imgs.length +
    " widths=" + widths.join(",") + " scripts=" + d.querySelectorAll("script").length;
});
</script></body></html>
"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(browser: str, args: list[str], profile: Path) -> subprocess.CompletedProcess:
    cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _console_errors(stderr: str) -> list[str]:
    # Chromium's own noise (dbus, GPU, sandbox) is not the page's; console messages are tagged CONSOLE.
    return [line for line in stderr.splitlines() if "CONSOLE" in line and "report.html" in line]


@pytest.mark.slow
def test_report_renders_in_chromium(request, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (CI installs Debian's chromium in .ci/run)")
    eval_results = request.getfixturevalue("eval_results")  # only once we know the browser is there
    # Real eval results, with one checkpoint relabelled to something hostile.
    folder = tmp_path / "results"
    folder.mkdir()
    for path in eval_results:
        doc = json.loads(Path(path).read_text())
        if doc["checkpoint"]["label"] == "cyclip":
            doc["checkpoint"]["label"] = "<script>alert(1)</script>"
        (folder / Path(path).name).write_text(json.dumps(doc))
    paths = build_report([folder], tmp_path / "out", title="browser check")
    html_path = paths["html"]
    n_images = len([p for p in paths["plots"] if p.suffix == ".png"])

    args = ["--enable-logging=stderr", "--v=0", "--dump-dom", html_path.as_uri()]
    dom = _run(browser, args, tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<table") >= 10
    assert dom.stdout.count("<img") == n_images
    assert "<script" not in dom.stdout  # the hostile label stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout
    assert _console_errors(dom.stderr) == []

    probe = tmp_path / "out" / "_probe.html"
    probe.write_text(PROBE)
    try:
        result = _run(browser, ["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp_path / "p2")
    finally:
        probe.unlink()
    match = re.search(r"tables=(\d+) images=(\d+) widths=([-\d,]*) scripts=(\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr[-2000:]
    tables, images, widths, scripts = match.groups()
    assert int(tables) >= 10 and int(images) == n_images and int(scripts) == 0
    assert all(int(w) > 0 for w in widths.split(",")), f"images that did not decode: {widths}"

    shot = tmp_path / "shot.png"
    args = ["--window-size=1280,2400", f"--screenshot={shot}", html_path.as_uri()]
    result = _run(browser, args, tmp_path / "p3")
    assert shot.is_file() and shot.stat().st_size > 10_000, result.stderr[-2000:]


WIDTH_PROBE = """<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="r" src="report.html" style="width:1000px;height:800px"></iframe>
<script>
document.getElementById("r").addEventListener("load", function () {
  var d = document.getElementById("r").contentDocument;
  var wraps = Array.prototype.slice.call(d.querySelectorAll(".table-wrap"));
  var scrolling = wraps.filter(function (w) { return w.scrollWidth > w.clientWidth + 1; }).length;
  var widest = Math.max.apply(null, wraps.map(function (w) { return w.getBoundingClientRect().right; }));
  document.getElementById("out").textContent =
    "page=" + d.documentElement.scrollWidth + " view=" + d.documentElement.clientWidth +
    " scrolling=" + scrolling + " widest=" + Math.round(widest);
});
</script></body></html>
"""


@pytest.mark.slow
def test_wide_tables_scroll_inside_their_box(tmp_path):
    """The provenance table (long paths, package versions) once made the whole page scroll sideways: a wide
    table must scroll inside its own box and the page stay as wide as the window."""
    from test_report_helpers import write_results

    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (CI installs Debian's chromium in .ci/run)")
    write_results(tmp_path / "results")
    build_report([tmp_path / "results"], tmp_path / "out", title="width check", n_boot=200)
    probe = tmp_path / "out" / "_probe.html"
    probe.write_text(WIDTH_PROBE)
    try:
        result = _run(browser, ["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp_path / "p")
    finally:
        probe.unlink()
    match = re.search(r"page=(\d+) view=(\d+) scrolling=(\d+) widest=(-?\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr[-2000:]
    page, view, scrolling, widest = map(int, match.groups())
    assert scrolling >= 1  # the fixture has tables wider than 1000 px: they scroll in their box …
    assert page <= view and widest <= view  # … and nothing widens the page
