"""The README parts "cams" (the CAM family on one photo) and "transformers" (rollout and token CAMs on a ViT
trained in the job on synthetic scenes), each at its smoke size: it writes its picture and sidecar, the
sidecar says what made it, and a rerun keeps them."""

import json
import os

import imageio.v3 as iio
import numpy as np

from kerasviz.apps import cams, transformers


def _panels(picture: np.ndarray, count: int, side: int, top: int = 0) -> list[np.ndarray]:
    """The `count` side x side panels of a row starting at `top`, 2 px apart."""
    return [picture[top:top + side, i * (side + 2):i * (side + 2) + side] for i in range(count)]


def _kept_on_rerun(part, out: str, written: list[str], **kwargs) -> None:
    stamps = [os.path.getmtime(p) for p in written]
    assert part(out, smoke=True, **kwargs) == written
    assert [os.path.getmtime(p) for p in written] == stamps


def test_cams_part_writes_the_cam_family_on_chelsea(tmp_path):
    written = cams.readme_examples(str(tmp_path), weights="offline", smoke=True)
    assert written == [str(tmp_path / "saliency_cams_chelsea.png")]
    facts = json.loads((tmp_path / "saliency_cams_chelsea.json").read_text())
    assert facts["smoke"] is True and facts["columns"] == ["photo", *cams.CAM_METHODS]
    assert facts["options"] == cams.SMOKE["options"] and "masks" in facts["rise_masks"]
    assert facts["classifier"].startswith("NOT an ImageNet classifier") and facts["target_name"] == "chelsea"
    assert set(facts["method_seconds"]) == set(cams.CAM_METHODS) and facts["layer"] == cams.README_LAYER
    side = cams.SMOKE["size"]
    panels = _panels(iio.imread(written[0])[..., :3], 1 + len(cams.CAM_METHODS), side)
    assert all(p.std() > 0 for p in panels)
    assert all(not np.array_equal(p, panels[0]) for p in panels[1:])  # each overlay differs from the photo
    _kept_on_rerun(cams.readme_examples, str(tmp_path), written, weights="offline")


def test_transformers_part_writes_rollout_and_cams_on_scenes(tmp_path):
    written = transformers.readme_examples(str(tmp_path), weights="offline", smoke=True)
    assert written == [str(tmp_path / "vit_rollout_scenes.png")]
    facts = json.loads((tmp_path / "vit_rollout_scenes.json").read_text())
    assert facts["smoke"] is True and "no trained ViT weights can be had offline" in facts["model"]
    assert 0 <= facts["held_out_accuracy"] <= 1 and facts["training"] == {"seed": 0, **transformers.SMOKE["training"]}
    methods = list(transformers.README_METHODS)
    assert facts["columns"][1:] == methods and set(facts["pointing"]) == set(methods)
    assert all(len(hits) == transformers.SMOKE["count"] for hits in facts["pointing"].values())
    picture = iio.imread(written[0])[..., :3]
    side = 40 * transformers.SMOKE["zoom"]
    for row in range(transformers.SMOKE["count"]):  # each row: the boxed scene, then its maps
        panels = _panels(picture, 1 + len(methods), side, top=row * (side + 2))
        assert (panels[0] == transformers.BOX_COLOUR).all(-1).any()  # the box is drawn
        assert all(p.std() > 0 for p in panels)
    _kept_on_rerun(transformers.readme_examples, str(tmp_path), written)
