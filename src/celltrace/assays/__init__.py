"""Pure assay calculations: no Django imports (architecture: ``assays`` depends on nothing of ours).

Each calculation validates its inputs and raises :class:`celltrace.assays.errors.AssayInputError`
(a ``ValueError``) with a message that names the row, field and rule that failed.
"""
