"""Runs one attempt of one decoded task and says what became of it (an Outcome)."""
