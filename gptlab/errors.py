"""User-facing errors: one paragraph that names the problem and the fix, never a traceback wall."""

from collections.abc import Iterator
from contextlib import contextmanager


class GptlabError(Exception):
    """An error caused by the user's input (config, data, paths); printed without a traceback."""


class ConfigError(GptlabError):
    """A config key, value or combination of values that cannot work."""


class DataError(GptlabError):
    """A data file or glob that cannot be read as training text."""


def report(error: BaseException) -> None:
    """Print a user error as one readable paragraph on stderr."""
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {error}", soft_wrap=True)


@contextmanager
def reported(exit_code: int = 2) -> Iterator[None]:
    """A command line's guard: a :class:`GptlabError` raised inside is printed by :func:`report` and the
    program exits with ``exit_code``; other exceptions pass through as bugs.

        with reported():
            app = build(parse_args(argv))
    """
    try:
        yield
    except GptlabError as error:
        report(error)
        raise SystemExit(exit_code) from None
