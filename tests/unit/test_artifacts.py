"""Artifact detection on real files and a real git: types, ignore rules, the scan's limits and
errors, 100,000 files, and the session diff."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from c3desk.core import artifacts
from c3desk.core.artifacts import (
    EMPTY_TREE,
    classify_path,
    git_diff,
    git_snapshot,
    is_ignored,
    save_diff,
    scan,
)

REAL_SCANDIR = os.scandir


def touch(path: Path, data: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def rel_found(root: Path, since: float = 0.0, **kwargs: object) -> set[str]:
    result = scan(root, since, **kwargs)  # type: ignore[arg-type]
    return {os.path.relpath(path, root) for path, _ in result.found}


# --- types -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.png", "image"),
        ("a.PNG", "image"),
        ("a.jpg", "image"),
        ("a.JPeG", "image"),
        ("a.gif", "image"),
        ("a.webp", "image"),
        ("dir.d/a.svg", "image"),
        ("report.pdf", "pdf"),
        ("REPORT.PDF", "pdf"),
        ("notes.md", "file"),
        ("png", "file"),
        (".png", "file"),  # a dot file named .png has no extension
        ("a.png.txt", "file"),
        ("Makefile", "file"),
    ],
)
def test_classify_path(name: str, kind: str) -> None:
    assert classify_path(name) == kind
    assert classify_path(Path("/tmp") / name) == kind


def test_scan_reports_types(tmp_path: Path) -> None:
    for name in ("shot.PNG", "doc.pdf", "data.csv"):
        touch(tmp_path / "out" / name)
    result = scan(tmp_path, 0.0)
    assert result.found == [
        (str(tmp_path / "out" / "data.csv"), "file"),
        (str(tmp_path / "out" / "doc.pdf"), "pdf"),
        (str(tmp_path / "out" / "shot.PNG"), "image"),
    ]
    assert result.scanned == 3
    assert not result.truncated


# --- ignore rules ------------------------------------------------------------------------------

IGNORED_CASES: dict[str, list[str]] = {
    "git": [".git/config", ".git/objects/ab/cdef", "sub/.git/HEAD"],
    "hg and svn": [".hg/store/data", ".svn/entries"],
    "node_modules": ["node_modules/left-pad/index.js", "web/node_modules/x/y.png"],
    "venv by pyvenv.cfg, any name": ["tools/pyenv311/pyvenv.cfg", "tools/pyenv311/lib/site.py"],
    "venv named .venv with pyvenv.cfg": [".venv/pyvenv.cfg", ".venv/lib/python3.11/x.py"],
    "venv named venv with bin/activate": ["venv/bin/activate", "venv/lib/x.py"],
    "venv named env with Scripts/activate": ["env/Scripts/activate", "env/Lib/x.py"],
    "pycache": ["pkg/__pycache__/mod.cpython-311.pyc"],
    "tool caches": [
        ".mypy_cache/3.11/x.json",
        ".pytest_cache/v/cache/nodeids",
        ".ruff_cache/0.6/x",
        ".cache/pip/y",
        ".tox/py311/log",
        ".nox/tests/log",
        ".gradle/8.0/z",
    ],
    "cargo target beside Cargo.toml": ["crate/target/debug/app", "crate/target/x.d"],
    "agent state": [
        ".claude/settings.local.json",
        ".codex/history.jsonl",
        ".gemini/settings.json",
        "sub/.claude/todos.json",
        ".claude.json",  # Claude Code's state in the home folder, rewritten by every CLI
        ".claude.json.backup",
        ".claude.json.backup.1765000000000",
    ],
    "IDE state": [".idea/workspace.xml"],
    "aider files and cache": [
        ".aider.chat.history.md",
        ".aider.input.history",
        ".aider.tags.cache.v4/cache.db",
    ],
    "editor swap and backup": [".notes.md.swp", "src/.main.py.swo", "a.txt~", ".#a.txt"],
    "finder metadata": [".DS_Store", "img/.DS_Store"],
}


@pytest.mark.parametrize("case", list(IGNORED_CASES))
def test_ignored_kinds(tmp_path: Path, case: str) -> None:
    kept = ["keep.txt", "crate/Cargo.toml"] if case.startswith("cargo") else ["keep.txt"]
    for rel in IGNORED_CASES[case] + kept:
        touch(tmp_path / rel)
    assert rel_found(tmp_path) == set(kept)
    for rel in IGNORED_CASES[case]:
        assert is_ignored(tmp_path / rel, tmp_path), rel
    for rel in kept:
        assert not is_ignored(tmp_path / rel, tmp_path), rel


def test_near_misses_are_kept(tmp_path: Path) -> None:
    """Names close to an ignored one, which are the user's files."""
    kept = [
        "CLAUDE.md",
        "AGENTS.md",
        "GEMINI.md",
        "claude/notes.md",  # no dot: not agent state
        "target/report.pdf",  # no Cargo.toml beside it
        "env/settings.yaml",  # 'env' without pyvenv.cfg or an activate script
        "venv-notes/x.txt",
        "git/readme",
        "cache/img.png",
        "a.swp.txt",
        "DS_Store",
        ".gitignore",
        ".github/workflows/ci.yml",
    ]
    for rel in kept:
        touch(tmp_path / rel)
    assert rel_found(tmp_path) == set(kept)
    assert not any(is_ignored(tmp_path / rel, tmp_path) for rel in kept)


