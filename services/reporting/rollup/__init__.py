"""Rollups: pure computation of a year's report for a scope from a snapshot of the read models."""
