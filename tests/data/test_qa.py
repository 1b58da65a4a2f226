import json

import pytest

from gptlab import registry
from gptlab.config import resolve
from gptlab.data.qa import QAConfig, QAPairs
from gptlab.errors import ConfigError, DataError
from tests.helpers import compose_config


def test_pairs_become_documents(qa_file):
    source = QAPairs(QAConfig(path=str(qa_file)))
    assert next(source.documents("train")) == "Q: What is 00 plus one?\nA: It is 01."
    assert len(list(source.documents("val"))) == 3


def test_chat_template_encodes_markers_as_special_tokens(qa_file):
    typed = resolve(
        compose_config(
            [
                "data=qa",
                f"data.path={qa_file}",
                "data.template='<|user|>{question}<|assistant|>{answer}'",
                "tokenizer=byte",
                "tokenizer.chat=['<|user|>','<|assistant|>']",
            ]
        )
    )
    document = next(registry.build("data", typed["data"]).documents("train"))
    tokenizer = registry.build("tokenizer", typed["tokenizer"]).fit([document])
    ids = tokenizer.encode(document).tolist()
    assert ids[0] == tokenizer.special.ids["<|user|>"] and ids.count(tokenizer.special.ids["<|assistant|>"]) == 1
    assert tokenizer.decode(ids) == document


def test_bad_qa_files(tmp_path):
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"question": "q"}]))
    with pytest.raises(DataError, match="item 0 is not an object with string fields 'question' and 'answer'"):
        list(QAPairs(QAConfig(path=str(path))).documents("train"))
    path.write_text('[{"question": "q", "answer": ')
    with pytest.raises(DataError, match="qa.json:1: not JSON"):
        list(QAPairs(QAConfig(path=str(path))).documents("train"))
    with pytest.raises(ConfigError, match="must contain both"):
        QAConfig(path=str(path), template="{question}")
