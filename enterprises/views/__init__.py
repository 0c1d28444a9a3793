"""Pages of the field-data app: enterprises.py (the registry and one enterprise), records.py (lists,
trainings, facilities, catalogues), imports.py (spreadsheet imports), pmu.py (duplicates, clusters)."""
