"""Base versus tuned on the dev split."""
