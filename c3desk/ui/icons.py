"""The application icon and the app's button icons: SVGs rendered to pixmaps here (no SVG
icon-engine plugin needed).

The SVGs ship inside the package (``c3desk/ui/assets``) so an installed c3desk has them; the repo's
``resources/icons`` holds the app icon's SVG plus the hicolor PNGs that desktop packaging installs.
``python -m c3desk.ui.icons [DIR]`` re-renders those PNGs from the SVG.

Buttons get icons, never emoji or rare symbols as text: a font may lack those (with only the
DejaVu fonts a pin emoji is an empty box). A button icon's SVG draws in ``currentColor``, replaced
by the theme's colour when rendered, so one SVG serves both themes.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

ASSETS = Path(__file__).resolve().parent / "assets"
APP_SVG = ASSETS / "c3desk.svg"
REPO_ICONS = Path(__file__).resolve().parents[2] / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
#: Sizes of a button icon's pixmaps (logical 16-24 px, and twice that for high-DPI screens).
BUTTON_SIZES = (16, 20, 24, 32, 40, 48)
#: The button icons in ``assets``: NAME.svg, drawn in ``currentColor``.
BUTTON_ICONS = ("pin", "pinned", "maximize", "restore", "continue", "kill")

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


@functools.lru_cache(maxsize=64)
def _button_renderer(name: str, color: str) -> QSvgRenderer:
    if name not in BUTTON_ICONS:
        raise ValueError(f"no button icon named {name!r}")
    svg = (ASSETS / f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    if not renderer.isValid():
        raise RuntimeError(f"the icon {ASSETS / name}.svg is not a valid SVG")
    return renderer


def render_button_image(name: str, size: int, color: QColor | str) -> QImage:
    """Button icon ``name`` as a ``size``×``size`` ARGB image, drawn in ``color``."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _button_renderer(name, QColor(color).name()).render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def button_icon(name: str, palette: QPalette, checked: str | None = None) -> QIcon:
    """Button icon ``name`` in ``palette``'s button-text colour (greyed when disabled); a
    checkable button shows ``checked`` (another icon's name) in the accent colour when on."""
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    return _button_icon(
        name,
        palette.color(group.Active, role.ButtonText).name(),
        palette.color(group.Disabled, role.ButtonText).name(),
        checked,
        palette.color(group.Active, role.Accent).name(),
    )


@functools.lru_cache(maxsize=64)
def _button_icon(name: str, text: str, disabled: str, checked: str | None, accent: str) -> QIcon:
    """One icon per look, shared by every tile (a QIcon copy shares its pixmaps)."""
    looks = [(name, text, QIcon.Mode.Normal, QIcon.State.Off)]
    looks.append((name, disabled, QIcon.Mode.Disabled, QIcon.State.Off))
    if checked is not None:
        looks.append((checked, accent, QIcon.Mode.Normal, QIcon.State.On))
    icon = QIcon()
    for icon_name, color, mode, state in looks:
        for size in BUTTON_SIZES:
            image = render_button_image(icon_name, size, color)
            icon.addPixmap(QPixmap.fromImage(image), mode, state)
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
