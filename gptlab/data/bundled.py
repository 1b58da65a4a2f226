"""Text that ships with gptlab, so the README's commands and the benchmarks need no download.

``tinyshakespeare.txt``: the 1.1 MB char-rnn corpus of Shakespeare's plays (Karpathy 2015, public
domain text), as ``data=text data.path=gptlab/data/files/tinyshakespeare.txt`` from a clone.
"""

from __future__ import annotations

from pathlib import Path

FILES = Path(__file__).resolve().parent / "files"
TINYSHAKESPEARE = FILES / "tinyshakespeare.txt"
