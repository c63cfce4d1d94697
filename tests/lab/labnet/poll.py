"""Waiting on conditions with deadlines instead of fixed sleeps."""

import time


class Timeout(AssertionError):
    pass


def wait_until(check, timeout, what, interval=0.05):
    """Calls check() until it returns something true; returns that value. Raises Timeout
    (an AssertionError, so a test fails with `what` in its message) after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout:.1f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def stays(check, duration, what, interval=0.1):
    """Asserts that check() stays true for `duration` seconds."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if not check():
            raise AssertionError(f"{what} stopped holding before {duration:.1f}s")
        time.sleep(interval)
