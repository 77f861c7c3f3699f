"""The one SQLite connect/transaction helper shared by the journal, the uploader and the catalogue."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from nanoaid_daemon import sqlitedb
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.uploader.catalogue import Catalogue
from nanoaid_daemon.uploader.progress import Progress


def _settings(db: sqlite3.Connection) -> tuple[str, int, int, int]:
    return (db.execute("PRAGMA journal_mode").fetchone()[0], db.execute("PRAGMA synchronous").fetchone()[0],
            db.execute("PRAGMA busy_timeout").fetchone()[0], db.execute("PRAGMA foreign_keys").fetchone()[0])


def test_every_store_opens_in_wal_with_its_durability_and_a_busy_timeout(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    progress = Progress(tmp_path / "progress.sqlite3")
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    try:
        full, normal, timeout_ms = 2, 1, int(sqlitedb.BUSY_TIMEOUT_S * 1000)
        assert _settings(journal._conn()) == ("wal", full, timeout_ms, 1)
        assert _settings(progress.db) == ("wal", full, timeout_ms, 0)
        assert _settings(catalogue.db) == ("wal", normal, timeout_ms, 0)
        assert catalogue.db.execute("PRAGMA cache_size").fetchone()[0] == -65536
    finally:
        journal.close()
        progress.close()
        catalogue.close()


def test_a_transaction_commits_on_success_and_rolls_back_on_any_exception(tmp_path):
    db = sqlitedb.connect(tmp_path / "t.sqlite3")
    try:
        db.execute("CREATE TABLE t (x INTEGER)")
        with sqlitedb.transaction(db):
            db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(KeyboardInterrupt), sqlitedb.transaction(db):
            db.execute("INSERT INTO t VALUES (2)")
            raise KeyboardInterrupt
        assert [r[0] for r in db.execute("SELECT x FROM t")] == [1]
        assert not db.in_transaction
    finally:
        db.close()


def test_a_transaction_holds_the_write_lock_from_its_start(tmp_path):
    """BEGIN IMMEDIATE: a second writer waits for the lock (here: gives up quickly) instead of deadlocking."""
    first = sqlitedb.connect(tmp_path / "t.sqlite3")
    second = sqlitedb.connect(tmp_path / "t.sqlite3", busy_timeout_s=0.1)
    try:
        first.execute("CREATE TABLE t (x INTEGER)")
        with sqlitedb.transaction(first):
            with pytest.raises(sqlite3.OperationalError, match="locked"), sqlitedb.transaction(second):
                pass
        with sqlitedb.transaction(second):
            second.execute("INSERT INTO t VALUES (1)")
    finally:
        first.close()
        second.close()


def test_a_waiting_writer_proceeds_once_the_first_commits(tmp_path):
    first = sqlitedb.connect(tmp_path / "t.sqlite3")
    second = sqlitedb.connect(tmp_path / "t.sqlite3")
    first.execute("CREATE TABLE t (x INTEGER)")
    started, done = threading.Event(), threading.Event()

    def write_second() -> None:
        started.set()
        with sqlitedb.transaction(second):
            second.execute("INSERT INTO t VALUES (2)")
        done.set()

    try:
        with sqlitedb.transaction(first):
            first.execute("INSERT INTO t VALUES (1)")
            thread = threading.Thread(target=write_second)
            thread.start()
            started.wait(5)
            assert not done.wait(0.3)  # blocked behind the open transaction
        thread.join(10)
        assert done.is_set()
        assert sorted(r[0] for r in first.execute("SELECT x FROM t")) == [1, 2]
    finally:
        first.close()
        second.close()