def test_root_itself_is_never_ignored(tmp_path: Path) -> None:
    root = tmp_path / ".venv"  # the user chose to run the agent here
    touch(root / "pyvenv.cfg")
    touch(root / "made.txt")
    assert rel_found(root) == {"pyvenv.cfg", "made.txt"}


def test_is_ignored_outside_root(tmp_path: Path) -> None:
    assert is_ignored(tmp_path / "x", tmp_path / "sub")
    assert is_ignored(tmp_path, tmp_path)


# --- since, seen -------------------------------------------------------------------------------


def test_since_filter(tmp_path: Path) -> None:
    old = touch(tmp_path / "old.txt")
    new = touch(tmp_path / "dir" / "new.png")
    # The session "starts" after every file's ctime; only new.png is later modified.
    since = time.time() + 100
    os.utime(old, (since - 1000, since - 1000))
    os.utime(new, (since + 5, since + 5))
    result = scan(tmp_path, since)
    assert result.found == [(str(new), "image")]
    assert result.scanned == 2
    # At exactly `since` counts as changed.
    os.utime(old, (since, since))
    assert rel_found(tmp_path, since) == {"old.txt", os.path.join("dir", "new.png")}


def test_ctime_catches_a_file_moved_in_with_an_old_mtime(tmp_path: Path) -> None:
    moved = touch(tmp_path / "downloaded.pdf")
    os.utime(moved, (1_000_000, 1_000_000))  # mtime in 1970, ctime now
    since = time.time() - 60
    assert scan(tmp_path, since).found == [(str(moved), "pdf")]


def test_seen_paths_are_reported_once(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        touch(tmp_path / name)
    first = scan(tmp_path, 0.0)
    assert len(first.found) == 3
    seen = {path for path, _ in first.found}
    snapshot = set(seen)
    touch(tmp_path / "d.txt")
    touch(tmp_path / "a.txt", "changed again\n")
    second = scan(tmp_path, 0.0, seen=seen)
    assert second.found == [(str(tmp_path / "d.txt"), "file")]
    assert second.scanned == 4
    assert seen == snapshot  # read, never changed
    assert scan(tmp_path, 0.0, seen=frozenset(seen | {str(tmp_path / "d.txt")})).found == []


def test_found_paths_are_absolute_for_a_relative_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "w" / "a.txt")
    monkeypatch.chdir(tmp_path)
    assert scan(Path("w"), 0.0).found == [(str(tmp_path / "w" / "a.txt"), "file")]


# --- what is walked ----------------------------------------------------------------------------


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    touch(outside / "secret.txt")
    touch(outside / "deep" / "more.png")
    touch(root / "a" / "inside.txt")
    (root / "a" / "loop").symlink_to(root / "a", target_is_directory=True)
    (root / "up").symlink_to(root, target_is_directory=True)
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "secret-link.txt").symlink_to(outside / "secret.txt")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    result = scan(root, 0.0)
    assert result.found == [(str(root / "a" / "inside.txt"), "file")]
    assert result.scanned == 1
    assert not result.truncated


