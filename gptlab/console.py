"""Tables on the terminal or in a log: rich folds long values to fit a terminal, and never cuts a
value when the output goes to a file or a pipe (there the console is as wide as the table needs)."""

from __future__ import annotations

from rich.console import Console

PIPE_WIDTH = 100_000  # a console that is not a terminal: as wide as the table needs


def output_console(stderr: bool = False) -> Console:
    """A terminal's console (long values fold), or, for a file or a pipe, one that never wraps or cuts."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=PIPE_WIDTH)
    return console
