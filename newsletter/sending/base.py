"""The shape every transport has: a `Sender` opens `Connection`s, a connection sends bytes.

A send either returns the server's acceptance or raises one of three failures, which is all the
delivery loop needs to know:

    Temporary   try again later (4xx, a timeout or a lost connection before the message went out)
    Permanent   this recipient will never be accepted (5xx); recorded with the server's words
    Ambiguous   the connection was lost after the message was handed over and before the reply
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        # Code 0: no reply from a server at all (a refused connection, a timeout).
        return f"{self.code} {self.text}".strip() if self.code else self.text


class SendFailure(Exception):
    """What one recipient's server answered instead of accepting the message; an expected outcome
    that the send loop records, hence no NewsletterError (`newsletter.errors` says why)."""

    def __init__(self, reply: Reply, *, connection_lost: bool = False) -> None:
        super().__init__(str(reply))
        self.reply = reply
        # The connection cannot be used again: the loop opens a new one.
        self.connection_lost = connection_lost


class Temporary(SendFailure):
    """Worth retrying later."""


class Permanent(SendFailure):
    """Final for this recipient."""


class Ambiguous(SendFailure):
    """The message may or may not have been accepted."""


class Connection(Protocol):
    """One open connection. As a context manager it is closed however the block ends:

        with sender.connect() as connection:
            connection.send(...)

    A transport's connection class subclasses this protocol to inherit `__enter__` and `__exit__`.
    """

    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        """Hand one message to the server; raise a SendFailure unless it was accepted."""
        ...

    def close(self) -> None:
        """Let go of the connection; closing one that is closed or lost already is harmless."""
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class Sender(Protocol):
    """Opens connections. `connect` raises SendError when the server cannot be used at all
    (wrong password, untrusted certificate) and Temporary when it may work later."""

    @property
    def description(self) -> str: ...

    def connect(self) -> Connection: ...
