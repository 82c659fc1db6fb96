"""Run one training problem in its own process, as a pipeline job would; with --kill-at K the process sends
itself SIGKILL at the start of step K (no cleanup, no flush: what an out-of-memory kill or a preemption does).

    python child.py PROBLEM OUTPUT STEPS CHECKPOINT_EVERY [--kill-at K]
"""

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from problems import PROBLEMS  # noqa: E402

from defectlab.training import train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem", choices=sorted(PROBLEMS))
    parser.add_argument("output")
    parser.add_argument("steps", type=int)
    parser.add_argument("checkpoint_every", type=int)
    parser.add_argument("--kill-at", type=int, default=0)
    args = parser.parse_args()
    job = PROBLEMS[args.problem](seed=7)
    inner = job["step"]

    def step(batch, state):
        if state.step == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return inner(batch, state)

    job["step"] = step
    train(**job, steps=args.steps, seed=7, output=args.output, checkpoint_every=args.checkpoint_every, device="cpu")


if __name__ == "__main__":
    main()
