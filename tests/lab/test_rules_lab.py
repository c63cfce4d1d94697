"""`ftwall rules` on the lab router, as the scenarios use it: apply, read back, remove.
The nft backend needs the kernel's nftables queue support; where it is missing, apply
must fail with a hint and leave nothing behind (the scenarios then use iptables)."""

import pytest

from conftest import nft_queue_supported
from labnet.ftwall import Ftwall
from labnet.netns import CommandError


def test_nft_backend_works_or_fails_cleanly_on_this_kernel(lab, tmp_path):
    fw = Ftwall(lab, "nft", str(tmp_path))
    if nft_queue_supported():
        fw.apply_rules()
        assert "table inet ftwall" in fw.ruleset()
        fw.remove_rules()
    else:
        with pytest.raises(CommandError) as err:
            fw.apply_rules()
        assert "queue" in str(err.value), err.value
    assert "ftwall" not in fw.ruleset(), fw.ruleset()


def test_iptables_backend_applies_and_removes_without_a_trace(lab, tmp_path):
    fw = Ftwall(lab, "iptables", str(tmp_path))
    fw.apply_rules()
    fw.apply_rules()  # idempotent
    after = fw.ruleset()
    assert "ftwall_lan_wan" in after or "ftwall" in after, after
    for name in ("ftwall_locked4", "ftwall_locked6", "ftwall_peers4", "ftwall_peers6"):
        assert name in after, f"set {name} missing"
    fw.remove_rules()
    # iptables-nft may keep the (empty) mangle table it created; nothing of ftwall's stays.
    assert "ftwall" not in fw.ruleset(), fw.ruleset()
