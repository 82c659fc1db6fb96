"""Synthetic datasets: the generators named by `datasets.<name>.generator` (`generators`), their plans
(pure Python, free of `bpy`, so that workflow jobs and tests can reason about a dataset without loading
Blender) and their renders (`plates` and `clutch` with Blender; `procedural` and `boards` in NumPy).

Importing the package also guards every process that loads `bpy` against bpy 4.5's exit hang: its C++
static destructor waits on a condition variable that its own audio "delayed close" thread still waits on,
whenever the `bpy` module outlives the interpreter's teardown and so never stops that thread. `typing`'s
caches pin it (Blender's own scripts put `Optional[bpy.types.Area]` and the like there), so they are
cleared at exit, before the teardown.
"""

import atexit
import typing


def _clear_typing_caches() -> None:
    for clear in getattr(typing, "_cleanups", ()):
        clear()


atexit.register(_clear_typing_caches)
