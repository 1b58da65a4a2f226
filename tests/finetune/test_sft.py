"""SFT from a pretrained run (gptlab/finetune/init_from.py, sft.py) through gptlab.train.train."""

from __future__ import annotations

import json

import pytest
import torch

import gptlab
from gptlab import registry
from gptlab.config import compose_config, typed_component
from gptlab.errors import ConfigError
from gptlab.finetune.evaluate import pass_at_1
from gptlab.finetune.init_from import BaseRun
from gptlab.finetune.prompter import Prompter
from gptlab.finetune.sampler import complete
from gptlab.tokenizer.chat import ChatTemplate
from gptlab.train import train
from tests.finetune.helpers import FACTS, one_thread, sft_config


def test_sft_answers_the_trained_questions_and_ends_its_turn(base_run, qa_path, tmp_path):
    data = ["data=qa", f"data.path={qa_path}", "data.val_fraction=0.2"]
    one_thread(train, sft_config(base_run, data, "trainer.max_steps=300", "optimizer.lr=3e-3"), tmp_path)
    run = BaseRun.open(str(tmp_path))
    base = BaseRun.open(str(base_run))
    template = ChatTemplate.from_tokenizer(run.tokenizer)
    new_tokens = [t for t in run.tokenizer.special.ids if t not in base.tokenizer.special.ids]
    assert new_tokens, "the chat template's role tokens were appended"
    assert min(run.tokenizer.special.ids[t] for t in new_tokens) == base.tokenizer.vocab_size
    model, tokenizer, _ = gptlab.load(tmp_path, device="cpu")  # an SFT run loads like any run
    assert tokenizer.state() == run.tokenizer.state()
    prompter = Prompter.chat(tokenizer)
    trained = FACTS[0]  # a training pair (every 5th pair is validation)
    completion = complete(model, [prompter.prompt_ids(trained[0])], 12, prompter.end_ids, temperature=0.0)[0]
    assert prompter.text(completion) == trained[1]
    assert completion[-1] in prompter.end_ids, "the answer ends with the end-of-turn token"
    assert run.tokenizer.decode(completion[-1:]) in template.stop_tokens(run.tokenizer)
    train_pairs = [pair for i, pair in enumerate(FACTS) if (i + 1) % 5]
    assert pass_at_1(model, prompter, train_pairs, 12) >= 0.75


def test_sft_on_chat_lines_trains_on_assistant_tokens_only(base_run, tmp_path):
    path = tmp_path / "chats.jsonl"
    lines = [
        {
            "messages": [
                {"role": "system", "content": "Terse"},
                {"role": "user", "content": q},
                {"role": "assistant", "content": a},
            ]
        }
        for q, a in FACTS
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    cfg = sft_config(base_run, ["data=chat", f"data.path={path}", "data.val_fraction=0.2"], "trainer.max_steps=2")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    one_thread(train, cfg, run_dir)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert records and all(r["train_loss"] == r["train_loss"] for r in records if "train_loss" in r)
    from gptlab.data.chat import ChatConfig, ChatConversations
    from gptlab.finetune.sft import conversation_splits

    splits = conversation_splits(
        ChatConversations(ChatConfig(path=str(path))), BaseRun.open(str(run_dir)).tokenizer, 32
    )
    shard = splits.train[0]
    learned = "".join(splits.tokenizer.decode([t]) for t, m in zip(shard.tokens, shard.loss_mask) if m)
    assert "Paris" in learned and "Capital" not in learned and "Terse" not in learned


def test_new_token_rows_start_at_the_mean_and_old_rows_stay(base_run):
    base = BaseRun.open(str(base_run))
    tokenizer = base.tokenizer_with(typed_component("tokenizer", compose_config(["tokenizer=char"]).tokenizer))
    assert tokenizer.vocab_size == base.tokenizer.vocab_size + 4, "system, user, assistant, end appended"
    model = registry.build("model", base.config["model"], vocab_size=tokenizer.vocab_size)
    model = base.init_model(model)
    old = base.weights["token_embedding.weight"]
    rows = model.token_embedding.weight.detach()
    assert torch.equal(rows[: len(old)], old)
    assert torch.allclose(rows[len(old) :], old.mean(0).expand(len(rows) - len(old), -1))
    assert model.head.weight is model.token_embedding.weight, "a tied head grows with the embedding"


def test_a_base_run_with_another_tokenizer_is_named(base_run, qa_path, tmp_path):
    with pytest.raises(ConfigError, match="was trained with tokenizer=char, but this run asks tokenizer=byte"):
        train(sft_config(base_run, ["data=qa", f"data.path={qa_path}"], "tokenizer=byte"), tmp_path)


def test_a_base_dir_without_checkpoint_is_named(qa_path, tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    with pytest.raises(ConfigError, match="trainer.init_from=.*empty_run.*has no checkpoint"):
        train(sft_config(empty, ["data=qa", f"data.path={qa_path}"]), tmp_path / "out")
