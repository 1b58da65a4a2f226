from gptlab.data.shakespeare import Shakespeare, ShakespeareConfig, markdown_to_text, play_files

PLAY = """# Macbeth

## ACT I

_Thunder and lightning. Enter three Witches_

**First Witch**  
When shall we three meet again  
In thunder, lightning, or in rain?

_Enter DUNCAN, MALCOLM, with Attendants,
meeting a bleeding Sergeant_

**Second Witch**  
__\\[Aside]_ When the hurlyburly's done,  
'Fair-ladies,'\\--or so.
"""


def test_markdown_becomes_speaker_blocks():
    assert markdown_to_text(PLAY) == (
        "First Witch:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n\n"
        "Second Witch:\nWhen the hurlyburly's done,\n'Fair-ladies,'--or so.\n"
    )


def test_every_play_cleans_to_plain_text():
    plays = play_files()
    assert len(plays) >= 37 and "hamlet" in plays
    text = markdown_to_text(plays["hamlet"].read_text("utf-8"))
    assert "HAMLET:\n" in text and "**" not in text and "\n#" not in text and "_Exit" not in text


def test_split_is_deterministic_and_covers_each_play():
    source = Shakespeare(ShakespeareConfig(plays=["macbeth", "hamlet"]))
    train, val = ("\n".join(source.documents(split)) for split in ("train", "val"))
    assert list(source.documents("val")) == list(source.documents("val"))
    assert 0.08 < len(val) / (len(train) + len(val)) < 0.12
    assert "MACBETH:" in val and "HAMLET:" in val
    assert source.fingerprint() != Shakespeare(ShakespeareConfig(plays=["macbeth"])).fingerprint()
