"""The Python example of the seed scenario runs and says what the docs say."""
import os
import subprocess
import sys

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "seed_scenario.py")


def test_seed_scenario_example():
    run = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    # Example 1: the audit names the Python line that re-creates the variable.
    assert "variable 'weights' is created again at seed_scenario.py:" in out
    # Example 2: growing creates each layer's weights once.
    assert "num_layers=3" in out and "variables 3" in out
    # Example 3: the shape check names both Python sites.
    assert "exists with shape [10, 10], requested [10, 20]" in out
    assert out.count("seed_scenario.py:") >= 3
    # Compiled: one capture per depth, each creating only the new layer.
    assert "3 captures" in out and "created seed/layer_2/weights" in out
    assert "strict mode: graft::function 'strict_step' (strict mode) created variable 'strict/layer_1/weights'" in out
    assert "all examples behaved as documented" in out
