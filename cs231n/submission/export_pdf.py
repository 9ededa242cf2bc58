"""The PDF of the questions graded by hand, drawn with matplotlib alone.

Every question starts a new page (a question too long for one page continues on the next,
"continued" in its header), so a course can grade it by hand on Gradescope. The page
holds the question's text, then the student's answer, or for a notebook code region the
code and the cell's outputs. Markdown is laid out here: paragraphs wrapped, bold and
italic, lists, quotes, tables as rows, code in monospace, and math drawn by matplotlib's
mathtext (LaTeX that mathtext cannot draw is shown as source). Plots are drawn at their
own resolution. No browser, converter, font or network is needed: a student's machine
without Chromium or LaTeX still makes the PDF, and two runs give the same bytes.
"""

import base64
import io
import warnings
from dataclasses import dataclass

from cs231n.submission.export import markdown_parser, mathtext_lines, output_image, output_text
from cs231n.submission.questions import CODE

PAGE_W, PAGE_H = 8.5 * 72, 11 * 72  # US Letter, in points
MARGIN = 54
WIDTH = PAGE_W - 2 * MARGIN
BODY, SMALL, MONO, TITLE = 10.0, 7.5, 8.0, 15.0
MONO_ADVANCE = 0.602  # DejaVu Sans Mono: every glyph is this many em wide
MAX_OUTPUT_LINES = 60  # of one text output on paper (the HTML export keeps all of it)
GREY, BLUE, ORANGE = "#555555", "#1f4e9c", "#b36b00"


def _clean(text):
    """Text without control characters (they draw as boxes), tabs expanded."""
    text = text.expandtabs(4)
    return "".join(ch for ch in text if ch == "\n" or ch >= " ")


# ---------------------------------------------------------------------------------------
# Markdown to blocks: paragraphs of styled runs, preformatted text, display math, rules


@dataclass
class Para:
    runs: list  # [(text, style)], style in normal/bold/italic/bolditalic/code/math/break
    indent: float = 0.0
    size: float = BODY
    bullet: str = ""
    color: str = "black"


@dataclass
class Pre:
    text: str
    indent: float = 0.0
    background: str = "#f2f2f2"
    size: float = MONO


@dataclass
class Math:
    lines: list  # mathtext lines, each drawn centred
    indent: float = 0.0


def _style(bold, italic):
    return {(0, 0): "normal", (1, 0): "bold", (0, 1): "italic", (1, 1): "bolditalic"}[
        (min(bold, 1), min(italic, 1))
    ]


def _math_runs(tex, display=False):
    lines = mathtext_lines(tex)
    if lines is None:  # mathtext cannot draw it: show the source
        return [(f"$${tex}$$" if display else f"${tex}$", "code")]
    runs = []
    for i, line in enumerate(lines):
        runs += ([("", "break")] if i else []) + [(line, "math")]
    return runs


def _inline_runs(children):
    runs, bold, italic, href = [], 0, 0, []
    for c in children or []:
        t = c.type
        if t == "text":
            runs.append((c.content, _style(bold, italic)))
        elif t == "softbreak":
            runs.append((" ", _style(bold, italic)))
        elif t == "hardbreak":
            runs.append(("", "break"))
        elif t == "code_inline":
            runs.append((c.content, "code"))
        elif t in ("strong_open", "strong_close"):
            bold += 1 if t.endswith("open") else -1
        elif t in ("em_open", "em_close"):
            italic += 1 if t.endswith("open") else -1
        elif t in ("math_inline", "math_inline_double"):
            runs += _math_runs(c.content)
        elif t == "image":
            runs.append((f"[image: {c.content or c.attrGet('src')}]", "italic"))
        elif t == "link_open":
            href.append(c.attrGet("href") or "")
        elif t == "link_close" and href:
            runs.append((f" <{href.pop()}>", "code"))
    return runs


