"""Mercury (Incotex) meter protocols."""
