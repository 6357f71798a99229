"""The Python example in README.md runs as printed."""
import os
import re
import subprocess
import sys

README = os.path.join(os.environ.get("GRAFT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                      "README.md")


def test_readme_python_example_runs(tmp_path):
    text = open(README, encoding="utf-8").read()
    section = text.split("## From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "widen of 'mlp/layer_0' to 64 units" in run.stdout
    assert "matched: 'mlp/layer_2/kernel'" in run.stdout
    accuracy = float(run.stdout.split()[0])
    assert accuracy > 0.7
