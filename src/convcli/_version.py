"""convcli's version: one place, below every module that writes it into its outputs."""

__version__ = "0.2.0"
