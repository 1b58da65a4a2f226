"""``gptlab-chat --model SPEC``: chat in the terminal with a gptlab run, a Hugging Face model folder or a
remote OpenAI-compatible endpoint (see :mod:`gptlab.inference.backends`), replies streamed as they come.

Commands: ``/reset`` (forget the conversation), ``/system TEXT``, ``/temp X``, ``/max N``, ``/quit``.
A line ending in ``\\`` continues on the next line; a line of ``\"\"\"`` opens and closes a block of
several lines. When the conversation outgrows the model's context, the oldest turns are dropped
with a notice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TextIO

from gptlab.errors import GptlabError, report, reported
from gptlab.inference.backends import Backend, open_backend
from gptlab.inference.engine import PromptTooLong
from gptlab.inference.sampling import SamplingParams

BLOCK = '"""'
HELP = 'commands: /reset, /system TEXT, /temp X, /max N, /quit; end a line with \\ or wrap in """ for more lines'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gptlab-chat", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--model", required=True, help="gptlab run dir or checkpoint, HF model folder, or http(s) base URL"
    )
    parser.add_argument("--remote-model", help="the model name at a remote endpoint (default: the first it lists)")
    parser.add_argument("--api-key-env", help="an environment variable holding the remote endpoint's API key")
    parser.add_argument("--system", default="", help="system prompt")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile a gptlab model's decode step (slow start)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a remote endpoint")
    return parser.parse_args(argv)


def read_messages(stdin: TextIO, stdout: TextIO) -> Iterator[str]:
    """The user's inputs: one line, lines joined by a trailing backslash, or a \"\"\"-block."""
    while True:
        stdout.write("you> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return
        line = line.rstrip("\n")
        if line.strip() == BLOCK:
            lines = []
            while (more := stdin.readline()) and more.rstrip("\n").strip() != BLOCK:
                lines.append(more.rstrip("\n"))
            yield "\n".join(lines)
            continue
        lines = []
        while line.endswith("\\"):
            lines.append(line[:-1])
            line = stdin.readline().rstrip("\n")
        yield "\n".join([*lines, line])


class ChatSession:
    """A conversation with one backend and its settings."""

    def __init__(self, backend: Backend, args: argparse.Namespace, out: TextIO):
        self.backend, self.out = backend, out
        self.system, self.history = args.system, []
        self.temperature, self.top_p, self.max_tokens, self.seed = (
            args.temperature,
            args.top_p,
            args.max_tokens,
            args.seed,
        )

    def command(self, text: str) -> bool:
        """Run a /command; False for /quit."""
        name, _, arg = text.partition(" ")
        try:
            if name == "/quit":
                return False
            if name == "/reset":
                self.history = []
                self.say("(conversation cleared)")
            elif name == "/system":
                self.system = arg.strip()
                self.say(f"(system prompt {'set' if self.system else 'cleared'})")
            elif name == "/temp":
                self.temperature = float(arg)
                SamplingParams(temperature=self.temperature)
                self.say(f"(temperature {self.temperature})")
            elif name == "/max":
                self.max_tokens = int(arg)
                SamplingParams(max_tokens=self.max_tokens)
                self.say(f"(max tokens {self.max_tokens})")
            else:
                self.say(f"(unknown command {name}; {HELP})")
        except (ValueError, GptlabError) as error:
            self.say(f"({name} {arg}: {error})")
        return True

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def messages(self) -> list[dict[str, str]]:
        return ([{"role": "system", "content": self.system}] if self.system else []) + self.history

    def reply(self, text: str) -> None:
        """Stream the model's answer to ``text``, trimming old turns to fit the context."""
        self.history.append({"role": "user", "content": text})
        params = SamplingParams(
            max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p, seed=self.seed
        )
        while True:
            messages, dropped = self.backend.fit(self.messages(), self.max_tokens)
            self.trim(dropped)
            try:
                answer = self.stream(messages, params)
                break
            except PromptTooLong as error:
                if len(self.history) <= 1:
                    self.history.pop()
                    self.say(f"(that message does not fit the model's context: {error})")
                    return
                self.trim(1)
        self.history.append({"role": "assistant", "content": answer})

    def trim(self, dropped: int) -> None:
        if dropped:
            del self.history[:dropped]
            context = f" of {self.backend.context} tokens" if self.backend.context else ""
            self.say(f"(dropped the {dropped} oldest message(s) to fit the model's context{context})")

    def stream(self, messages: list[dict[str, str]], params: SamplingParams) -> str:
        """Print the reply as it comes; nothing is printed for a request refused before its first piece."""
        answer, started = "", False
        try:
            for deltas in self.backend.chat(messages, params):
                if not started:
                    self.out.write("bot> ")
                    started = True
                for delta in deltas:
                    if delta.index == 0 and delta.text:
                        answer += delta.text
                        self.out.write(delta.text)
                        self.out.flush()
        finally:
            if started:
                self.out.write("\n")
                self.out.flush()
        return answer


def chat(args: argparse.Namespace, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    backend = open_backend(
        args.model, args.device, args.remote_model, args.api_key_env, args.timeout, compile=args.compile
    )
    session = ChatSession(backend, args, stdout)
    context = f", context {backend.context} tokens" if backend.context else ""
    session.say(f"gptlab-chat: {backend.name} ({backend.kind}{context}); {HELP}")
    for text in read_messages(stdin, stdout):
        if text.startswith("/"):
            if not session.command(text.strip()):
                return
        elif text.strip():
            try:
                session.reply(text)
            except GptlabError as error:  # e.g. the endpoint went away: say so, keep the conversation
                session.history.pop()
                report(error)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        with reported():
            chat(args)
    except KeyboardInterrupt:
        print()


if __name__ == "__main__":
    main()
