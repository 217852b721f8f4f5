"""Emails the app sends through SES, caught by the emulator and shown locally.

Each one is logged as a line and written to the outbox folder as an .eml file, where the
staff-only outbox page reads them.
"""

import threading
from email import message_from_string
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from stack.local import logs


def as_email(sent: Any) -> EmailMessage | Any:
    """moto keeps raw messages as text and simple ones as parts; make both an email."""
    raw = getattr(sent, "raw_data", None)
    if raw:
        return message_from_string(raw)
    email = EmailMessage()
    email["From"] = sent.source
    email["To"] = ", ".join(sent.destinations.get("ToAddresses", []))
    email["Subject"] = sent.subject
    email.set_content(sent.body or "")
    return email


class Outbox:
    def __init__(self, folder: Path, account: str = "123456789012", region: str = "us-east-1"):
        self.folder = folder
        self.account = account
        self.region = region
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _sent(self) -> list[Any]:
        from moto.ses.models import ses_backends

        return ses_backends[self.account][self.region].sent_messages

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            sent = self._sent()
            for number in range(self._seen, len(sent)):
                email = as_email(sent[number])
                path = self.folder / f"{number + 1:05d}.eml"
                path.write_text(email.as_string(), encoding="utf-8")
                logs.emit("ses", f"email to {email['To']}: {email['Subject']!r} -> {path}")
            self._seen = len(sent)
