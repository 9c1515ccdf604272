"""A static gallery, OUT/index.html, of every picture and JSON sidecar found in an output folder.

The page is self-contained (inline CSS and JS, no network): filter grids grouped by model and
layer, with a sidebar to jump between them, each grid linked to its JSON facts, and sections for
the saliency, style-transfer and DeepDream pictures when they exist. Click a picture to enlarge it.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import struct
from urllib.parse import quote

from kerasviz import io
from kerasviz.errors import KerasvizError

INDEX = "index.html"
_MODEL_TITLES = {"vgg16": "VGG16", "resnet50": "ResNet50", "inceptionv3": "InceptionV3"}
# Pictures that are not filter grids, by file-name prefix: (section id, title, what it shows).
_SECTIONS = (
    ("saliency", "Saliency and masks", "Where the network looks: attribution maps and the foreground masks they give."),
    ("style", "Style transfer", "A photo repainted with the statistics of another picture's features."),
    ("dream", "DeepDream", "A photo pushed to excite whole layers, octave by octave."),
    ("inversion", "Feature inversion",
     "A photo rebuilt from one layer's features alone (Mahendran & Vedaldi 2015): what each depth keeps."),
    ("texture", "Texture synthesis",
     "New texture from the Gram matrices of a source's features (Gatys et al. 2015), at any size."),
    ("classes", "Class pictures", "The picture that maximises a class logit (Simonyan et al. 2014)."),
    ("fooling", "Fooling images",
     "The smallest change that makes the classifier answer another class, and that change magnified."),
    ("exemplars", "Dataset exemplars",
     "Per filter (one row): its synthetic picture, then the image patches that excite it most, best first, "
     "each the unit's receptive field around its maximum (Zeiler & Fergus 2014)."),
    ("feature_map", "Feature map and nearest neighbours",
     "Images placed by t-SNE of their last-layer features; beneath, query images (orange frame) with their "
     "nearest neighbours by cosine similarity."),
    ("first_layer", "First-layer weights",
     "Each kernel of the first convolution as a small RGB picture: grey is a zero weight."),
    ("vit", "Vision transformers",
     "Attention rollout and CAMs on the tokens of a small ViT trained on synthetic scenes (no trained ViT weights "
     "can be had offline): held-out scenes, each with its object's box."),
)
_WIDE_ROWS = ("saliency", "exemplars", "feature_map", "inversion", "classes", "fooling")  # long rows of panels


@dataclasses.dataclass
class _Picture:
    name: str  # file name inside OUT
    width: int
    height: int
    facts: dict | None  # the JSON sidecar, when there is one
    facts_name: str | None


def write_index(out: str) -> str:
    """Writes OUT/index.html from the PNGs and JSON sidecars in `out`; returns its path."""
    if not os.path.isdir(out):
        raise KerasvizError(f"gallery folder {out!r} does not exist; make the pictures first")
    grids: dict[str, dict[str, list[_Picture]]] = {}  # model -> layer -> grids (one per method)
    others: dict[str, list[_Picture]] = {section[0]: [] for section in _SECTIONS}
    others["other"] = []
    for name in sorted(os.listdir(out), key=_natural):
        if not name.lower().endswith(".png") or name.startswith("."):
            continue
        picture = _picture(out, name)
        if picture is None:
            continue
        facts = picture.facts or {}
        section = _section_of(name)
        if section == "other" and isinstance(facts.get("layer"), str) and isinstance(facts.get("filters"), list):
            model = str(facts.get("model", "model"))
            grids.setdefault(model, {}).setdefault(facts["layer"], []).append(picture)
        else:
            others[section].append(picture)
    for model in grids.values():
        for pictures in model.values():
            pictures.sort(key=lambda p: (p.facts.get("method") == "classic", p.name))
    path = os.path.join(out, INDEX)
    with io.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(_page(grids, others))
    return path


def _picture(out: str, name: str) -> _Picture | None:
    size = _png_size(os.path.join(out, name))
    if size is None:
        return None  # not a PNG we can show (a half-written or foreign file): leave it out
    stem = name[:-4]
    candidates = [stem + ".json"]
    if stem.startswith("saliency_"):
        candidates.append("saliency_examples.json")
    for candidate in candidates:
        facts = _read_json(os.path.join(out, candidate))
        if facts is not None:
            return _Picture(name, size[0], size[1], facts, candidate)
    return _Picture(name, size[0], size[1], None, None)


def _png_size(path: str) -> tuple[int, int] | None:
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            facts = json.load(f)
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) else None


def _section_of(name: str) -> str:
    for section, _, _ in _SECTIONS:
        if name.startswith(section + "_"):
            return section
    if re.search(r"_(saliency|mask|cutout)\.png$", name):
        return "saliency"
    if name.endswith("_exemplars.png"):
        return "exemplars"
    return "other"


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _anchor(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts))


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _page(grids: dict[str, dict[str, list[_Picture]]], others: dict[str, list[_Picture]]) -> str:
    nav, body = [], []
    order = list(_MODEL_TITLES)
    for model in sorted(grids, key=lambda m: (order.index(m) if m in order else len(order), m)):
        title = _MODEL_TITLES.get(model, model)
        model_id = _anchor("model", model)
        layers = sorted(grids[model], key=_natural)
        nav.append(f'<div class="nav-group"><a class="nav-model" href="#{model_id}">{_e(title)}</a>')
        nav.extend(f'<a class="nav-layer" href="#{_anchor(model, layer)}">{_e(layer)}</a>' for layer in layers)
        nav.append("</div>")
        cards = "".join(_layer_card(model, layer, grids[model][layer]) for layer in layers)
        weights = {str(p.facts.get("weights")) for pictures in grids[model].values() for p in pictures}
        body.append(
            f'<section id="{model_id}"><h2>{_e(title)}</h2>'
            f'<p class="lede">What each filter responds to most: for every layer, the input that maximises the '
            f'mean activation of each of its first filters. Weights: {_e(", ".join(sorted(weights)))}.</p>'
            f'<div class="cards">{cards}</div></section>'
        )
    for section, title, lede in (*_SECTIONS, ("other", "Other pictures", "")):
        pictures = others[section]
        if not pictures:
            continue
        nav.append(f'<div class="nav-group"><a class="nav-model" href="#{section}">{_e(title)}</a></div>')
        cards = "".join(_picture_card(p) for p in pictures)
        layout = "rows" if section in _WIDE_ROWS else "wide"
        body.append(f'<section id="{section}"><h2>{_e(title)}</h2><p class="lede">{_e(lede)}</p>'
                    f'<div class="cards {layout}">{cards}</div></section>')
    if not body:
        body.append('<p class="lede">No pictures here yet: run scripts/visualize_all.py.</p>')
    return _TEMPLATE.format(css=_CSS, js=_JS, nav="\n".join(nav), body="\n".join(body))


def _layer_card(model: str, layer: str, pictures: list[_Picture]) -> str:
    figures = []
    for p in pictures:
        facts = p.facts or {}
        summary = " · ".join(
            _e(part) for part in (
                f"{len(facts.get('filters', []))} filters",
                f"{facts['steps']} steps" if "steps" in facts else None,
                f"{facts['size']} px" if "size" in facts else None,
                f"{facts['seconds']} s" if "seconds" in facts else None,
            ) if part
        )
        figures.append(
            f'<figure>{_img(p, "grid")}<figcaption><span class="badge">{_e(facts.get("method", ""))}</span>'
            f'<span class="summary">{summary}</span></figcaption>'
            f'{_activations(facts)}{_facts(p)}</figure>'
        )
    pair = " pair" if len(pictures) > 1 else ""  # methods side by side
    return (f'<article class="card{pair}" id="{_anchor(model, layer)}"><h3>{_e(layer)}</h3>'
            f'<div class="figures">{"".join(figures)}</div></article>')


def _picture_card(p: _Picture) -> str:
    title = p.name[:-4].replace("_", " ")
    return (f'<article class="card" id="{_anchor("pic", p.name[:-4])}"><h3>{_e(title)}</h3>'
            f'<figure>{_img(p)}{_map_scores(p.facts or {})}{_facts(p)}</figure></article>')


_SCORE_NAMES = (("deletion", "deletion AUC ↓"), ("insertion", "insertion AUC ↑"), ("mufidelity", "μ-fidelity ↑"))


def _map_scores(facts: dict) -> str:
    """A saliency map's scores (saliency_maps.py --metrics; kerasviz.metrics), one small line; '' without them."""
    scores = facts.get("metrics")
    if not isinstance(scores, dict):
        return ""
    shown = [f"{label} {scores[name]:.3f}" for name, label in _SCORE_NAMES if isinstance(scores.get(name), int | float)]
    return f'<figcaption class="metrics">{_e(" · ".join(shown))}</figcaption>' if shown else ""


