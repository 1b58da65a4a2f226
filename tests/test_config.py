"""Every option of every config group composes and builds; bad configs fail early and clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gptlab import registry
from gptlab.config import CONFIG_DIR, resolve
from gptlab.errors import ConfigError
from gptlab.finetune.config import finetune_config
from gptlab.logger import RunContext
from gptlab.model import counting
from tests.helpers import MACBETH, compose_config, train_in_process


def group_options() -> list[tuple[str, str]]:
    """Every option of every group; experiments (``+experiment=``) are tested in test_experiments.py."""
    return sorted((p.parent.name, p.stem) for p in CONFIG_DIR.glob("*/*.yaml") if p.parent.name != "experiment")


def test_every_group_has_options():
    groups = {group for group, _ in group_options()}
    assert groups == {"model", "optimizer", "data", "schedule", "logger", "trainer", "tokenizer", "sweep", "finetune"}


def chat_file(folder: Path) -> Path:
    path = folder / "chats.jsonl"
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    path.write_text("\n".join(json.dumps({"messages": messages}) for _ in range(10)))
    return path


@pytest.mark.parametrize("group,option", group_options())
def test_every_option_composes_and_builds(
    group, option, text_file, jsonl_file, qa_file, tiktoken_file, tmp_path, request
):
    data_overrides = {
        "text": [f"data.path={text_file}"],
        "shakespeare": ["data.plays=[macbeth]"],
        "jsonl": [f"data.path={jsonl_file}"],
        "qa": [f"data.path={qa_file}"],
        "hf": ["data.path=text", f"data.data_files=[{text_file}]"],
        "chat": [f"data.path={chat_file(tmp_path)}"],
        "arithmetic": ["data.problems=200"],
    }
    tokenizer_overrides = {
        "tiktoken": [f"tokenizer.file={tiktoken_file}"],
        "hf": [f"tokenizer.path={request.getfixturevalue('hf_tokenizer_file')}"] if option == "hf" else [],
    }
    overrides = [f"{group}={option}", *(data_overrides[option] if group == "data" else MACBETH)]
    overrides += tokenizer_overrides.get(option, []) if group == "tokenizer" else []
    cfg = compose_config(overrides)
    typed = resolve(cfg)
    if group == "finetune":  # read by fine-tuning runs (gptlab/finetune/config.py)
        assert finetune_config(cfg).lora.enabled == (option == "lora")
        return
    assert typed[group].__class__.__name__.endswith("Config")
    if group not in registry.GROUP_KINDS:  # trainer and sweep settings select no component
        return
    kind_cfg = typed[group]
    assert kind_cfg.name == cfg[group].name
    if group != "model":  # model presets (gpt2_small, tiny, ...) are options of the gpt component
        assert kind_cfg.name == option  # the option selects the component of its name
    if group == "model":  # presets past 100M parameters (gpt2_xl: 1.5B) are built and run on the meta device
        large = option != "bigram" and counting.parameter_count(kind_cfg, 50) > 100e6
        device = torch.device("meta" if large else "cpu")
        with device:
            model = registry.build("model", kind_cfg, vocab_size=50)
            assert model(torch.zeros(2, 8, dtype=torch.long)).logits.shape == (2, 8, 50)
    elif group == "optimizer":
        assert isinstance(registry.build("optimizer", kind_cfg, torch.nn.Linear(4, 4)), torch.optim.Optimizer)
    elif group == "schedule":
        schedule = registry.build("schedule", kind_cfg, 100)
        assert all(0.0 < schedule(step) <= 1.0 for step in range(100))
    elif group == "data":
        source = registry.build("data", kind_cfg)
        if option == "chat":  # conversations for fine-tuning only
            assert [split for split, _ in source.conversations()].count("train") == 9
            return
        train, val = ("".join(source.documents(split)) for split in ("train", "val"))
        assert len(train) > 8 * len(val) > 0
    elif group == "tokenizer":
        tokenizer = registry.build("tokenizer", kind_cfg).fit(["hello world"], [])
        assert tokenizer.decode(tokenizer.encode("hello").tolist()) == "hello"
    elif group == "logger":
        sinks = registry.build("logger", kind_cfg, RunContext(tmp_path, {"seed": 1}))
        for sink in sinks:
            sink.log(1, {"train_loss": 1.0})
            sink.finish()
        assert (tmp_path / "metrics.jsonl").exists() == (option != "none")


def test_issue_keys_exist():
    cfg = compose_config([])
    for key in (
        "seed",
        "model.n_layer",
        "model.n_head",
        "model.d_model",
        "trainer.max_steps",
        "trainer.eval_every",
        "trainer.resume",
    ):
        section, _, name = key.rpartition(".")
        assert name in (cfg[section] if section else cfg)
    assert "path" in compose_config(["data=text"]).data.keys()


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["model.d_model=100", "model.n_head=3"], "model.d_model=100 is not divisible by model.n_head=3"),
        (["optimizer.lr=-0.1"], "optimizer.lr=-0.1 must be > 0"),
        (["model.norm=batchnorm"], "Valid norm names: layernorm"),
        (["optimizer.name=adamx"], "Did you mean 'adamw'"),
        (["trainer.dtype=float8"], "trainer.dtype='float8' is not one of auto, float32, bfloat16, float16"),
        (["schedule.warmup_steps=5000"], "schedule.warmup_steps=5000 is not shorter than trainer.max_steps=1100"),
        (["schedule=wsd", "schedule.decay_fraction=0"], "schedule.decay_fraction=0.0 must lie in (0, 1]"),
        (["data.val_fraction=1.5"], "data.val_fraction=1.5 must lie strictly between 0 and 1"),
        (["data=text"], "data.path has no value"),
        (["model.n_layer=0"], "model.n_layer=0 must be a positive integer"),
    ],
)
def test_cross_field_errors(overrides, message):
    with pytest.raises(ConfigError) as error:
        resolve(compose_config(overrides))
    assert message in str(error.value)


def _error_run(args: list[str], tmp_path: Path) -> str:
    result = train_in_process(args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return " ".join(result.stderr.split())


def test_misspelled_key_names_closest_keys(tmp_path):
    err = _error_run(["model.n_layre=4"], tmp_path)
    assert "Unknown config key 'model.n_layre'" in err and "Did you mean model.n_layer" in err
    err = _error_run(["trainer.max_step=4"], tmp_path)
    assert "Did you mean trainer.max_steps" in err
    assert not (tmp_path / "outputs").exists()


def test_unknown_component_lists_valid_names(tmp_path):
    err = _error_run(["model.norm=rmsnorn", "hydra.run.dir=" + str(tmp_path / "run")], tmp_path)
    assert "Unknown norm 'rmsnorn' at model.norm" in err and "Valid norm names: layernorm" in err
    assert not (tmp_path / "run").exists(), "a run that failed validation leaves no run dir behind"


def _float_paths(node, path=()):
    """The paths of every float in a typed config tree (dataclasses and lists)."""
    from dataclasses import fields, is_dataclass

    if is_dataclass(node):
        for f in fields(node):
            yield from _float_paths(getattr(node, f.name), (*path, f.name))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _float_paths(value, (*path, i))
    elif isinstance(node, float):
        yield path


def _key(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)[1:]


@pytest.mark.parametrize("choice", [[], ["optimizer=adamw"], ["optimizer=lion"], ["optimizer=soap"], ["schedule=wsd"]])
def test_every_float_key_refuses_non_finite_values(choice):
    """Found from the types (every float field of the typed configs), not from a list of names."""
    base = compose_config(choice)
    typed = resolve(base)
    paths = [(group, *path) for group, node in typed.items() for path in _float_paths(node)]
    keys = [_key(path) for path in paths]
    assert {"optimizer.lr", "trainer.grad_clip", "model.mlp_ratio", "data.val_fraction"} <= set(keys)
    for path, value in zip(paths, ["nan", "inf", "-inf"] * len(paths)):
        cfg = base.copy()
        parent = cfg
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = float(value)
        with pytest.raises(ConfigError) as caught:
            resolve(cfg)
        assert f"{_key(path)}={float(value)}" in str(caught.value) and "finite" in str(caught.value)
