"""Merge, data export, GGUF, Ollama, vLLM."""