def markdown_blocks(text, size=BODY, color="black"):
    """The blocks a Markdown text lays out as."""
    blocks, lists, quote, bullet, heading, row = [], [], 0, "", 0, None
    for tok in markdown_parser().parse(text or ""):
        t = tok.type
        indent = 16.0 * len(lists) + 12.0 * quote
        if t in ("bullet_list_open", "ordered_list_open"):
            lists.append(t.startswith("ordered"))
        elif t in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif t == "list_item_open":
            bullet = f"{tok.info}{tok.markup}" if lists and lists[-1] else "•"
        elif t == "blockquote_open":
            quote += 1
        elif t == "blockquote_close":
            quote -= 1
        elif t == "heading_open":
            heading = int(tok.tag[1])
        elif t == "heading_close":
            heading = 0
        elif t == "tr_open":
            row = []
        elif t == "tr_close":
            cells = [r for i, c in enumerate(row) for r in ([(" | ", "normal")] if i else []) + c]
            blocks.append(Para(cells, indent, size, color=color))
            row = None
        elif t == "inline":
            runs = _inline_runs(tok.children)
            if row is not None:
                row.append(runs)
                continue
            if heading:
                runs = [(s, "bold" if st == "normal" else st) for s, st in runs]
            grow = {1: 1.4, 2: 1.25, 3: 1.1}.get(heading, 1.0)
            blocks.append(Para(runs, indent, size * grow, bullet, color))
            bullet = ""
        elif t in ("fence", "code_block"):
            blocks.append(Pre(tok.content.rstrip("\n"), indent))
        elif t in ("math_block", "math_block_eqno"):
            lines = mathtext_lines(tok.content)
            if lines is None:
                blocks.append(Pre(f"$${tok.content.strip()}$$", indent))
            else:
                blocks.append(Math(lines, indent))
        elif t == "hr":
            blocks.append(Pre("", indent, background="#999999", size=0.6))
    return blocks


# ---------------------------------------------------------------------------------------
# Laying blocks out on pages


