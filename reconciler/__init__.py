"""reconciler: privacy requests as code for Adobe Experience Platform."""

from __future__ import annotations

__version__ = "0.2.0"
