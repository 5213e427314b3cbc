"""Writing a file atomically: whatever happens, ``path`` holds the old file or the whole new one.

:func:`write_atomic` is the one writer of every file gpubp saves (checkpoints, the loss curve,
predict's ``--output``): ``write(f)`` writes into a temporary file in ``path``'s folder, named
``.<name>.<pid>-<12 hex>@<host>.tmp`` and opened with ``O_EXCL``; it is flushed and fsynced, then
renamed over ``path`` with ``os.replace``, and the folder is fsynced so that the rename is
durable. On any failure in between (an exception of ``write``, a KeyboardInterrupt, a full disk)
the temporary is removed and the file that was at ``path`` is untouched. A temporary that a
killed process left (SIGKILL, a power cut) is removed by the next write to the same path, once
its process is known to have ended: a process of this machine (the host in the name), so that in
a folder that several machines share (NFS) a write in progress on another machine keeps its
temporary. Imports nothing of gpubp's.
"""

import os
import re
import secrets
import socket
import stat

#: this machine's name as the temporaries carry it (characters other than letters, digits, ".",
#: "_" and "-" become "_")
HOST = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "localhost"


def write_atomic(path, write):
    """``write(f)`` (``f`` a binary file) into a temporary beside ``path``, fsynced, then renamed
    over ``path``. Writing over a file keeps its permissions (a private file stays private); a new
    file's follow the umask. On any exception (BaseException) nothing is left but the old file."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    remove_stale(folder, name)
    while True:  # O_EXCL: a name nobody else holds; a new file's mode follows the umask
        tmp = os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(6)}@{HOST}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        _keep_mode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _sync_folder(folder)


def _sync_folder(folder):
    """Make a rename in ``folder`` durable (POSIX); not possible everywhere, and not needed for
    atomicity."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def remove_stale(folder, name):
    """Remove the temporaries that a write to ``name`` left when its process was killed
    (SIGKILL, a power cut): ``.<name>.<pid>-<hex>@<host>.tmp`` of this host whose process no
    longer runs. A write in progress elsewhere (another process, another machine) keeps its own."""
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)-[0-9a-f]{12}" + re.escape(f"@{HOST}.tmp"))
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for other in names:
        m = pattern.fullmatch(other)
        if m and not _running(int(m.group(1))):
            try:
                os.unlink(os.path.join(folder, other))
            except OSError:
                pass


def _running(pid):
    if pid == os.getpid() or os.name == "nt":  # (on Windows, os.kill would end the process)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # someone else's process, or no way to know: leave its file alone
    return True


def _keep_mode(path, tmp):
    """Writing over an existing file keeps its permissions, as open() would (a private
    file stays private); a new file's follow the umask."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    os.chmod(tmp, stat.S_IMODE(mode))
