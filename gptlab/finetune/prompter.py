"""How a stage asks a model a question: the prompt's token ids, the tokens that end an answer, the answer's text.

``Prompter.chat`` renders the question as a user turn of the tokenizer's chat template followed by
the assistant's generation prompt (fine-tuned models); ``Prompter.plain`` gives the question as raw
text (pretrained models, which end a document with EOS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gptlab.tokenizer import Tokenizer


@dataclass
class Prompter:
    tokenizer: Tokenizer
    render: Callable[[str], str]  # question -> prompt text
    end_ids: list[int]  # the first is also the padding of rollouts

    @classmethod
    def chat(cls, tokenizer: Tokenizer) -> Prompter:
        from gptlab.tokenizer.chat import ChatTemplate

        template = ChatTemplate.from_tokenizer(tokenizer)
        ends = [
            tokenizer.special.ids[token] for token in template.stop_tokens(tokenizer) if token in tokenizer.special.ids
        ]

        def render(question: str) -> str:
            return template.render([{"role": "user", "content": question}], add_generation_prompt=True)

        return cls(tokenizer, render, list(dict.fromkeys(ends)))

    @classmethod
    def plain(cls, tokenizer: Tokenizer) -> Prompter:
        return cls(tokenizer, lambda question: question, [tokenizer.eos_id])

    def prompt_ids(self, question: str) -> list[int]:
        return self.tokenizer.encode(self.render(question)).tolist()

    def text(self, completion: list[int]) -> str:
        """The answer's text: the completion without its end token."""
        return self.tokenizer.decode([token for token in completion if token not in self.end_ids])
