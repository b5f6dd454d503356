"""Plumbing shared by the lecture widgets: a pure drawing function shown in an ipywidgets Output.

A widget here is ``draw(**control_values) -> matplotlib Figure`` plus a few controls. The drawing
function is the update function: tests (and readers without a browser) call it directly and look at
the figure's data; the widget only redraws it into its Output whenever a control changes.
Figures are :class:`LectureFigure` objects (a ``matplotlib.figure.Figure`` made without pyplot), so no
global figure state builds up, nothing is drawn twice, and a figure shows itself as a PNG in Jupyter
even before pyplot has loaded its inline backend.

A redraw must take at most 0.5 s on 2 cores (and a Play button ticks slower than that), so widget
figures use fixed margins (a constrained layout draws everything twice) and cheap grid lines, and a
widget may give an ``update(figure, **values) -> bool`` that changes the shown figure's artists in
place (e.g. only the step moved) instead of drawing a new figure. When an update changes only a few
artists, ``LectureFigure.set_foreground`` names them and a render draws only those over a cached
render of the rest; the canvas keeps the text layout of every string it drew (``_agg``).
"""
from __future__ import annotations

import struct
import time
import zlib

import numpy as np
from matplotlib.figure import Figure


DPI = 90  # the figures' pixels per inch: fontsize 8 pt is 10 px, the smallest text a lecture uses


class LectureFigure(Figure):
    """A Figure that renders itself in Jupyter (``_repr_png_``) without going through pyplot.

    ``set_foreground(artists, name)``, when a widget's ``update`` changes only those artists (whole
    Axes among them), makes every render draw only them over a cached render of the rest (the
    background kept under ``name``), until ``background_changed(name)`` says something else changed
    too. The picture is the full render's as long as no background artist that a full render draws
    after a foreground artist overlaps it (e.g. put an axes' spines in its foreground when boxes may
    touch them)."""

    def __init__(self, *args, dpi=DPI, **kwargs):
        super().__init__(*args, dpi=dpi, **kwargs)
        self.foreground: list = []
        self._foreground_name = None
        self._backgrounds: dict = {}  # name -> (canvas, size, saved pixels)

    def set_foreground(self, artists, name: str = "foreground") -> None:
        """Draw ``artists`` over the background kept under ``name`` from the next render on (the
        artists may be new ones, e.g. an update's new patches: the background stays)."""
        self.foreground, self._foreground_name = list(artists), name

    def background_changed(self, name: str | None = None) -> None:
        """Forget the background kept under ``name`` (every one when None): something outside its
        foreground changed, so its next render is a full one."""
        if name is None:
            self._backgrounds.clear()
        else:
            self._backgrounds.pop(name, None)

    def _repr_png_(self) -> bytes:
        """The figure as a PNG at its dpi (DPI), as ``savefig`` draws it, but without its alpha channel
        when every pixel is opaque (the usual case: a quarter less to compress and to send), written
        fast (``png_bytes``): a widget's PNG is made on every redraw and only travels to the browser."""
        from ._agg import LectureCanvas  # Agg, keeping the text layouts of the strings it drew

        canvas = self.canvas if isinstance(self.canvas, LectureCanvas) else LectureCanvas(self)
        if self.foreground:
            self._render_over_background(canvas)
        else:
            canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        opaque = bool(rgba[..., 3].min() == 255)
        return png_bytes(rgba[..., :3] if opaque else rgba)

    def _render_over_background(self, canvas) -> None:
        """Restore the cached background (or render it: everything but the foreground, which is
        'animated' meanwhile, so the figure and its axes leave it out), then draw the foreground
        artists in the order a full render draws them."""
        key = self._foreground_name
        kept = self._backgrounds.get(key)
        if kept is None or kept[:2] != (canvas, canvas.get_width_height()):
            for artist in self.foreground:
                artist.set_animated(True)
            try:
                canvas.draw()
            finally:
                for artist in self.foreground:
                    artist.set_animated(False)
            self._backgrounds[key] = (canvas, canvas.get_width_height(), canvas.copy_from_bbox(self.bbox))
        else:
            canvas.restore_region(kept[2])
        renderer = canvas.get_renderer()
        for artist in _in_draw_order(self, self.foreground):
            artist.draw(renderer)


