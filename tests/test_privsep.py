"""Root running the documented commands over a mailbox its user controls: the work runs as
that user, so whatever a symlink in the mailbox points at is only what the user could reach
anyway (privilege separation, docs/security.md), and what is created is the user's.

The user ('nobody') prepares its own mailbox; root-only files stand in for /etc/shadow,
/root/.ssh/authorized_keys, root's mbox and Maildir, and a directory like /etc/ssh. Each
test checks the root-only bytes never reach the output and the root-only files are
unchanged and still root's."""

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from mboxtool import ConvertOptions, UsageError, convert_mailbox
from mboxtool.fs import privsep

from .conftest import ROOT, mbox_entry, python_cmd

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="acting as another user needs root")

USER = pwd.getpwnam("nobody")
UID, GID = USER.pw_uid, USER.pw_gid
SECRET = b"ROOT-ONLY-SECRET"
SECRET_MAIL = (b"From: root@secret.example\nSubject: " + SECRET + b"\n\nroot:$6$" + SECRET + b":19000::\n")
USER_MAIL = mbox_entry("alice@example.org") + mbox_entry("bob@example.org", body="second\n")


@pytest.fixture
def base():
    """A 0755 directory the user can reach (pytest's tmp dirs are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="mboxtool-privsep-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class RootFiles:
    """Root-only files (0600 in a 0700 directory), and a 0755 directory of files like /etc/ssh."""

    def __init__(self, base: Path):
        self.dir = base / "root-only"
        self.dir.mkdir(mode=0o700)
        self.shadow = self._file("shadow", SECRET_MAIL)
        self.authorized_keys = self._file("authorized_keys", b"")
        self.mbox = self._file("root.mbox", b"From root Mon Jan  6 10:00:00 2020\n" + SECRET_MAIL + b"\n")
        self.maildir = self.dir / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, mode=0o700)
        self._file("Maildir/cur/1.root:2,S", SECRET_MAIL)
        self.ssh = base / "etc-ssh"                  # readable directory, files of both kinds
        self.ssh.mkdir(mode=0o755)
        self._file("../etc-ssh/ssh_host_key", SECRET_MAIL)
        (self.ssh / "ssh_host_key.pub").write_bytes(b"From: pub@example.org\nSubject: public\n\nkey\n")
        self.before = self.snapshot()

    def _file(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        os.chmod(path, 0o600)
        return path

    def snapshot(self) -> dict:
        return {str(p): (p.read_bytes(), p.stat().st_uid, stat.S_IMODE(p.stat().st_mode))
                for top in (self.dir, self.ssh) for p in [top, *top.rglob("*")] if p.is_file()} | \
               {str(p): sorted(os.listdir(p)) for top in (self.dir, self.ssh) for p in [top, *top.rglob("*")]
                if p.is_dir()}

    def assert_unharmed(self, *outputs: Path | bytes | str) -> None:
        assert self.snapshot() == self.before
        for out in outputs:
            assert SECRET not in everything_in(out)


@pytest.fixture
def root_files(base):
    return RootFiles(base)


def everything_in(out) -> bytes:
    """All bytes of an output: a file, every file of a directory, or captured text."""
    if isinstance(out, str):
        return out.encode()
    if isinstance(out, bytes):
        return out
    if out.is_dir():
        return b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file() and not p.is_symlink())
    return out.read_bytes() if out.is_file() and not out.is_symlink() else b""


def users(path: Path) -> Path:
    """Give ``path`` and everything under it to the user, as if the user had made it."""
    for p in [path, *path.rglob("*")]:
        os.lchown(p, UID, GID)
    return path


def mboxtool(*args):
    """Run the CLI as root, from a directory the user cannot enter (as cron from /root)."""
    cwd = Path(tempfile.mkdtemp(prefix="mboxtool-cwd-"))
    try:
        result = subprocess.run([*python_cmd(), *map(str, args)], capture_output=True, cwd=cwd, timeout=120,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        cwd.rmdir()
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def refused(result) -> str:
    """The one stderr line of a run refused with exit 2."""
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result
    return lines[0]


def users_maildir(base: Path, name: str = "Maildir") -> Path:
    md = base / "home" / name
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True, exist_ok=True)
    (md / "cur" / "1700000000.M1P1.host:2,S").write_bytes(b"From: alice@example.org\nSubject: mine\n\nhello\n")
    return md


def owned_by_user(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        st = os.lstat(p)
        assert (st.st_uid, st.st_gid) == (UID, GID), p
        assert stat.S_IMODE(st.st_mode) == (0o700 if p.is_dir() else 0o600), p


# -- 1. symlinked message files -------------------------------------------------------

@pytest.mark.parametrize("to", ["mbox", "maildir"])          # a file and a directory
def test_a_maildir_message_symlinked_to_a_root_only_file_is_not_read(base, root_files, to):
    md = users_maildir(base)
    os.symlink(root_files.shadow, md / "cur" / "1700000001.M2P2.host:2,S")
    users(base / "home")
    out = base / "home" / f"out-{to}"
    result = mboxtool("convert", "--to", to, md, out)
    root_files.assert_unharmed(out, result.stdout, result.stderr)
    assert result.returncode == 1                               # the link is a message that failed
    assert b"mine" in everything_in(out)
    owned_by_user(out)


@pytest.mark.parametrize("kind", ["mh", "eml"])               # folders of plain message files; Maildir: above
def test_mh_and_eml_messages_symlinked_to_root_only_files_are_not_read(base, root_files, kind):
    src = base / "home" / "Mail" / "inbox"
    src.mkdir(parents=True)
    names = ("1", "2") if kind == "mh" else ("a.eml", "b.eml")
    (src / names[0]).write_bytes(b"From: alice@example.org\nSubject: mine\n\nhello\n")
    os.symlink(root_files.shadow, src / names[1])
    users(base / "home")
    out = base / "home" / "inbox.mbox"
    result = mboxtool("convert", "--from", kind, src, out)
    root_files.assert_unharmed(out, result.stdout, result.stderr)
    assert result.returncode in (1, 2), result.stderr         # the link failed, or stopped the run


def test_inspecting_a_maildir_with_a_symlinked_message_shows_nothing_of_its_target(base, root_files):
    md = users_maildir(base)
    os.symlink(root_files.shadow, md / "cur" / "1700000001.M2P2.host:2,S")
    users(base / "home")
    outputs = [mboxtool("info", "--json", md), mboxtool("list", "--json", md),
               mboxtool("show", md, 2), mboxtool("validate", "--json", md)]
    for result in outputs:
        root_files.assert_unharmed(result.stdout, result.stderr)
        assert b"secret.example" not in result.stdout + result.stderr
    info, listing, shown, validated = outputs
    assert json.loads(info.stdout)["messages"] == 1
    assert len(listing.stdout.splitlines()) == 1
    assert shown.returncode == 2                               # there is no second message to show
    report = json.loads(validated.stdout)
    assert validated.returncode == 1 and report["messages"] == 1
    assert any(p["code"] == "symlink" and p["severity"] == "error" for p in report["problems"])   # never followed


def test_repair_of_a_maildir_with_a_symlinked_message_copies_nothing_of_its_target(base, root_files):
    md = users_maildir(base)
    os.symlink(root_files.shadow, md / "cur" / "1700000001.M2P2.host:2,S")
    users(base / "home")
    out = base / "home" / "repaired"
    result = mboxtool("repair", md, out)
    root_files.assert_unharmed(out, result.stdout, result.stderr)
    assert result.returncode in (0, 1), result.stderr
    assert b"mine" in everything_in(out)
    owned_by_user(out)


def test_repair_as_the_user_needs_a_destination_the_user_can_write(base, root_files):
    (base / "spool").mkdir()
    mbox = base / "spool" / "nobody"
    mbox.write_bytes(USER_MAIL)
    users(base / "spool")
    out = root_files.dir / "repaired.mbox"                      # root's: the user cannot write there
    result = mboxtool("repair", mbox, out)
    root_files.assert_unharmed()
    assert "cannot write" in refused(result)


# -- 2. symlinked cur/ and new/ --------------------------------------------------------

def test_a_maildir_whose_new_is_a_root_only_directory_reads_nothing_there(base, root_files):
    md = users_maildir(base)
    (md / "new").rmdir()
    os.symlink(root_files.dir, md / "new")
    users(base / "home")
    out = base / "home" / "out.mbox"
    result = mboxtool("convert", md, out)
    root_files.assert_unharmed(out, result.stdout, result.stderr)


def test_move_from_a_maildir_whose_new_is_a_system_directory_removes_nothing_there(base, root_files):
    md = users_maildir(base)
    (md / "new").rmdir()
    os.symlink(root_files.ssh, md / "new")
    users(base / "home")
    out = base / "home" / "out.mbox"
    result = mboxtool("convert", "--move", md, out)
    root_files.assert_unharmed(out, result.stdout, result.stderr)
    assert sorted(os.listdir(root_files.ssh)) == ["ssh_host_key", "ssh_host_key.pub"]


# -- 3. symlinked destinations ---------------------------------------------------------

@pytest.fixture
def spool(base):
    """The user's spool file, in a spool directory like Debian's /var/mail (root:mail 2775)."""
    directory = base / "spool"
    directory.mkdir()
    os.chown(directory, 0, 8)
    os.chmod(directory, 0o2775)
    path = directory / "nobody"
    path.write_bytes(USER_MAIL)
    os.chown(path, UID, 8)
    os.chmod(path, 0o660)
    return path


@pytest.mark.parametrize("target", ["authorized_keys", "mbox"])
def test_a_destination_mbox_symlinked_to_a_root_file_is_not_written(base, root_files, spool, target):
    home = base / "home"
    home.mkdir()
    dst = home / "mail.mbox"
    os.symlink(getattr(root_files, target), dst)
    users(home)
    result = mboxtool("convert", "--move", "--to", "mbox", spool, dst)
    root_files.assert_unharmed()
    assert spool.read_bytes() == USER_MAIL
    refused(result)


def test_a_destination_maildir_symlinked_to_roots_maildir_is_not_written(base, root_files, spool):
    home = base / "home"
    home.mkdir()
    os.symlink(root_files.maildir, home / "Maildir")
    users(home)
    result = mboxtool("convert", "--move", spool, home / "Maildir")
    root_files.assert_unharmed()
    assert spool.read_bytes() == USER_MAIL
    refused(result)


def test_a_destination_maildir_whose_new_is_a_root_directory_gets_no_file_there(base, root_files, spool):
    md = users_maildir(base)
    (md / "new").rmdir()
    os.symlink(root_files.dir, md / "new")
    users(base / "home")
    result = mboxtool("convert", spool, md)
    root_files.assert_unharmed()
    assert spool.read_bytes() == USER_MAIL


# -- 6. trees with symlinks out of the tree ---------------------------------------------

def users_mail_tree(base: Path, root_files: RootFiles) -> Path:
    tree = base / "home" / "Mail"
    (tree / "work.sbd").mkdir(parents=True)
    (tree / "inbox").write_bytes(USER_MAIL)
    (tree / "work.sbd" / "projects").write_bytes(mbox_entry("carol@example.org"))
    os.symlink(root_files.mbox, tree / "archive")
    os.symlink(root_files.mbox, tree / "work.sbd" / "old")
    users(base / "home")
    return tree


@pytest.mark.parametrize("move", [False, True])
def test_a_tree_with_a_symlink_to_a_root_mbox_converts_none_of_it(base, root_files, move):
    tree = users_mail_tree(base, root_files)
    out = base / "home" / "Maildir"
    result = mboxtool("convert", "--recursive", *(["--move"] if move else []), tree, out)
    assert b"carol@example.org" in everything_in(out)
    root_files.assert_unharmed(out, result.stdout, result.stderr)
    owned_by_user(out)
    info = mboxtool("info", "--recursive", "--json", tree)
    root_files.assert_unharmed(info.stdout, info.stderr)


def test_a_maildirpp_tree_with_a_folder_symlinked_to_roots_maildir_converts_none_of_it(base, root_files):
    md = users_maildir(base)
    os.symlink(root_files.maildir, md / ".Archive")
    (md / ".Sent" / "cur").mkdir(parents=True)
    for sub in ("new", "tmp"):
        (md / ".Sent" / sub).mkdir()
    (md / ".Sent" / "cur" / "1700000002.M3P3.host:2,S").write_bytes(b"From: me@example.org\nSubject: sent\n\nx\n")
    users(base / "home")
    out = base / "home" / "mbox-tree"
    result = mboxtool("convert", "--recursive", md, out)
    assert b"Subject: sent" in everything_in(out)
    root_files.assert_unharmed(out, result.stdout, result.stderr)


# -- ownership: mail ends up owned by its user ------------------------------------------

def test_move_into_the_maildir_of_a_user_without_a_home_makes_it_the_users(base, spool):
    home = base / "home"
    home.mkdir(mode=0o755)                                       # /home: root's
    dst = home / "nohome" / "Maildir"
    result = mboxtool("convert", "--move", spool, dst)
    assert result.returncode == 0, result.stderr
    owned_by_user(home / "nohome")
    assert len(os.listdir(dst / "new")) == 2
    assert spool.read_bytes() == b""
    assert not (spool.parent / "nobody.lock").exists()


def test_a_root_made_maildir_is_refused_before_the_spool_is_touched(base, spool):
    home = base / "home" / "zed"
    home.mkdir(parents=True)
    users(home)
    md = users_maildir(base, "zed/Maildir")                     # made by root, as the admin did
    before = sorted(p.name for p in md.rglob("*"))
    result = mboxtool("convert", "--move", spool, md)
    assert spool.read_bytes() == USER_MAIL
    assert f"chown -R nobody: {md}" in refused(result)
    assert sorted(p.name for p in md.rglob("*")) == before
    assert md.stat().st_uid == 0


def test_a_destination_the_owner_cannot_reach_is_refused(base, root_files, spool):
    dst = root_files.dir / "nobody" / "Maildir"
    result = mboxtool("convert", "--move", spool, dst)
    assert spool.read_bytes() == USER_MAIL
    root_files.assert_unharmed()
    assert "nobody cannot enter" in refused(result)


def test_owner_option_gives_a_root_owned_source_to_its_user(base):
    src = base / "archive.mbox"                                   # root's file, readable by all
    src.write_bytes(USER_MAIL)
    os.chmod(src, 0o644)
    home = base / "home"
    home.mkdir()
    users(home)
    result = mboxtool("convert", "--owner", "nobody", src, home / "Maildir")
    assert result.returncode == 0, result.stderr
    owned_by_user(home / "Maildir")


@pytest.mark.parametrize("spec, word", [("no-such-user-x", "user"), ("nobody:no-such-group-x", "group")])
def test_an_unknown_owner_is_one_line_and_exit_2(base, spec, word):
    src = base / "a.mbox"
    src.write_bytes(USER_MAIL)
    result = mboxtool("convert", "--owner", spec, src, base / "Maildir")
    assert f"no such {word}" in refused(result)
    assert not (base / "Maildir").exists()


def test_only_root_may_name_another_owner(base):
    src = base / "a.mbox"
    src.write_bytes(USER_MAIL)
    users(src)
    result = subprocess.run(["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups",
                             *python_cmd(), "convert", "--owner", "root", str(src), str(base / "x")],
                            capture_output=True, cwd="/", env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert b"only root" in result.stderr and b"Traceback" not in result.stderr


# -- the library: convert_mailbox(owner=...) works in a child as the user -----------------

def test_the_library_converts_as_the_owner_in_a_child_and_relays_progress(base, spool):
    home = base / "home"
    home.mkdir()
    users(home)
    seen, totals = [], []
    report = convert_mailbox(spool, home / "Maildir", ConvertOptions(), progress=seen.append,
                             progress_total=lambda total, unit: totals.append(unit), owner="nobody")
    assert report.ok and report.converted == 2
    assert sum(seen) > 0 and totals == ["B"]                     # called here, from the child's reports
    owned_by_user(home / "Maildir")
    assert os.geteuid() == 0                                      # the caller is still root


def test_the_library_raises_the_childs_error_in_the_caller(base, spool):
    md = users_maildir(base)                                       # root-made: refused
    with pytest.raises(UsageError, match="chown -R nobody"):
        convert_mailbox(spool, md, ConvertOptions())
    assert spool.read_bytes() == USER_MAIL


def test_run_as_drops_every_id_for_good():
    work = privsep.Plan(privsep.User(UID, GID, "nobody"))

    def ids():
        import ctypes
        dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)        # PR_GET_DUMPABLE
        return os.getresuid(), os.getresgid(), os.getgroups(), dumpable
    assert privsep.run_as(work, ids) == ((UID,) * 3, (GID,) * 3, [GID], 0)


def test_the_spool_directorys_group_is_kept_only_for_a_dotlock_there(base, spool):
    """Debian's /var/mail is root:mail 2775: --move must make nobody.lock there, as
    Dovecot's mail_privileged_group; a Maildir destination in the user's home needs nothing."""
    home = base / "home"
    home.mkdir()
    users(home)
    moving = privsep.plan(spool, None, home / "Maildir", locked=(spool,))
    reading = privsep.plan(spool, None, home / "Maildir", locked=())
    assert moving.groups == [GID, 8] and reading.groups == [GID]


def test_a_dry_run_for_a_user_without_a_home_makes_nothing(base, spool):
    home = base / "home"
    home.mkdir(mode=0o755)
    result = mboxtool("convert", "--dry-run", "--move", spool, home / "nohome" / "Maildir")
    assert result.returncode == 0, result.stderr
    assert b"would convert 2 messages" in result.stdout
    assert os.listdir(home) == [] and spool.read_bytes() == USER_MAIL


def test_an_installation_only_root_can_read_still_works_as_the_user(base, root_files):
    """Root's own virtualenv (under /root, 0700): what the command imports late is imported
    before root is given up."""
    package = root_files.dir / "site"
    shutil.copytree(ROOT / "mboxtool", package / "mboxtool", ignore=shutil.ignore_patterns("__pycache__"))
    tree = users_mail_tree(base, root_files)
    for args in (["convert", "--recursive", tree, base / "home" / "Maildir"], ["validate", tree / "inbox"],
                 ["info", "--recursive", tree], ["list", tree / "inbox"]):
        result = subprocess.run([*python_cmd(), *map(str, args)], capture_output=True, cwd="/",
                                env={**os.environ, "PYTHONPATH": str(package)}, timeout=120)
        assert result.returncode == 0, result.stderr
        assert b"internal error" not in result.stderr


def test_root_makes_only_the_missing_home_never_a_chain_of_directories(base, spool):
    dst = base / "homes" / "nohome" / "Maildir"                  # /home itself is missing
    assert "cannot create" in refused(mboxtool("convert", "--move", spool, dst))
    assert not (base / "homes").exists() and spool.read_bytes() == USER_MAIL


def test_validate_of_several_paths_checks_each_as_its_owner(base, root_files, monkeypatch):
    """validate PATH... (and --recursive), run as root: each path is read by its owner, as a
    single 'validate PATH' is; the combined run kept root for every mailbox."""
    from mboxtool import validate_many
    real = validate_many.validate_mailbox

    def recording(path, *args, **kwargs):          # the forked child inherits it
        report = real(path, *args, **kwargs)
        report.variant_evidence.append(f"euid={os.geteuid()}")
        return report
    monkeypatch.setattr(validate_many, "validate_mailbox", recording)
    md = users_maildir(base)
    users(md.parent)                                # the user's home and Maildir
    spool = base / "spool"
    spool.write_bytes(USER_MAIL)
    users(spool)
    result = validate_many.validate_paths([md, spool, root_files.mbox])
    assert [r.variant_evidence[-1] for _, r in result.reports] == [f"euid={UID}", f"euid={UID}", "euid=0"]
    assert result.ok and len(result.reports) == 3
    tree = validate_many.validate_paths([md.parent], recursive=True)
    assert {r.variant_evidence[-1] for _, r in tree.reports} == {f"euid={UID}"}
