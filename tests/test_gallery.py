"""The gallery page: built from real filter grids and sidecars, checked in headless Chromium."""

import html
import json
import os
import re
import shutil
import subprocess
import tempfile

import imageio.v3 as iio
import numpy as np
import pytest

from kerasviz import io
from kerasviz.apps import filters as filters_app
from kerasviz.apps import gallery
from kerasviz.errors import KerasvizError
from tests.helpers import tiny_cnn

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Appended to a copy of the page: once everything has loaded, reports how many pictures loaded and which did not.
PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.filter.call(document.images, function (i) { return i.hasAttribute('src'); });
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                   .map(function (i) { return i.getAttribute('src'); });
  var p = document.createElement('pre'); p.id = 'kv-probe';
  p.textContent = 'KV-PROBE' + JSON.stringify({count: imgs.length, broken: broken}) + 'KV-END';
  document.body.appendChild(p);
});
</script>"""


def _chromium() -> str | None:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found or not (shutil.which("apt-get") and os.geteuid() == 0):
        return found
    try:  # as .ci/run does: Debian's package, when this machine may install it
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, timeout=900,
                       capture_output=True, check=False)
    except subprocess.TimeoutExpired:
        return None
    return shutil.which("chromium")


def _browse(browser: str, url: str, profile: str, *extra: str) -> subprocess.CompletedProcess:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1280,900", *extra, url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("gallery"))
    model = tiny_cnn()
    for layer in ("conv1", "conv2"):
        filters_app.run(layer, [0, 1, 2, 3], folder, model=model, size=16, steps=1)
    filters_app.run("conv1", [0, 1, 2, 3], folder, model=model, stem="tiny_conv1_classic", size=16, steps=1,
                    method="classic")
    rng = np.random.default_rng(0)
    io.write_png(os.path.join(folder, "saliency_cat.png"), rng.integers(0, 256, (40, 120, 3), dtype=np.uint8))
    io.write_json(os.path.join(folder, "saliency_examples.json"), {"weights": "offline", "note": "</script><b>"})
    io.write_png(os.path.join(folder, "dream_cat.png"), rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    io.write_json(os.path.join(folder, "dream_cat.json"), {"layers": {"conv2": 1.0}, "steps": 1})
    with open(os.path.join(folder, "broken.png"), "wb") as f:  # a half-written file is left out, not shown broken
        f.write(b"\x89PNG")
    return folder


def test_index_lists_every_grid_and_links_its_facts(out):
    path = gallery.write_index(out)
    assert path == os.path.join(out, "index.html")
    with open(path, encoding="utf-8") as f:
        page = f.read()
    for stem in ("tiny_conv1", "tiny_conv1_classic", "tiny_conv2", "saliency_cat", "dream_cat"):
        assert f'src="{stem}.png"' in page
    for facts in ("tiny_conv1.json", "tiny_conv2.json", "saliency_examples.json", "dream_cat.json"):
        assert f'href="{facts}"' in page
    assert 'href="#tiny-conv1"' in page and 'href="#tiny-conv2"' in page  # navigation by layer
    assert "broken.png" not in page
    assert "</script><b>" not in page  # facts are escaped
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing from the network
    for link in re.findall(r'(?:src|href)="([^"#][^"]*)"', page):
        assert os.path.isfile(os.path.join(out, link)), link
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(KerasvizError, match="does not exist"):
        gallery.write_index(str(tmp_path / "nowhere"))


def test_page_loads_in_headless_chromium(out):
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get)")
    gallery.write_index(out)
    with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
        page = f.read()
    probe = os.path.join(out, "probe.html")  # beside the page, so its relative links resolve the same way
    with open(probe, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", PROBE + "\n</body>"))
    with tempfile.TemporaryDirectory() as profile:
        dom = _browse(browser, "file://" + probe, profile, "--virtual-time-budget=5000", "--dump-dom")
    os.remove(probe)
    report = re.search(r'<pre id="kv-probe">KV-PROBE(.*?)KV-END</pre>', dom.stdout)
    assert report, f"the page did not finish loading: {dom.stderr[-2000:]}"
    loaded = json.loads(html.unescape(report.group(1)))
    assert loaded["count"] == 5 and loaded["broken"] == []
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # the page logs nothing: any line is an error or an uncaught exception

    shot = os.path.join(out, "..", "shot.png")
    with tempfile.TemporaryDirectory() as profile:
        result = _browse(browser, "file://" + os.path.join(out, "index.html"), profile, f"--screenshot={shot}")
    assert os.path.isfile(shot), result.stderr[-2000:]
    pixels = iio.imread(shot).astype(np.float32)
    assert pixels.shape[:2] == (900, 1280) and pixels.var() > 0
    assert [line for line in result.stderr.splitlines() if ":CONSOLE" in line] == []


def test_the_lectures_pictures_get_their_sections(tmp_path):
    rng = np.random.default_rng(1)
    for stem in ("inversion_cat", "texture_gravel", "classes_vgg16", "fooling_cat"):
        io.write_png(str(tmp_path / f"{stem}.png"), rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
        io.write_json(str(tmp_path / f"{stem}.json"), {"note": stem})
    with open(gallery.write_index(str(tmp_path)), encoding="utf-8") as f:
        page = f.read()
    for section, stem in (("inversion", "inversion_cat"), ("texture", "texture_gravel"), ("classes", "classes_vgg16"),
                          ("fooling", "fooling_cat")):
        start = page.index(f'<section id="{section}">')
        assert f'src="{stem}.png"' in page[start:page.index("</section>", start)], section
    assert 'id="other"' not in page


def test_a_saliency_maps_scores_are_shown_beside_it(tmp_path):
    rng = np.random.default_rng(2)
    for stem, scores in (("cat", {"deletion": 0.1234, "insertion": 0.5, "mufidelity": None}), ("dog", None)):
        io.write_png(str(tmp_path / f"{stem}_saliency.png"), rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
        facts = {"method": "vanilla", **({"metrics": scores} if scores else {})}  # saliency_maps.py [--metrics]
        io.write_json(str(tmp_path / f"{stem}_saliency.json"), facts)
    with open(gallery.write_index(str(tmp_path)), encoding="utf-8") as f:
        page = f.read()
    cat = page.index('src="cat_saliency.png"')
    line = '<figcaption class="metrics">deletion AUC ↓ 0.123 · insertion AUC ↑ 0.500</figcaption>'
    assert page.index(line) > cat  # beside its own map; an undefined score (None) is left out
    assert page.count('class="metrics"') == 1  # the map without scores has none
