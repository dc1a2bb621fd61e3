"""The shape every transport has: a `Sender` opens `Connection`s, a connection sends bytes.

A send either returns the server's acceptance or raises one of three failures, which is all the
delivery loop needs to know:

    Temporary   try again later (4xx, a timeout or a lost connection before the message went out)
    Permanent   this recipient will never be accepted (5xx); recorded with the server's words
    Ambiguous   the connection was lost after the message was handed over and before the reply
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        # Code 0: no reply from a server at all (a refused connection, a timeout).
        return f"{self.code} {self.text}".strip() if self.code else self.text


class SendFailure(Exception):
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
    def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        """Hand one message to the server; raise a SendFailure unless it was accepted."""
        ...

    def close(self) -> None: ...


class Sender(Protocol):
    """Opens connections. `connect` raises SendError when the server cannot be used at all
    (wrong password, untrusted certificate) and Temporary when it may work later."""

    @property
    def description(self) -> str: ...

    def connect(self) -> Connection: ...
