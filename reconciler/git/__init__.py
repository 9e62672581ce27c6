"""Everything that touches git: the only importer of gitpython in the project.

Modules: ``repo`` (opening a repository from any folder in it, revisions, files
and their content at a revision), ``history`` (the commits that touched paths,
the first-parent line, commit order), ``ledgerbranch`` (the ledger on a branch
of its own), ``publish`` (committing and pushing the ledger, the remote lease).

Whatever git or gitpython raises leaves this package as
:class:`reconciler.errors.GitError` (see :mod:`reconciler.git.repo`); paths are
read from NUL-separated output, so they come back as they are on disk.
"""
