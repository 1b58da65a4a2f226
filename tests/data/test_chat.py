import json

import pytest

from gptlab.data.chat import ChatConfig, ChatConversations
from gptlab.errors import ConfigError, DataError


def _write(path, records):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_conversations_are_split_and_checked(tmp_path):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    records = [{"messages": [*chat, {"role": "assistant", "content": f"Hello {i}"}]} for i in range(10)]
    source = ChatConversations(ChatConfig(path=str(_write(tmp_path / "chats.jsonl", records)), val_fraction=0.2))
    splits = [split for split, _ in source.conversations()]
    assert splits.count("val") == 2 and splits.count("train") == 8
    assert next(source.conversations())[1][-1] == {"role": "assistant", "content": "Hello 0"}
    with pytest.raises(ConfigError, match="data=chat holds conversations for fine-tuning"):
        list(source.documents("train"))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            r"chats.jsonl:2: messages\[0\] must be {'role': one of system, user, assistant.*got {'role': 'robot'",
        ),
        (
            {"messages": [{"role": "user", "content": 3}]},
            r"chats.jsonl:2: messages\[0\] must be .*'content': a string",
        ),
        ({"messages": [{"role": "user", "content": "q"}]}, "chats.jsonl:2: no assistant message"),
        ({"text": "hi"}, 'chats.jsonl:2: no non-empty list "messages"'),
        ("{not json", "chats.jsonl:2: not a JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, record, message):
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    path = _write(tmp_path / "chats.jsonl", [good, record])
    with pytest.raises(DataError, match=message):
        list(ChatConversations(ChatConfig(path=str(path))).conversations())
