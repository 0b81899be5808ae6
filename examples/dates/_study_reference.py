"""The reference numbers the date study compares itself with (docs/dates.md tells where they come from)."""

from __future__ import annotations

from typing import Any

__all__ = ["NOTEBOOK"]

#: What the founding study reported: string lengths, the area distribution, the random and
#: top units, the example translations, the capture speed (seed/STUDY.md).
NOTEBOOK: dict[str, Any] = {
    "lengths": {
        "count": 1000, "mean": 13.6, "std": 5.2, "min": 6, "50%": 12, "75%": 15,
        "90%": 21, "95%": 24, "99%": 32, "max": 41,
    },
    "area": {
        "count": 512, "mean": 1.3, "std": 0.8, "min": 0.2, "50%": 1.1, "75%": 1.8,
        "90%": 2.5, "95%": 2.8, "99%": 3.7, "max": 5.4,
    },
    "random_units": [405, 496, 432, 47, 121],
    "top5_units": [309, 436, 346, 214, 50],
    "examples": {
        "February 16th, 2019": "2019-02-16",
        "Jan 1 1990": "1990-01-01",
        "02-03-1998": "1998-03-02",
        "March the 12th, 2012": "2012-03-03",
    },
    "capture": {"strings": 1000, "seconds": 59.0, "strings_per_s": 17.0, "how": "one string at a time, GPU"},
    "val_loss": 0.01,
    "heatmap_string": "February 16th, 2019",
}  # fmt: skip
