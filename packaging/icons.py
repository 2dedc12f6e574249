"""Render the packaged icons from their SVGs (Qt's SVG renderer, offscreen; no display needed).

    QT_QPA_PLATFORM=offscreen python3 packaging/icons.py

Writes under ``resources/icons/``:

- ``hicolor/<N>x<N>/apps/c3desk.png`` for N in 16…512, from ``c3desk.svg`` (the same SVG the
  app draws its window icon from, ``c3desk/ui/assets/c3desk.svg``);
- ``tray/c3desk-tray.svg`` and ``tray/c3desk-tray-attention.svg`` (the app icon, and the app icon
  with the red needs-input badge the tray shows while sessions wait for the user), each also as
  ``tray/<name>-<N>.png`` at the tray sizes. The running app draws the badge with the number of
  waiting sessions (``c3desk.ui.icons.render_badged_image``); these files are its look for
  packagers and themes that want a fixed icon.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
APP_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 24, 32, 48, 64)

#: The needs-input badge (top-right, as c3desk.ui.icons draws it): a ring in the icon's dark
#: blue, a red disc and a white exclamation mark drawn as shapes (no font needed).
BADGE = """
  <circle cx="184" cy="72" r="72" fill="#151c2b"/>
  <circle cx="184" cy="72" r="61" fill="#e5484d"/>
  <rect x="173" y="30" width="22" height="58" rx="11" fill="#ffffff"/>
  <circle cx="184" cy="109" r="12" fill="#ffffff"/>
"""


def tray_svgs() -> dict[str, str]:
    app = (ICONS / "c3desk.svg").read_text(encoding="utf-8")
    close = app.rindex("</svg>")
    badged = app[:close].rstrip() + "\n  <!-- needs-input badge -->" + BADGE + app[close:]
    return {"c3desk-tray": app, "c3desk-tray-attention": badged}


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QByteArray, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])

    def render(svg: str, size: int, path: Path) -> None:
        renderer = QSvgRenderer(QByteArray(svg.encode()))
        if not renderer.isValid():
            raise SystemExit(f"packaging/icons.py: the SVG for {path} is not valid")
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path)):
            raise SystemExit(f"packaging/icons.py: could not write {path}")
        print(path.relative_to(ROOT))

    app_svg = (ICONS / "c3desk.svg").read_text(encoding="utf-8")
    for size in APP_SIZES:
        render(app_svg, size, ICONS / "hicolor" / f"{size}x{size}" / "apps" / "c3desk.png")
    for name, svg in tray_svgs().items():
        svg_path = ICONS / "tray" / f"{name}.svg"
        svg_path.parent.mkdir(parents=True, exist_ok=True)
        svg_path.write_text(svg, encoding="utf-8")
        print(svg_path.relative_to(ROOT))
        for size in TRAY_SIZES:
            render(svg, size, ICONS / "tray" / f"{name}-{size}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
