"""The Python blocks of docs/python.md run as printed and print what their comments say."""
import os
import re
import subprocess
import sys

import pytest

DOC = os.path.join(os.environ.get("GRAFT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                   "docs", "python.md")
BLOCKS = re.findall(r"```python\n(.*?)```", open(DOC, encoding="utf-8").read(), re.S)


def test_the_page_has_its_three_examples():
    assert len(BLOCKS) == 3


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=["lstm", "methods", "schedules"][:len(BLOCKS)])
def test_docs_python_block_runs(index, tmp_path):
    run = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    expected = {
        0: ["['lstm_cell/kernel', 'lstm_cell/recurrent_kernel', 'lstm_cell/bias']",
            "(4, 12, 16) 12 LSTMState(h=[4, 16], c=[4, 16])", "(4, 4, 16) LSTMState(h=[4, 16], c=[4, 16])"],
        1: ["1 3 3", "(8, 2)"],
        2: ["graft.optim.schedules.warmup(100, graft.optim.schedules.cosine(0.001, total_steps=10000, min_lr=1e-05))",
            "[9.9e-06, 0.00098986, 0.000505]", "0.1"],
    }[index]
    for line in expected:
        assert line in run.stdout, run.stdout
