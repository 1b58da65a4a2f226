"""``gptlab-list``: every registered component name, by kind, with its config keys."""

from __future__ import annotations

import dataclasses

from rich.table import Table

from gptlab import registry
from gptlab.config import prepare_registry
from gptlab.console import output_console
from gptlab.errors import reported


def main() -> None:
    with reported():
        prepare_registry()
    table = Table(title="gptlab components", show_lines=False)
    table.add_column("kind (config key)")
    table.add_column("name")
    table.add_column("what it is")
    table.add_column("config keys")
    for kind in registry.kinds():
        key = kind if kind in registry.GROUP_KINDS else f"model.{'pos' if kind == 'position' else kind}"
        for name in registry.names(kind):
            entry = registry.lookup(kind, name)
            fields = [f.name for f in dataclasses.fields(entry.config)] if entry.config else []
            table.add_row(f"{kind} ({key})", name, entry.summary, ", ".join(f for f in fields if f != "name"))
    output_console().print(table)


if __name__ == "__main__":
    main()
