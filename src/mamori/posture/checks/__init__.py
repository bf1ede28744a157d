"""Posture checks, one module per concern and cloud; `base` holds what they share.

Importing this package imports every module in it, which registers their checks.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
