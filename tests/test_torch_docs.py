"""docs/torch.md stays true: its code blocks run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "torch.md"
FENCE = re.compile(r"^```python\n(?P<body>.*?)^```\s*$", re.M | re.S)

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


def test_docs_torch_md_examples_run(capsys):
    import torch

    blocks = [m["body"] for m in FENCE.finditer(DOC.read_text())]
    assert len(blocks) >= 6
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict = {"__name__": "docs_torch"}
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"docs/torch.md block {i}", "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "<Trajectories 100 sequences x 20 steps x 32 units" in out
    assert "encoder.l0 LSTM" in out


def test_docs_name_every_capturable_module():
    text = DOC.read_text()
    for name in ("nn.LSTM", "nn.GRU", "nn.RNN", "nn.LSTMCell", "nn.GRUCell", "nn.RNNCell"):
        assert f"`{name}`" in text, name
    from rnndyn_torch._layers import STATES

    for kind, states in STATES.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `nn.{kind}`"))
        assert ", ".join(f"`{s}`" for s in states) in row, kind
