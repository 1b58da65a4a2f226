"""gptlab-serve against the official ``openai`` package: chat and completions, streamed and not, errors, caps,
the API key, 64 concurrent requests, and a client that leaves mid-stream."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest

from tests.serve.server import serving

CAPS = ["--max-n", "4", "--max-tokens", "64", "--max-messages", "4", "--max-message-chars", "2000"]
HI = [{"role": "user", "content": "To be, or not"}]


@pytest.fixture(scope="module")
def server(hf_folder, gptlab_run):
    models = ["--model", str(hf_folder), "--name", "tiny", "--model", str(gptlab_run), "--name", "tiny-gpt"]
    with serving([*models, "--runs", str(gptlab_run.parent), *CAPS, "--max-body-bytes", "20000"]) as url:
        yield url


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)


def test_models_lists_the_served_models_and_the_runs(client):
    listed = {m.id: (m.owned_by, m.context_length) for m in client.models.list().data}
    assert listed == {"tiny": ("hf", 64), "tiny-gpt": ("gptlab", 32), "run:tiny-chat": ("gptlab", None)}


@pytest.mark.parametrize("model", ["tiny-gpt", "run:tiny-chat"])
def test_a_gptlab_run_answers_chat_streamed_and_not(client, model):
    full = client.chat.completions.create(model=model, messages=HI, max_tokens=6, temperature=0)
    streamed = client.chat.completions.create(model=model, messages=HI, max_tokens=6, temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == full.choices[0].message.content
    assert full.usage.prompt_tokens == 1 + len("To be, or not") + 2  # bytes, and <|user|>, <|end|>, <|assistant|>


def test_chat_completion_and_its_stream_agree(client):
    full = client.chat.completions.create(model="tiny", messages=HI, max_tokens=8, temperature=0)
    (choice,) = full.choices
    assert full.object == "chat.completion" and choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    assert full.usage.completion_tokens <= 8 and full.usage.prompt_tokens > 0
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens
    chunks = list(
        client.chat.completions.create(
            model="tiny", messages=HI, max_tokens=8, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == choice.message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == choice.finish_reason and not any(finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_several_samples_per_request_are_seeded(client):
    ask = dict(model="tiny", messages=HI, max_tokens=6, n=3, seed=7, temperature=1.0)
    first, again = client.chat.completions.create(**ask), client.chat.completions.create(**ask)
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]


def test_completions_streamed_and_not(client):
    full = client.completions.create(model="tiny", prompt="To be", max_tokens=5, temperature=0)
    assert full.object == "text_completion" and full.usage.completion_tokens <= 5
    pieces = list(client.completions.create(model="tiny", prompt="To be", max_tokens=5, temperature=0, stream=True))
    assert "".join(p.choices[0].text for p in pieces) == full.choices[0].text
    assert pieces[-1].choices[0].finish_reason == full.choices[0].finish_reason


def test_stream_is_server_sent_events_ending_in_done(server):
    body = {"model": "tiny", "messages": HI, "max_tokens": 3, "stream": True}
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] in ("stop", "length")


@pytest.mark.parametrize(
    ("ask", "param"),
    [
        ({"n": 5}, "n"),
        ({"max_tokens": 65}, "max_tokens"),
        ({"messages": HI * 5}, "messages"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, "messages[0].content"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
        ({"temperature": 3}, "temperature"),
    ],
)
def test_requests_over_a_cap_or_malformed_get_400_naming_the_field(client, ask, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**{"model": "tiny", "messages": HI, **ask})
    assert caught.value.body["param"] == param and caught.value.body["type"] == "invalid_request_error"


def test_prompt_longer_than_the_context_is_400(client):
    with pytest.raises(openai.BadRequestError, match="context holds 64") as caught:
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "To be, " * 200}])
    assert caught.value.code == "context_length_exceeded"


def test_unknown_model_is_404_listing_the_served_ones(client):
    with pytest.raises(openai.NotFoundError, match="this server has: tiny"):
        client.chat.completions.create(model="gpt-9", messages=HI)


def test_body_over_the_byte_cap_and_bad_json(server):
    big = httpx.post(f"{server}/v1/completions", content=b"x" * 20001, timeout=30)
    assert big.status_code == 413 and "cap of 20000" in big.json()["error"]["message"]
    bad = httpx.post(f"{server}/v1/completions", content=b"{nope", timeout=30)
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]["message"]


def test_64_concurrent_chat_requests_all_complete(server):
    async def ask(client, i: int) -> str:
        ask = dict(model="tiny", messages=HI, max_tokens=3, seed=i)
        if i % 2:
            return (await client.chat.completions.create(**ask)).choices[0].finish_reason
        reasons = [c.choices[0].finish_reason async for c in await client.chat.completions.create(**ask, stream=True)]
        return reasons[-1]

    async def ask_all():
        async with openai.AsyncOpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=600) as client:
            return await asyncio.gather(*(ask(client, i) for i in range(64)))

    assert all(reason in ("stop", "length") for reason in asyncio.run(ask_all()))
    state = httpx.get(f"{server}/health").json()["models"]["tiny"]
    assert state["waiting"] == 0 and not state["busy"]


@pytest.mark.parametrize("model", ["tiny", "tiny-gpt"])
def test_ignore_eos_decodes_past_the_end_token(client, model):
    """vLLM's ``ignore_eos``, sent by the openai client as an extra body field: the samples that ended at the
    end token (seeded, so the same ones every run) now decode on to exactly max_tokens."""
    ask = dict(model=model, prompt="To be", max_tokens=64, n=4, temperature=2.0, seed=0)
    ended = client.completions.create(**ask)
    assert "stop" in [c.finish_reason for c in ended.choices] and ended.usage.completion_tokens < 4 * 64
    kept = client.completions.create(**ask, extra_body={"ignore_eos": True})
    assert [c.finish_reason for c in kept.choices] == ["length"] * 4 and kept.usage.completion_tokens == 4 * 64
    chat = client.chat.completions.create(
        model=model, messages=HI, max_tokens=8, temperature=2.0, seed=0, extra_body={"ignore_eos": True}
    )
    assert (chat.choices[0].finish_reason, chat.usage.completion_tokens) == ("length", 8)


def test_a_client_leaving_mid_stream_frees_the_slot(hf_folder):
    """The request ignores the end token and asks for a million tokens, so it can only end by the hang-up:
    the generation is cancelled, never finished, however fast or slow the machine."""
    with serving(["--model", str(hf_folder), "--name", "tiny", "--max-tokens", "1000000"]) as server:
        before = httpx.get(f"{server}/health").json()["models"]["tiny"]
        client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
        stream = client.completions.create(
            model="tiny", prompt="To be", max_tokens=1000000, stream=True, extra_body={"ignore_eos": True}
        )
        next(iter(stream))  # the first chunk came; then the client hangs up
        stream.close()
        deadline = time.monotonic() + 60
        while True:
            state = httpx.get(f"{server}/health").json()["models"]["tiny"]
            if state["cancelled"] == before["cancelled"] + 1 and not state["busy"]:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state["served"] == before["served"]


def test_api_key_guards_every_route_but_health(hf_folder, monkeypatch):
    monkeypatch.setenv("GPTLAB_TEST_SERVE_KEY", "s3cret")
    with serving(["--model", str(hf_folder), "--name", "tiny", "--api-key-env", "GPTLAB_TEST_SERVE_KEY"]) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        for route in ("/v1/models", "/", "/api/runs"):
            refused = httpx.get(f"{url}{route}")
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
        good = openai.OpenAI(base_url=f"{url}/v1", api_key="s3cret", max_retries=0)
        assert good.chat.completions.create(model="tiny", messages=HI, max_tokens=2).choices
        assert httpx.get(f"{url}/?key=s3cret").status_code == 200


def test_runs_api_lists_runs_tails_metrics_and_stays_inside_runs(server):
    (run,) = httpx.get(f"{server}/api/runs").json()["runs"]
    assert run["id"] == "tiny-chat" and run["status"] == "done" and run["chat"] and run["model"] == "run:tiny-chat"
    assert run["choices"]["tokenizer"] == "byte" and run["step"] == 10 and run["val_bpb"] > 0
    records = httpx.get(f"{server}/api/runs/metrics", params={"id": "tiny-chat"}).json()["records"]
    assert [r["step"] for r in records][-1] == 10 and {"train_loss", "lr", "tokens_per_s"} <= set(records[0])
    later = httpx.get(f"{server}/api/runs/metrics", params={"id": "tiny-chat", "after": 5}).json()["records"]
    assert later and all(r["step"] > 5 for r in later)
    for outside in ("..", "../..", "/etc"):
        assert httpx.get(f"{server}/api/runs/metrics", params={"id": outside}).status_code == 404
