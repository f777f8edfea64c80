"""Rubric files: the closed YAML schema, the lock file, lint, test and calibrate.

Rubrics are data written by analysts; nothing here decides what a note means.
"""
