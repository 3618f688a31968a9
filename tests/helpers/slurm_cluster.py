"""A real one-node SLURM cluster on loopback (Debian's munge, slurmctld and slurmd) for the tests.

Everything lives in one temporary folder: a munge key and socket, `slurm.conf` (the node is this
machine as `slurmd -C` reports it, one partition, requeue allowed, no cgroups), state and spool
folders and the daemons' logs. The daemons run in the foreground as child processes and are
stopped when the context ends. Commands (`sbatch`, `squeue`, `scontrol`, `scancel`) find the
cluster through `SLURM_CONF`, which `env()` provides. The daemons run as root, as on CI machines;
`available()` says whether the binaries are installed (`make slurm-deps` installs them as root).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers.ports import free_loopback_port

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scontrol", "scancel")
TERMINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                   "BOOT_FAIL", "DEADLINE"}


def available() -> str | None:
    """None when the cluster can start here, else the reason it cannot."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        return f"SLURM/munge binaries not installed: {', '.join(sorted(set(missing)))} (run `make slurm-deps` as root)"
    if os.geteuid() != 0:
        return "the local SLURM cluster runs its daemons as root"
    return None


class SlurmCluster:
    """Start munged, slurmctld and slurmd in `root`; `submit`, `state`, `wait_for` drive jobs."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.processes: list[subprocess.Popen] = []
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"

    # ------------------------------------------------------------------ setup
    def _start(self, command: list[str], log_name: str) -> None:
        log = open(self.root / "log" / log_name, "wb")  # noqa: SIM115 - kept open for the daemon's life
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env()))

    def _node_line(self) -> tuple[str, str]:
        described = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
        first = described.splitlines()[0]
        fields = dict(re.findall(r"(\w+)=(\S+)", first))
        memory = max(1000, int(fields.get("RealMemory", "4000")) - 1000)
        line = (f"NodeName={fields['NodeName']} NodeAddr=127.0.0.1 CPUs={fields['CPUs']} Boards=1 "
                f"SocketsPerBoard={fields.get('SocketsPerBoard', 1)} CoresPerSocket={fields.get('CoresPerSocket', 1)} "
                f"ThreadsPerCore={fields.get('ThreadsPerCore', 1)} RealMemory={memory} State=UNKNOWN")
        return fields["NodeName"], line

    def _write_config(self) -> None:
        node_name, node_line = self._node_line()
        root = self.root
        settings = {
            "ClusterName": "cptest",
            "SlurmctldHost": f"{node_name}(127.0.0.1)",
            "SlurmctldPort": str(free_loopback_port()),
            "SlurmdPort": str(free_loopback_port()),
            "AuthType": "auth/munge",
            "CredType": "cred/munge",
            "AuthInfo": f"socket={self.munge_socket}",
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "StateSaveLocation": str(root / "state"),
            "SlurmdSpoolDir": str(root / "spool"),
            "SlurmctldPidFile": str(root / "slurmctld.pid"),
            "SlurmdPidFile": str(root / "slurmd.pid"),
            "SlurmctldLogFile": str(root / "log" / "slurmctld.log"),
            "SlurmdLogFile": str(root / "log" / "slurmd.log"),
            "ProctrackType": "proctrack/pgid",
            "TaskPlugin": "task/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_CPU",
            "SlurmdParameters": "config_overrides",
            "ReturnToService": "2",
            "JobRequeue": "1",
            "MpiDefault": "none",
            "SwitchType": "switch/none",
            "KillWait": "10",
            "MinJobAge": "600",
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        lines += [node_line, "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"]
        self.conf.write_text("\n".join(lines) + "\n")

    def _start_munge(self) -> None:
        folder = self.munge_socket.parent
        folder.mkdir(mode=0o755)
        key = folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self._start(["munged", "--foreground", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
                     f"--log-file={folder / 'munged.log'}", f"--pid-file={folder / 'munged.pid'}",
                     f"--seed-file={folder / 'munged.seed'}"], "munged.out")
        self._wait(self.munge_socket.exists, 10, "munged did not create its socket")

    def __enter__(self) -> SlurmCluster:
        reason = available()
        if reason:
            raise RuntimeError(reason)
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self._start_munge()
        self._write_config()
        self._start(["slurmctld", "-D", "-i"], "slurmctld.out")
        self._wait(lambda: self._run(["scontrol", "ping"], check=False).returncode == 0, 30, "slurmctld did not answer")
        self._start(["slurmd", "-D"], "slurmd.out")
        self._wait(lambda: "idle" in self._run(["sinfo", "-h", "-o", "%T"], check=False).stdout, 30,
                   "the node did not become idle")
        return self

    def __exit__(self, *exc: object) -> None:
        for job in self._run(["squeue", "-h", "-o", "%i"], check=False).stdout.split():
            self._run(["scancel", job], check=False)
        with contextlib.suppress(TimeoutError):  # let slurmd reap the job steps before it stops
            self._wait(lambda: not self._run(["squeue", "-h"], check=False).stdout.strip(), 30, "jobs did not end")
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    # ------------------------------------------------------------------ use
    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        environment = {**os.environ, "SLURM_CONF": str(self.conf)}
        environment.update(extra or {})
        return environment

    def _run(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, check=check, env=self.env())

    @staticmethod
    def _wait(predicate, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise TimeoutError(message)

    def submit(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
        """`sbatch --parsable <args>`; returns the job ID."""
        result = subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, cwd=cwd,
                                env=self.env(env), check=False)
        if result.returncode != 0:
            raise RuntimeError(f"sbatch failed: {result.stderr.strip()}")
        return result.stdout.strip().split(";")[0]

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, Restarts, ExitCode …)."""
        shown = self._run(["scontrol", "-o", "show", "job", job_id], check=False).stdout
        return dict(re.findall(r"(\w+)=(\S*)", shown))

    def state(self, job_id: str) -> str:
        return self.job(job_id).get("JobState", "UNKNOWN")

    def wait_for(self, job_id: str, states: set[str] | None = None, timeout: float = 300) -> dict[str, str]:
        """Wait until the job reaches one of `states` (default: any terminal state); return its record."""
        wanted = states or TERMINAL_STATES
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.job(job_id)
            if record.get("JobState") in wanted:
                return record
            time.sleep(0.5)
        raise TimeoutError(f"job {job_id} still {self.state(job_id)} after {timeout:.0f}s; logs in {self.root / 'log'}")

    def release_requeued(self, job_id: str, timeout: float = 60) -> None:
        """Make a requeued job eligible at once (SLURM holds requeued jobs back for a couple of minutes)."""
        self.wait_for(job_id, {"PENDING"}, timeout=timeout)
        self._run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"])

    def signal(self, job_id: str, name: str = "USR1", batch_only: bool = False) -> None:
        """Send a signal to the job's batch shell (`batch_only`) or to all of its steps."""
        args = ["scancel", f"--signal={name}", *(["--batch"] if batch_only else []), job_id]
        self._run(args)
