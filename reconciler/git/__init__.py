"""Everything that touches git: the only importer of gitpython in the project."""
