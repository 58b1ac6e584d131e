"""All SQLAlchemy models. Importing this package registers every table on ``Base.metadata``.

One module per aggregate; each owner adds its module to the import list below.
"""

from moviepulse.models import analytics, events, ingestion, jobs, movie, ssr, users  # noqa: F401
from moviepulse.models.base import Base

__all__ = ["Base"]
