"""The Agg canvas of the lecture figures: matplotlib's, keeping the text layout of every string it drew.

matplotlib 3.11 lays a string out anew (libraqm shaping: glyphs and their offsets) every time it
draws it, and that is much of a widget redraw's text cost, while tick labels, titles and cell
numbers repeat from redraw to redraw (and inside one: 169 path counts of a few distinct values).
A string's layout depends only on the string, the font files, the size, the dpi, the hinting and
the OpenType features and language, so the renderer keeps it per those and draws the same glyphs at
the same places as ``RendererAgg`` does (the pixels are its own: tested). Mathtext, and a matplotlib
without this private layout call, go to ``RendererAgg`` unchanged. The font's height metrics, which
``Text`` reads from the font's tables for every text it lays out, are kept per font, size and dpi.
"""
from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager, get_font

_LAYOUTS: dict = {}  # (string, fonts, size, dpi, hinting, features, language) -> the glyphs' layout
_MAX_LAYOUTS = 20_000  # a few MB at most; cleared when full
_HEIGHTS: dict = {}  # (fonts, size, dpi) -> (ascent, descent, line gap) in pixels
_CAN_CACHE = (hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
              and hasattr(fontManager, "_find_fonts_by_props"))


class LayoutCachingRenderer(RendererAgg):
    """``RendererAgg`` whose ``draw_text`` lays each distinct string out once (see the module)."""

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not _CAN_CACHE:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size, flags = prop.get_size_in_points(), get_hinting_flag()
        key = (s, tuple(fontManager._find_fonts_by_props(prop)), size, self.dpi, flags,
               None if features is None else tuple(features), language)
        glyphs = _LAYOUTS.get(key)
        if glyphs is None:
            font = self._prepare_font(prop)
            if not hasattr(font, "_layout"):
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            items = font._layout(s, flags=flags, features=features, language=language)
            glyphs = [(item.ft_object, item.glyph_index, item.x, item.y) for item in items]
            if len(_LAYOUTS) >= _MAX_LAYOUTS:
                _LAYOUTS.clear()
            _LAYOUTS[key] = glyphs
        # as RendererAgg.draw_text: each glyph (its font, size, index, no slant, no stretch, offset)
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle, ((font, size, index, 0, 1, dx, dy) for font, index, dx, dy in glyphs), [])


    def _get_font_height_metrics(self, prop):
        """(ascent, descent, line gap) in pixels of the font, as ``Text._get_layout`` reads them from
        the font's OS/2 or hhea table (this hook of its renderer saves reading them per text and
        draw); (None, None, None), matplotlib's own fallback, for a font without those tables."""
        if not _CAN_CACHE:
            return None, None, None
        fonts, size = tuple(fontManager._find_fonts_by_props(prop)), prop.get_size_in_points()
        key = (fonts, size, self.dpi)
        if key not in _HEIGHTS:
            _HEIGHTS[key] = _height_metrics(get_font(list(fonts)), size, self.dpi)
        return _HEIGHTS[key]


def _height_metrics(font, size, dpi):
    """What matplotlib 3.11's ``Text._get_layout`` computes from the font's tables, the same way."""
    tables = (("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
              ("hhea", "lineGap", "ascent", "descent"))
    for table_name, gap_key, ascent_key, descent_key in tables:
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * size * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None


class LectureCanvas(FigureCanvasAgg):
    """``FigureCanvasAgg`` drawing with a ``LayoutCachingRenderer``."""

    def get_renderer(self):
        width, height = self.get_width_height(physical=True)
        key = width, height, self.figure.dpi
        if self._lastKey != key:  # a new renderer only for a new size, as FigureCanvasAgg does
            self.renderer = LayoutCachingRenderer(width, height, self.figure.dpi)
            self._lastKey = key
        return self.renderer
