"""marlgpt training side: expert data, benchmark evaluation, training and export."""

__version__ = "0.1.0"
