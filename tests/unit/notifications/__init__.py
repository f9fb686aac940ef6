"""Unit tests of the notifications domain."""
