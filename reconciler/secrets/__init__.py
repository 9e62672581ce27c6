"""Identity values at rest: encryption, masking and re-encryption of request files."""
