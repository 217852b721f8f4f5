"""Emails the app sends through SES, caught by the emulator and shown locally.

Each one is logged as a line and written to the outbox folder as an .eml file, where the
staff-only outbox page reads them. Files are numbered in sending order across restarts:
the emulator counts its emails from zero at each start, so the numbers continue from the
highest file already there, and an existing file is never written over.
"""

import re
import threading
from email import message_from_string
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from stack.local import logs

_NUMBERED = re.compile(r"(\d+)\.eml")


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
        self.collect()  # what was sent since the last look

    def _sent(self) -> list[Any]:
        from moto.ses.models import ses_backends

        return ses_backends[self.account][self.region].sent_messages

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.collect()

    def collect(self) -> list[Path]:
        """Write every email sent since the last call; the files written."""
        sent = self._sent()
        written = [self.write(as_email(message)) for message in sent[self._seen :]]
        self._seen = len(sent)
        return written

    def write(self, email: EmailMessage | Any) -> Path:
        """Save one email as the next number in the folder, never over an existing file."""
        number = self._highest() + 1
        while True:
            path = self.folder / f"{number:05d}.eml"
            try:
                with path.open("x", encoding="utf-8") as file:
                    file.write(email.as_string())
            except FileExistsError:
                number += 1
                continue
            logs.emit("ses", f"email to {email['To']}: {email['Subject']!r} -> {path}")
            return path

    def _highest(self) -> int:
        numbers = (_NUMBERED.fullmatch(file.name) for file in self.folder.glob("*.eml"))
        return max((int(match[1]) for match in numbers if match), default=0)
