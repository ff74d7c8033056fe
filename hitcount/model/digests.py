"""SHA-256 from CPython's own module: `hashlib` loads OpenSSL (about 3 ms of every start).

Morris draws its random numbers from it, and a replay checks the head of each input file.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import sha256 as sha256
elif sys.version_info >= (3, 12):
    from _sha2 import sha256
else:
    from _sha256 import sha256

__all__ = ["sha256"]
