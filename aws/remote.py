"""SSH and SFTP to an instance (paramiko): connecting while it boots, a host key pinned on first use, uploads and
downloads with progress, and remote commands with their output streamed.

Host keys are kept in ``known_hosts`` beside the private keys, under the instance id (or ``[host]:port``), so an
instance keeps its identity when a restart gives it a new public IP, and a changed key is refused.
"""

from __future__ import annotations

import codecs
import fnmatch
import logging
import os
import pathlib
import posixpath
import re
import select
import shlex
import stat
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Callable

import paramiko

log = logging.getLogger("aws_helper")

OUTPUT_AFTER_EXIT_S = 5.0  # seconds a command's output is still read after its exit status came
#: Names never uploaded by ``put`` (matched against every path component); ``--exclude`` adds more.
DEFAULT_EXCLUDES = (".git", "keys", "__pycache__", "map_cache", ".venv", ".venv-*", "*.pyc", ".pytest_cache",
                    "*.egg-info", "ray_results")


class RemoteError(Exception):
    """An SSH or transfer failure with its fix."""


class _PinnedHostKey(paramiko.MissingHostKeyPolicy):
    """Accept a host's key the first time (saved under ``alias``), and only that key afterwards."""

    def __init__(self, known_hosts: pathlib.Path, alias: str) -> None:
        self.known_hosts, self.alias = known_hosts, alias

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        keys = paramiko.HostKeys()
        if self.known_hosts.is_file():
            keys.load(str(self.known_hosts))
        pinned = keys.lookup(self.alias) or {}
        if pinned:  # one key is pinned per host: any other key (of another type too) is refused
            if pinned.get(key.get_name()) != key:
                expected = ", ".join(f"{name} {value.fingerprint}" for name, value in pinned.items())
                raise RemoteError(
                    f"the host key of {self.alias} ({hostname}) changed: it presented {key.get_name()} "
                    f"{key.fingerprint}, the pinned key is {expected}. This may be an attack, or the machine was "
                    f"rebuilt. Fix: if you trust the change, delete the '{self.alias}' line of {self.known_hosts}.")
            return
        keys.add(self.alias, key.get_name(), key)
        self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys.save(str(self.known_hosts))
        self.known_hosts.chmod(0o600)
        log.info("host key of %s (%s) pinned: %s", self.alias, hostname, key.fingerprint)


@dataclass
class TransferStats:
    """What a ``put`` or ``get`` moved."""

    files: int = 0
    bytes: int = 0
    skipped: int = 0
    seconds: float = 0.0


@dataclass
class _Progress:
    """Byte progress of a transfer: a rewritten line on a terminal, a line per 25 % elsewhere."""

    verb: str
    total: int
    files: int
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    done: int = 0
    _shown: float = 0.0
    _quarter: int = 0

    def advance(self, count: int) -> None:
        self.done += count
        fraction = self.done / self.total if self.total else 1.0
        if self.stream.isatty():
            if time.monotonic() - self._shown > 0.2 or self.done >= self.total:
                self._shown = time.monotonic()
                self.stream.write(f"\r{self.verb}: {self.done / 1e6:8.1f} / {self.total / 1e6:.1f} MB "
                                  f"({100 * fraction:3.0f} %)")
                self.stream.flush()
        elif int(fraction * 4) > self._quarter:
            self._quarter = int(fraction * 4)
            self.stream.write(f"{self.verb}: {self.done / 1e6:.1f} / {self.total / 1e6:.1f} MB "
                              f"({100 * fraction:.0f} %) of {self.files} files\n")

    def file_callback(self) -> Callable[[int, int], None]:
        """A paramiko transfer callback (bytes so far, file size) for the next file."""
        moved = 0

        def callback(done: int, total: int) -> None:
            nonlocal moved
            self.advance(done - moved)
            moved = done

        return callback

    def finish(self) -> None:
        if self.stream.isatty():
            self.stream.write("\n")


