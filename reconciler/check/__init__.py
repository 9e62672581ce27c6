"""Checking request files: schemas, rules, rules against a base revision, reports."""
