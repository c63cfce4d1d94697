"""Traffic simulators for the ftwall lab.

They run inside the lab's network namespaces as `python3 -m sim.agent`, one agent per
namespace, driven by JSON commands on stdin and reporting JSON events on stdout.
"""
