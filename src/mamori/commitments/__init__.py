"""Commitments: the clause index, the catalog, the check registry, evaluation and status.

Owns: clauses, commitments, commitment_clauses, commitment_checks, responsibility_areas,
evaluation_runs, check_results. Imports: mamori.core and mamori.tenants.service.
"""
