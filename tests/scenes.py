"""The synthetic scenes and the tiny scene CNN, now kerasviz.dataset.scenes; re-exported here so the tests
and benchmarks that `import scenes` keep working."""

from kerasviz.dataset.scenes import (  # noqa: F401
    ARM,
    DISTRACTORS,
    EPOCHS,
    PLUS,
    SIZE,
    SQUARE,
    TRAIN_SCENES,
    Scenes,
    make_scenes,
    tiny_cnn,
    trained_cnn,
)