class _Pages:
    """A PdfPages document written one figure per page, with a moving cursor ``y``."""

    def __init__(self, pdf):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.font_manager import FontProperties
        from matplotlib.transforms import Affine2D

        self._Figure, self._Canvas, self._Affine2D = Figure, FigureCanvasAgg, Affine2D
        self.pdf, self.fig, self.page_number = pdf, None, 0
        self.fonts = {
            "normal": FontProperties(family="DejaVu Sans"),
            "bold": FontProperties(family="DejaVu Sans", weight="bold"),
            "italic": FontProperties(family="DejaVu Sans", style="italic"),
            "bolditalic": FontProperties(family="DejaVu Sans", weight="bold", style="italic"),
            "code": FontProperties(family="DejaVu Sans Mono"),
            "math": FontProperties(family="DejaVu Sans"),
        }
        self._sizes = {}
        from matplotlib.backends.backend_agg import RendererAgg

        # Measured at 720 dpi, where the rounding of glyph advances to pixels is negligible.
        self._ruler = RendererAgg(10, 10, 720)

    # -- pages ---------------------------------------------------------------------------
    def new_page(self, header, title, continued=False):
        self.finish_page()
        self.fig = self._Figure(figsize=(PAGE_W / 72, PAGE_H / 72), dpi=72)
        self._Canvas(self.fig)
        self.pt = self._Affine2D().scale(1 / 72) + self.fig.dpi_scale_trans
        self.page_number += 1
        self.header, self.title = header, title
        self.y = PAGE_H - MARGIN + 18
        self.text(MARGIN, self.y, header, "normal", SMALL, GREY)
        self.text(
            PAGE_W - MARGIN,
            MARGIN - 24,
            f"page {self.page_number}",
            "normal",
            SMALL,
            GREY,
            ha="right",
        )
        self.y -= 8
        self.paragraph(
            Para([(title + (" (continued)" if continued else ""), "bold")], size=TITLE),
            allow_break=False,
        )
        self.y -= 6

    def finish_page(self):
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            self.fig = None

    def room(self, height):
        """Start a continuation page unless ``height`` points fit below the cursor."""
        if self.y - height < MARGIN:
            self.new_page(self.header, self.title, continued=True)

    # -- drawing -------------------------------------------------------------------------
    def text(self, x, y, s, style, size, color="black", ha="left"):
        s = f"${s}$" if style == "math" else s
        self.fig.text(
            x, y, s, transform=self.pt, fontproperties=self.fonts[style], size=size, color=color,
            ha=ha, va="baseline", parse_math=style == "math",
        )  # fmt: skip

    def measure(self, s, style, size):
        """(width, ascent, descent) in points of ``s`` drawn in ``style``."""
        key = (s, style, size)
        if key not in self._sizes:
            prop = self.fonts[style].copy()
            prop.set_size(size)
            s_ = f"${s}$" if style == "math" else s
            w, h, d = self._ruler.get_text_width_height_descent(s_, prop, ismath=style == "math")
            self._sizes[key] = (w / 10, (h - d) / 10, d / 10)
        return self._sizes[key]

    def _words(self, runs):
        """Runs as words: (text, style, space before)."""
        words, space = [], False
        for text, style in runs:
            if style in ("math", "break"):
                words.append((text, style, space))
                space = False
                continue
            text = _clean(text)
            parts = text.split(" ") if style != "code" else [text]
            for i, part in enumerate(parts):
                if i:
                    space = True
                if part:
                    words.append((part, style, space))
                    space = False
        return words

    def _split_long(self, word, style, size, width):
        """A word wider than a line, cut into pieces that fit."""
        pieces, cur = [], ""
        for ch in word:
            if cur and self.measure(cur + ch, style, size)[0] > width:
                pieces.append(cur)
                cur = ""
            cur += ch
        return pieces + [cur]

    def paragraph(self, para, allow_break=True):
        left = MARGIN + para.indent
        width = PAGE_W - MARGIN - left
        space = para.size * 0.318
        lines, line, x = [], [], 0.0
        for text, style, spaced in self._words(para.runs):
            if style == "break":
                lines.append(line)
                line, x = [], 0.0
                continue
            size = para.size * {"code": 0.92, "math": 1.1}.get(style, 1.0)
            w = self.measure(text, style, size)[0]
            if style == "math" and w > width:  # a long formula: drawn smaller to fit
                size *= width / w
                w = self.measure(text, style, size)[0]
            pieces = (
                [text]
                if w <= width or style == "math"
                else self._split_long(text, style, size, width)
            )
            for k, piece in enumerate(pieces):
                w = self.measure(piece, style, size)[0]
                gap = space if (spaced and line and k == 0) else 0.0
                if line and x + gap + w > width:
                    lines.append(line)
                    line, x, gap = [], 0.0, 0.0
                line.append((x + gap, piece, style, size))
                x += gap + w
        lines.append(line)
        for i, line in enumerate(lines):
            asc = max([para.size * 0.95] + [self.measure(t, st, sz)[1] for _, t, st, sz in line])
            desc = max([para.size * 0.28] + [self.measure(t, st, sz)[2] for _, t, st, sz in line])
            if allow_break:
                self.room(asc + desc)
            base = self.y - asc
            if i == 0 and para.bullet:
                self.text(left - 4, base, para.bullet, "normal", para.size, para.color, ha="right")
            self._draw_line(line, left, base, para.color)
            self.y = base - desc - para.size * 0.12
        self.y -= para.size * 0.45

    def _draw_line(self, line, left, base, color):
        """Draw a line's words: one text per run of prose words in the same style."""
        group = []
        for item in line + [None]:
            joins = item is not None and group and item[2] == group[0][2]
            if group and not (joins and item[2] not in ("code", "math")):
                x0, _, style, size = group[0]
                self.text(left + x0, base, " ".join(t for _, t, _, _ in group), style, size, color)
                group = []
            if item is not None:
                group.append(item)

    def preformatted(self, pre, max_lines=None, label=None):
        left = MARGIN + pre.indent + 4
        per_line = max(20, int((PAGE_W - MARGIN - left - 4) / (pre.size * MONO_ADVANCE)))
        lines = []
        for raw in _clean(pre.text).split("\n"):
            lines += [raw[i : i + per_line] for i in range(0, len(raw), per_line)] or [""]
        if max_lines and len(lines) > max_lines:
            half = max_lines // 2
            cut = len(lines) - 2 * half
            lines = (
                lines[:half]
                + [f"... {cut} more lines: the HTML export has them all ..."]
                + lines[-half:]
            )
        step = pre.size * 1.25
        i = 0
        while i < len(lines):
            self.room(step + 6)
            fit = max(1, int((self.y - MARGIN - 6) / step))
            chunk = lines[i : i + fit]
            top, height = self.y, step * len(chunk) + 6
            self.fig.patches.append(
                self._rect(
                    MARGIN + pre.indent,
                    top - height,
                    PAGE_W - MARGIN - (MARGIN + pre.indent),
                    height,
                    pre.background,
                )
            )
            for k, line in enumerate(chunk):
                if line:
                    self.text(left, top - 3 - pre.size - k * step, line, "code", pre.size)
            self.y = top - height
            i += len(chunk)
        self.y -= 8

    def _rect(self, x, y, w, h, color):
        from matplotlib.patches import Rectangle

        return Rectangle(
            (x, y), w, h, transform=self.pt, facecolor=color, edgecolor="none", zorder=-1
        )

    def math(self, block):
        for line in block.lines:
            w, asc, desc = self.measure(line, "math", BODY * 1.15)
            self.room(asc + desc + 8)
            base = self.y - asc - 4
            x = MARGIN + block.indent + max(0.0, (WIDTH - block.indent - w) / 2)
            self.text(x, base, line, "math", BODY * 1.15)
            self.y = base - desc - 4
        self.y -= 4

    def image(self, mime, data):
        """Draw a base64 PNG or JPEG at its size (at most the page's); False if unreadable."""
        from matplotlib.image import imread

        try:
            raw = base64.b64decode("".join(data) if isinstance(data, list) else data)
            array = imread(io.BytesIO(raw), format=mime.split("/")[1])
        except Exception:  # noqa: BLE001 - any undecodable image: its text is shown instead
            return False
        h_px, w_px = array.shape[:2]
        w = min(WIDTH, w_px * 0.72)  # a notebook's figure dpi is 100: 0.72 pt per pixel
        h = w * h_px / w_px
        if h > 0.6 * (PAGE_H - 2 * MARGIN):
            h = 0.6 * (PAGE_H - 2 * MARGIN)
            w = h * w_px / h_px
        self.room(h + 6)
        ax = self.fig.add_axes(
            [(MARGIN) / PAGE_W, (self.y - h) / PAGE_H, w / PAGE_W, h / PAGE_H], frameon=False
        )
        ax.imshow(array, interpolation="none", aspect="auto")
        ax.set_axis_off()
        self.y -= h + 8
        return True

    def blocks(self, blocks):
        for b in blocks:
            if isinstance(b, Para):
                self.paragraph(b)
            elif isinstance(b, Pre):
                if b.size < 1:  # a rule
                    self.room(6)
                    self.fig.patches.append(
                        self._rect(
                            MARGIN + b.indent, self.y - 3, WIDTH - b.indent, 0.6, b.background
                        )
                    )
                    self.y -= 8
                else:
                    self.preformatted(b)
            else:
                self.math(b)

    def label(self, text, color):
        self.y -= 2
        self.paragraph(Para([(text, "bold")], size=BODY * 1.05, color=color))