def test_special_files_are_not_reported(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    touch(tmp_path / "real.txt")
    assert rel_found(tmp_path) == {"real.txt"}


def test_missing_root_gives_nothing(tmp_path: Path) -> None:
    assert scan(tmp_path / "gone", 0.0) == artifacts.ScanResult([], 0, None)
    touch(tmp_path / "file")
    assert scan(tmp_path / "file", 0.0).found == []


def test_unreadable_directory_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, for whom chmod 000 changes nothing: refuse the listing instead.
    touch(tmp_path / "locked" / "hidden.txt")
    touch(tmp_path / "open" / "seen.txt")
    locked = str(tmp_path / "locked")

    def scandir(path: str) -> object:
        if path == locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return REAL_SCANDIR(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert rel_found(tmp_path) == {os.path.join("open", "seen.txt")}


def test_directory_removed_mid_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "doomed" / "sub" / "x.txt")
    touch(tmp_path / "stays.txt")
    doomed = str(tmp_path / "doomed")

    def scandir(path: str) -> object:
        if path == doomed:  # listed as a directory by its parent, gone when entered
            shutil.rmtree(path)
        return REAL_SCANDIR(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert rel_found(tmp_path) == {"stays.txt"}


def test_file_vanishing_between_listing_and_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "a.txt")
    touch(tmp_path / "b.txt")

    def scandir(path: str) -> contextlib.AbstractContextManager[Iterator[os.DirEntry[str]]]:
        with REAL_SCANDIR(path) as it:
            entries = list(it)
        (tmp_path / "a.txt").unlink(missing_ok=True)
        return contextlib.nullcontext(iter(entries))

    monkeypatch.setattr(os, "scandir", scandir)
    assert rel_found(tmp_path) == {"b.txt"}


def test_listing_that_fails_part_way_keeps_what_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "a.txt")
    touch(tmp_path / "b.txt")

    def entries(path: str) -> Iterator[os.DirEntry[str]]:
        with REAL_SCANDIR(path) as it:
            first = sorted(it, key=lambda e: e.name)[0]
        yield first
        raise OSError(errno.EIO, "Input/output error", path)

    def scandir(path: str) -> contextlib.AbstractContextManager[Iterator[os.DirEntry[str]]]:
        return contextlib.nullcontext(entries(path))

    monkeypatch.setattr(os, "scandir", scandir)
    assert rel_found(tmp_path) == {"a.txt"}


# --- limits ------------------------------------------------------------------------------------


def test_max_files_truncates(tmp_path: Path) -> None:
    for i in range(20):
        touch(tmp_path / f"d{i % 3}" / f"f{i}.txt")
    result = scan(tmp_path, 0.0, max_files=7)
    assert result.truncated
    assert result.limit == "files"
    assert result.scanned == 7
    assert len(result.found) == 7
    exact = scan(tmp_path, 0.0, max_files=20)
    assert not exact.truncated
    assert exact.scanned == 20


def test_deadline_truncates(tmp_path: Path) -> None:
    for i in range(40):
        touch(tmp_path / f"d{i % 4}" / f"f{i}.txt")
    past = scan(tmp_path, 0.0, deadline=time.monotonic() - 1)
    assert past.truncated
    assert past.limit == "time"
    assert past.found == []
    assert past.scanned == 0
    future = scan(tmp_path, 0.0, deadline=time.monotonic() + 600)
    assert not future.truncated
    assert future.limit is None
    assert future.scanned == 40


def test_deadline_is_checked_inside_a_large_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "f0").touch()
    for i in range(1, 3000):
        os.link(tmp_path / "f0", tmp_path / f"f{i}")
    clock = iter(range(1_000_000))
    # Each look at the clock advances it one second: the second look is past the deadline.
    with monkeypatch.context() as patch:
        patch.setattr("c3desk.core.artifacts.time.monotonic", lambda: float(next(clock)))
        result = scan(tmp_path, 0.0, deadline=1.0)
    assert result.truncated
    assert 0 < result.scanned < 3000


def test_max_depth_leaves_deeper_folders_out_and_says_so(tmp_path: Path) -> None:
    touch(tmp_path / "top.txt")
    touch(tmp_path / "a" / "one.txt")
    touch(tmp_path / "a" / "b" / "two.txt")
    touch(tmp_path / "a" / "b" / "c" / "three.txt")
    result = scan(tmp_path, 0.0, max_depth=2)
    assert {os.path.relpath(p, tmp_path) for p, _ in result.found} == {
        "top.txt",
        "a/one.txt",
        "a/b/two.txt",
    }
    assert result.limit == "depth"
    assert result.truncated
    whole = scan(tmp_path, 0.0, max_depth=3)
    assert len(whole.found) == 4
    assert whole.limit is None  # nothing lay deeper: not cut