def png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG of (H, W, 3) RGB or (H, W, 4) RGBA uint8 pixels: every row filtered as its difference to
    the row above (PNG filter type 2, 'Up': one numpy subtraction; flat figure areas become runs of
    zeros) and deflated at zlib level 1. Pillow's PNG writer at the same zlib level took two to seven
    times as long on the lecture widgets' figures, for files of about the same size (measured on
    the figures of lectures 02, 04 and 05)."""
    height, width, channels = pixels.shape
    rows = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(height, width * channels)
    filtered = np.empty((height, width * channels + 1), np.uint8)
    filtered[:, 0] = 2  # the filter type byte that starts each row
    filtered[0, 1:] = rows[0]  # the row above the first one counts as zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # modulo 256, as PNG defines it

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = {3: 2, 4: 6}[channels]  # truecolour, truecolour with alpha
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(filtered.tobytes(), 1))
            + chunk(b"IEND", b""))


def _in_draw_order(fig: Figure, artists: list) -> list:
    """``artists`` (of ``fig``'s axes, or axes themselves) in the order ``Figure.draw`` draws them:
    the axes by zorder, inside an axes its children by zorder, ties in the children's order."""
    wanted = {id(artist) for artist in artists}
    ordered = []
    for ax in sorted(fig.axes, key=lambda a: a.get_zorder()):
        if id(ax) in wanted:
            ordered.append(ax)
            continue
        ordered += [a for a in sorted(ax.get_children(), key=lambda a: a.get_zorder()) if id(a) in wanted]
    return ordered


class FigureWidget:
    """Controls (a dict name -> ipywidget) driving ``draw``; ``ui`` is the box to display.

    ``update(figure, **values) -> bool``, when given, is tried first on every change: it changes the
    shown figure in place and says whether it could (False: ``draw`` makes a new figure).
    ``seconds`` is how long the last redraw took (drawing and PNG encoding)."""

    def __init__(self, draw, controls: dict, extra=(), update=None):
        import ipywidgets as widgets

        self.draw, self.update, self.controls = draw, update, controls
        self.output = widgets.Output()
        self.figure, self.seconds = None, 0.0
        for control in controls.values():
            control.observe(self.refresh, names="value")
        self.ui = widgets.VBox([widgets.HBox(list(extra) + list(controls.values())), self.output])
        self.refresh()

    def values(self) -> dict:
        """The controls' current values by name (``draw``'s keyword arguments)."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self, change=None) -> Figure:
        """Redraw with the controls' current values (called by every control change)."""
        from IPython.display import Image, display

        started, values = time.perf_counter(), self.values()
        if not (self.figure is not None and self.update is not None and self.update(self.figure, **values)):
            self.figure = self.draw(**values)
        # our own PNG: pyplot's inline backend would render a Figure with bbox_inches="tight" (a second pass)
        png = Image(self.figure._repr_png_()) if hasattr(self.figure, "_repr_png_") else self.figure
        with self.output:
            self.output.clear_output(wait=True)
            display(png)
        self.seconds = time.perf_counter() - started
        return self.figure

    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


def message_figure(text: str, figsize=(6, 1.5)) -> Figure:
    """A figure that only says why nothing can be drawn (e.g. a kernel larger than its input)."""
    fig = LectureFigure(figsize=figsize)
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return fig


def annotate_cells(ax, values: np.ndarray, fmt: str = "{:g}", skip_zero: bool = False, fontsize: float = 8,
                   image=None):
    """Write every entry of a small 2-D array in its imshow cell; given the ``image`` (the AxesImage
    drawn from ``values``), the text is white on dark cells so it stays readable."""
    set_cell_numbers(ax, [], values, fmt, skip_zero, fontsize, image)


def set_cell_numbers(ax, texts: list, values: np.ndarray, fmt: str = "{:g}", skip_zero: bool = False,
                     fontsize: float = 8, image=None, keep_spare: bool = False) -> list:
    """Make ``texts`` (Text artists of ``ax``, e.g. a previous call's result) the numbers of ``values``
    in their cells, as ``annotate_cells`` writes them: reuses the artists there are (a redraw with a
    new array then creates no text), adds the missing ones, removes the rest (or, ``keep_spare``,
    blanks them and keeps them at the end of the list, for a later call with more numbers: a widget
    going back and forth between a small and a large array then creates no text at all); returns
    the new list."""
    values = np.asarray(values)
    shown = np.isfinite(values) & ((values != 0) if skip_zero else True)
    rows, cols = np.nonzero(shown)
    colours = _text_colours(image, values[shown])
    spare = texts[len(rows):] if keep_spare else []
    for text in texts[len(rows):]:
        if keep_spare:
            text.set_text("")
        else:
            text.remove()
    missing = len(rows) - len(texts)
    texts = texts[:len(rows)] + [ax.text(0, 0, "", ha="center", va="center") for _ in range(missing)]
    for text, r, c, v, colour in zip(texts, rows, cols, values[shown], colours):
        text.set_position((c, r))
        text.set_text(fmt.format(v))
        text.set_fontsize(fontsize)
        text.set_color(colour)
    return texts + spare


def _text_colour(image, value: float) -> str:
    """Black, or white where the image paints ``value`` dark (relative luminance below 0.45)."""
    return str(_text_colours(image, np.array([value]))[0])


def _text_colours(image, values: np.ndarray) -> np.ndarray:
    """``_text_colour`` of every value (one colour-map call for all: a call per value costs more than
    drawing the number)."""
    if image is None:
        return np.full(len(values), "black")
    rgba = np.atleast_2d(image.cmap(image.norm(values)))
    luminance = rgba[:, :3] @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(luminance < 0.45, "white", "black")


def grid_lines(ax, shape, colour="0.7"):
    """Thin lines between the cells of an imshow of ``shape`` (rows, cols): two line collections (minor
    ticks with a grid cost a tick object per line, measured and laid out on every redraw)."""
    rows, cols = shape
    return (ax.hlines(np.arange(-0.5, rows, 1), -0.5, cols - 0.5, colors=colour, linewidth=0.5),
            ax.vlines(np.arange(-0.5, cols, 1), -0.5, rows - 0.5, colors=colour, linewidth=0.5))


def move_grid_lines(lines, shape) -> None:
    """Give the two collections of ``grid_lines`` the lines of another ``shape``."""
    rows, cols = shape
    across, down = lines
    across.set_segments([[(-0.5, y), (cols - 0.5, y)] for y in np.arange(-0.5, rows, 1)])
    down.set_segments([[(x, -0.5), (x, rows - 0.5)] for x in np.arange(-0.5, cols, 1)])


def fixed_titles(fig: Figure) -> Figure:
    """Keep every axes' title at its default place (y = 1 plus the title pad) instead of letting
    matplotlib search, on every render, for a free spot above tick labels and offset texts: that
    search measures every axis of the figure and is up to a third of a redraw. Only for figures with
    nothing above their axes (no top ticks, no offset text under a title), where the search finds
    the default place anyway; the widget tests check the pixels are those of the searched place."""
    for ax in fig.axes:
        ax.title.set_y(1.0)
        ax._autotitlepos = False  # what set_title(..., y=1.0) sets, for titles set before or after
    return fig
