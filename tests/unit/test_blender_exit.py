"""A process that loads bpy through defectlab exits, even when `typing`'s caches hold bpy-bound classes.

bpy 4.5 hangs forever at exit when the `bpy` module outlives the interpreter's teardown; a typing generic
over a class whose methods see `bpy` keeps it alive (this script hangs without defectlab's guard). A render
job that never exits would hold a Snakemake run, or the test suite, until its wall-clock limit.
"""

import subprocess
import sys

SCRIPT = """
import defectlab.synth.nodes
from typing import Sequence

import bpy


class Holder:
    def scene(self):
        return bpy.context.scene


PINNED = Sequence[Holder]
print("rendered", flush=True)
"""


def test_a_process_holding_bpy_in_typing_caches_exits():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "rendered" in done.stdout
