"""The chat engine and the OpenAI-compatible server."""