def _img(p: _Picture, kind: str = "photo") -> str:
    # A filter grid shown larger than it is keeps its pixels sharp (the page's script sets "pixelated").
    return (f'<img class="zoomable {kind}" src="{quote(p.name)}" width="{p.width}" height="{p.height}" '
            f'alt="{_e(p.name)}">')


def _facts(p: _Picture) -> str:
    if p.facts is None:
        return ""
    shown = {k: v for k, v in p.facts.items() if k != "activations"}
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_short(v))}</td></tr>" for k, v in shown.items())
    return (f'<details><summary>facts · <a href="{quote(p.facts_name)}">{_e(p.facts_name)}</a></summary>'
            f'<table>{rows}</table></details>')


def _short(value) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 160 else text[:157] + "…"


def _activations(facts: dict) -> str:
    """Each filter's final activation as a small inline SVG bar chart, with its value on hover."""
    values = facts.get("activations")
    filters = facts.get("filters") or []
    if not isinstance(values, list) or not values or not all(isinstance(v, (int, float)) for v in values):
        return ""
    top = max(max(abs(v) for v in values), 1e-12)
    width, height = 100.0 / len(values), 28
    bars = []
    for i, value in enumerate(values):
        h = max(1.0, height * abs(value) / top)
        index = filters[i] if i < len(filters) else i
        bars.append(
            f'<rect x="{i * width:.3f}" y="{height - h:.2f}" width="{width * 0.8:.3f}" height="{h:.2f}"'
            f'{" class=neg" if value < 0 else ""}><title>filter {_e(index)}: {value:.4g}</title></rect>'
        )
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    return (f'<div class="acts"><svg viewBox="0 0 100 {height}" preserveAspectRatio="none" role="img" '
            f'aria-label="final activation per filter">{"".join(bars)}</svg>'
            f'<span>activation min {ordered[0]:.3g} · median {median:.3g} · max {ordered[-1]:.3g}</span></div>')


