"""The exceptions convcli raises and the exit codes they become.

Library code raises these, naming its own parameters; the command line words
them as its options and maps them to exit codes in one place
(``convcli.cli.app``). Every message is one line that names what is wrong.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from enum import IntEnum
from types import FrameType


class ExitCode(IntEnum):
    """The process exit codes (README, "Exit codes")."""

    OK = 0
    FAILED = 1  # at least one input failed; the others were processed
    USAGE = 2  # bad option, unknown or invalid kernel, impossible shapes
    INTERRUPTED = 130  # SIGINT
    TERMINATED = 143  # SIGTERM


class Message(str):
    """Text that names parameters, which the command line words as its options.

    ``template`` is a :meth:`str.format` template: a field is a parameter
    (``{tile}``) unless ``values`` gives it; a value that is a message is
    worded with it. As a string, the message names each parameter by its own
    name; :meth:`worded` names it otherwise.

    Examples
    --------
    >>> message = Message("{bank} does not take {tile}, got {n!r}", n="{x}")
    >>> message, message.worded(lambda name: "--" + name)
    ("bank does not take tile, got '{x}'", "--bank does not take --tile, got '{x}'")
    >>> Message("a.png: {why}", why=message).worded(str.upper)
    "a.png: BANK does not take TILE, got '{x}'"
    """

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, /, **values: object) -> Message:
        """Fill ``template`` in with ``values``, each parameter by its own name."""
        message = super().__new__(cls, _filled(template, values, str))
        message.template, message.values = template, values
        return message

    def __reduce__(self) -> tuple[object, ...]:  # crosses process boundaries whole
        return (_message, (self.template, self.values))

    def worded(self, option: Callable[[str], str]) -> str:
        """Return the text with each parameter named by ``option`` (``tile`` -> ``--tile``)."""
        return _filled(self.template, self.values, option)

    def after(self, text: str) -> Message:
        """Return this message after ``text``, plain words (``photo.png: ``)."""
        return Message(literal(text) + self.template, **self.values)


class _Fields(dict[str, object]):
    """The values of a message's fields: a field with none is a parameter, named by ``option``."""

    def __init__(self, values: dict[str, object], option: Callable[[str], str]) -> None:
        super().__init__(
            {
                key: worded(value, option) if isinstance(value, str) else value
                for key, value in values.items()
            }
        )
        self.option = option

    def __missing__(self, parameter: str) -> str:
        return self.option(parameter)


def _filled(template: str, values: dict[str, object], option: Callable[[str], str]) -> str:
    return template.format_map(_Fields(values, option))


def _message(template: str, values: dict[str, object]) -> Message:
    return Message(template, **values)


def literal(text: str) -> str:
    """Return ``text`` as a template that says it as it is (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def worded(text: str, option: Callable[[str], str]) -> str:
    """Return ``text`` with each parameter it names (a :class:`Message`) named by ``option``."""
    return text.worded(option) if isinstance(text, Message) else text


class ConvcliError(Exception):
    """Base class of every error convcli reports to its user.

    Its message may be a :class:`Message`, which names parameters.

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

    @property
    def said(self) -> str:
        """The message: a :class:`Message` when it names parameters, else the plain text."""
        first = self.args[0] if len(self.args) == 1 else None
        return first if isinstance(first, Message) else str(self)

    def worded(self, option: Callable[[str], str]) -> str:
        """Return the message with each parameter it names named by ``option``."""
        return worded(self.said, option)


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
        Names parameters as a :class:`Message` does, or starts with the
        parameter's name, so that the command line can put its option's name
        there instead.
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
    ...     print(error.parameter, "|", error, "|", error.worded(lambda name: "--" + name))
    stride | stride must be >= 1, got 0 | --stride must be >= 1, got 0
    """

    def __init__(
        self, message: str, *, parameter: str | None = None, context: str = "", hint: str = ""
    ) -> None:
        super().__init__(_naming(message, parameter).after(context))
        self.message, self.parameter, self.context, self.hint = message, parameter, context, hint

    def __reduce__(self) -> tuple[object, ...]:  # crosses process boundaries whole
        return (_parameter_error, (self.message, self.parameter, self.context, self.hint))

    def about(self, subject: str) -> ParameterError:
        """Return the same error, said of ``subject`` (``photo.png: stride must ...``)."""
        context = f"{subject}: {self.context}"
        return ParameterError(
            self.message, parameter=self.parameter, context=context, hint=self.hint
        )

    def worded(self, option: Callable[[str], str]) -> str:
        """Return the message with each parameter named by ``option``, and the hint."""
        text = super().worded(option)
        return f"{text}; {self.hint}" if self.hint else text


def _naming(message: str, parameter: str | None) -> Message:
    """Return ``message`` as a :class:`Message`: one that starts with ``parameter`` names it."""
    if isinstance(message, Message):
        return message
    if parameter is not None and message.startswith(parameter):
        return Message(f"{{{parameter}}}{literal(message[len(parameter) :])}")
    return Message(literal(message))


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
