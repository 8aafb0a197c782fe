"""The exceptions convcli raises; the CLI maps them to exit codes in one place."""

from __future__ import annotations


class ConvcliError(Exception):
    """Base class of every error convcli reports to its user."""


class ParameterError(ConvcliError, ValueError):
    """An argument has an invalid value; the message names the parameter and the value."""
