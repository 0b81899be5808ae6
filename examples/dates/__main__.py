"""``python -m examples.dates``: run the date-translation study (see :mod:`examples.dates.study`)."""

from __future__ import annotations

from .study import main

if __name__ == "__main__":
    raise SystemExit(main())
