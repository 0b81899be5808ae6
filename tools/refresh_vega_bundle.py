"""Regenerate rnndyn/_static/vega-bundle.js, the offline Vega + Vega-Lite + vega-embed bundle.

The interactive report (rnndyn.analysis) inlines this file so that the page
draws its charts with no network. The bundle comes from vl-convert-python's
``javascript_bundle()``, which assigns ``vegaEmbed``, ``vega`` and
``vegaLite`` to ``window``. vl-convert-python is needed only to run this
script (``pip install vl-convert-python``), never by rnndyn itself.

Run from the repository root::

    python tools/refresh_vega_bundle.py            # newest Vega-Lite vl-convert has
    python tools/refresh_vega_bundle.py --vl 6.4   # a given one

then update the versions in rnndyn/_static/VEGA-LICENSE.txt if they changed,
and run tests/test_browser.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "rnndyn" / "_static" / "vega-bundle.js"


def main() -> None:
    import vl_convert as vlc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vl", default=None, help="Vega-Lite version, e.g. 6.4 (default: the newest)")
    args = parser.parse_args()
    vl_version = args.vl or vlc.get_vegalite_versions()[-1]
    bundle = vlc.javascript_bundle(vl_version=vl_version)
    if "</script" in bundle.lower():
        raise SystemExit("the bundle contains '</script', which would end the page's <script> element")
    header = (
        f"/*! rnndyn vendored bundle: Vega {vlc.get_vega_version()}, Vega-Lite {vl_version}, "
        f"vega-embed {vlc.get_vega_embed_version()}, vega-themes {vlc.get_vega_themes_version()}; "
        f"built by vl-convert-python {vlc.__version__} javascript_bundle(). "
        "Licenses: VEGA-LICENSE.txt next to this file. */\n"
    )
    TARGET.write_text(header + bundle + "\n", encoding="utf-8")
    print(f"wrote {TARGET} ({TARGET.stat().st_size / 1e3:.0f} kB): {header.strip()}")


if __name__ == "__main__":
    main()
