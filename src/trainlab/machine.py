"""Facts about this machine that sizing decisions read (how much data to hold in memory, how big a model may be)."""

from __future__ import annotations

import os


def physical_memory_bytes() -> int | None:
    """Physical RAM of this machine, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None
