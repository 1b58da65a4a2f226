import pytest

from gptlab.data.prepare import trained_tokenizer
from gptlab.data.text import TextConfig, TextFiles
from gptlab.errors import ConfigError
from gptlab.sample import parse_args, sample
from gptlab.tokenizer.bpe import BPEConfig, BPETokenizer
from tests.helpers import TINY, train_in_process


def test_trains_to_the_configured_vocab_size_on_the_training_split_only(text_file):
    cfg = BPEConfig(vocab_size=400, chat=["<|user|>"])
    tokenizer = BPETokenizer(cfg).fit([text_file.read_text("utf-8")], ["zqxj" * 5000])
    assert tokenizer.vocab_size == 400 and (tokenizer.eos_id, tokenizer.special.ids["<|user|>"]) == (398, 399)
    assert len(tokenizer.encode(" the")) == 1 and len(tokenizer.encode("zqxj")) == 4, "val text is not learned"
    with pytest.raises(ConfigError, match="tokenizer.vocab_size=200 leaves no room for merges.*>= 258"):
        BPEConfig(vocab_size=200)


def test_trained_once_then_reused(text_file, tmp_path):
    source = TextFiles(TextConfig(path=str(text_file)))
    cfg = BPEConfig(vocab_size=300)
    first = trained_tokenizer(source, BPETokenizer(cfg), cfg, tmp_path)
    (saved,) = (tmp_path / "tokenizers").iterdir()
    saved.write_text(saved.read_text().replace('"name": "bpe"', '"name": "bpe", "marker": 1'))
    again = trained_tokenizer(source, BPETokenizer(cfg), cfg, tmp_path)
    assert again.ranks == first.ranks and len(list((tmp_path / "tokenizers").iterdir())) == 1
    other = trained_tokenizer(source, BPETokenizer(BPEConfig(vocab_size=310)), BPEConfig(vocab_size=310), tmp_path)
    assert other.vocab_size == 310 and len(list((tmp_path / "tokenizers").iterdir())) == 2


@pytest.mark.slow
def test_train_and_sample_with_bpe(text_file, tmp_path):
    run = tmp_path / "run"
    args = [*TINY, "data=text", f"data.path={text_file}", "tokenizer=bpe", "tokenizer.vocab_size=300"]
    args += ["trainer.max_steps=4", "trainer.eval_every=4", "trainer.samples=0", f"hydra.run.dir={run}"]
    trained = train_in_process(args, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "vocab 300" in trained.stdout and "MB/s" in trained.stdout
    (text,) = sample(parse_args([str(run), "--prompt", "MACBETH:", "--max-new-tokens", "20"]))  # gptlab-sample
    assert text.startswith("MACBETH:") and len(text) > len("MACBETH:") + 20
