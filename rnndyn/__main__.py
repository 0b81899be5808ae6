"""``python -m rnndyn``: the ``rnndyn`` command (see :mod:`rnndyn.cli`)."""

from __future__ import annotations

if __name__ == "__main__":
    from rnndyn.cli import main

    main()
