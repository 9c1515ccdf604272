"""The jobs behind the scripts: plain arguments in, finished files out, finished files skipped on a rerun.

Every job has one shape:

    run...(<what it works on>, out, *, model=..., weights="auto", preprocess=None, <options>,
           overwrite=False, progress=None) -> dict

- `out`: the picture FILE.png (its JSON sidecar FILE.json beside it) or, for a job that writes
  several files, a folder.
- `model`: a loaded keras.Model, or a name or model file path loaded with `weights` and `preprocess`
  (see models.load_model).
- `overwrite`: outputs that an earlier run finished are kept unless it is set.
- `progress`: None or a (done, total) callback given by the caller (the scripts pass a
  kerasviz._cli.ProgressBar); a job never prints.
- The result is the JSON sidecar's facts plus `png`, the picture's path, and `skipped: True` when an
  earlier run's outputs were kept.

Each module's `readme_examples(out, *, weights="auto", overwrite=False, bars=None) -> list[str]` makes
its part of the README's pictures and returns their paths; `bars(label)`, when given, makes one
progress callback per long step.
"""
