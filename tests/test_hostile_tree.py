"""A user who controls a mailbox cannot use a symbolic link or a folder name to make mboxtool
reach outside it: the files are refused and reported, never followed.

Each attack is set up as the mailbox's user would (files of ``nobody``) against a file the
user cannot read or write (root's, mode 0600, a stand-in for /etc/shadow, authorized_keys,
/etc/ssh): run as root, mboxtool must not copy, append to, rewrite, give away or delete it.
These checks hold for any runner; they do not rely on dropping privileges.
"""

import base64
import json
import os
import pwd
import subprocess

import pytest

from mboxtool import ConvertOptions, MailMessage, MboxWriter, convert_mailbox, repair_mailbox
from mboxtool.convert import mailbox as convert

from .conftest import ROOT, SAMPLES, make_maildir, mbox_entry, python_cmd

NOBODY = pwd.getpwnam("nobody")
SECRET = b"root:$6$not-for-the-user$hash:19000:0:99999:7:::\n"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to set files up as another user")


def secret_file(tmp_path, name="shadow"):
    """A root-only file outside the user's mailbox."""
    where = tmp_path / "root-only"
    where.mkdir(exist_ok=True)
    path = where / name
    path.write_bytes(SECRET)
    os.chmod(path, 0o600)
    return path


def users(*paths):
    """Give ``paths`` and everything under them to the user, as if they had made them."""
    for top in paths:
        for p in [top, *top.rglob("*")]:
            os.chown(p, NOBODY.pw_uid, NOBODY.pw_gid, follow_symlinks=False)


def state_of(path):
    st = os.stat(path)
    return path.read_bytes(), st.st_uid, st.st_size


def all_bytes(root):
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def run(command, *args, timeout=120):
    """``mboxtool command args``; a conversion stays root (``--owner root``): what these tests
    show holds without the drop to the mailbox's owner (privsep.py), which is a second layer."""
    stay_root = ["--owner", "root"] if command == "convert" else []
    return subprocess.run([*python_cmd(), command, *stay_root, *map(str, args)], cwd=ROOT,
                          capture_output=True, timeout=timeout)


def next_pids():
    """The last pid the system gave (the next processes get the ones after it)."""
    with open("/proc/sys/kernel/ns_last_pid") as fh:
        return int(fh.read())


def mutf7_all(text):
    """``text`` written in modified UTF-7 wholly base64-encoded, as a hostile client may name a folder."""
    return "&" + base64.b64encode(text.encode("utf-16-be")).decode().rstrip("=").replace("/", ",") + "-"


# -- message files that are links ------------------------------------------------------------

@as_root
def test_a_maildir_message_linked_to_a_root_file_is_not_copied(tmp_path):
    shadow = secret_file(tmp_path)
    md = make_maildir(tmp_path / "Maildir")
    (md / "cur" / "1.host:2,S").write_bytes(b"Subject: real\n\nmail\n")
    os.symlink(shadow, md / "cur" / "2.host:2,S")
    users(md)
    dst = tmp_path / "out.mbox"
    report = convert_mailbox(md, dst, ConvertOptions(), owner="root")
    assert report.converted == 1 and report.failed == 1
    assert any("symbolic link" in e["message"] for e in report.errors)
    assert SECRET not in dst.read_bytes()


