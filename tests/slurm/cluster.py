"""A real single-node Slurm on localhost for the tests: munge, slurmctld and slurmd from Debian's packages.

No accounting database: jobs are followed with squeue, and MinJobAge keeps finished jobs listed
for 18 hours (Slurm's maximum), so the tests can read every job of a run however long a loaded
machine takes (with 10 minutes, the first jobs of a 7-minute run were gone after the local run).
The node declares one GPU (a GRES backed by /dev/null, so no CUDA is needed) and more CPUs
and memory than this machine has (`SlurmdParameters=config_overrides`), so the profile's GPU and
memory requests are scheduled as a cluster would schedule them.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel")
SBIN = Path("/usr/sbin")
# The jobstep plugin drops SLURM_* variables, SLURM_CONF among them, before the `srun` inside a job,
# so the job step reads the system configuration path, as it would on a real site.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


def missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    absent = [d for d in DAEMONS if not (SBIN / d).exists()] + [c for c in CLIENTS if not shutil.which(c)]
    if absent:
        return f"Slurm is not installed (missing {', '.join(absent)}; `.ci/run` installs it with apt-get)"
    if os.geteuid() != 0:
        return "the test cluster runs its daemons as root"
    if SYSTEM_CONF.exists() and not SYSTEM_CONF.is_symlink():
        return f"{SYSTEM_CONF} exists: this machine has a Slurm configuration of its own"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """Start with `start()`, stop with `stop()`; `env` is what a client (snakemake, sbatch) needs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self) -> None:
        root = self.root
        for sub in ("state", "spool"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        key = root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.conf.write_text(self._config())
        (root / "gres.conf").write_text(f"NodeName={self.host} Name=gpu Type=testgpu File=/dev/null\n")
        SYSTEM_CONF.parent.mkdir(exist_ok=True)
        SYSTEM_CONF.unlink(missing_ok=True)  # a link left by an earlier test cluster
        SYSTEM_CONF.symlink_to(self.conf)
        munge = [f"--key-file={key}", f"--socket={root / 'munge.sock'}", f"--pid-file={root / 'munged.pid'}"]
        munge += [f"--log-file={root / 'munged.log'}", f"--seed-file={root / 'munge.seed'}", "--force"]
        subprocess.run([SBIN / "munged", *munge], check=True)
        subprocess.run([SBIN / "slurmctld", "-f", self.conf], check=True, env=self.env)
        subprocess.run([SBIN / "slurmd", "-f", self.conf], check=True, env=self.env)
        self._wait_idle()

    def stop(self) -> None:
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.root / f"{name}.pid"
            if pid.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid.read_text().split()[0]), 15)
        if SYSTEM_CONF.is_symlink() and SYSTEM_CONF.resolve() == self.conf.resolve():
            SYSTEM_CONF.unlink()

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld remembers, as `scontrol show job` fields."""
        out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, env=self.env)
        jobs = []
        for line in out.stdout.splitlines():
            if line.startswith("JobId="):
                jobs.append(dict(field.split("=", 1) for field in line.split() if "=" in field))
        return jobs

    def _wait_idle(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
            states = out.stdout.split()
            if states and all(s == "idle" for s in states):
                return
            if any("drain" in s or "inval" in s for s in states):
                subprocess.run(["scontrol", "update", f"nodename={self.host}", "state=resume"], env=self.env)
            time.sleep(0.5)
        logs = "\n".join((self.root / f).read_text()[-2000:] for f in ("slurmctld.log", "slurmd.log"))
        raise RuntimeError(f"the test node did not become idle in {timeout} s:\n{logs}")

    def _config(self) -> str:
        r, h = self.root, self.host
        return f"""\
ClusterName=defectlab-test
SlurmctldHost={h}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={r}/munge.sock
CredType=cred/munge
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
ReturnToService=2
MinJobAge=65533
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
InactiveLimit=0
KillWait=5
NodeName={h} CPUs=16 RealMemory=64000 Gres=gpu:testgpu:1 State=UNKNOWN
PartitionName=cpu Nodes={h} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={h} MaxTime=INFINITE State=UP
"""
