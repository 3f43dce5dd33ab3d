"""Numbered SQL migrations of the user-data file (search/userdata.py), applied in order."""
