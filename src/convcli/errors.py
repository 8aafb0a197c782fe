"""The exceptions convcli raises and the exit codes they become.

Library code raises these; the CLI maps them to exit codes in one place
(``convcli.cli``). Every message is one line that names what is wrong.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes of DESIGN.md section 5."""

    OK = 0
    FAILED = 1  # at least one input failed; the others were processed
    USAGE = 2  # bad option, unknown or invalid kernel, impossible shapes
    INTERRUPTED = 130  # SIGINT
    TERMINATED = 143  # SIGTERM


class ConvcliError(Exception):
    """Base class of every error convcli reports to its user."""

    exit_code = ExitCode.FAILED


class UsageError(ConvcliError, ValueError):
    """What the user asked for cannot be done; nothing has been written."""

    exit_code = ExitCode.USAGE


class ParameterError(UsageError):
    """An argument has an invalid value; the message names the parameter and the value."""


class KernelError(UsageError):
    """A kernel spec or kernel file is unknown or invalid; the message says where."""


class InputError(ConvcliError):
    """One input could not be read or its output could not be written."""
