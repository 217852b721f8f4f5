"""The local outbox (stack/local/outbox.py): SES's emails as numbered .eml files, kept in
sending order across restarts of the emulator, whose count starts at zero each time."""

from dataclasses import dataclass
from email.message import EmailMessage

from stack.local.outbox import Outbox


@dataclass
class Sent:  # what moto keeps for a raw email
    raw_data: str


def sent(subject: str) -> Sent:
    email = EmailMessage()
    email["To"], email["Subject"] = "alice@example.com", subject
    email.set_content("hello")
    return Sent(email.as_string())


class Emulator:
    """The SES emulator's list of sent emails, as an Outbox reads it."""

    def __init__(self) -> None:
        self.messages: list[Sent] = []


def outbox_on(folder, emulator) -> Outbox:
    box = Outbox(folder)
    box.folder.mkdir(parents=True, exist_ok=True)
    box._sent = lambda: emulator.messages
    return box


def subjects(folder) -> dict[str, str]:
    return {
        file.name: next(line for line in file.read_text().splitlines() if line.startswith("Sub"))
        for file in sorted(folder.glob("*.eml"))
    }


def test_emails_after_a_restart_continue_the_numbering_and_overwrite_nothing(tmp_path):
    first_run = Emulator()
    box = outbox_on(tmp_path, first_run)
    first_run.messages += [sent("one"), sent("two")]
    assert [path.name for path in box.collect()] == ["00001.eml", "00002.eml"]
    first_run.messages.append(sent("three"))
    assert [path.name for path in box.collect()] == ["00003.eml"]
    assert box.collect() == []

    restarted = Emulator()  # a new emulator counts from zero again
    box = outbox_on(tmp_path, restarted)
    restarted.messages.append(sent("four"))
    assert [path.name for path in box.collect()] == ["00004.eml"]
    assert subjects(tmp_path) == {
        "00001.eml": "Subject: one",
        "00002.eml": "Subject: two",
        "00003.eml": "Subject: three",
        "00004.eml": "Subject: four",
    }


def test_a_file_that_appears_meanwhile_is_never_written_over(tmp_path):
    emulator = Emulator()
    box = outbox_on(tmp_path, emulator)
    (tmp_path / "00001.eml").write_text("Subject: kept\n")
    (tmp_path / "notes.eml").write_text("not numbered: ignored")
    box._highest = lambda: 0  # as if the file came after the folder was read
    emulator.messages.append(sent("new"))
    assert [path.name for path in box.collect()] == ["00002.eml"]
    assert (tmp_path / "00001.eml").read_text() == "Subject: kept\n"


def test_stopping_writes_what_was_sent_since_the_last_look(tmp_path):
    emulator = Emulator()
    box = outbox_on(tmp_path, emulator)
    box.start()
    emulator.messages.append(sent("just before Ctrl-C"))
    box.stop()
    assert subjects(tmp_path) == {"00001.eml": "Subject: just before Ctrl-C"}
