"""User-facing errors: one paragraph that names the problem and the fix, never a traceback wall."""


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
