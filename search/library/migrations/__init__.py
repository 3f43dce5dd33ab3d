"""Numbered SQL migrations of the user-data file (search/library/userdata.py), applied in order."""
