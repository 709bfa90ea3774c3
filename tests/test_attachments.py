"""Attachments through the CLI: attach (files and stdin), list, save; what is refused and why."""

from __future__ import annotations

import os

import pytest

from conftest import Run

from helpdesk.core.limits import ATTACHMENT_MAX_BYTES


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr
    return run


def error(run: Run, code: int = 1) -> str:
    assert run.exit_code == code, f"exit {run.exit_code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "internal error" not in lines[0], run.stderr
    return lines[0]


def stored() -> int:
    from helpdesk.store.models import Attachment

    return Attachment.select().count()


@pytest.fixture
def ticket(cli, desk) -> str:
    return str(ok(cli("ticket", "create", "--title", "VPN drops", "--json")).json()["number"])


def test_attach_list_and_save(cli, ticket, tmp_path, monkeypatch):
    log = tmp_path / "vpn.log"
    log.write_bytes(b"12:00 tunnel down\n")
    shot = tmp_path / "screen.png"
    shot.write_bytes(bytes(range(256)))
    run = ok(cli("ticket", "attach", ticket, str(log), str(shot)))
    assert run.stdout.splitlines() == [f"attached vpn.log (18 bytes) to #{ticket} as 1",
                                       f"attached screen.png (256 bytes) to #{ticket} as 2"]
    listed = ok(cli("ticket", "attachment", "list", ticket, "--json")).json()
    assert [(a["index"], a["filename"], a["content_type"], a["size"]) for a in listed] == [
        (1, "vpn.log", "application/octet-stream", 18), (2, "screen.png", "image/png", 256)]
    assert "screen.png" in ok(cli("ticket", "attachment", "list", ticket)).stdout

    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    ok(cli("ticket", "attachment", "save", ticket, "2"))  # by its number: its own name, here
    assert (out / "screen.png").read_bytes() == bytes(range(256))
    ok(cli("ticket", "attachment", "save", ticket, "vpn.log", "-o", str(tmp_path / "copy.log")))
    assert (tmp_path / "copy.log").read_bytes() == b"12:00 tunnel down\n"
    sub = tmp_path / "into"
    sub.mkdir()
    ok(cli("ticket", "attachment", "save", ticket, "vpn.log", "-o", str(sub)))  # a directory: its name inside
    assert (sub / "vpn.log").read_bytes() == b"12:00 tunnel down\n"
    run = ok(cli("ticket", "attachment", "save", ticket, "1", "-o", "-"))
    assert run.stdout == "12:00 tunnel down\n"

    # never over an existing file without --force
    (tmp_path / "copy.log").write_bytes(b"mine")
    assert "exists: use --force" in error(cli("ticket", "attachment", "save", ticket, "1", "-o",
                                              str(tmp_path / "copy.log")))
    assert (tmp_path / "copy.log").read_bytes() == b"mine"
    ok(cli("ticket", "attachment", "save", ticket, "1", "-o", str(tmp_path / "copy.log"), "--force"))
    assert (tmp_path / "copy.log").read_bytes() == b"12:00 tunnel down\n"
    # a symlink is not followed: refused, and --force replaces the link, not what it points to
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "link.log").symlink_to(victim)
    assert "exists" in error(cli("ticket", "attachment", "save", ticket, "1", "-o", "link.log"))
    ok(cli("ticket", "attachment", "save", ticket, "1", "-o", "link.log", "--force"))
    assert victim.read_text() == "keep me" and not (out / "link.log").is_symlink()

    assert "no attachment 'nope.txt'" in error(cli("ticket", "attachment", "save", ticket, "nope.txt"))
    assert "no attachment '3'" in error(cli("ticket", "attachment", "save", ticket, "3"))
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_the_same_file_attached_twice_is_listed_once(cli, ticket, tmp_path):
    log = tmp_path / "vpn.log"
    log.write_bytes(b"same bytes")
    ok(cli("ticket", "attach", ticket, str(log)))
    run = ok(cli("ticket", "attach", ticket, str(log)))
    assert run.stdout.strip() == f"vpn.log is already attached to #{ticket} (as 1)"
    renamed = tmp_path / "other-name.log"
    renamed.write_bytes(b"same bytes")
    ok(cli("ticket", "attach", ticket, str(renamed)))  # another name is another attachment (bytes stored once)
    assert [a["filename"] for a in ok(cli("ticket", "attachment", "list", ticket, "--json")).json()] == [
        "vpn.log", "other-name.log"]
    assert [a["filename"] for a in ok(cli("ticket", "show", ticket, "--json")).json()["attachments"]] == [
        "vpn.log", "other-name.log"]
    # `show` numbers them as `attachment save` takes them
    shown = ok(cli("ticket", "show", ticket)).stdout
    assert "  1: vpn.log (" in shown and "  2: other-name.log (" in shown


