"""The `fft` spectrum's shape against the naturalness of its pictures: benchmarks/filters.py with variants.

`fft` scales its Fourier coefficients by 1/f**decay, flattened below one cycle per receptive field of
the unit (kerasviz.optvis.param.fourier). Each variant changes one of the two, and is scored beside `fft` and
the baseline in the same process, on the same filters, exactly as benchmarks/filters.py scores:

- `fft_flatN`: flattened below one cycle per N receptive fields (N > 1 keeps coarser structure);
- `fft_decayP`: 1/f**P above the flattening point (P > 1 steepens the fall to fine detail).

  python benchmarks/spectrum.py --layers=block3_conv1,block3_conv2 --filters=8 --flatten=1.5,2 --decay=1.25,1.5
  python benchmarks/spectrum.py --smoke    # CI: one variant of each kind, at filters.py's --smoke size
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(__file__))
import filters  # noqa: E402  (defines the shared flags)

from kerasviz.optvis import param, render  # noqa: E402

flags.DEFINE_list("flatten", ["1.5", "2"], "Receptive fields per cycle below which the spectrum is flat.")
flags.DEFINE_list("decay", ["1.25", "1.5"], "Powers of 1/f above the flattening point.")
FLAGS = flags.FLAGS
SMOKE = {"flatten": ["2"], "decay": ["1.5"]}  # --smoke (filters.py's flag) also sets these


def variant(name: str, flatten: float = 1.0, decay: float = 1.0) -> render.Method:
    """`fft` with its spectrum flattened below `flatten` receptive fields and decaying as 1/f**`decay`."""
    def parameterization(batch, size, receptive_field):
        return param.fourier(batch, size, decay_power=decay, chroma_power=render.FFT_CHROMA_POWER,
                             receptive_field=int(round(receptive_field * flatten)))
    return dataclasses.replace(render.METHODS["fft"], name=name, parameterization=parameterization)


def main(argv):
    if FLAGS.smoke:
        for name, value in SMOKE.items():
            if not FLAGS[name].present:
                setattr(FLAGS, name, value)
    names = ["fft"]
    for value in FLAGS.flatten:
        names.append(f"fft_flat{value}")
        render.METHODS[names[-1]] = variant(names[-1], flatten=float(value))
    for value in FLAGS.decay:
        names.append(f"fft_decay{value}")
        render.METHODS[names[-1]] = variant(names[-1], decay=float(value))
    FLAGS.methods = FLAGS.methods or names
    filters.main(argv)


if __name__ == "__main__":
    app.run(main)
