"""The exceptions convcli raises and the exit codes they become.

Library code raises these, naming its own parameters; the command line words
them as its options and maps them to exit codes in one place
(``convcli.cli.app``). Every message is one line that names what is wrong.
"""

from __future__ import annotations

import os
import signal
from enum import IntEnum
from types import FrameType


class ExitCode(IntEnum):
    """The process exit codes (README, "Exit codes")."""

    OK = 0
    FAILED = 1  # at least one input failed; the others were processed
    USAGE = 2  # bad option, unknown or invalid kernel, impossible shapes
    INTERRUPTED = 130  # SIGINT
    TERMINATED = 143  # SIGTERM


class ConvcliError(Exception):
    """Base class of every error convcli reports to its user.

    Examples
    --------
    >>> import convcli
    >>> try:
    ...     convcli.read(b"not a picture")
    ... except convcli.ConvcliError as error:
    ...     print(type(error).__name__, str(error)[:38])
    InputError <bytes>: not an image convcli can read
    """

    exit_code = ExitCode.FAILED


class UsageError(ConvcliError, ValueError):
    """What the user asked for cannot be done; nothing has been written.

    Examples
    --------
    >>> import convcli
    >>> convcli.explain("sobel")
    Traceback (most recent call last):
    ...
    convcli.errors.UsageError: sobel combines sobel-x and sobel-y; explain one of them
    """

    exit_code = ExitCode.USAGE


class ParameterError(UsageError):
    """An argument has an invalid value; the message names the parameter and the value.

    Parameters
    ----------
    message : str
        Starts with the parameter's name when ``parameter`` is given, so that
        the command line can put its option's name there instead.
    parameter : str, optional
        The library's name of the parameter: ``pad_mode``, ``stride``, ...
    context : str, optional
        What the message is about, before it: an input's name.
    hint : str, optional
        A suggestion for a person (``did you mean rescale?``): the command
        line adds it; the library's message stays as it is.

    Examples
    --------
    >>> import convcli
    >>> try:
    ...     convcli.convolve([1.0, 2.0], [1.0], stride=0)
    ... except convcli.ParameterError as error:
    ...     print(error.parameter, "|", error, "|", error.worded("--stride"))
    stride | stride must be >= 1, got 0 | --stride must be >= 1, got 0
    """

    def __init__(
        self, message: str, *, parameter: str | None = None, context: str = "", hint: str = ""
    ) -> None:
        super().__init__(f"{context}{message}")
        self.message, self.parameter, self.context, self.hint = message, parameter, context, hint

    def __reduce__(self) -> tuple[object, ...]:  # crosses process boundaries whole
        return (_parameter_error, (self.message, self.parameter, self.context, self.hint))

    def about(self, subject: str) -> ParameterError:
        """Return the same error, said of ``subject`` (``photo.png: stride must ...``)."""
        context = f"{subject}: {self.context}"
        return ParameterError(
            self.message, parameter=self.parameter, context=context, hint=self.hint
        )

    def worded(self, name: str) -> str:
        """Return the message with ``name`` (an option) for the parameter, and the hint."""
        text = str(self)
        if self.parameter is not None and self.message.startswith(self.parameter):
            text = f"{self.context}{name}{self.message[len(self.parameter) :]}"
        return f"{text}; {self.hint}" if self.hint else text


def _parameter_error(
    message: str, parameter: str | None, context: str, hint: str
) -> ParameterError:
    return ParameterError(message, parameter=parameter, context=context, hint=hint)


class KernelError(UsageError):
    """A kernel spec or kernel file is unknown or invalid; the message says where.

    Examples
    --------
    >>> import convcli
    >>> convcli.kernel("[[1, 2], [3]]")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: inline kernel: matrix row 2 has 1 value, expected 2 like row 1
    """


class InputError(ConvcliError):
    """One input could not be read or its output could not be written.

    Examples
    --------
    >>> import convcli
    >>> convcli.read("no/such/picture.png")
    Traceback (most recent call last):
    ...
    convcli.errors.InputError: no/such/picture.png: ...
    """


def reason(error: OSError) -> str:
    """Say why the system refused, as convcli's messages end: ``No space left on device``.

    The system's own words (``strerror``), else the error's text.
    """
    return error.strerror or str(error)


def cannot_write(
    target: object, error: OSError, kind: type[ConvcliError] = InputError
) -> ConvcliError:
    """Return the one error of an output the system refused: ``target: cannot write: reason``.

    ``kind`` says what failed, and so the exit code: an input's output fails
    that input (:class:`InputError`); a file an option names is a usage error
    (:class:`UsageError`); a picture drawn after the run fails the run
    (:class:`ConvcliError`).
    """
    return kind(f"{target}: cannot write: {reason(error)}")


class Interrupted(ConvcliError):
    """The run was stopped by SIGINT or SIGTERM."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Signalled(BaseException):  # like KeyboardInterrupt: not an Exception
    """SIGINT or SIGTERM arrived: it unwinds the program to its boundary, past Typer.

    Typer turns a KeyboardInterrupt into a silent exit; this one it lets through,
    so the user is told what happened, in one line.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        """The signal's name: ``SIGINT`` or ``SIGTERM``."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 plus the signal's number, as a shell reports it: 130 or 143."""
        return 128 + self.signum


_MAIN = os.getpid()  # a process forked from this one has another
_arrived: list[int] = []  # every signal raise_signalled raised for, in order


def raise_signalled(signum: int, frame: FrameType | None) -> None:
    """Signal handler: raise :class:`Signalled` (a forked worker not yet set up just stops)."""
    if os.getpid() != _MAIN:
        os._exit(128 + signum)
    _arrived.append(signum)
    raise Signalled(signum)


def signals_arrived() -> int:
    """Count the signals :func:`raise_signalled` has raised for in this process.

    Python swallows an exception raised inside a finalizer (``__del__``), and
    a signal handled there is lost with it (a Dask future released while the
    run waits is one): this count still tells that it came.
    """
    return len(_arrived)


def last_signal() -> int:
    """Return the number of the last signal :func:`raise_signalled` raised for."""
    return _arrived[-1]
