"""Bulk import of units from CSV and XLSX: parsing (columns, reader), validation against the registry, CLI."""
