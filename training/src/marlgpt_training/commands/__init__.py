"""Subcommands of the ``marlgpt`` command, one module each."""
