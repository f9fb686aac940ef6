"""National-scale benchmark: a synthetic country, measured stages and the raw limits of the parts."""
