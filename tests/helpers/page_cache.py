"""How much of a file sits in the page cache (`mincore(2)`), for tests of code that drops files from it."""

from __future__ import annotations

import ctypes
import mmap
from pathlib import Path

LIBC = ctypes.CDLL(None, use_errno=True)


def resident_pages(path: Path) -> int:
    """How many of `path`'s pages sit in the page cache: mincore(2) on a private mapping of the file."""
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    vector = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_COPY) as mapping:
        start = ctypes.c_char.from_buffer(mapping)
        try:
            if LIBC.mincore(ctypes.c_void_p(ctypes.addressof(start)), ctypes.c_size_t(size), vector):
                raise OSError(ctypes.get_errno(), "mincore failed")
        finally:
            del start  # the mapping cannot close while a ctypes view holds it
    return sum(byte & 1 for byte in vector)
