"""gptlab tokenizers as Hugging Face ``tokenizer.json`` files (built with the ``tokenizers`` package), and back.

Every gptlab tokenizer has an exact ``tokenizers`` equivalent, so an export encodes with
``AutoTokenizer.from_pretrained(folder)`` to the ids gptlab gives:

- ``bpe`` / ``tiktoken``: byte-level BPE (Radford et al. 2019) from the mergeable ranks: each token's
  pieces whose ranks are known become a merge ranked by the token, the split regex becomes a Split
  pre-tokenizer, and whole pre-tokens in the vocabulary are kept as tiktoken keeps them (``ignore_merges``).
- ``hf``: the tokenizer.json it was read from.
- ``byte``: byte-level with no merges (id = byte value); ``char``: one id per character, no merges
  (a character outside the vocabulary is dropped, where gptlab raises an error).

Special tokens are added tokens at gptlab's ids; ids gptlab leaves unused below one become reserved tokens. The export also writes the gptlab tokenizer state
(``gptlab_tokenizer.json``), from which gptlab rebuilds the exact tokenizer, and ``TOKENIZER.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gptlab.errors import GptlabError
from gptlab.tokenizer import Tokenizer, tokenizer_from_state
from gptlab.tokenizer.byte import ByteTokenizer
from gptlab.tokenizer.char import CharTokenizer
from gptlab.tokenizer.hf import HFTokenizer, HFTokenizerConfig
from gptlab.tokenizer.tiktoken import TiktokenEncoder

GPTLAB_STATE_FILE = "gptlab_tokenizer.json"
NOTE_FILE = "TOKENIZER.md"
RESERVED = "<|reserved_{}|>"  # fills ids gptlab leaves unused below a special token (as Llama 3's reserved tokens)


def byte_characters() -> list[str]:
    """The printable stand-in character of each byte value in byte-level BPE (GPT-2's table): printable
    Latin-1 bytes stand for themselves, the others for the characters from U+0100 on, in byte order."""
    printable = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)}
    characters, extra = [], 0
    for byte in range(256):
        if byte in printable:
            characters.append(chr(byte))
        else:
            characters.append(chr(256 + extra))
            extra += 1
    return characters


def _byte_level(vocab: dict[str, int], merges: list[tuple[str, str]], pattern: str | None):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pattern:
        split = pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False)
        backend.pre_tokenizer = pre_tokenizers.Sequence([split, byte_level])
    else:
        backend.pre_tokenizer = byte_level
    backend.decoder = decoders.ByteLevel()
    return backend


def _from_ranks(tokenizer: TiktokenEncoder):
    """Byte-level BPE from tiktoken's ranks: a merge (left, right) for every split of a token into two
    known tokens, ordered by the token's rank, so the lowest-ranked pair merges first as in tiktoken."""
    chars = byte_characters()

    def text(token: bytes) -> str:
        return "".join(chars[b] for b in token)

    ranked = sorted(tokenizer.ranks.items(), key=lambda item: item[1])
    merges = [
        (text(token[:cut]), text(token[cut:]))
        for token, _ in ranked
        for cut in range(1, len(token))
        if token[:cut] in tokenizer.ranks and token[cut:] in tokenizer.ranks
    ]
    return _byte_level({text(token): rank for token, rank in ranked}, merges, tokenizer.pattern)


def _from_bytes(tokenizer: ByteTokenizer):
    return _byte_level({c: b for b, c in enumerate(byte_characters())}, [], None)


def _from_chars(tokenizer: CharTokenizer):
    from tokenizers import Tokenizer, decoders, models

    backend = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(tokenizer.chars)}, merges=[]))
    backend.decoder = decoders.Fuse()
    return backend


def _from_hf(tokenizer: HFTokenizer):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer.json_text)


BUILDERS = {TiktokenEncoder: _from_ranks, ByteTokenizer: _from_bytes, CharTokenizer: _from_chars, HFTokenizer: _from_hf}


def tokenizer_json(tokenizer: Tokenizer) -> str:
    """The tokenizer.json text encoding exactly as ``tokenizer`` does, its special tokens at the same ids."""
    from tokenizers import AddedToken

    builder = next((build for kind, build in BUILDERS.items() if isinstance(tokenizer, kind)), None)
    if builder is None:
        raise GptlabError(
            f"The tokenizer '{tokenizer.name}' has no tokenizer.json equivalent; gptlab exports bpe, tiktoken, hf, "
            f"byte and char tokenizers."
        )
    backend = builder(tokenizer)
    ids = tokenizer.special.ids
    size = backend.get_vocab_size(with_added_tokens=True)
    known = [token for token in ids if ids[token] < size]  # tokens the vocabulary already has (e.g. tiktoken's)
    appended = [tokenizer.special.by_id.get(i, RESERVED.format(i)) for i in range(size, tokenizer.vocab_size)]
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in known + appended])
    moved = {token: backend.token_to_id(token) for token, i in ids.items() if backend.token_to_id(token) != i}
    if moved:
        raise GptlabError(f"The special tokens {sorted(moved)} cannot keep their gptlab ids in a tokenizer.json.")
    return backend.to_str()


def _roles(tokenizer: Tokenizer) -> dict[str, str]:
    roles = {f"{role}_token": tokenizer.special.roles.get(role) for role in ("bos", "eos", "pad")}
    return {key: token for key, token in roles.items() if token}