def question_page(pages, assignment, q):
    """Lay out one question from the top of a new page."""
    points = "points: not stated" if q.points is None else f"points: {q.points:g}"
    header = f"{assignment} · {q.notebook} · {q.kind} · {q.id} · {points}"
    pages.new_page(header, q.title)
    if q.notice:
        pages.paragraph(Para([(q.notice, "italic")], color=ORANGE))
    if q.prompt:
        pages.label("Question", GREY)
        pages.blocks(markdown_blocks(q.prompt, size=BODY * 0.95, color="#222222"))
    if q.kind == CODE:
        pages.label("Code", BLUE)
        pages.preformatted(Pre(q.answer if q.answer.strip() else "(empty)"))
        pages.label("Output of the cell", BLUE)
        if not q.outputs:
            pages.paragraph(Para([("(no output)", "italic")]))
        for out in q.outputs:
            image = output_image(out)
            if image and pages.image(*image):
                continue
            text = output_text(out)
            if text:
                bg = "#fbe3e3" if out.get("output_type") == "error" else "#f7f7f7"
                pages.preformatted(Pre(text, background=bg), max_lines=MAX_OUTPUT_LINES)
    else:
        pages.label("Answer", BLUE)
        if q.empty:
            pages.paragraph(Para([("(no answer)", "italic")]))
        else:
            pages.blocks(markdown_blocks(q.answer))


def questions_pdf(path, assignment, questions):
    """Write the PDF of ``questions`` (one or more pages each) to ``path``; return its pages."""
    from matplotlib.backends.backend_pdf import PdfPages

    metadata = {"Title": f"{assignment}: questions graded by hand", "Creator": "cs231n collect"}
    metadata["CreationDate"] = None  # the same submission gives the same bytes
    with warnings.catch_warnings(), PdfPages(path, metadata=metadata) as pdf:
        warnings.simplefilter("ignore")  # a glyph DejaVu lacks draws as a box; no warning
        pages = _Pages(pdf)
        for q in questions:
            question_page(pages, assignment, q)
        if not questions:
            pages.new_page(assignment, "No questions graded by hand")
        pages.finish_page()
        return pages.page_number
