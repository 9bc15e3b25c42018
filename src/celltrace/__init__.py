"""celltrace: quality and traceability for cell therapy."""

__version__ = "0.1.0"
