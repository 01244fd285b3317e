"""Texts and conversations: messages, the conversation type, text metrics, vote authors."""
