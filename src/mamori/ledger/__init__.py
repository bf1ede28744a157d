"""The ledger: a tamper-evident event log kept for the retention period.

Owns ingest (formats and transports), the Merkle log of per-tenant chunks, signed
checkpoints and cosignatures, proofs, retention and legal holds, per-tenant analysis,
evidence disclosure and detection rules. Imports core, tenants and commitments.
"""
