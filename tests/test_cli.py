"""kerasviz._cli.ProgressBar: a tqdm bar with rate and time left on a terminal, silent elsewhere."""

import io as stdio

from kerasviz import _cli


class Terminal(stdio.StringIO):
    def isatty(self):
        return True


def test_progress_bar_is_silent_off_a_terminal(capsys):
    with _cli.ProgressBars() as bars:
        with _cli.ProgressBar("style transfer") as progress:
            for done in range(1, 4):
                progress(done, 6)
        bars("images")(12, None)
        bars("grids")(1, 1)
    assert capsys.readouterr().err == ""  # captured stderr is not a terminal: a script's stderr stays clean


def test_progress_bar_draws_rate_and_time_left_on_a_terminal(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with _cli.ProgressBar("grid") as progress:
        for done in (10, 20):
            progress(done, 40)
    drawn = terminal.getvalue()
    assert "grid:" in drawn and "20/40" in drawn and "0step " not in drawn  # opened with its total
    assert "step/s" in drawn and "<" in drawn  # the rate, and elapsed<left


def test_progress_bars_count_without_a_total_and_close_the_last_one(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with _cli.ProgressBars() as bars:
        first = bars("images")
        first(5, None)
        first(12, None)
        bars("grids")(1, 1)
        assert "images: 12step" in terminal.getvalue() and terminal.getvalue().count("\n") == 1  # closed by the next
    assert "grids: 100%" in terminal.getvalue() and terminal.getvalue().count("\n") == 2
