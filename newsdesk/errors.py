"""Exceptions the library raises and the exit codes the CLI maps them to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes, documented in the README for cron users."""

    OK = 0  # everything went well
    PARTIAL = 1  # the run finished, but some feeds or rows failed (see the summary / stderr)
    USAGE = 2  # bad command line, bad feeds.yaml, bad query
    LOCKED = 3  # another newsdesk run holds the lock on this database
    STORAGE = 4  # the database cannot be opened or written (corrupt, read-only, disk full)


class NewsdeskError(Exception):
    """Base class: the message is one line meant for the user."""

    exit_code: ExitCode = ExitCode.PARTIAL


class ConfigError(NewsdeskError):
    exit_code = ExitCode.USAGE


class QueryError(NewsdeskError):
    exit_code = ExitCode.USAGE


class LockedError(NewsdeskError):
    exit_code = ExitCode.LOCKED


class StorageError(NewsdeskError):
    exit_code = ExitCode.STORAGE
