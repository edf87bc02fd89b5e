"""Peak memory of this process from now on, whatever ran before in it.

``resource.getrusage(...).ru_maxrss`` is the peak of the process's whole life, and on Linux a
program started by fork + exec inherits the parent's peak (a test process with TensorFlow
loaded: over a gigabyte), so a growth measured with it could hide in the parent's figure and a
test of it could not fail. :func:`peak_reset` resets the kernel's high-water mark (``VmHWM``)
to the memory in use now; :func:`peak_grown` is how far above that the peak went since.
``SNIPPET`` is their source, for the fresh processes tests start with ``python -c``.
"""

from __future__ import annotations

import inspect


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status
                    if line.startswith(field + ":"))


def peak_reset() -> int:
    """Reset the peak to the memory in use now; returns that, in bytes."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the kernel's high-water mark starts again from what is in use
    return _status_bytes("VmRSS")


def peak_grown(base: int) -> int:
    """Bytes the peak went above ``base`` (from :func:`peak_reset`) since."""
    return max(0, _status_bytes("VmHWM") - base)


SNIPPET = "\n".join(inspect.getsource(f) for f in (_status_bytes, peak_reset, peak_grown))
