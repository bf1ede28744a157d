"""HTML pages of the tenants domain; each module has a `router`."""
