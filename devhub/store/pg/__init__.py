"""The fleet hub's shared, authoritative store in PostgreSQL (`devhub up --role fleet --database …`).

PostgreSQL takes the place of the journal: every accepted write is one row of `devhub_writes` (the
envelope the file journal would hold, with a gapless seq assigned in commit order) and its answer
is one row of `devhub_idempotency`, both committed in one transaction. Every replica's read model
(SQLite, files + writes) applies those rows in seq order, as a dev hub applies its journal. See
docs/fleet-postgresql.md.
"""
