"""The node agent's pod cgroups (cgroup v1 cpu controller), on a stand-in folder: what it creates and writes,
and that it steps aside where the controller is not there. The real controller: tests/integration/test_harness.py."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from nodeagent import cpushare
from nodeagent.cgroups import PodCgroups, join_command, parent_name


def _controller(tmp_path: Path) -> Path:
    root = tmp_path / "cpu"
    root.mkdir()
    (root / "cpu.shares").write_text("1024")
    return root


def test_pods_get_a_cgroup_each_under_one_parent_weighing_the_least(tmp_path: Path) -> None:
    root = _controller(tmp_path)
    cgroups = PodCgroups.create(tmp_path / "state", cpushare.PODS_SHARES, root=root)
    assert cgroups.parent == root / parent_name(tmp_path / "state")
    assert (cgroups.parent / "cpu.shares").read_text() == "2"
    procs = cgroups.procs_file("uid-1", 51)
    assert procs == cgroups.parent / "uid-1" / "cgroup.procs"
    assert (cgroups.parent / "uid-1" / "cpu.shares").read_text() == "51"


def test_an_emptied_pod_cgroup_is_removed_and_all_of_them_at_cluster_down(tmp_path: Path) -> None:
    root = _controller(tmp_path)
    cgroups = PodCgroups.create(tmp_path / "state", 2048, root=root)
    assert cgroups.parent is not None
    for uid in ("a", "b"):
        folder = cgroups.parent / uid
        folder.mkdir()
    assert cgroups.destroy("a")
    assert not (cgroups.parent / "a").exists()
    (cgroups.parent / "cpu.shares").unlink()  # cgroupfs' own files do not keep a folder; the stand-in's would
    cgroups.remove_all(wait_seconds=0)
    assert not cgroups.parent.exists()


def test_a_cgroup_still_holding_something_is_reported_not_removed(tmp_path: Path) -> None:
    root = _controller(tmp_path)
    cgroups = PodCgroups.create(tmp_path / "state", 2048, root=root)
    assert cgroups.parent is not None
    (cgroups.parent / "busy").mkdir()
    (cgroups.parent / "busy" / "tasks").write_text("1\n")  # a plain folder with a file will not rmdir
    assert not cgroups.destroy("busy", wait_seconds=0.1)


def test_destroying_a_pod_cgroup_kills_what_still_runs_in_it(tmp_path: Path) -> None:
    """A grandchild that left its container's process group is still in the pod's cgroup: it goes with it."""
    root = _controller(tmp_path)
    cgroups = PodCgroups.create(tmp_path / "state", 2048, root=root)
    assert cgroups.parent is not None
    stray = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (cgroups.parent / "pod").mkdir()
        (cgroups.parent / "pod" / "cgroup.procs").write_text(f"{stray.pid}\n")
        cgroups.destroy("pod")
        assert stray.wait(timeout=30) == -signal.SIGKILL
    finally:
        stray.kill()
        stray.wait(timeout=30)


def test_cgroups_of_pods_the_agent_no_longer_knows_are_orphans(tmp_path: Path) -> None:
    root = _controller(tmp_path)
    cgroups = PodCgroups.create(tmp_path / "state", 2048, root=root)
    assert cgroups.parent is not None
    for uid in ("live", "gone"):
        (cgroups.parent / uid).mkdir()
    assert cgroups.orphans({"live"}) == ["gone"]
    assert PodCgroups(None).orphans(set()) == []


def test_without_the_controller_pods_run_where_the_agent_runs(tmp_path: Path) -> None:
    cgroups = PodCgroups.create(tmp_path / "state", 2048, root=tmp_path / "no-cgroups")
    assert cgroups.parent is None
    assert cgroups.procs_file("uid-1", 51) is None
    assert cgroups.destroy("uid-1")
    assert join_command(None, ["sleep", "1"]) == ["sleep", "1"]


def test_the_process_joins_its_cgroup_before_it_execs(tmp_path: Path) -> None:
    procs = tmp_path / "cgroup.procs"
    out = subprocess.run(join_command(procs, ["sh", "-c", "echo $$"]), capture_output=True, text=True, check=True)
    assert procs.read_text().strip() == out.stdout.strip()  # the same PID: joined, then exec'd in place


def test_a_cgroup_gone_meanwhile_does_not_fail_the_container(tmp_path: Path) -> None:
    out = subprocess.run(join_command(tmp_path / "gone" / "cgroup.procs", ["echo", "ran"]),
                         capture_output=True, text=True, check=True)
    assert (out.stdout, out.stderr) == ("ran\n", "")


def test_a_pods_shares_are_its_containers_requests_summed() -> None:
    pod = {"spec": {"containers": [{"resources": {"requests": {"cpu": "250m"}}},
                                   {"resources": {"limits": {"cpu": "1"}}}]}}
    assert cpushare.pod_shares(pod) == 256 + 1024
    assert cpushare.pod_shares({"spec": {"containers": [{}]}}) == cpushare.MIN_SHARES
