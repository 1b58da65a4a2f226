"""The sampling and serving command lines share one guard (gptlab.errors.reported): bad input is one
readable error line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import pytest

from gptlab import sample
from gptlab.serve import cli as serve_cli


@pytest.mark.parametrize(
    "main, argv, message",
    [
        (sample.main, ["no-such-run", "--temperature", "0"], "--temperature must be > 0"),
        (sample.main, ["no-such-run"], "no-such-run"),
        (serve_cli.main, [], "Give at least one --model"),
        (serve_cli.main, ["--runs", "no-such-folder"], "is not a folder"),
    ],
    ids=["sample: temperature 0", "sample: unknown run", "serve: no model", "serve: --runs not a folder"],
)
def test_bad_input_is_one_error_line_and_exit_status_2(main, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in " ".join(err.split()) and "Traceback" not in err