def write_tokenizer(tokenizer: Tokenizer, out_dir: Path, max_length: int) -> None:
    """tokenizer.json, tokenizer_config.json, special_tokens_map.json, the gptlab state and a note."""
    out_dir = Path(out_dir)
    (out_dir / "tokenizer.json").write_text(tokenizer_json(tokenizer), encoding="utf-8")
    roles = _roles(tokenizer)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        **roles,
    }
    template = chat_template(tokenizer)
    if template:
        config["chat_template"] = template
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (out_dir / "special_tokens_map.json").write_text(json.dumps(roles, indent=2), encoding="utf-8")
    (out_dir / GPTLAB_STATE_FILE).write_text(json.dumps(tokenizer.state(), indent=1), encoding="utf-8")
    (out_dir / NOTE_FILE).write_text(_note(tokenizer), encoding="utf-8")


def chat_template(tokenizer: Tokenizer) -> str | None:
    """gptlab's chat template (gptlab/tokenizer/chat.py) as the Jinja template transformers renders with
    ``apply_chat_template``, to the same text; None when the template's tokens are not special tokens."""
    from gptlab.tokenizer.chat import ChatTemplate

    template = ChatTemplate.from_tokenizer(tokenizer)
    if template.missing_tokens(tokenizer):
        return None
    openers = json.dumps({role: getattr(template, role) for role in ("system", "user", "assistant")})
    return (
        f"{{% set openers = {openers} %}}"
        f"{{% for message in messages %}}{{{{ openers[message['role']] + message['content'] + {json.dumps(template.end)} }}}}"
        f"{{% endfor %}}{{% if add_generation_prompt %}}{{{{ {json.dumps(template.assistant)} }}}}{{% endif %}}"
    )


def _note(tokenizer: Tokenizer) -> str:
    special = ", ".join(f"`{t}` = {i}" for t, i in sorted(tokenizer.special.ids.items(), key=lambda x: x[1]))
    caveat = {
        "char": "A character outside the vocabulary is dropped by tokenizer.json (gptlab refuses such text).\n",
        "byte": "Every UTF-8 byte is one token (id = byte value); there are no merges.\n",
    }.get(tokenizer.name, "")
    bos = tokenizer.special.roles.get("bos")
    return f"""# Tokenizer

Exported by gptlab from a `{tokenizer.name}` tokenizer of {tokenizer.vocab_size} ids.

Encode exactly as gptlab does, with no extra tokens added:

```python
from transformers import AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")
ids = tokenizer("To be, or not to be", add_special_tokens=False)["input_ids"]
text = tokenizer.decode(ids)
```

or with the `tokenizers` package alone: `tokenizers.Tokenizer.from_file("tokenizer.json").encode(text).ids`.

{caveat}Special tokens (recognized in text, each one id): {special or "none"}.
gptlab trained on documents {"that start with `" + bos + "` and " if bos else "that "}end with the EOS token;
start a prompt the same way.

`{GPTLAB_STATE_FILE}` is the gptlab tokenizer itself (`gptlab.tokenizer.tokenizer_from_state(json.load(f))`);
`gptlab.hf.from_hf` reads it back, so an import gives the very tokenizer that trained.
"""


def read_tokenizer(folder: Path, config: dict[str, Any]) -> Tokenizer:
    """The tokenizer of a Hugging Face model folder: gptlab's own state when gptlab exported it, else
    ``tokenizer=hf`` on its tokenizer.json with the BOS/EOS/PAD tokens its configs name."""
    folder = Path(folder)
    if (folder / GPTLAB_STATE_FILE).is_file():
        return tokenizer_from_state(json.loads((folder / GPTLAB_STATE_FILE).read_text("utf-8")))
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise GptlabError(
            f"'{folder}' has no tokenizer.json; gptlab reads a model's tokenizer from it. Save the tokenizer there "
            f"with transformers: AutoTokenizer.from_pretrained(path).save_pretrained(path) (a fast tokenizer)."
        )
    return HFTokenizer(tokenizer_config(folder, config)).fit()


def tokenizer_config(folder: Path, config: dict[str, Any]) -> HFTokenizerConfig:
    """``tokenizer=hf`` for the folder's tokenizer.json, its special tokens from tokenizer_config.json or the
    token ids of config.json."""
    from tokenizers import Tokenizer

    settings_file = Path(folder) / "tokenizer_config.json"
    settings = json.loads(settings_file.read_text("utf-8")) if settings_file.is_file() else {}
    backend = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    roles = {}
    for role in ("bos", "eos", "pad"):
        token = settings.get(f"{role}_token")
        token = token.get("content") if isinstance(token, dict) else token
        token_id = config.get(f"{role}_token_id")
        if isinstance(token_id, list):
            token_id = token_id[0] if token_id else None
        if token is None and token_id is not None:
            token = backend.id_to_token(token_id)
        roles[role] = token
    if roles["pad"] in (roles["bos"], roles["eos"]):
        roles["pad"] = None  # gptlab declares each special token once; a pad that doubles as EOS stays EOS
    if roles["bos"] is not None and roles["bos"] == roles["eos"]:
        roles["bos"] = None  # GPT-2 names <|endoftext|> for both; gptlab's documents end with it
    return HFTokenizerConfig(path=str(Path(folder) / "tokenizer.json"), **roles)
