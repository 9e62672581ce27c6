"""Writing files for people: new requests (``reconciler new``) and new repositories (``init``)."""
