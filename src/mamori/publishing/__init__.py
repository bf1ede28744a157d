"""Publishing: the customer whitepaper (HTML, PDF, Markdown) built from the database.

Imports: mamori.core and the service modules of tenants and commitments.
"""
