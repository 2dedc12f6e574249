"""The application icon: one SVG, rendered to pixmaps here (no SVG icon-engine plugin needed).

The SVG ships inside the package (``c3desk/ui/assets``) so an installed c3desk has it; the repo's
``resources/icons`` holds the same SVG plus the hicolor PNGs that desktop packaging installs.
``python -m c3desk.ui.icons [DIR]`` re-renders those PNGs from the SVG.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

ASSETS = Path(__file__).resolve().parent / "assets"
APP_SVG = ASSETS / "c3desk.svg"
REPO_ICONS = Path(__file__).resolve().parents[2] / "resources" / "icons"
PNG_SIZES = (16, 32, 48, 64, 128, 256)
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)

BADGE_FILL = QColor("#e5484d")
BADGE_TEXT = QColor("#ffffff")
BADGE_RING = QColor("#151c2b")


def app_svg_path() -> Path:
    """The SVG of the app icon: the package's copy, else the repo's."""
    if APP_SVG.is_file():
        return APP_SVG
    return REPO_ICONS / "c3desk.svg"


@functools.cache
def _renderer() -> QSvgRenderer:
    renderer = QSvgRenderer(str(app_svg_path()))
    if not renderer.isValid():
        raise RuntimeError(f"the app icon {app_svg_path()} is not a valid SVG")
    return renderer


def render_app_image(size: int) -> QImage:
    """The app icon as a ``size``×``size`` ARGB image."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _renderer().render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def app_icon() -> QIcon:
    """The app icon at every common size."""
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addPixmap(QPixmap.fromImage(render_app_image(size)))
    return icon


def badge_text(count: int) -> str:
    return "99+" if count > 99 else str(count)


def render_badged_image(size: int, count: int) -> QImage:
    """The app icon with a red count badge in its top-right corner (no badge for 0)."""
    image = render_app_image(size)
    if count <= 0:
        return image
    text = badge_text(count)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    diameter = size * (0.62 if len(text) == 1 else 0.7)
    width = diameter if len(text) == 1 else diameter * (1.0 + 0.28 * (len(text) - 1))
    width = min(width, float(size))
    rect = QRectF(size - width, 0, width, diameter)
    ring = max(1.0, size / 24)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(BADGE_RING)
    painter.drawRoundedRect(rect, diameter / 2, diameter / 2)
    inner = rect.adjusted(ring, ring, -ring, -ring)
    painter.setBrush(BADGE_FILL)
    painter.drawRoundedRect(inner, inner.height() / 2, inner.height() / 2)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(6, round(inner.height() * (0.78 if len(text) == 1 else 0.62))))
    painter.setFont(font)
    painter.setPen(BADGE_TEXT)
    painter.drawText(inner, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return image


def badged_icon(count: int) -> QIcon:
    """The app icon with the number of sessions needing input, at tray sizes."""
    icon = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        icon.addPixmap(QPixmap.fromImage(render_badged_image(size, count)))
    return icon


def render_png_set(out_dir: Path) -> list[Path]:
    """Write ``hicolor/<N>x<N>/apps/c3desk.png`` for every packaged size under ``out_dir``."""
    written = []
    for size in PNG_SIZES:
        path = out_dir / "hicolor" / f"{size}x{size}" / "apps" / "c3desk.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not render_app_image(size).save(str(path)):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtGui import QGuiApplication

    args = sys.argv[1:] if argv is None else argv
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for path in render_png_set(Path(args[0]) if args else REPO_ICONS):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
