"""Fixtures of the ftwall lab: the root/tool check, one fresh lab network per test, and a
session-level check that every namespace and process the tests made is gone."""

import os
import shutil
import subprocess

import pytest

from labnet import netns, topology

NEEDED_TOOLS = ["ip", "nft", "iptables", "ipset", "dnsmasq", "sysctl"]


def lab_unavailable():
    """Why the lab cannot run here, or None."""
    problems = []
    if os.geteuid() != 0:
        problems.append("it must run as root (it creates network namespaces, veth links and netfilter rules)")
    missing = [t for t in NEEDED_TOOLS if shutil.which(t) is None]
    if missing:
        problems.append(f"missing tools: {', '.join(missing)} (install them with `sh .ci/deps`)")
    return "; ".join(problems) or None


def require_lab():
    """Fails (CI=true) or skips loudly (a developer's machine) when the lab cannot run."""
    why = lab_unavailable()
    if why:
        msg = f"THE FTWALL LAB DID NOT RUN: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


def pytest_report_header(config):
    why = lab_unavailable()
    return [f"ftwall lab: NOT RUNNABLE HERE: {why}"] if why else ["ftwall lab: root and tools present"]


@pytest.fixture(scope="session", autouse=True)
def lab_session():
    """Sweeps namespaces of dead earlier runs, installs the Ctrl-C/SIGTERM cleanup, and at
    the end checks that the tests' own teardowns left nothing behind."""
    if lab_unavailable():
        yield
        return
    swept = netns.sweep_stale()
    if swept:
        print(f"\nlab: removed {len(swept)} namespaces left by dead runs: {' '.join(swept)}")
    netns.install_cleanup_handlers()
    yield
    left_ns = netns.ours()
    left_procs = [" ".join(map(str, p.args)) for p in netns.live_processes()]
    netns.cleanup()
    assert not left_ns and not left_procs, (
        f"the lab left things behind: namespaces {left_ns}, processes {left_procs}")
    assert not netns.ours(), f"namespaces survived the final cleanup: {netns.ours()}"


@pytest.fixture
def lab(tmp_path):
    """A fresh lab network with its services (peers, web, DNS, LAN agents) running."""
    require_lab()
    net = topology.Lab(workdir=str(tmp_path))
    try:
        net.up()
        yield net
    finally:
        net.down()


@pytest.fixture(params=[4, 6], ids=["ipv4", "ipv6"])
def family(request):
    return request.param


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures know in their teardown whether the test failed (to dump ftwall's log).
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(params=["nft", "iptables"])
def backend(request):
    return request.param


_nft_queue = {}


def nft_queue_supported():
    """True if this kernel can queue packets from nftables rules (CONFIG_NFT_QUEUE). Some
    kernels, this project's CI machine among them, only have iptables' NFQUEUE target."""
    if "ok" not in _nft_queue:
        ns = netns.add("nftprobe")
        try:
            script = "table inet probe {\n chain c {\n  type filter hook forward priority 0;\n  queue num 0 bypass\n }\n}\n"
            out = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, capture_output=True, text=True)
            _nft_queue["ok"] = out.returncode == 0
        finally:
            netns.delete(ns)
    return _nft_queue["ok"]


NO_NFT_QUEUE = ("THE NFT BACKEND CANNOT RUN HERE: this kernel has no nftables queue expression "
                "(CONFIG_NFT_QUEUE / module nft_queue); the scenarios run with --backend iptables only")


def _ftwall_fixture(request, lab, backend, tmp_path, fail_closed):
    from labnet.ftwall import Ftwall

    if backend == "nft" and not nft_queue_supported():
        pytest.skip(NO_NFT_QUEUE)
    fw = Ftwall(lab, backend, str(tmp_path), fail_closed=fail_closed)
    try:
        fw.apply_rules()
        yield fw
    finally:
        failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
        if failed:
            print(f"\n---- ftwall log ({fw.log_path}) ----\n{fw.log()[-6000:]}")
            print(f"---- router ruleset ----\n{fw.ruleset()[-6000:]}")
        fw.close()


@pytest.fixture
def ftwall(request, lab, backend, tmp_path):
    """ftwall's rules applied on the lab router (fail-open); start the daemon with .start()."""
    yield from _ftwall_fixture(request, lab, backend, tmp_path, fail_closed=False)


@pytest.fixture
def ftwall_fail_closed(request, lab, backend, tmp_path):
    yield from _ftwall_fixture(request, lab, backend, tmp_path, fail_closed=True)


def pytest_terminal_summary(terminalreporter):
    """The real-client scenarios' measurements (issue 5), one line each."""
    from labnet import real

    if real.RESULTS:
        terminalreporter.section("real clients: what passed before the lock")
        for name, result in real.RESULTS:
            terminalreporter.write_line(f"{name}: {result.line()}")
