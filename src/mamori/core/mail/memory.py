"""A notifier that keeps mail in memory: for development and as the fake in tests."""

from __future__ import annotations

import threading

from mamori.core.mail.base import MailMessage, Notifier


class MemoryNotifier(Notifier):
    """Appends every sent message to `sent` instead of delivering it."""

    def __init__(self) -> None:
        self.sent: list[MailMessage] = []
        # Web requests run on several threads; keep appends and clears whole.
        self._lock = threading.Lock()

    def send(self, message: MailMessage) -> None:
        """Keep `message`."""
        with self._lock:
            self.sent.append(message)

    def take(self) -> list[MailMessage]:
        """The messages sent so far, emptying the outbox."""
        with self._lock:
            taken, self.sent = self.sent, []
        return taken
