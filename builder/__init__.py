"""Domain assistant builder: support transcripts in, a fine-tuned assistant out."""

__version__ = "0.1.0"
