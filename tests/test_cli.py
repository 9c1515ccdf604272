"""kerasviz._cli.ProgressBar: silent while stderr is not a terminal, one plain line when it ends."""

import io as stdio

from kerasviz import _cli


def test_progress_bar_is_quiet_off_a_terminal_and_ends_with_one_line(capsys):
    with _cli.ProgressBar("style transfer") as progress:
        for done in range(1, 4):
            progress(done, 6)
        assert capsys.readouterr().err == ""  # captured stderr is not a terminal: no bar
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].strip().startswith("style transfer: 3/6 steps in ")  # stopped early: says so
    _cli.ProgressBar("unused").close()
    assert capsys.readouterr().err == ""  # nothing done, nothing said


def test_progress_bar_counts_without_a_total_and_bars_close_the_last_one(capsys):
    with _cli.ProgressBars() as bars:
        first = bars("images")
        first(5, None)
        first(12, None)
        bars("grids")(1, 1)
        assert capsys.readouterr().err.splitlines()[0].strip().startswith("images: 12 steps in ")  # closed by the next
    assert capsys.readouterr().err.strip().startswith("grids: 1/1 steps in ")


def test_progress_bar_draws_rate_and_time_left_on_a_terminal(monkeypatch):
    class Terminal(stdio.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with _cli.ProgressBar("grid") as progress:
        for done in (10, 20):
            progress(done, 40)
    drawn = terminal.getvalue()
    assert "grid:" in drawn and "20/40" in drawn and "0step " not in drawn  # opened with its total
    assert "step/s" in drawn and "<" in drawn  # the rate, and elapsed<left
