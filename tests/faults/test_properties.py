"""Property: whatever override set a user types (drawn from the config schema: right and wrong types,
edge values, NaN), ``gptlab-train`` either trains or fails with exit code 2 and one paragraph on
stderr; never a traceback, never another exit code.

The command runs in this process (``gptlab.train.main`` with ``sys.argv`` set), so each example costs
a composition and at most one training step of a tiny model.
"""

from __future__ import annotations

import math
import sys
import tempfile
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptlab.config import prepare_registry, resolve
from gptlab.train import main
from tests.helpers import MACBETH, TINY, compose_config

BASE = [*TINY, *MACBETH, "trainer.max_steps=1", "trainer.eval_batches=1", "trainer.samples=0"]
# how long a run takes, where it runs, or what it compiles: not what this property is about
NOT_DRAWN = (
    "trainer.max_steps",
    "trainer.budget",
    "trainer.stages",
    "trainer.stop_at_step",
    "trainer.eval_every",
    "trainer.log_every",
    "trainer.compile",
    "trainer.resume",
    "trainer.device",
    "trainer.threads",
    "trainer.sample",
    "trainer.samples",
    "data.name",
    "data.plays",
    "data.workers",
    "data.shard_tokens",
    "model.name",
    "optimizer.name",
    "schedule.name",
    "tokenizer",
    "logger",
    "sweep",
)
WRONG = ["abc", "[1,2]", "''", "null", "{a: 1}"]


def schema_keys() -> list[tuple[str, object]]:
    """(key, default) of every drawable leaf of the typed default config."""
    typed = resolve(compose_config([]))
    out = []

    def walk(prefix: str, node) -> None:
        if is_dataclass(node):
            for f in fields(node):
                walk(f"{prefix}.{f.name}", getattr(node, f.name))
        elif not prefix.startswith(NOT_DRAWN):
            out.append((prefix, node))

    for group, node in typed.items():
        walk(group, node)
    return out


prepare_registry()  # at collection: the schemas the keys are read from
KEYS = schema_keys()


def values_for(default) -> st.SearchStrategy[str]:
    """Override values for a key with this default: edge values of its type, and values of other types."""
    if isinstance(default, bool):
        right = ["true", "false"]
    elif isinstance(default, int):
        right = ["0", "1", "-1", str(default), str(default * 2 + 1)]
    elif isinstance(default, float):
        right = ["0.0", "-1.0", "1e-12", "1e12", "nan", "inf", repr(default), repr(default * 2)]
    elif isinstance(default, str):
        right = [repr(default) if default else "''", "bogus"]
    elif isinstance(default, list):
        right = ["[]", "[1]", "[bogus]"]
    else:
        right = ["null"]
    return st.sampled_from(right + WRONG)


overrides = st.lists(
    st.sampled_from(KEYS).flatmap(lambda kd: values_for(kd[1]).map(lambda v: f"{kd[0]}={v}")),
    min_size=1,
    max_size=3,
    unique_by=lambda o: o.split("=")[0],
)


def run_train(args: list[str]) -> int:
    argv = sys.argv
    sys.argv = ["gptlab-train", *args]
    try:
        main()
        return 0
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv


def check(drawn: list[str], capsys) -> None:
    with tempfile.TemporaryDirectory() as folder:
        code = run_train([*BASE, *drawn, f"hydra.run.dir={Path(folder) / 'run'}"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out, f"{drawn}: a traceback\n{err[-3000:]}"
    assert code in (0, 2), f"{drawn}: exit code {code}\n{err[-3000:]}"
    if code == 2:
        paragraphs = [p for p in err.strip().split("\n\n") if p.strip()]
        assert len(paragraphs) == 1 and err.lstrip().startswith("error:"), f"{drawn}: not one paragraph\n{err}"
    else:
        assert "step      1/1" in out, f"{drawn}: exit 0 without training a step\n{out[-2000:]}"


def test_schema_has_keys_of_every_type():
    kinds = {type(default) for _, default in KEYS}
    assert {bool, int, float, str, list} <= kinds and len(KEYS) > 40
    assert not any(isinstance(d, float) and not math.isfinite(d) for _, d in KEYS)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=overrides)
def test_any_override_set_trains_or_fails_with_one_paragraph(drawn, capsys):
    check(drawn, capsys)


@pytest.mark.extended  # the 12-example version above runs in make test
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=overrides)
def test_many_override_sets_train_or_fail_with_one_paragraph(drawn, capsys):
    check(drawn, capsys)
