"""The lab network itself: address plan, plain connectivity, and cleanup on every way a
run can end (normal teardown, Ctrl-C in pytest, SIGTERM, kill -9 then the next run)."""

import ipaddress
import os
import signal
import subprocess
import sys

from conftest import require_lab
from labnet import netns, topology
from labnet.poll import wait_until

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


def test_address_plan_uses_documentation_ranges_outside_and_private_ranges_inside():
    for fam, a in topology.ADDR.items():
        outside = [a["router_wan"], a["inet_wan"], a["stranger"], a["stranger_sn"], a["web"], a["dns"]] + a["supernodes"]
        for ip in outside:
            addr = ipaddress.ip_address(ip)
            assert addr.version == fam
            assert any(addr in n for n in DOC_NETS), f"{ip} is not in a documentation range"
        for ip in (a["router_lan"], a["lan1"], a["lan2"]):
            addr = ipaddress.ip_address(ip)
            assert addr.is_private and not any(addr in n for n in DOC_NETS), f"{ip} is not a private LAN address"
            assert addr in ipaddress.ip_network(a["lan_net"])


def test_lan_hosts_browse_the_web_by_name_and_the_internet_sees_their_real_addresses(lab, family):
    a = topology.ADDR[family]
    for host in ("lan1", "lan2"):
        r = lab.agent(host).call("fetch", host=topology.WEB_NAME, dns_server=a["dns"], family=family)
        assert r["ok"], r
        assert r["ip"] == a["web"]
    seen = {e["src"].rsplit(":", 1)[0].strip("[]") for e in lab.agent("inet").events("web_request")}
    assert seen == {a["lan1"], a["lan2"]}


def test_lan_hosts_reach_each_other_through_the_switch(lab, family):
    a = topology.ADDR[family]
    lab.agent("lan2").call("serve_web", ip=a["lan2"], port=8080)
    r = lab.agent("lan1").call("fetch", host=a["lan2"], port=8080)
    assert r["ok"], r


def test_a_torn_down_lab_leaves_no_namespace(tmp_path):
    require_lab()
    lab = topology.Lab(workdir=str(tmp_path)).up()
    names = list(lab.ns.values())
    assert set(names) <= set(netns.listed())
    lab.down()
    assert not set(names) & set(netns.listed())


def _start_holder(tmp_path, args):
    names_file = tmp_path / "names"
    # SIGINT as at a terminal: a run started in the background by a shell without job
    # control (as CI may start this suite) inherits SIGINT ignored, and Python then never
    # turns Ctrl-C into KeyboardInterrupt.
    p = subprocess.Popen(args(names_file), cwd=LAB_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(os.environ, FTWALL_LAB_NAMES=str(names_file)), start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_until(lambda: names_file.exists() or p.poll() is not None, 30, "the child lab to come up")
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        raise
    assert p.poll() is None, p.stderr.read().decode()
    names = names_file.read_text().split()
    assert len(names) == 5 and set(names) <= set(netns.listed())
    return p, names


def _wait_for_exit(p, what, timeout=60):
    """Waits for the interrupted run to finish its cleanup. The limit is generous (removing
    namespaces can wait on the kernel's cleanup of earlier ones on a busy machine); past it
    the run is killed, its leftovers swept, and the failure shows what the run printed."""
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        netns.sweep_stale()
        raise AssertionError(f"still running {timeout} s after {what}; it printed: {p.stderr.read().decode()[-3000:]}")


def _gone(names):
    return not set(names) & set(netns.listed())


def _holder(tmp_path):
    return lambda names_file: [sys.executable, "selfcheck/hold_lab.py", str(names_file), str(tmp_path)]


def test_sigterm_cleans_up(tmp_path):
    require_lab()
    p, names = _start_holder(tmp_path, _holder(tmp_path))
    p.send_signal(signal.SIGTERM)
    _wait_for_exit(p, "SIGTERM")
    assert _gone(names), f"left behind after SIGTERM: {set(names) & set(netns.listed())}"


def test_ctrl_c_in_pytest_cleans_up(tmp_path):
    require_lab()
    cmd = lambda _names: [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",  # noqa: E731
                          "--basetemp", str(tmp_path / "inner"), "selfcheck/hang_lab.py"]
    p, names = _start_holder(tmp_path, cmd)
    p.send_signal(signal.SIGINT)
    _wait_for_exit(p, "Ctrl-C (SIGINT)")
    assert _gone(names), f"left behind after Ctrl-C: {set(names) & set(netns.listed())}"


def test_kill_9_leftovers_are_swept_by_the_next_run(tmp_path):
    require_lab()
    p, names = _start_holder(tmp_path, _holder(tmp_path))
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    assert set(names) <= set(netns.listed()), "kill -9 cannot clean up; this test needs the leftovers"
    swept = netns.sweep_stale()
    assert set(names) <= set(swept)
    assert _gone(names)
