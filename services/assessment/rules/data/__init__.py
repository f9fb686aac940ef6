"""Rule-set YAML files (package data; one file per rule set, plus catalogue.yaml)."""
