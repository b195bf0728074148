"""Simulated Mercury 230-family meters."""