_CSS = """
:root { --bg:#16181c; --panel:#1e2126; --line:#2c3038; --text:#d8dbe0; --dim:#8b919c; --accent:#e0b04a; }
* { box-sizing:border-box; }
html { scroll-behavior:smooth; }
body { margin:0; background:var(--bg); color:var(--text);
       font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
nav { position:fixed; top:0; left:0; bottom:0; width:230px; overflow-y:auto; padding:20px 14px;
      background:var(--panel); border-right:1px solid var(--line); }
nav h1 { font-size:18px; margin:0 0 4px; color:#fff; } nav .tag { color:var(--dim); font-size:12px; margin:0 0 14px; }
nav input { width:100%; padding:6px 8px; margin-bottom:12px; border-radius:6px; border:1px solid var(--line);
            background:var(--bg); color:var(--text); }
.nav-group { margin-bottom:12px; }
.nav-model { display:block; font-weight:600; color:#fff; margin-bottom:2px; }
.nav-layer { display:block; padding:1px 0 1px 10px; color:var(--dim); font-size:13px;
             font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
.nav-layer:hover, .nav-layer.active { color:var(--accent); text-decoration:none; }
main { margin-left:230px; padding:4px 32px 64px; }
h2 { font-size:22px; margin:28px 0 4px; color:#fff; } .lede { color:var(--dim); margin:0 0 16px; max-width:70em; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(340px,1fr)); gap:18px; }
.cards.wide { grid-template-columns:repeat(auto-fill,minmax(420px,1fr)); }
.cards.rows { grid-template-columns:1fr; }
img.photo { width:auto; max-width:100%; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.card.pair { grid-column:span 2; }
@media (max-width:1100px) { .card.pair { grid-column:auto; } }
.card h3 { margin:0 0 8px; font-size:14px; font-weight:600; color:#fff;
           font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
.figures { display:flex; gap:12px; flex-wrap:wrap; } .figures figure { flex:1 1 300px; }
figure { margin:0; min-width:0; }
img { display:block; width:100%; height:auto; border-radius:4px; background:#000; cursor:zoom-in; }
img.pixelated { image-rendering:pixelated; }
figcaption { margin-top:6px; font-size:12px; color:var(--dim); }
.badge { display:inline-block; padding:0 6px; margin-right:6px; border-radius:4px; background:var(--line);
         color:var(--accent); font-weight:600; }
.acts { margin-top:6px; } .acts svg { display:block; width:100%; height:28px; }
.acts rect { fill:#6b8cce; } .acts rect.neg { fill:#c96b6b; } .acts rect:hover { fill:var(--accent); }
.acts span { font-size:11px; color:var(--dim); }
figcaption.metrics { font-size:11px; font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }
details { margin-top:6px; font-size:12px; } summary { cursor:pointer; color:var(--dim); }
table { border-collapse:collapse; margin-top:4px; width:100%; }
th, td { text-align:left; padding:2px 6px; border-top:1px solid var(--line); vertical-align:top;
         font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; word-break:break-word; }
th { color:var(--dim); font-weight:normal; white-space:nowrap; }
#zoom { position:fixed; inset:0; display:none; align-items:center; justify-content:center;
        background:rgba(8,9,11,.93); cursor:zoom-out; z-index:10; }
#zoom.open { display:flex; } #zoom img { width:auto; max-width:96vw; max-height:94vh; cursor:zoom-out; }
@media (max-width:800px) { nav { position:static; width:auto; } main { margin-left:0; padding:16px; } }
"""