@as_root
@pytest.mark.parametrize("fmt", ["mh", "eml"])                # folders of plain message files; Maildir: above
def test_mh_and_eml_messages_linked_to_a_root_file_are_not_copied(tmp_path, fmt):
    shadow = secret_file(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    real, link = ("1", "2") if fmt == "mh" else ("a.eml", "b.eml")
    (folder / real).write_bytes(b"From: a@example.org\nSubject: real\n\nmail\n")
    os.symlink(shadow, folder / link)
    users(folder)
    dst = tmp_path / "out.mbox"
    report = convert_mailbox(folder, dst, ConvertOptions(from_format=fmt, to_format="mbox"), owner="root")
    assert report.converted == 1 and report.failed == 1
    assert SECRET not in dst.read_bytes()


@as_root
def test_repair_does_not_copy_a_linked_message(tmp_path, monkeypatch):
    shadow = secret_file(tmp_path)
    md = make_maildir(tmp_path / "Maildir")
    (md / "cur" / "1.host:2,S").write_bytes(b"Subject: real\n\nmail\n")
    os.symlink(shadow, md / "cur" / "2.host:2,S")
    users(md)
    monkeypatch.setattr(convert, "owner_plan", lambda *a, **k: None)   # no drop to the user: still closed
    repair_mailbox(md, tmp_path / "copy")
    assert SECRET not in all_bytes(tmp_path / "copy")


# -- Maildir directories that are links ------------------------------------------------------

def _maildir_with_linked_new(tmp_path, users_own=True):
    """A user's Maildir whose new/ is a link to a root directory (a stand-in for /etc/ssh);
    ``users_own=False``: left root's, so that no command drops to the user (privsep.py)."""
    etc = tmp_path / "etc-ssh"
    etc.mkdir()
    for name in ("ssh_host_key", "sshd_config"):
        (etc / name).write_bytes(b"Subject: " + name.encode() + b"\n\n" + SECRET)
        os.chmod(etc / name, 0o600)
    md = make_maildir(tmp_path / "Maildir")
    (md / "new").rmdir()
    os.symlink(etc, md / "new")
    if users_own:
        users(md)
    return md, etc


@as_root
def test_a_linked_new_dir_is_refused_and_move_deletes_nothing_there(tmp_path):
    md, etc = _maildir_with_linked_new(tmp_path)
    before = sorted(os.listdir(etc))
    dst = tmp_path / "out.mbox"
    result = run("convert", "--move", md, dst)
    assert result.returncode == 2 and b"symbolic link" in result.stderr
    assert sorted(os.listdir(etc)) == before
    assert not dst.exists() or SECRET not in dst.read_bytes()


@as_root
def test_validate_and_info_do_not_walk_a_linked_new_dir(tmp_path):
    md, etc = _maildir_with_linked_new(tmp_path, users_own=False)
    checked = run("validate", "--json", md)
    problems = json.loads(checked.stdout)["problems"]
    assert {"code": "symlink", "severity": "error"}.items() <= next(
        p for p in problems if p["code"] == "symlink").items()
    assert json.loads(checked.stdout)["messages"] == 0
    shown = run("info", md)
    assert shown.returncode == 2 and b"symbolic link" in shown.stderr


@as_root
def test_validate_keeps_to_the_new_dir_it_opened_when_it_is_swapped_for_a_link(tmp_path):
    """The user swaps new/ for a link while validate walks it: the files still checked are
    those of the directory it opened (held by its descriptor), never what the link leads to
    (here a FIFO, which a stat by path would find and an open by path could hang on)."""
    decoy = tmp_path / "elsewhere"
    decoy.mkdir()
    os.mkfifo(decoy / "2.host")
    md = make_maildir(tmp_path / "Maildir")
    for n in (1, 2):
        (md / "new" / f"{n}.host").write_bytes(b"Subject: mine\nDate: Mon, 6 Jan 2020 10:00:00 +0000\n\nbody\n")
    users(md)
    swapped = []

    def swap_after_the_first(_):
        if not swapped:
            os.rename(md / "new", md / "new.away")
            os.symlink(decoy, md / "new")
            swapped.append(True)

    from mboxtool import validate_mailbox
    report = validate_mailbox(md, progress=swap_after_the_first)
    assert swapped and report.messages == 2
    assert [p.code for p in report.problems if p.key == "new/2.host"] == \
        [p.code for p in report.problems if p.key == "new/1.host"]          # the same file checked alike
    assert not any(p.code == "foreign-file" for p in report.problems)


@as_root
def test_a_linked_tmp_dir_is_not_listed_for_abandoned_deliveries(tmp_path):
    """tmp/ linked to a root directory: its names are not listed (validate's stale-tmp-file,
    convert's stale-tmp-files warning would name them)."""
    hidden = tmp_path / "root-only"
    hidden.mkdir()
    (hidden / "id_rsa").write_bytes(SECRET)
    os.utime(hidden / "id_rsa", (1_000_000_000, 1_000_000_000))      # older than 36 hours
    md = make_maildir(tmp_path / "Maildir")
    (md / "tmp").rmdir()
    os.symlink(hidden, md / "tmp")
    (md / "cur" / "1.host:2,S").write_bytes(b"Subject: mine\n\nbody\n")
    users(md)
    checked = run("validate", "--json", md)
    converted = run("convert", "--json", md, tmp_path / "out.mbox")
    assert converted.returncode == 0, converted.stderr
    assert b"id_rsa" not in checked.stdout + checked.stderr + converted.stdout + converted.stderr


@as_root
@pytest.mark.parametrize("kind", ["mbox", "mh"])
def test_a_linked_subfolder_is_not_named_as_left_out(tmp_path, kind):
    """Thunderbird's NAME.sbd/ or an MH subfolder that is a link to a root directory: no
    subfolder (--recursive never follows it), so the warning that names subfolders left out
    does not name it, and nothing of what it leads to is listed."""
    hidden = tmp_path / "root-only"
    hidden.mkdir()
    (hidden / "secrets").mkdir()
    if kind == "mbox":
        src = tmp_path / "Inbox"
        src.write_bytes(mbox_entry())
        os.symlink(hidden, tmp_path / "Inbox.sbd")
        users(src)
    else:
        src = tmp_path / "inbox"
        src.mkdir()
        (src / "1").write_bytes(b"From: a@example.org\nSubject: one\n\nbody\n")
        (src / ".mh_sequences").write_bytes(b"")
        os.symlink(hidden, src / "work")
        users(src)
    result = run("convert", "--json", *(["--from", "mh"] if kind == "mh" else []), src, tmp_path / "out")
    # in an MH folder any link is reported as a message that cannot be read (exit 1)
    assert result.returncode == (1 if kind == "mh" else 0), result.stderr
    codes = [w["code"] for w in json.loads(result.stdout)["warnings"]]
    assert "subfolders-not-converted" not in codes


@as_root
@pytest.mark.parametrize("sub", ["new", "tmp"])
def test_a_destination_maildir_with_a_linked_subdir_is_refused(tmp_path, sub):
    target = tmp_path / "root-only"
    target.mkdir()
    dst = make_maildir(tmp_path / "Maildir")
    (dst / sub).rmdir()
    os.symlink(target, dst / sub)
    users(dst)
    result = run("convert", SAMPLES / "inbox.mbox", dst)
    assert result.returncode == 2 and b"refusing to write into it" in result.stderr
    assert os.listdir(target) == []


@as_root
def test_courier_keywords_are_never_written_through_a_linked_keyword_dir(tmp_path):
    target = tmp_path / "root-only"
    target.mkdir()
    dst = make_maildir(tmp_path / "Maildir")
    os.symlink(target, dst / "courierimapkeywords")
    users(dst)
    src = tmp_path / "in.mbox"
    src.write_bytes(mbox_entry(headers="From: a@example.org\nSubject: t\nX-Keywords: work\n"))
    result = run("convert", src, dst)
    assert result.returncode == 2 and b"courierimapkeywords" in result.stderr
    assert os.listdir(target) == []


@as_root
@pytest.mark.formats(writable=True, is_file=False)
def test_a_destination_directory_that_is_a_link_is_refused(tmp_path, fmt):
    roots = tmp_path / "root-mail"
    convert_mailbox(SAMPLES / "inbox.mbox", roots, ConvertOptions(to_format=fmt), owner="root")
    before = sorted(p.name for p in roots.rglob("*"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "new.mbox").write_bytes(mbox_entry(body="the user's chosen bytes\n"))
    os.symlink(roots, home / "Mail")
    users(home)
    result = run("convert", "--to", fmt, home / "new.mbox", home / "Mail")
    assert result.returncode == 2 and b"symbolic link" in result.stderr
    assert sorted(p.name for p in roots.rglob("*")) == before


@as_root
def test_a_destination_mbox_that_is_a_link_is_not_appended_to(tmp_path):
    keys = secret_file(tmp_path, "authorized_keys")
    keys.write_bytes(b"")
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(keys, home / "mbox")
    users(home)
    result = run("convert", SAMPLES / "inbox.mbox", home / "mbox")
    assert result.returncode == 2 and b"symbolic link" in result.stderr
    assert keys.read_bytes() == b""


@as_root
def test_a_linked_move_source_is_refused_and_the_other_mailbox_kept(tmp_path):
    other = tmp_path / "root-only" / "mbox"
    other.parent.mkdir()
    other.write_bytes(mbox_entry(body="root's own mail\n"))
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(other, home / "inbox")
    users(home)
    before = other.read_bytes()
    result = run("convert", "--move", home / "inbox", home / "Maildir")
    assert result.returncode == 2 and b"symbolic link" in result.stderr
    assert other.read_bytes() == before


# -- control files written through guessable names -------------------------------------------

@as_root
def test_control_files_are_never_written_through_a_planted_temporary_name(tmp_path):
    """The temporary names mboxtool used (.NAME.<pid>.tmp) planted as links to a root file,
    for this process and every pid the next 300 processes may get: the root file is
    neither rewritten nor given away."""
    target = secret_file(tmp_path, "sudoers")
    md = make_maildir(tmp_path / "Maildir")
    (md / "new" / "1700000000.M1P2.mailhost").write_bytes(b"From: x@example.org\nSubject: delivered\n\nhi\n")
    last = next_pids()
    for pid in {os.getpid(), *range(last + 1, last + 300)}:
        for name in (".mboxtool-state", ".mboxtool-digests", ".dovecot-keywords"):
            os.symlink(target, md / f"{name}.{pid}.tmp")
    users(md)
    before = state_of(target)
    src = tmp_path / "in.mbox"
    src.write_bytes(mbox_entry(headers="From: a@example.org\nSubject: t\nX-Keywords: work\n"))
    report = convert_mailbox(src, md, ConvertOptions(), owner="root")
    assert report.ok and report.converted == 1
    assert (md / ".mboxtool-state").is_file() and (md / ".mboxtool-digests").is_file()
    assert (md / "dovecot-keywords").read_text() == "0 work\n"
    assert state_of(target) == before


@as_root
def test_subscription_lists_are_never_written_through_a_planted_temporary_name(tmp_path):
    target = secret_file(tmp_path, "passwd")
    root = make_maildir(tmp_path / "Maildir")
    (root / "courierimapsubscribed").write_text("INBOX.Old\n")
    last = next_pids()
    for pid in {os.getpid(), *range(last + 1, last + 300)}:
        os.symlink(target, root / f".courierimapsubscribed.{pid}.tmp")
    users(root)
    before = state_of(target)
    mail = tmp_path / "Mail"
    mail.mkdir()
    (mail / "Work").write_bytes(mbox_entry())
    report = convert_mailbox(mail / "Work", root / ".Work", ConvertOptions(), owner="root")
    assert report.ok and report.subscribed == ["Work"]
    assert (root / "courierimapsubscribed").read_text() == "INBOX.Old\nINBOX.Work\n"
    assert state_of(target) == before


@as_root
def test_the_append_journal_is_never_written_through_a_link(tmp_path):
    target = secret_file(tmp_path, "authorized_keys")
    home = tmp_path / "home"
    home.mkdir()
    box = home / "mbox"
    box.write_bytes(mbox_entry())
    users(home)
    before = state_of(target)
    writer = MboxWriter(box).open()
    try:
        os.symlink(target, home / "mbox.mboxtool-append")     # swapped in between batches
        writer.add(MailMessage(b"Subject: next\n\nbody\n", date=1_600_000_000))
        writer.commit()
    finally:
        writer.close()
    assert state_of(target) == before
    assert b"Subject: next" in box.read_bytes()


# -- folder names from a tree -------------------------------------------------------------------

def _maildirpp_root(tmp_path, hostile):
    """A user's Maildir++ root with a good folder on each side of the hostile ones (names as
    they are on disk)."""
    root = tmp_path / "Maildir"
    for name in ["", ".Aaa", *hostile, ".Zzz"]:
        folder = make_maildir(root / name) if name else make_maildir(root)
        (folder / "cur" / f"1.x{len(name)}:2,S").write_bytes(f"Subject: in {name or 'INBOX'}\n\nhi\n".encode())
    users(root)
    return root


@as_root
def test_a_folder_name_decoding_to_a_path_cannot_leave_the_destination(tmp_path):
    outside = tmp_path / "escaped"
    climbing = "." + mutf7_all("../../climbed")
    absolute = "." + mutf7_all(str(outside))
    src = _maildirpp_root(tmp_path, [climbing, absolute])
    dst = tmp_path / "home" / "Mail"
    result = run("convert", "--recursive", "--json", src, dst)
    assert result.returncode == 1, result.stderr
    assert not outside.exists() and not (tmp_path / "climbed").exists() and not (dst.parent.parent / "climbed").exists()
    report = json.loads(result.stdout)
    assert report["converted"] == 3 and (dst / "Aaa").is_file() and (dst / "Zzz").is_file()
    unsafe = [e for e in report["errors"] if e.get("code") == "folder-name-unsafe"]
    assert len(unsafe) == 2 and all("not a single file name" in e["message"] for e in unsafe)


@as_root
@pytest.mark.parametrize("hostile", ["." + mutf7_all("a\x00b"), ".L" + "x" * 240])
def test_one_odd_folder_name_fails_only_itself(tmp_path, hostile):
    """A NUL byte, or a name too long for the dotlock's temporary name beside it."""
    src = _maildirpp_root(tmp_path, [hostile])
    dst = tmp_path / "Mail"
    result = run("convert", "--recursive", "--json", src, dst)
    assert result.returncode == 1 and b"internal error" not in result.stderr
    report = json.loads(result.stdout)
    assert report["converted"] == 3 and (dst / "Aaa").is_file() and (dst / "Zzz").is_file()
    assert [e["code"] for e in report["errors"]] == ["folder-name-unsafe"]
    assert "not converted" in report["errors"][0]["message"] and "\x00" not in report["errors"][0]["message"]


# -- trees never leave themselves ----------------------------------------------------------------

@as_root
def test_a_recursive_mbox_tree_does_not_follow_links_out_of_it(tmp_path):
    private = tmp_path / "root-only"
    private.mkdir()
    (private / "mbox").write_bytes(mbox_entry(headers="From: root@example.org\nSubject: root's\n"))
    (private / "Archive").mkdir()
    (private / "Archive" / "old").write_bytes(mbox_entry(headers="From: root@example.org\nSubject: archived\n"))
    mail = tmp_path / "Mail"
    mail.mkdir()
    (mail / "Inbox").write_bytes(mbox_entry())
    os.symlink(private / "mbox", mail / "stolen")
    os.symlink(private / "Archive", mail / "Archive.sbd")
    users(mail)
    dst = tmp_path / "Maildir"
    result = run("convert", "--recursive", "--json", mail, dst)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["converted"] == 1
    assert b"root's" not in all_bytes(dst) and b"archived" not in all_bytes(dst)
    warning = next(w for w in report["warnings"] if w["code"] == "symlink-not-followed")
    assert sorted(os.path.basename(f) for f in warning["files"]) == ["Archive.sbd", "stolen"]


@as_root
def test_a_recursive_maildir_tree_does_not_follow_a_linked_folder(tmp_path):
    roots = tmp_path / "root-only" / "Maildir"
    convert_mailbox(SAMPLES / "inbox.mbox", roots, ConvertOptions(), owner="root")
    src = _maildirpp_root(tmp_path, [])
    os.symlink(roots, src / ".Stolen")
    users(src)
    dst = tmp_path / "Mail"
    result = run("convert", "--recursive", "--json", src, dst)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["converted"] == 3
    assert not (dst / "Stolen").exists()
    assert any(w["code"] == "symlink-not-followed" for w in report["warnings"])


def test_move_from_an_eml_folder_swapped_for_a_link_removes_nothing_at_the_link(tmp_path):
    """--move removes each converted message file through the folder's descriptor, opened when
    the folder was read: a folder swapped for a link to another directory before the removal
    cannot make it delete a file of the same name there."""
    from mboxtool import EmlReader
    folder, elsewhere = tmp_path / "export", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "a.eml").write_bytes(b"From: a@example.org\nSubject: a\n\nbody\n")
    (elsewhere / "a.eml").write_bytes(b"not yours\n")
    reader = EmlReader(folder)
    try:
        assert [m.key for m in reader] == ["a.eml"]
        folder.rename(tmp_path / "moved")
        folder.symlink_to(elsewhere)
        reader.remove("a.eml")
    finally:
        reader.close()
    assert (elsewhere / "a.eml").read_bytes() == b"not yours\n"
    assert not (tmp_path / "moved" / "a.eml").exists()