def _remote(path: str) -> str:
    """An SFTP path: ``~`` and ``~/x`` are relative to the login folder, where SFTP sessions start."""
    if path in ("~", "~/"):
        return "."
    return path[2:] if path.startswith("~/") else path


def shell_path(path: str) -> str:
    """``path`` as one shell word: ``~`` and ``~/...`` become ``"$HOME"/...`` (the home folder, expanded by the
    shell), every other character is quoted, so no value can add a command."""
    if path in ("~", "~/"):
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def _excluded(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


class Remote:
    """One SSH connection to ``user@host:port`` authenticated with ``key_file``.

    ``connect`` retries until ``timeout_s`` while the host boots (refused connections, time-outs, no SSH banner
    yet); a rejected key or a changed host key fails at once.
    """

    def __init__(self, host: str, user: str, key_file: str | os.PathLike, *, port: int = 22,
                 alias: str | None = None, known_hosts: str | os.PathLike | None = None,
                 timeout_s: float = 300.0) -> None:
        self.host, self.user, self.port, self.timeout_s = host, user, port, timeout_s
        self.key_file = pathlib.Path(key_file).expanduser()
        self.alias = alias or f"[{host}]:{port}"
        self.known_hosts = pathlib.Path(known_hosts or self.key_file.parent / "known_hosts").expanduser()
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    def __enter__(self) -> "Remote":
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> "Remote":
        """Open the connection (see the class docstring); returns self."""
        if not self.key_file.is_file():
            raise RemoteError(f"private key {self.key_file} not found. Fix: pass --identity, or copy the key of "
                              f"the instance's key pair there (chmod 600).")
        try:
            key = paramiko.PKey.from_path(self.key_file)
        except (ValueError, paramiko.SSHException) as error:
            raise RemoteError(f"cannot read the private key {self.key_file} ({error}). Fix: pass the .pem file of "
                              f"the key pair (unencrypted, as EC2 hands it out).") from error
        started = last_report = time.monotonic()
        while True:
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(_PinnedHostKey(self.known_hosts, self.alias))
            try:
                client.connect(self.host, port=self.port, username=self.user, pkey=key,
                               timeout=10, banner_timeout=30, auth_timeout=30, allow_agent=False,
                               look_for_keys=False)
                self._client = client
                log.debug("connected to %s@%s:%d", self.user, self.host, self.port)
                return self
            except paramiko.AuthenticationException as error:
                client.close()
                raise RemoteError(f"SSH login as {self.user}@{self.host}:{self.port} with {self.key_file} was "
                                  f"refused ({error}). Fix: check --user (ubuntu on the Deep Learning AMI) and "
                                  f"that the key belongs to the instance's key pair.") from error
            except (OSError, EOFError, paramiko.SSHException) as error:
                client.close()
                if isinstance(error, paramiko.BadHostKeyException):
                    raise
                now = time.monotonic()
                if now - started > self.timeout_s:
                    raise RemoteError(f"no SSH connection to {self.host}:{self.port} after {self.timeout_s:.0f} s "
                                      f"({error}). Fix: check that the instance is running and that the security "
                                      f"group lets your address (--allowed-cidr) reach port 22.") from error
                if now - last_report > 15:
                    log.info("waiting for SSH on %s:%d (%s, %.0f s)", self.host, self.port, error, now - started)
                    last_report = now
                time.sleep(3)

    def close(self) -> None:
        """Close the SFTP session and the connection."""
        if self._sftp is not None:
            self._sftp.close()
        if self._client is not None:
            self._client.close()
        self._sftp = self._client = None

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._client is None:
            raise RemoteError("not connected: call connect() first")
        if self._sftp is None:
            self._sftp = self._client.open_sftp()
        return self._sftp

    # -- commands --------------------------------------------------------------------------------------------

    def run(self, command: str, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
        """Run ``command`` in the remote login shell, streaming its output as it comes; returns its exit status."""
        if self._client is None:
            raise RemoteError("not connected: call connect() first")
        stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
        channel = self._client.get_transport().open_session()
        channel.exec_command(command)
        decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2)]
        exited = 0.0  # when the exit status came (monotonic seconds; 0: not yet)
        while True:
            select.select([channel], [], [], 1.0)
            while channel.recv_ready():
                stdout.write(decoders[0].decode(channel.recv(65536)))
            while channel.recv_stderr_ready():
                stderr.write(decoders[1].decode(channel.recv_stderr(65536)))
            stdout.flush()
            stderr.flush()
            if channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready():
                # the exit status may come before the last of the output: read on to the streams' end (the
                # server's EOF), for at most OUTPUT_AFTER_EXIT_S (a background child may hold them open)
                exited = exited or time.monotonic()
                if channel.eof_received or channel.closed or time.monotonic() - exited > OUTPUT_AFTER_EXIT_S:
                    break
        status = channel.recv_exit_status()
        channel.close()
        return status

    def run_script(self, script: str | os.PathLike, arguments: str = "", remote_dir: str = "~",
                   environment: dict[str, str] | None = None, stdout: IO[str] | None = None,
                   stderr: IO[str] | None = None) -> int:
        """Upload ``script`` into ``remote_dir`` (made executable) and run it there with ``arguments`` (shell
        words, as typed) and ``environment`` (values are shell words too, e.g. ``"$PWD"``); returns its exit
        status."""
        script = pathlib.Path(script)
        if not script.is_file():
            raise RemoteError(f"script {script} not found. Fix: check --script.")
        folder = _remote(remote_dir)
        self._makedirs(folder)
        target = posixpath.join(folder, script.name)
        self.sftp.put(str(script), target)
        self.sftp.chmod(target, 0o755)
        directory = shell_path(folder if folder.startswith("/") else "~" if folder == "." else "~/" + folder)
        for name in environment or {}:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise RemoteError(f"{name!r} is not an environment variable name.")
        variables = " ".join(f"{name}={value}" for name, value in (environment or {}).items())
        command = f"cd {directory} && {variables} ./{shlex.quote(script.name)} {arguments}"
        log.info("running %s %s on %s", script.name, arguments, self.alias)
        return self.run(command.strip(), stdout, stderr)

    # -- transfers -------------------------------------------------------------------------------------------

    def _makedirs(self, path: str) -> None:
        current = "/" if path.startswith("/") else ""
        for part in [part for part in path.split("/") if part not in ("", ".")]:
            current = posixpath.join(current, part) if current else part
            try:
                self.sftp.stat(current)
            except FileNotFoundError:
                self.sftp.mkdir(current)

    def _unchanged(self, local: pathlib.Path, remote: str) -> bool:
        try:
            remote_stat = self.sftp.stat(remote)
        except FileNotFoundError:
            return False
        local_stat = local.stat()
        return remote_stat.st_size == local_stat.st_size and int(remote_stat.st_mtime) == int(local_stat.st_mtime)

    def put(self, source: str | os.PathLike, target: str = "~", excludes: tuple[str, ...] = DEFAULT_EXCLUDES,
            name: str | None = None) -> TransferStats:
        """Upload a file or folder into the remote folder ``target`` (as ``name``, default its own name),
        leaving out names matching ``excludes`` and files whose size and time already match (as rsync does)."""
        source = pathlib.Path(source).expanduser().resolve()
        if not source.exists():
            raise RemoteError(f"{source} does not exist. Fix: check --source.")
        root = posixpath.join(_remote(target), name or source.name)
        if source.is_file():
            files = [(source, root)]
        else:
            files = []
            for folder, subfolders, names in os.walk(source):
                subfolders[:] = sorted(d for d in subfolders if not _excluded(d, excludes))
                relative = pathlib.Path(folder).relative_to(source).as_posix()
                files += [(pathlib.Path(folder, n), posixpath.normpath(posixpath.join(root, relative, n)))
                          for n in sorted(names) if not _excluded(n, excludes)]
        started, stats = time.monotonic(), TransferStats()
        pending = [(path, remote) for path, remote in files if not self._unchanged(path, remote)]
        stats.skipped = len(files) - len(pending)
        progress = _Progress("put", sum(path.stat().st_size for path, _ in pending), len(pending))
        made: set[str] = set()
        for path, remote in pending:
            folder = posixpath.dirname(remote)
            if folder and folder not in made:
                self._makedirs(folder)
                made.add(folder)
            self.sftp.put(str(path), remote, callback=progress.file_callback())
            local_stat = path.stat()
            self.sftp.utime(remote, (local_stat.st_atime, local_stat.st_mtime))
            self.sftp.chmod(remote, stat.S_IMODE(local_stat.st_mode))
            stats.files += 1
            stats.bytes += local_stat.st_size
        progress.finish()
        stats.seconds = time.monotonic() - started
        log.info("put %s -> %s:%s: %d files (%.1f MB) in %.1f s, %d unchanged", source, self.alias, root,
                 stats.files, stats.bytes / 1e6, stats.seconds, stats.skipped)
        return stats

    def _remote_files(self, path: str) -> list[tuple[str, int]]:
        """(path, size) of the file ``path`` or of every file under the folder ``path``; a name that is not a
        plain file name (``..``, a separator, a control character) is refused: the server chose it."""
        attributes = self.sftp.stat(path)
        if not stat.S_ISDIR(attributes.st_mode):
            return [(path, attributes.st_size)]
        found = []
        for entry in sorted(self.sftp.listdir_attr(path), key=lambda entry: entry.filename):
            name = entry.filename
            if name in ("", ".", "..") or "/" in name or "\\" in name or any(ord(c) < 32 for c in name):
                raise RemoteError(f"{self.alias} listed {name!r} in {path}: not a plain file name, so nothing was "
                                  f"downloaded. Fix: rename it on the remote side, or get the files one by one.")
            child = posixpath.join(path, name)
            found += self._remote_files(child) if stat.S_ISDIR(entry.st_mode) else [(child, entry.st_size)]
        return found

    def get(self, source: str, target: str | os.PathLike = ".") -> TransferStats:
        """Download the remote file or folder ``source`` into the local folder ``target``."""
        remote_root = _remote(source).rstrip("/") or "/"
        try:
            files = self._remote_files(remote_root)
        except FileNotFoundError as error:
            raise RemoteError(f"{source} does not exist on {self.alias}. Fix: check --source.") from error
        base = posixpath.basename(remote_root.rstrip("/"))
        if base == "..":
            raise RemoteError(f"--source {source}: name the folder itself, not '..'. Fix: give its path.")
        target_root = pathlib.Path(target).expanduser().resolve()
        local_root = (target_root / base).resolve()
        planned = []
        for remote, size in files:
            relative = posixpath.normpath(posixpath.relpath(remote, remote_root))
            local = (local_root if relative == "." else local_root / relative).resolve()
            if local != target_root and target_root not in local.parents:
                raise RemoteError(f"{remote} would be written to {local}, outside {target_root}, so nothing was "
                                  f"downloaded. Fix: check --source.")
            planned.append((remote, size, local))
        started, stats = time.monotonic(), TransferStats()
        progress = _Progress("get", sum(size for _, size in files), len(files))
        for remote, size, local in planned:
            local.parent.mkdir(parents=True, exist_ok=True)
            self.sftp.get(remote, str(local), callback=progress.file_callback())
            stats.files += 1
            stats.bytes += size
        progress.finish()
        stats.seconds = time.monotonic() - started
        log.info("get %s:%s -> %s: %d files (%.1f MB) in %.1f s", self.alias, source, local_root, stats.files,
                 stats.bytes / 1e6, stats.seconds)
        return stats

