"""The tamper-evident audit ledger, signed checkpoints and Part 11 electronic signatures."""
