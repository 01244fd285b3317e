"""The run directory: the one owner of a run's file names, its JSON/JSONL files and pace."""
