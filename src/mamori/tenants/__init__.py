"""The provider, its services and its tenants (customers).

Owns: providers, policy_statements, services, tenants, tenant_services, tenant_contacts.
Imports: mamori.core only.
"""
