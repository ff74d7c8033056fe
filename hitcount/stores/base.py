"""The state-store interface: where the live state lives between invocations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager


class Store(ABC):
    """Holds one serialized state document, with an exclusive lock for read-modify-write."""

    #: The URL this store was opened from (for messages).
    url: str

    @abstractmethod
    def load(self) -> bytes | None:
        """The saved document, or None when nothing has been saved yet.

        Raises:
            StoreUnavailableError: the store cannot be read.
        """

    @abstractmethod
    def save(self, data: bytes) -> None:
        """Replace the saved document atomically: readers see the old or the new one.

        Raises:
            StoreUnavailableError: the store cannot be written; the old document stays.
        """

    @abstractmethod
    def locked(self) -> AbstractContextManager[None]:
        """An exclusive lock against other writers of this store (other processes too)."""

    def describe(self) -> str:
        """Where the state lives, for humans."""
        return self.url