def test_hundred_thousand_files(tmp_path: Path) -> None:
    root = tmp_path / "big"
    # Hard links: creating 100,000 inodes costs seconds on a busy ext4, a link a microsecond.
    # The scan sees 100,000 distinct directory entries and stats each one all the same.
    for d in range(100):
        directory = root / f"pkg{d:03}" / "src"
        directory.mkdir(parents=True)
        first = directory / "m0000.py"
        first.touch()
        base = str(directory)
        for f in range(1, 1000):
            os.link(first, os.path.join(base, f"m{f:04}.py"))
    # An ignored tree alongside, which must cost nothing.
    ignored = root / "node_modules" / "dep"
    ignored.mkdir(parents=True)
    (ignored / "0.js").touch()
    for f in range(1, 2000):
        os.link(ignored / "0.js", ignored / f"{f}.js")
    recent = [root / "pkg007" / "src" / "new.py", root / "pkg099" / "src" / "plot.svg"]
    for path in recent:
        path.touch()  # their own inodes: a hard link's utime would change all its names
    since = time.time() + 100  # after every file's ctime
    for path in recent:
        os.utime(path, (since + 1, since + 1))
    start = time.perf_counter()
    result = scan(root, since)
    elapsed = time.perf_counter() - start
    assert result.found == [(str(recent[0]), "file"), (str(recent[1]), "image")]
    assert result.scanned == 100_002
    assert not result.truncated
    # A guard against accidental quadratic work, not a benchmark (see benchmarks/).
    assert elapsed < 5.0, f"scan of 100,000 files took {elapsed:.2f} s"


# --- git ---------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def make_repo(path: Path, *, commit: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    if commit:
        touch(path / "tracked.txt", "one\n")
        touch(path / "other.txt", "keep\n")
        git(path, "add", "tracked.txt", "other.txt")
        git(path, "commit", "-q", "-m", "initial")
    return path


def test_clean_repo_snapshot_is_heads_tree_and_diff_shows_changes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base = git_snapshot(repo)
    assert base == git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert git_diff(repo, base) == ""
    touch(repo / "tracked.txt", "one\ntwo\n")
    touch(repo / "untracked.txt", "a new file\n")
    diff = git_diff(repo, base)
    assert "diff --git a/tracked.txt b/tracked.txt" in diff
    assert "+two" in diff
    assert "diff --git a/untracked.txt b/untracked.txt\nnew file mode" in diff
    assert "+a new file" in diff
    assert "other.txt" not in diff
    # The agent's commits count too: the base is fixed at session start.
    git(repo, "commit", "-q", "-am", "agent commit")
    assert "+two" in git_diff(repo, base)


def test_changes_made_before_the_snapshot_are_not_in_the_diff(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    touch(repo / "other.txt", "keep\nuser's work in progress\n")
    touch(repo / "tracked.txt", "one\nstaged\n")
    git(repo, "add", "tracked.txt")
    status_before = git(repo, "status", "--porcelain")
    base = git_snapshot(repo)
    assert base is not None
    assert base != git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "status", "--porcelain") == status_before  # nothing stashed
    assert git(repo, "stash", "list") == ""
    assert git_diff(repo, base) == ""
    touch(repo / "tracked.txt", "one\nstaged\nby the agent\n")
    diff = git_diff(repo, base)
    assert "+by the agent" in diff
    assert "+staged" not in diff
    assert "work in progress" not in diff
    assert "other.txt" not in diff


def test_subdirectory_of_a_work_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    sub = repo / "pkg"
    touch(sub / "mod.py", "a = 1\n")
    git(repo, "add", "pkg/mod.py")
    git(repo, "commit", "-q", "-m", "pkg")
    base = git_snapshot(sub)
    assert base is not None
    touch(sub / "mod.py", "a = 2\n")
    assert "diff --git a/pkg/mod.py b/pkg/mod.py" in git_diff(sub, base)


def test_repo_without_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", commit=False)
    base = git_snapshot(repo)
    assert base == EMPTY_TREE  # nothing ever added
    touch(repo / "new.py", "print('hi')\n")
    git(repo, "add", "new.py")
    diff = git_diff(repo, base)
    assert "diff --git a/new.py b/new.py" in diff
    assert "+print('hi')" in diff


