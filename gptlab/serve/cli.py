"""``gptlab-serve --model SPEC [--model SPEC ...] [--runs outputs/]``: serve models over an OpenAI-compatible
API on 127.0.0.1 (``--host`` to change it), with the web app at ``/``.

A SPEC is a gptlab run dir or checkpoint, a Hugging Face causal LM folder, or the base URL of an
OpenAI-compatible endpoint (``--remote-model``, ``--remote-api-key-env``). ``--runs`` adds the runs
page and makes every run with a checkpoint a model (``run:<path>``), loaded on first use.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gptlab.errors import GptlabError, reported
from gptlab.serve.openai_api import Limits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gptlab-serve", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--model", action="append", default=[], help="a model to serve (repeatable)")
    parser.add_argument("--name", action="append", default=[], help="the name of each --model in /v1/models")
    parser.add_argument("--runs", type=Path, help="a folder of runs (e.g. outputs/) for the runs page")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile gptlab models' decode step (slow start)")
    parser.add_argument("--api-key-env", help="an environment variable holding the key clients must send")
    parser.add_argument("--remote-model", help="the model name at a remote --model URL (default: its first)")
    parser.add_argument("--remote-api-key-env", help="an environment variable holding a remote endpoint's key")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a remote endpoint")
    defaults = Limits()
    for field, value in defaults.__dict__.items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=int, default=value, help=f"cap (default {value})")
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The app for ``args``: every backend loaded (errors before the server starts)."""
    from gptlab.inference.backends import open_backend
    from gptlab.serve.app import create_app
    from gptlab.serve.models import ModelPool

    if not args.model and args.runs is None:
        raise GptlabError("Give at least one --model (run dir, checkpoint, HF folder or URL) or --runs outputs/.")
    if args.runs is not None and not args.runs.is_dir():
        raise GptlabError(f"--runs '{args.runs}' is not a folder; pass the folder your runs write to (outputs/).")
    if args.name and len(args.name) != len(args.model):
        raise GptlabError(f"{len(args.name)} --name for {len(args.model)} --model; give one name per model or none.")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise GptlabError(f"--api-key-env {args.api_key_env}: that environment variable is not set or empty.")
    names = args.name or [None] * len(args.model)
    backends = [
        open_backend(spec, args.device, args.remote_model, args.remote_api_key_env, args.timeout, name, args.compile)
        for spec, name in zip(args.model, names)
    ]
    limits = Limits(**{field: getattr(args, field) for field in Limits().__dict__})
    return create_app(ModelPool(backends, args.runs, args.device, limits), api_key)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with reported():
        app = build(args)
    import uvicorn

    print(
        f"gptlab-serve: http://{args.host}:{args.port}/ (OpenAI API at http://{args.host}:{args.port}/v1)", flush=True
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
