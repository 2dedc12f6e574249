"""Two processes writing to one database at once never see "database is locked"."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from c3desk.store import database
from c3desk.store.models import Session, SessionEvent

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from c3desk.store import database
    from c3desk.store.models import Session, SessionEvent, db

    path, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    database.connect(path)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()  # both start together
    for i in range(count):
        with db.atomic():  # BEGIN IMMEDIATE
            # read, then write what depends on the read
            s = Session.get_by_id("shared")
            Session.update(continuation_count=s.continuation_count + 1).where(
                Session.id == "shared").execute()
            SessionEvent.insert(session="shared", kind=tag, detail=str(i)).execute()
    database.close()
    """
)


def test_two_processes_each_write_1000_transactions(tmp_path: Path) -> None:
    path = tmp_path / "c3desk.db"
    database.connect(path)
    Session.create(id="shared", working_directory="/tmp", title="t")
    database.close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), tag, "1000"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
    database.connect(path)
    try:
        # No lost update: every increment landed, and every event row is there.
        assert Session.get_by_id("shared").continuation_count == 2000
        for tag in ("a", "b"):
            details = {e.detail for e in SessionEvent.select().where(SessionEvent.kind == tag)}
            assert details == {str(i) for i in range(1000)}
    finally:
        database.close()
