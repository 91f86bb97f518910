"""The default worker count: the CPUs the process may use, its affinity bounded by a cgroup CPU limit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kanri.serving.config import ServerSettings
from kanri.serving.cpus import cpu_limit, usable_cpus

ROOT = Path(__file__).resolve().parents[1]


def cgroups(tmp_path: Path, proc_cgroup: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fake /sys/fs/cgroup holding files (path → content), and a fake /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(proc_cgroup)
    return root, proc


@pytest.fixture
def four_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})


def test_cgroup_v2_takes_the_tightest_limit_along_the_path_and_rounds_down(tmp_path: Path, four_cpus: None) -> None:
    root, proc = cgroups(tmp_path, "0::/kubepods/pod1/app\n", {
        "cpu.max": "max 100000\n",  # the root has no limit
        "kubepods/cpu.max": "max 100000\n",
        "kubepods/pod1/cpu.max": "250000 100000\n",  # 2.5 CPUs for the pod
        "kubepods/pod1/app/cpu.max": "max 100000\n",
    })
    assert cpu_limit(root, proc) == 2.5
    assert usable_cpus(root, proc) == 2


def test_inside_a_container_the_mount_is_the_own_cgroup(tmp_path: Path, four_cpus: None) -> None:
    # /proc/self/cgroup names a host folder the container does not see: its cgroup is the mount itself.
    root, proc = cgroups(tmp_path, "0::/system.slice/docker-abc.scope\n", {"cpu.max": "150000 100000\n"})
    assert usable_cpus(root, proc) == 1


def test_cgroup_v1_quota_and_no_limit_at_all(tmp_path: Path, four_cpus: None) -> None:
    v1 = {"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}
    root, proc = cgroups(tmp_path, "4:memory:/x\n2:cpu,cpuacct:/\n0::/\n", v1)
    assert (cpu_limit(root, proc), usable_cpus(root, proc)) == (3.0, 3)
    unlimited = tmp_path / "unlimited"
    unlimited.mkdir()
    root, proc = cgroups(unlimited, "2:cpu,cpuacct:/\n", {**v1, "cpu/cpu.cfs_quota_us": "-1\n"})
    assert (cpu_limit(root, proc), usable_cpus(root, proc)) == (None, 4)
    assert usable_cpus(tmp_path / "nothing", tmp_path / "missing") == 4  # no cgroup files: the affinity


def test_a_limit_below_one_cpu_still_gives_one_worker(tmp_path: Path, four_cpus: None) -> None:
    root, proc = cgroups(tmp_path, "0::/\n", {"cpu.max": "50000 100000\n"})
    assert usable_cpus(root, proc) == 1


@pytest.mark.skipif(shutil.which("taskset") is None or len(os.sched_getaffinity(0)) < 2, reason="needs taskset, 2 CPUs")
def test_the_default_worker_count_follows_a_restricted_affinity() -> None:
    def default_workers(*taskset: str) -> int:
        code = "from kanri.serving.config import ServerSettings; print(ServerSettings(predictor='m:P').workers)"
        done = subprocess.run([*taskset, sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=ROOT)
        return int(done.stdout)

    assert default_workers("taskset", "-c", "0") == 1
    assert default_workers() == usable_cpus() >= 2
    assert ServerSettings(predictor="m:P", workers=3).workers == 3  # an explicit count is kept
    with pytest.raises(ValueError, match="workers must be at least 1, or 0 for one per usable CPU"):
        ServerSettings(predictor="m:P", workers=-1)
