"""A next round from a run's votes and corrections (SFT or DPO)."""
