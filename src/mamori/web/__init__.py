"""The web app: a read-only commitment status page for now (the portal is issue 3).

Imports: every domain's service.py, never their repositories.
"""