_JS = """
(function () {
  var zoom = document.getElementById('zoom'), big = zoom.querySelector('img');
  document.querySelectorAll('img.zoomable').forEach(function (img) {
    img.addEventListener('click', function () {
      big.src = img.src; big.alt = img.alt;
      big.className = img.classList.contains('grid') ? 'pixelated' : '';
      var scale = Math.max(1, Math.floor(Math.min(innerWidth * 0.96 / img.naturalWidth,
                                                   innerHeight * 0.94 / img.naturalHeight)));
      big.style.width = (img.naturalWidth * scale) + 'px';
      zoom.classList.add('open');
    });
  });
  zoom.addEventListener('click', function () { zoom.classList.remove('open'); });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') zoom.classList.remove('open'); });
  function sharpen() {  // nearest-neighbour only where a grid is scaled up; smooth where it is scaled down
    document.querySelectorAll('img.grid').forEach(function (img) {
      img.classList.toggle('pixelated', img.naturalWidth > 0 && img.clientWidth > img.naturalWidth);
    });
  }
  addEventListener('load', sharpen);
  addEventListener('resize', sharpen);
  var search = document.getElementById('search');
  search.addEventListener('input', function () {
    var q = search.value.trim().toLowerCase();
    document.querySelectorAll('.nav-layer').forEach(function (a) {
      var hit = !q || a.textContent.toLowerCase().indexOf(q) >= 0;
      a.style.display = hit ? '' : 'none';
      var card = document.getElementById(a.getAttribute('href').slice(1));
      if (card) card.style.display = hit ? '' : 'none';
    });
  });
})();
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kerasviz gallery</title>
<style>{css}</style>
</head>
<body>
<nav>
<h1>kerasviz</h1>
<p class="tag">what the convolutional networks learned</p>
<input id="search" type="search" placeholder="filter layers…" aria-label="filter layers">
{nav}
</nav>
<main>
{body}
</main>
<div id="zoom" role="dialog" aria-label="enlarged picture"><img alt=""></div>
<script>{js}</script>
</body>
</html>
"""
