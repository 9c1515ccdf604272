"""The one exception kerasviz raises for bad input."""


class KerasvizError(ValueError):
    """Bad input: an unknown model, layer, filter, image or path.

    The message is one line that says what was given and what is valid; the
    scripts print it and exit with status 2.
    """
