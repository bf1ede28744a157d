"""mamori: run a cloud service under ISO/IEC 27017.

Commitments are data, checks produce evidence, evidence gives each commitment a
status, and the customer whitepaper is published from all of it.
"""

__version__ = "0.1.0"
