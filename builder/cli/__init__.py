"""Command lines that tie layers together (training with its round and evaluation; feedback rounds)."""
