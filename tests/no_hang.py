"""A guard for tests of inputs that once hung: run a call in a thread and fail the test if it does not return."""

import threading


def within(seconds, fn):
    """`fn()`'s result (or its error, raised here), or a test failure if it does not return within `seconds`."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as e:  # noqa: BLE001 - re-raised below, in the test's thread
            out["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not return within {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]
