"""Cloud posture: collect AWS and Azure configuration into snapshots and check it.

Owns snapshots (resources, raw responses, coverage), tenant and service attribution of
resources, the configuration checks for commitments 3, 7, 8, 9, 12, 13 and 17, their
findings, and imported native attestations (Azure Policy, AWS Config, Security Hub).
May import `core`, `tenants` and `commitments`.
"""
