from gptlab.data.arithmetic import Addition, ArithmeticConfig, is_held_out


def test_held_out_problems_never_reach_training():
    source = Addition(ArithmeticConfig(digits=2, problems=3000, val_fraction=0.1))
    train, val = source.problems("train"), source.problems("val")
    assert len(train) == 3000 and len(val) == 300
    operands = lambda question: tuple(int(n) for n in question.rstrip("=").split("+"))  # noqa: E731
    assert not any(is_held_out(*operands(q)) for q, _ in train)
    assert all(is_held_out(*operands(q)) for q, _ in val)
    assert all(len(q) == 6 and int(a[::-1]) == sum(operands(q)) for q, a in train + val), "zero-padded, exact sums"
    first = next(source.documents("train"))
    assert first == "".join(train[0]), "pretraining documents read 'a+b=sum'"
    split, messages = next(source.conversations())
    assert split == "train" and [m["role"] for m in messages] == ["user", "assistant"]
    assert source.problems("val", count=5, seed=7) == Addition(ArithmeticConfig(seed=7)).problems("val", count=5)
