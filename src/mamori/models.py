"""Every domain's tables, gathered so Alembic sees one metadata."""

from mamori.commitments import models as commitments_models
from mamori.core.db import Base
from mamori.ledger import models as ledger_models
from mamori.posture import models as posture_models
from mamori.tenants import models as tenants_models

metadata = Base.metadata

__all__ = [
    "commitments_models",
    "ledger_models",
    "metadata",
    "posture_models",
    "tenants_models",
]
