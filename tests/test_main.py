"""``python -m gpubp`` is the command line (gpubp.cli); ``python -m gpubp demo`` runs the README's
first example end to end."""

import os
import re
import subprocess
import sys


def test_python_m_gpubp_demo_trains_xor():
    env = dict(os.environ, GPUBP_DEVICE="cpu")
    out = subprocess.run([sys.executable, "-m", "gpubp", "demo"], capture_output=True, text=True,
                         check=True, env=env).stdout
    assert "default device: cpu" in out
    a = [float(v) for v in re.search(r"A\[L\] = \[\[([^\]]*)\]\]", out).group(1).split()]
    assert [round(v) for v in a] == [0, 1, 1, 0]
    assert float(out.rsplit("worst: ", 1)[1].split()[0]) < 1e-7


def test_python_m_gpubp_without_a_command_shows_the_commands():
    p = subprocess.run([sys.executable, "-m", "gpubp"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout.startswith("usage: gpubp")
    for command in ("train", "predict", "gradcheck", "info", "demo"):
        assert command in p.stdout