def test_attach_from_stdin_with_a_name(cli, ticket):
    run = ok(cli("ticket", "attach", ticket, "-", "--name", "journal.txt", "--json", input=b"line one\nline two\n"))
    assert run.json()[0]["filename"] == "journal.txt" and run.json()[0]["size"] == 18
    assert ok(cli("ticket", "attachment", "save", ticket, "journal.txt", "-o", "-")).stdout == "line one\nline two\n"
    assert "--name" in error(cli("ticket", "attach", ticket, "-", input=b"x"), 2)
    assert stored() == 1


def test_non_regular_files_are_refused(cli, ticket, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    fine = tmp_path / "fine.txt"
    fine.write_text("ok")
    cases = [(str(tmp_path), "not a regular file (a directory)"), (str(fifo), "not a regular file (a FIFO)"),
             ("/dev/zero", "not a regular file (a device)"), (str(tmp_path / "absent"), "no such file")]
    for path, needle in cases:
        # every file is checked before any is stored: the good one before it is not stored either
        assert needle in error(cli("ticket", "attach", ticket, str(fine), path)), path
    assert stored() == 0


def test_attachments_have_a_size_limit(cli, desk, ticket, tmp_path):
    from helpdesk.domain import attachments
    from helpdesk.core.errors import InvalidInput

    big = tmp_path / "big.iso"
    with big.open("wb") as fh:  # sparse: nothing is read, the size alone refuses it
        fh.truncate(ATTACHMENT_MAX_BYTES + 1)
    assert "over the limit of 26,214,400 bytes" in error(cli("ticket", "attach", ticket, str(big)))
    assert "over the limit" in error(cli("ticket", "attach", ticket, "-", "--name", "big.bin",
                                         input=b"\0" * (ATTACHMENT_MAX_BYTES + 1)))
    with pytest.raises(InvalidInput, match="over the attachment limit"):  # every path, not only the CLI
        attachments.add(desk, int(ticket), "big.bin", b"\0" * (ATTACHMENT_MAX_BYTES + 1))
    assert stored() == 0


def test_a_hostile_stored_name_never_decides_the_path(cli, desk, ticket, tmp_path, monkeypatch):
    # Names stored by other ways in (a restored backup, mail from an older version) are kept as they came.
    from helpdesk.domain import attachments
    from helpdesk.store.models import Attachment

    digest = attachments.store_bytes(b"payload")
    for name in ("../../.bashrc", "/etc/cron.d/evil", "\x1b]0;pwned\x07..\\..\\x.sh"):
        Attachment.create(ticket=int(ticket), filename=name, size=7, sha256=digest)
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for index, expected in ((1, "bashrc"), (2, "evil"), (3, "x.sh")):
        run = ok(cli("ticket", "attachment", "save", ticket, str(index)))
        assert (work / expected).read_bytes() == b"payload", run.stderr
    assert sorted(p.name for p in work.iterdir()) == ["bashrc", "evil", "x.sh"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["deeper"]
    listing = ok(cli("ticket", "attachment", "list", ticket)).stdout
    assert "\x1b" not in listing and "\x07" not in listing and "␛]0;pwned␇" in listing


def test_damaged_store_is_an_error_not_a_file(cli, desk, ticket, tmp_path):
    from helpdesk.domain import attachments

    log = tmp_path / "vpn.log"
    log.write_bytes(b"original")
    ok(cli("ticket", "attach", ticket, str(log)))
    listed = attachments.list_for(int(ticket))
    attachments.blob_path(listed[0].sha256).write_bytes(b"tampered")
    assert "do not match their SHA-256" in error(cli("ticket", "attachment", "save", ticket, "1", "-o",
                                                     str(tmp_path / "out.log")))
    assert not (tmp_path / "out.log").exists()
