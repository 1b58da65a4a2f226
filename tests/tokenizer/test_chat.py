"""The one chat template: rendering, training masks, appending its tokens to a trained vocabulary."""

from __future__ import annotations

import pytest

from gptlab.errors import DataError
from gptlab.tokenizer import tokenizer_from_state
from gptlab.tokenizer.base import ChatTemplateConfig
from gptlab.tokenizer.char import CharTokenizer, CharTokenizerConfig
from gptlab.tokenizer.chat import ChatTemplate

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
]


def _char_tokenizer(**template) -> CharTokenizer:
    cfg = CharTokenizerConfig(chat_template=ChatTemplateConfig(**template))
    return CharTokenizer(cfg).fit(["Be brief. Hi Hello. What?"])


def test_render_frames_each_message_and_asks_for_the_reply():
    template = ChatTemplate.from_config()
    text = template.render(CONVERSATION[:2])
    assert text == "<|system|>Be brief.<|end|><|user|>Hi<|end|><|assistant|>"
    assert template.render(CONVERSATION, add_generation_prompt=False).endswith("<|assistant|>Hello.<|end|>")


def test_declared_template_tokens_are_single_ids_and_only_the_reply_is_trained():
    tokenizer = _char_tokenizer(declare=True)
    template = ChatTemplate.from_tokenizer(tokenizer)
    assert template.missing_tokens(tokenizer) == []
    ids, mask = template.encode_for_training(tokenizer, CONVERSATION)
    assert tokenizer.decode(ids.tolist()) == template.render(CONVERSATION, add_generation_prompt=False)
    assert tokenizer.decode(ids[mask].tolist()) == "Hello.<|end|>"
    assert template.stop_tokens(tokenizer) == ["<|end|>", "<|endoftext|>"]


def test_appending_the_template_tokens_keeps_every_old_id():
    tokenizer = _char_tokenizer(user="<|u|>", end="<|e|>")
    template = ChatTemplate.from_tokenizer(tokenizer)
    assert template.user == "<|u|>" and set(template.missing_tokens(tokenizer)) == set(template.tokens)
    grown = tokenizer.with_special_tokens(template.tokens)
    assert grown.vocab_size == tokenizer.vocab_size + 4
    assert grown.encode("Hi").tolist() == tokenizer.encode("Hi").tolist()
    ids = grown.encode("<|u|>Hi<|e|>").tolist()
    assert [ids[0], ids[-1]] == [tokenizer.vocab_size + 1, tokenizer.vocab_size + 3] and len(ids) == 4
    rebuilt = tokenizer_from_state(grown.state())  # the template travels in the tokenizer's state
    assert ChatTemplate.from_tokenizer(rebuilt) == template and rebuilt.vocab_size == grown.vocab_size


@pytest.mark.parametrize(
    "messages,message",
    [
        ([{"role": "robot", "content": "beep"}], r"messages\[0\] must be .*role"),
        ([{"role": "user"}], r"messages\[0\]"),
        ([], "non-empty list"),
    ],
)
def test_bad_messages_are_named(messages, message):
    with pytest.raises(DataError, match=message):
        ChatTemplate.from_config().render(messages)


def test_a_template_needs_four_different_tokens():
    from gptlab.errors import ConfigError

    with pytest.raises(ConfigError, match="four different non-empty tokens"):
        CharTokenizerConfig(chat_template=ChatTemplateConfig(user="<|end|>"))
