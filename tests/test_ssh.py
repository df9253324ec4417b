"""put, get and exec of aws_helper against a real OpenSSH server on 127.0.0.1 with a generated key: uploads
with exclusions that skip unchanged files, downloads, streamed remote output and exit statuses, host keys
pinned on first use, and clear failures for a wrong key or an unreachable host."""

import io
import os
import pathlib
import shutil
import subprocess
import sys
import time

import paramiko
import pytest

from aws.remote import Remote, RemoteError
from services import SSHD, ssh_server

ROOT = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not os.path.exists(SSHD), reason="needs OpenSSH's sshd (Debian: openssh-server)")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with ssh_server(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def connect(sshd, tmp_path, **options):
    return Remote("127.0.0.1", sshd.user, options.pop("key", sshd.key), port=sshd.port,
                  known_hosts=tmp_path / "keys" / "known_hosts", **options)


def make_tree(root: pathlib.Path) -> pathlib.Path:
    project = root / "project"
    for relative, content in (("a.py", b"print('a')\n"), ("sub/b.bin", os.urandom(300_000)),
                              ("run.sh", b"#!/bin/sh\necho run\n"), (".git/config", b"[core]\n"),
                              ("__pycache__/a.cpython-311.pyc", b"\0"), ("keys/secret.pem", b"secret"),
                              ("notes.tmp", b"scratch")):
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (project / "run.sh").chmod(0o755)
    return project


def test_put_uploads_a_tree_leaving_out_excluded_names_and_unchanged_files(sshd, tmp_path):
    project = make_tree(tmp_path)
    remote_root = tmp_path / "remote"
    excludes = (".git", "__pycache__", "keys", "*.tmp")
    with connect(sshd, tmp_path) as remote:
        first = remote.put(project, str(remote_root), excludes=excludes)
        uploaded = remote_root / "project"
        assert sorted(str(p.relative_to(uploaded)) for p in uploaded.rglob("*") if p.is_file()) == \
            ["a.py", "run.sh", "sub/b.bin"]
        assert (uploaded / "sub" / "b.bin").read_bytes() == (project / "sub" / "b.bin").read_bytes()
        assert os.access(uploaded / "run.sh", os.X_OK), "file modes travel"
        assert (first.files, first.skipped) == (3, 0) and first.bytes > 300_000
        again = remote.put(project, str(remote_root), excludes=excludes)
        assert (again.files, again.skipped) == (0, 3), "unchanged files are not sent again"
        (project / "a.py").write_text("print('changed')\n")
        os.utime(project / "a.py", (time.time() + 10, time.time() + 10))
        changed = remote.put(project, str(remote_root), excludes=excludes, name="renamed")
        assert changed.files == 3, "another name is another folder"
        last = remote.put(project, str(remote_root), excludes=excludes)
        assert (last.files, last.skipped) == (1, 2)
        assert (uploaded / "a.py").read_text() == "print('changed')\n"


def test_get_downloads_a_folder_and_a_file(sshd, tmp_path):
    source = make_tree(tmp_path)
    with connect(sshd, tmp_path) as remote:
        stats = remote.get(str(source / "sub"), tmp_path / "down")
        single = remote.get(str(source / "a.py"), tmp_path / "one")
        with pytest.raises(RemoteError, match="does not exist"):
            remote.get(str(tmp_path / "missing"), tmp_path / "down")
    assert (tmp_path / "down" / "sub" / "b.bin").read_bytes() == (source / "sub" / "b.bin").read_bytes()
    assert (tmp_path / "one" / "a.py").read_text() == "print('a')\n"
    assert (stats.files, single.files) == (1, 1)


def test_exec_streams_both_outputs_and_returns_the_exit_status(sshd, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text('#!/bin/bash\necho "args: $# [$1] [$2] env: $GREETING"\necho oops >&2\nexit 3\n')
    out, err = io.StringIO(), io.StringIO()
    with connect(sshd, tmp_path) as remote:
        status = remote.run_script(script, "'two words' second", str(tmp_path / "remote dir"),
                                   environment={"GREETING": "hello"}, stdout=out, stderr=err)
        assert remote.run("printf 'é\\n'; exit 0", stdout=out) == 0
    assert status == 3
    assert out.getvalue() == "args: 2 [two words] [second] env: hello\né\n" and err.getvalue() == "oops\n"
    assert os.access(tmp_path / "remote dir" / "job.sh", os.X_OK)


def test_the_host_key_is_pinned_and_a_changed_key_is_refused(sshd, tmp_path):
    with connect(sshd, tmp_path, alias="i-0123456789abcdef0"):
        pass
    known_hosts = tmp_path / "keys" / "known_hosts"
    assert known_hosts.read_text().startswith("i-0123456789abcdef0 ssh-ed25519 ")
    assert oct(known_hosts.stat().st_mode & 0o777) == "0o600"
    with connect(sshd, tmp_path, alias="i-0123456789abcdef0"):  # the same key again: accepted
        pass
    impostor = paramiko.Ed25519Key.from_private_key_file(str(sshd.folder / "host_key"))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = paramiko.Ed25519Key.from_private_key_file(str(tmp_path / "other"))
    assert other.get_base64() != impostor.get_base64()
    known_hosts.write_text(f"i-0123456789abcdef0 ssh-ed25519 {other.get_base64()}\n")
    with pytest.raises(RemoteError, match="host key of i-0123456789abcdef0 .* changed.*delete the 'i-0123"):
        connect(sshd, tmp_path, alias="i-0123456789abcdef0").connect()


def test_a_wrong_key_fails_at_once_and_an_unreachable_host_after_the_timeout(sshd, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(tmp_path / "wrong")],
                   check=True)
    started = time.monotonic()
    with pytest.raises(RemoteError, match="refused.*--user"):
        connect(sshd, tmp_path, key=tmp_path / "wrong", timeout_s=60).connect()
    assert time.monotonic() - started < 20, "a rejected key is not retried"
    closed = Remote("127.0.0.1", sshd.user, sshd.key, port=1, timeout_s=2, known_hosts=tmp_path / "kh")
    with pytest.raises(RemoteError, match="no SSH connection to 127.0.0.1:1 after 2 s.*security group"):
        closed.connect()
    with pytest.raises(RemoteError, match="private key .* not found"):
        connect(sshd, tmp_path, key=tmp_path / "absent.pem").connect()
    (tmp_path / "garbage.pem").write_text("not a key\n")
    with pytest.raises(RemoteError, match="cannot read the private key .*garbage.pem"):
        connect(sshd, tmp_path, key=tmp_path / "garbage.pem").connect()


def helper(*args, **options):
    return subprocess.run([sys.executable, "aws/aws_helper.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, **options)


def test_cli_put_exec_get_against_any_ssh_host(sshd, tmp_path):
    project = make_tree(tmp_path)
    ssh = ["--host", "127.0.0.1", "--port", str(sshd.port), "--user", sshd.user, "--identity", str(sshd.key),
           "--keys-dir", str(tmp_path / "keys")]
    put = helper("put", *ssh, "--source", str(project), "--target", str(tmp_path / "remote"), "--exclude", "*.tmp")
    assert put.returncode == 0, put.stderr
    assert "put: " in put.stderr and "(100 %)" in put.stderr, "upload progress is shown"
    uploaded = tmp_path / "remote" / "project"
    assert (uploaded / "a.py").is_file() and not (uploaded / "notes.tmp").exists()
    assert not (uploaded / ".git").exists() and not (uploaded / "keys").exists(), "defaults stay excluded"
    job = tmp_path / "job.sh"
    job.write_text("#!/bin/sh\nls \"$1\"\nexit 5\n")
    run = helper("exec", *ssh, "--script", str(job), "--script-args", str(uploaded), "--remote-dir",
                 str(tmp_path / "scripts"))
    assert run.returncode == 5 and run.stdout.split() == ["a.py", "run.sh", "sub"]
    assert helper("exec", *ssh, "--command", "echo hi; exit 0").stdout == "hi\n"
    both = helper("exec", *ssh)
    assert both.returncode == 1 and "exactly one of --script FILE or --command" in both.stderr
    get = helper("get", *ssh, "--source", str(uploaded / "sub"), "--target", str(tmp_path / "back"))
    assert get.returncode == 0 and (tmp_path / "back" / "sub" / "b.bin").stat().st_size == 300_000
    no_key = helper("put", "--host", "127.0.0.1", "--port", str(sshd.port), "--source", str(project))
    assert no_key.returncode == 1 and "--host needs --identity" in no_key.stderr
    shutil.rmtree(tmp_path / "remote")


def test_a_key_of_another_type_than_the_pinned_one_is_refused(sshd, tmp_path):
    """An ECDSA key is pinned for the alias; the host presents its Ed25519 key: refused, and not added."""
    known_hosts = tmp_path / "keys" / "known_hosts"
    known_hosts.parent.mkdir(parents=True)
    pinned = paramiko.ECDSAKey.generate()
    known_hosts.write_text(f"i-0123456789abcdef0 {pinned.get_name()} {pinned.get_base64()}\n")
    with pytest.raises(RemoteError, match="presented ssh-ed25519 .* the pinned key is ecdsa-sha2-nistp256"):
        connect(sshd, tmp_path, alias="i-0123456789abcdef0").connect()
    assert known_hosts.read_text().count("\n") == 1, "the other key was not added"


def test_values_put_into_remote_commands_are_quoted(sshd, tmp_path):
    """A project folder value that tries to add a command runs no command; '~/...' still means the home
    folder; paths with spaces work."""
    from aws.remote import shell_path
    marker = tmp_path / "pwned"
    script = tmp_path / "show.sh"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$PROJECT_DIR"\n')
    out = io.StringIO()
    evil = f"~/p; touch {marker} #"
    with connect(sshd, tmp_path) as remote:
        home = io.StringIO()
        remote.run('printf "%s" "$HOME"', stdout=home)
        status = remote.run_script(script, remote_dir=str(tmp_path / "with space"),
                                   environment={"PROJECT_DIR": shell_path(evil)}, stdout=out)
        assert remote.run(f"cd {shell_path(str(tmp_path / 'with space'))} && test -x show.sh") == 0
    assert status == 0 and not marker.exists()
    assert out.getvalue() == f"{home.getvalue()}/p; touch {marker} #\n"


def test_get_refuses_remote_names_that_leave_the_target(tmp_path, monkeypatch):
    """A server listing '../../x' (a stand-in for a hostile SFTP server: OpenSSH never lists such names)
    gets nothing written, inside or outside the target."""
    import stat as stat_module
    from types import SimpleNamespace

    class HostileSftp:
        def stat(self, path):
            return SimpleNamespace(st_mode=stat_module.S_IFDIR | 0o755, st_size=0)

        def listdir_attr(self, path):
            return [SimpleNamespace(filename="../../x", st_mode=stat_module.S_IFREG | 0o644, st_size=3)]

        def get(self, *args, **kwargs):
            raise AssertionError("nothing may be downloaded")

    remote = Remote("127.0.0.1", "user", tmp_path / "key")
    monkeypatch.setattr(Remote, "sftp", property(lambda self: HostileSftp()))
    with pytest.raises(RemoteError, match="listed '../../x' .* not a plain file name"):
        remote.get("data", tmp_path / "down")
    assert not (tmp_path / "down").exists() and not (tmp_path.parent / "x").exists()