def test_repo_without_commits_excludes_earlier_work(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", commit=False)
    touch(repo / "a.txt", "added\n")
    git(repo, "add", "a.txt")
    touch(repo / "a.txt", "added\nedited before start\n")
    index_before = (repo / ".git" / "index").read_bytes()
    base = git_snapshot(repo)
    assert base is not None
    assert base != EMPTY_TREE
    assert (repo / ".git" / "index").read_bytes() == index_before  # real index untouched
    assert git_diff(repo, base) == ""
    touch(repo / "a.txt", "added\nedited before start\nedited by the agent\n")
    diff = git_diff(repo, base)
    assert "+edited by the agent" in diff
    assert "+edited before start" not in diff


def test_outside_git(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_snapshot(plain) is None
    assert git_snapshot(tmp_path / "missing") is None
    assert git_diff(plain, EMPTY_TREE) == ""


def test_inside_the_git_dir_is_not_a_work_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert git_snapshot(repo / ".git") is None


def test_git_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert git_snapshot(repo) is None
    assert git_diff(repo, EMPTY_TREE) == ""


def test_diff_against_an_unknown_base_is_empty(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    touch(repo / "tracked.txt", "changed\n")
    assert git_diff(repo, "0" * 40) == ""
    assert git_diff(repo, "HEAD") == ""  # object ids only
    out = tmp_path / "written"
    assert git_diff(repo, f"--output={out}") == ""
    assert not out.exists()  # never taken as an option


def test_git_environment_does_not_redirect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    other = make_repo(tmp_path / "other")
    git(other, "commit", "-q", "--allow-empty", "-m", "a different HEAD")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere.index"))
    assert (
        git_snapshot(repo)
        == git(repo, "--git-dir", str(repo / ".git"), "rev-parse", "HEAD^{tree}").strip()
    )
    assert not (tmp_path / "elsewhere.index").exists()


def test_quoted_paths_are_not_escaped(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    touch(repo / "café.txt", "a\n")
    git(repo, "add", "café.txt")
    git(repo, "commit", "-q", "-m", "unicode")
    base = git_snapshot(repo)
    assert base is not None
    touch(repo / "café.txt", "b\n")
    assert "a/café.txt" in git_diff(repo, base)


def repo_state(repo: Path) -> tuple[bytes, str, str, str]:
    """What a snapshot must leave alone: the real index, the stash list, the status, the
    tracked files' content as git sees it."""
    return (
        (repo / ".git" / "index").read_bytes(),
        git(repo, "stash", "list"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "diff", "HEAD"),
    )


def test_the_diff_is_what_changed_since_the_start_new_files_included(tmp_path: Path) -> None:
    """Before the session: an uncommitted edit, a staged one and an untracked file. During it:
    a new untracked file and an edit of a tracked file. The diff holds both, and none of what
    was there before; the real index, stash list and working tree are never touched."""
    repo = make_repo(tmp_path / "repo")
    touch(repo / "tracked.txt", "one\nX: uncommitted before the start\n")
    touch(repo / "other.txt", "keep\nstaged before the start\n")
    git(repo, "add", "other.txt")
    touch(repo / "scratch.txt", "untracked before the start\n")
    before = repo_state(repo)
    base = git_snapshot(repo)
    assert base is not None
    assert repo_state(repo) == before
    assert git_diff(repo, base) == ""

    touch(repo / "new.txt", "the session's new file\n")
    touch(repo / "other.txt", "keep\nstaged before the start\nthe session's edit\n")
    during = repo_state(repo)
    changes = artifacts.git_changes(repo, base)
    assert repo_state(repo) == during
    diff = changes.diff
    assert "diff --git a/new.txt b/new.txt\nnew file mode" in diff
    assert "+the session's new file" in diff
    assert "+the session's edit" in diff
    assert "X: uncommitted" not in diff and "tracked.txt" not in diff
    assert "+staged before the start" not in diff
    assert "scratch.txt" not in diff
    assert git(repo, "stash", "list") == ""
    # The diff applies backwards to the working tree as it is now.
    check = subprocess.run(
        ["git", "apply", "--check", "-R"], input=diff.encode(), cwd=repo, capture_output=True
    )
    assert check.returncode == 0, check.stderr


def test_a_diff_of_the_sessions_files_comes_first_and_the_others_after(tmp_path: Path) -> None:
    """Two sessions in one folder and the user editing: each diff holds first the files its
    agent reported writing, then, under a header of their own, the others changed since its
    start (its own shell commands' work among them)."""
    repo = make_repo(tmp_path / "repo")
    touch(repo / "b.txt", "b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-q", "-m", "b")
    touch(repo / "tracked.txt", "one\nX: before the sessions\n")
    base_a = git_snapshot(repo)
    (repo / "pkg").mkdir()
    base_b = git_snapshot(repo / "pkg")  # a session in a sub-folder: the same repository
    assert base_a is not None and base_b == base_a

    touch(repo / "a-only.txt", "from-A\n")  # session A: a new untracked file
    touch(repo / "b.txt", "b\nfrom-B\n")  # session B: a tracked file
    touch(repo / "tracked.txt", "one\nX: before the sessions\nuser edit\n")  # the user

    a = artifacts.git_changes(repo, base_a, paths=[str(repo / "a-only.txt")])
    assert "diff --git a/a-only.txt b/a-only.txt" in a.diff and "+from-A" in a.diff
    assert "from-B" not in a.diff and "user edit" not in a.diff and "X:" not in a.diff
    assert a.others == ("b.txt", "tracked.txt")
    b = artifacts.git_changes(repo / "pkg", base_b, paths=["../b.txt", str(tmp_path / "out")])
    assert "+from-B" in b.diff
    assert "a-only" not in b.diff and "user edit" not in b.diff
    assert b.others == ("a-only.txt", "tracked.txt")
    assert "+from-B" in a.others_diff and "user edit" in a.others_diff
    assert "+X: before" not in a.others_diff  # uncommitted before the start: context only
    report = artifacts.diff_report(a, scoped=True)
    header = report[: report.index("diff --git")]
    assert all(line.startswith("#") for line in header.splitlines())
    own, _, also = report.partition("#\n# Also changed")
    assert "+from-A" in own and "from-B" not in own
    assert "#   b.txt, tracked.txt\n" in also and "+from-B" in also
    # The header is skipped by git apply.
    check = subprocess.run(
        ["git", "apply", "--check", "-R"], input=report.encode(), cwd=repo, capture_output=True
    )
    assert check.returncode == 0, check.stderr
    # Nothing of the session's own changed: no diff, whatever others did.
    assert artifacts.git_changes(repo, base_a, paths=[str(repo / "other.txt")]).diff == ""
    assert artifacts.diff_report(artifacts.GitChanges(), scoped=True) == ""
    only_others = artifacts.GitChanges("", ("b.txt",), b.diff)
    assert "# (none: it changed no file with them)" in artifacts.diff_report(
        only_others, scoped=True
    )


def test_a_whole_repository_diff_says_others_edits_are_in_it() -> None:
    report = artifacts.diff_report(artifacts.GitChanges("diff --git a/x b/x\n"), scoped=False)
    header, _, rest = report.partition("diff --git")
    assert rest == " a/x b/x\n"
    assert "by others in the same folder" in header and "--worktree" in header
    assert all(line.startswith("#") for line in header.splitlines())


def test_what_a_snapshot_leaves_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Untracked files too big, in dependency folders or excluded folders are never hashed
    into the repository; a file in the snapshot that grew past the bound is not 'deleted'."""
    monkeypatch.setattr(artifacts, "MAX_UNTRACKED_BYTES", 100)
    repo = make_repo(tmp_path / "repo")
    touch(repo / "small.txt", "small\n")
    touch(repo / "big.bin", "x" * 101)
    touch(repo / "node_modules" / "dep.js", "dep\n")
    touch(repo / "c3desk-home" / "c3desk.log", "log\n")
    base = git_snapshot(repo, exclude=[str(repo / "c3desk-home")])
    assert base is not None
    listed = set(git(repo, "ls-tree", "-r", "--name-only", base).split())
    assert listed == {"tracked.txt", "other.txt", "small.txt"}
    for left_out in ("big.bin", "node_modules/dep.js", "c3desk-home/c3desk.log"):
        blob = git(repo, "hash-object", left_out).strip()  # computed, not written
        stored = subprocess.run(["git", "cat-file", "-e", blob], cwd=repo, capture_output=True)
        assert stored.returncode != 0, f"{left_out} was hashed into the repository"
    touch(repo / "small.txt", "small\n" + "y" * 200)
    touch(repo / "c3desk-home" / "c3desk.log", "log\nmore\n")
    diff = artifacts.git_changes(repo, base, exclude=[str(repo / "c3desk-home")]).diff
    assert "diff --git a/small.txt b/small.txt\nindex" in diff  # changed, not deleted
    assert "big.bin" not in diff and "node_modules" not in diff and "c3desk" not in diff


def test_a_snapshot_follows_the_scans_rules_and_its_bounds_hold_from_start_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A virtual environment is not hashed into the repository (the scan's rules, not only
    dependency folders); files the first snapshot left out for being too many are not new
    files at the end; the user's pathspec modes and hooks do not break or run."""
    repo = make_repo(tmp_path / "repo")
    touch(repo / "venv" / "pyvenv.cfg", "home = /usr/bin\n")
    touch(repo / "venv" / "lib" / "site.py", "x = 1\n")
    hook = repo / ".git" / "hooks" / "post-index-change"
    touch(hook, f"#!/bin/sh\ntouch {tmp_path / 'hook-ran'}\n").chmod(0o755)
    monkeypatch.setenv("GIT_GLOB_PATHSPECS", "1")
    monkeypatch.setattr(artifacts, "MAX_UNTRACKED_FILES", 3)
    old = [touch(repo / f"old{n}.txt", f"{n}\n") for n in range(5)]
    past = time.time() - 600
    for path in old:
        os.utime(path, (past, past))
    started = time.time() - 1
    base = git_snapshot(repo)
    assert base == git(repo, "rev-parse", "HEAD^{tree}").strip()  # too many: none taken
    for path in old[:3]:
        path.unlink()  # now under the bound
    touch(repo / "made.txt", "made by the session\n")
    changes = artifacts.git_changes(repo, base, paths=[str(repo / "made.txt")], since=started)
    assert "diff --git a/made.txt b/made.txt" in changes.diff
    assert changes.others == ()  # old3, old4 were there before it started: not new
    whole = artifacts.git_changes(repo, base, since=started).diff
    assert "old" not in whole and "venv" not in whole
    assert not (tmp_path / "hook-ran").exists()


def test_untracked_files_left_out_where_git_hides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "status.showUntrackedFiles", "no")  # a home folder kept in git
    touch(repo / "untracked.txt")
    base = git_snapshot(repo)
    assert base == git(repo, "rev-parse", "HEAD^{tree}").strip()
    git(repo, "config", "--unset", "status.showUntrackedFiles")
    monkeypatch.setattr(artifacts, "MAX_UNTRACKED_FILES", 1)
    touch(repo / "second.txt")
    assert git_snapshot(repo) == base  # too many: none


def test_save_diff(tmp_path: Path) -> None:
    dest = tmp_path / "home" / "artifacts" / "42"
    assert save_diff("", dest) is None
    assert not dest.exists()
    text = "diff --git a/x b/x\n+caf\udce9\n"  # a latin-1 byte, as git_diff decodes it
    path = save_diff(text, dest)
    assert path == dest / "changes.diff"
    assert path.read_bytes() == b"diff --git a/x b/x\n+caf\xe9\n"
    assert save_diff("second\n", dest) == path
    assert path.read_text() == "second\n"
    assert sorted(p.name for p in dest.iterdir()) == ["changes.diff"]  # no temp files left


def test_non_utf8_diff_round_trips(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "latin.txt").write_bytes(b"caf\xe9\n")
    git(repo, "add", "latin.txt")
    git(repo, "commit", "-q", "-m", "latin-1")
    base = git_snapshot(repo)
    assert base is not None
    (repo / "latin.txt").write_bytes(b"na\xefve\n")
    path = save_diff(git_diff(repo, base), tmp_path / "out")
    assert path is not None
    saved = path.read_bytes()
    assert b"-caf\xe9\n" in saved
    assert b"+na\xefve\n" in saved
    check = subprocess.run(
        ["git", "apply", "--check", "-R", str(path)], cwd=repo, capture_output=True
    )
    assert check.returncode == 0, check.stderr


# --- folders never listed ----------------------------------------------------------------------


def c3desk_home_in(folder: Path) -> Path:
    """A c3desk data folder laid out as c3desk keeps it, inside ``folder``."""
    home = folder / "c3desk-home"
    for rel in ("c3desk.db", "c3desk.db-wal", "logs/c3desk.log", "scrollback/s1.log"):
        touch(home / rel)
    touch(home / "run" / "s1.settings.json")
    touch(home / "artifacts" / "s1" / "changes.diff")
    return home


def test_excluded_folders_are_never_entered(tmp_path: Path) -> None:
    home = c3desk_home_in(tmp_path)
    config = touch(tmp_path / "claude-config" / "projects" / "-x" / "t.jsonl").parents[2]
    touch(tmp_path / "mine.txt")
    assert rel_found(tmp_path) >= {"c3desk-home/c3desk.db", "claude-config/projects/-x/t.jsonl"}
    assert rel_found(tmp_path, exclude=[home, config]) == {"mine.txt"}


def test_a_root_inside_an_excluded_folder_gives_nothing(tmp_path: Path) -> None:
    home = c3desk_home_in(tmp_path)
    assert scan(home / "logs", 0.0, exclude=[home]).found == []
    assert scan(home, 0.0, exclude=[home]).found == []


def test_exclusion_through_a_symlinked_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    home = c3desk_home_in(real)
    touch(real / "mine.txt")
    link = tmp_path / "link"
    link.symlink_to(real)
    # The session's folder is the link; the data folder is known by its real path.
    assert rel_found(link, exclude=[home]) == {"mine.txt"}


# --- what the agent reports it wrote -----------------------------------------------------------

CWD = "/work/proj"


def assistant(*blocks: dict[str, object], cwd: str = CWD) -> dict[str, object]:
    """A transcript line as Claude Code 2.1 writes it for an assistant message."""
    return {
        "parentUuid": None,
        "isSidechain": False,
        "type": "assistant",
        "cwd": cwd,
        "sessionId": "11111111-2222-4333-8444-555555555555",
        "message": {"role": "assistant", "type": "message", "content": list(blocks)},
        "uuid": "u1",
    }


def tool_use(tool_id: str, name: str, **args: object) -> dict[str, object]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": args}


def result(tool_id: str, *, error: bool = False, cwd: str = CWD) -> dict[str, object]:
    block: dict[str, object] = {"tool_use_id": tool_id, "type": "tool_result", "content": "ok"}
    if error:
        block["is_error"] = True
    return {
        "type": "user",
        "cwd": cwd,
        "message": {"role": "user", "content": [block]},
        "toolUseResult": {"type": "create"},
    }


def test_writes_count_once_their_result_confirms_them() -> None:
    writes = artifacts.ReportedWrites(CWD)
    writes.feed(
        assistant(
            {"type": "text", "text": "Writing."},
            tool_use("t1", "Write", file_path=f"{CWD}/out/report.md", content="x"),
        )
    )
    assert writes.take() == []  # asked, not done: the permission box may still be up
    writes.feed(result("t1"))
    assert writes.take() == [f"{CWD}/out/report.md"]
    assert writes.take() == []


def test_every_writing_tool_and_no_other() -> None:
    writes = artifacts.ReportedWrites(CWD)
    calls = [
        tool_use("a", "Write", file_path=f"{CWD}/w.txt", content=""),
        tool_use("b", "Edit", file_path=f"{CWD}/e.py", old_string="a", new_string="b"),
        tool_use("c", "MultiEdit", file_path=f"{CWD}/m.py", edits=[]),
        tool_use("d", "NotebookEdit", notebook_path=f"{CWD}/n.ipynb", new_source=""),
        tool_use("e", "Read", file_path=f"{CWD}/read.txt"),
        tool_use("f", "Bash", command="touch bash.txt", description="touch"),
        tool_use("g", "Write", content="no path"),
    ]
    writes.feed(assistant(*calls))
    for call in calls:
        writes.feed(result(str(call["id"])))
    assert writes.take() == [f"{CWD}/w.txt", f"{CWD}/e.py", f"{CWD}/m.py", f"{CWD}/n.ipynb"]


def test_refused_writes_do_not_count() -> None:
    writes = artifacts.ReportedWrites(CWD)
    writes.feed(assistant(tool_use("t1", "Write", file_path=f"{CWD}/refused.txt")))
    writes.feed(result("t1", error=True))
    assert writes.take() == []
    assert writes.pending == {}


def test_paths_are_made_absolute_and_normal() -> None:
    writes = artifacts.ReportedWrites("/fallback")
    writes.feed(
        assistant(
            tool_use("a", "Write", file_path="rel.txt"),
            tool_use("b", "Write", file_path=f"{CWD}/nope/../up.txt"),
        )
    )
    writes.feed(
        {
            "type": "assistant",
            "message": {"content": [tool_use("c", "Write", file_path="no-cwd.txt")]},
        }
    )
    for tool_id in "abc":
        writes.feed(result(tool_id))
    assert writes.take() == [f"{CWD}/rel.txt", f"{CWD}/up.txt", "/fallback/no-cwd.txt"]


def test_malformed_entries_are_passed_over() -> None:
    writes = artifacts.ReportedWrites(CWD)
    for entry in (
        None,
        3,
        "text",
        [],
        {},
        {"message": "x"},
        {"message": {"content": "hi"}},
        {"message": {"content": [1, None, {"type": "tool_use", "input": "x"}]}},
    ):
        writes.feed(entry)
    writes.feed(result("unknown"))
    assert writes.take() == []


def test_transcript_tail_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    tail = artifacts.TranscriptTail(path)
    assert not tail.exists()
    assert tail.read() == []
    with path.open("w") as out:
        out.write('{"n": 1}\nnot json\n{"n": 2}\n{"n": ')
    assert tail.exists()
    assert tail.read() == [{"n": 1}, {"n": 2}]
    with path.open("a") as out:
        out.write("3}\n")
    assert tail.read() == [{"n": 3}]
    assert tail.read() == []
    path.write_text('{"n": 9}\n')  # replaced by a shorter file: read again from the start
    assert tail.read() == [{"n": 9}]


def test_reportable(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    home = c3desk_home_in(tmp_path)
    excluded = artifacts.exclusion_set(str(root), [home])
    mine = touch(root / "src" / "app.py")
    outside = touch(tmp_path / "elsewhere" / "chart.png")
    assert artifacts.reportable(str(mine), root, excluded)
    assert artifacts.reportable(str(outside), root, excluded)  # the agent wrote it: listed
    assert not artifacts.reportable(str(home / "logs" / "c3desk.log"), root, excluded)
    assert not artifacts.reportable(str(root / "gone.txt"), root, excluded)
    assert not artifacts.reportable(str(root / "src"), root, excluded)  # a folder
    assert not artifacts.reportable(str(touch(root / "node_modules" / "x.js")), root, excluded)
    assert not artifacts.reportable(str(touch(tmp_path / "o" / ".git" / "x")), root, excluded)
    assert not artifacts.reportable(str(touch(tmp_path / "o" / "a.swp")), root, excluded)
