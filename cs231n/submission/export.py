"""The readable export of the questions graded by hand: a standalone, offline HTML page.

One section per question (one printed page each): the question's own text, then the
student's answer rendered from Markdown, or, for a notebook code region, the code and the
cell's outputs (text, and plots embedded as ``data:`` images). Math (``$...$``,
``$$...$$``) is drawn by matplotlib's mathtext into inline SVG paths, so the page needs no
fonts, scripts or network when it is viewed.

Everything a student wrote is escaped: the Markdown renderer has raw HTML turned off,
images load only from ``data:`` URIs and the cell's own attachments, only PNG and JPEG
outputs are embedded (never a notebook's HTML, SVG or JavaScript outputs), and a
Content-Security-Policy forbids scripts and every network request besides.

The PDF twin of this page is drawn by :mod:`cs231n.submission.export_pdf`.
"""

import base64
import binascii
import functools
import html
import re

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from cs231n.submission.questions import CODE

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_IMAGE_TYPES = ("image/png", "image/jpeg")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def markdown_parser():
    """CommonMark with tables and ``$`` math, raw HTML off (it shows as text)."""
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.enable("table")
    # $5 and $6 is money, not math: a closing $ may not be followed by a digit.
    return md.use(dollarmath_plugin, double_inline=True, allow_digits=False)


# ---------------------------------------------------------------------------------------
# Math: LaTeX to what matplotlib's mathtext draws


_MATHTEXT_SWAPS = [
    (re.compile(r"\\(?:[Bb]igg?|[Bb]igg?[lrm])(?![A-Za-z])"), ""),  # \big( -> (
    (re.compile(r"\\(?:textstyle|displaystyle|scriptstyle|limits|nolimits)(?![A-Za-z])"), ""),
    (re.compile(r"\\[td]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\operatorname\*?\{([^{}]*)\}"), r"\\mathrm{\1}"),
    (re.compile(r"\\le(?![A-Za-z])"), r"\\leq"),
    (re.compile(r"\\ge(?![A-Za-z])"), r"\\geq"),
    (re.compile(r"\\[lr]Vert(?![A-Za-z])"), r"\\Vert"),
    (re.compile(r"\\[lr]vert(?![A-Za-z])"), "|"),
    (re.compile(r"\\(?:label|tag)\{[^{}]*\}"), ""),
]
_ENV = re.compile(
    r"\\begin\{(?:aligned|align\*?|gathered|gather\*?|split|eqnarray\*?)\}(.*?)\\end\{[a-z]+\*?\}",
    re.S,
)


@functools.lru_cache(maxsize=4096)
def mathtext_lines(tex):
    """``tex`` as lines of mathtext (each without ``$``), or None when mathtext cannot draw it.

    Multi-line environments (``aligned``, ``align``, ``gather``) become one line per row.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    # Parsed as TextPath will parse it (same parser, dpi and font), so that math_svg finds
    # the parse in mathtext's cache instead of parsing again.
    prop = FontProperties()
    prop.set_size(text_to_path.FONT_SCALE)
    tex = tex.strip()
    m = _ENV.fullmatch(tex)
    rows = re.split(r"\\\\", m.group(1)) if m else [tex]
    lines = []
    for row in rows:
        row = row.replace("&", " ").replace("\n", " ").strip()
        for pattern, repl in _MATHTEXT_SWAPS:
            row = pattern.sub(repl, row)
        row = row.strip()
        if not row:
            continue
        try:
            text_to_path.mathtext_parser.parse(f"${row}$", text_to_path.DPI, prop)
        except Exception:  # noqa: BLE001 - pyparsing errors of any kind: draw it as source
            return None
        lines.append(row)
    return lines or None


def _num(x):
    return f"{x:.2f}".rstrip("0").rstrip(".")


@functools.lru_cache(maxsize=4096)
def math_svg(line, size=16.0):
    """One mathtext line as an inline ``<svg>`` of glyph paths, sized in ``em``."""
    from matplotlib.path import Path as MplPath
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), f"${line}$", size=size)
    box = path.get_extents()
    d = []
    for verts, code in path.iter_segments(curves=True, simplify=False):
        pts = " ".join(f"{_num(x)} {_num(-y)}" for x, y in zip(verts[::2], verts[1::2]))
        letter = {
            MplPath.MOVETO: "M",
            MplPath.LINETO: "L",
            MplPath.CURVE3: "Q",
            MplPath.CURVE4: "C",
            MplPath.CLOSEPOLY: "Z",
        }[code]
        d.append("Z" if letter == "Z" else f"{letter}{pts}")
    pad = size * 0.05
    k = 1.12 / size  # em per path unit: mathtext's fractions and scripts are small, so enlarge
    x0, y0, w, h = box.x0 - pad, box.y0 - pad, box.width + 2 * pad, box.height + 2 * pad
    return (
        f'<svg class="math" role="img" '
        f'aria-label="{html.escape(line)}" viewBox="{_num(x0)} {_num(-(y0 + h))} {_num(w)} {_num(h)}" '
        f'style="width:{k * w:.3f}em;height:{k * h:.3f}em;vertical-align:{k * y0:.3f}em">'
        f'<title>{html.escape(line)}</title><path d="{" ".join(d)}"/></svg>'
    )


def math_html(tex, display=False):
    """Math as inline SVG; LaTeX mathtext cannot draw is shown as escaped source."""
    lines = mathtext_lines(tex)
    if lines is None:
        src = html.escape(f"$${tex}$$" if display else f"${tex}$")
        return f'<code class="tex">{src}</code>'
    if display:
        return "".join(f'<div class="math-display">{math_svg(line, 19.0)}</div>' for line in lines)
    return "<br>".join(math_svg(line) for line in lines)


# ---------------------------------------------------------------------------------------
# Markdown to safe HTML


def _data_uri(mime, data):
    """A ``data:`` URI of base64 image data, or None when it is not clean base64."""
    if isinstance(data, list):
        data = "".join(data)
    try:
        raw = base64.b64decode("".join(str(data).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _renderer(attachments):
    """A Markdown renderer whose math is SVG and whose images stay offline."""
    md = markdown_parser()
    rules = md.renderer.rules

    def math_inline(tokens, idx, options, env):
        return math_html(tokens[idx].content, display=tokens[idx].type == "math_inline_double")

    def math_block(tokens, idx, options, env):
        return math_html(tokens[idx].content, display=True) + "\n"

    def image(tokens, idx, options, env):
        token = tokens[idx]
        src, alt = token.attrGet("src") or "", html.escape(token.content or "image")
        uri = None
        if src.startswith("attachment:"):
            bundle = attachments.get(src[len("attachment:") :], {})
            mime = next((m for m in _IMAGE_TYPES if m in bundle), None)
            uri = _data_uri(mime, bundle[mime]) if mime else None
        elif re.match(r"data:image/(png|jpeg);base64,", src):
            mime, _, data = src[5:].partition(";base64,")
            uri = _data_uri(mime, data)
        if uri is None:  # a remote or local file: never fetched when the page is viewed
            return f'<span class="noimage">[image: {alt} &lt;{html.escape(src)}&gt;]</span>'
        return f'<img src="{uri}" alt="{alt}">'

    def link_open(tokens, idx, options, env):
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return md.renderer.renderToken(tokens, idx, options, env)

    for name in ("math_inline", "math_inline_double"):
        rules[name] = math_inline
    for name in ("math_block", "math_block_eqno"):
        rules[name] = math_block
    rules["image"] = image
    rules["link_open"] = link_open
    return md


def markdown_html(text, attachments=None):
    """Markdown (a student's or a notebook's) as safe, offline HTML."""
    return _renderer(attachments or {}).render(text or "")


# ---------------------------------------------------------------------------------------
# Outputs of a code cell


def output_text(out):
    """The text of a stream, result or error output, as the notebook shows it (no ANSI)."""
    kind = out.get("output_type")
    if kind == "stream":
        text = out.get("text", "")
    elif kind == "error":
        text = "\n".join(out.get("traceback") or [f"{out.get('ename')}: {out.get('evalue')}"])
    else:
        text = out.get("data", {}).get("text/plain", "")
    if isinstance(text, list):
        text = "".join(text)
    text = _ANSI.sub("", str(text))
    # A progress bar rewrites its line with \r: keep what was shown last.
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n")).rstrip("\n")


def output_image(out):
    """(mime, base64 data) of a PNG or JPEG output, else None."""
    data = (
        out.get("data", {}) if out.get("output_type") in ("display_data", "execute_result") else {}
    )
    for mime in _IMAGE_TYPES:
        if mime in data:
            return mime, data[mime]
    return None


def outputs_html(outputs):
    parts = []
    for out in outputs:
        image = output_image(out)
        uri = _data_uri(*image) if image else None
        if uri:
            parts.append(f'<img class="output" src="{uri}" alt="a plot the cell drew">')
            continue
        text = output_text(out)
        if text:
            cls = "error" if out.get("output_type") == "error" else out.get("name", "result")
            parts.append(f'<pre class="output {html.escape(cls)}">{html.escape(text)}</pre>')
    return "\n".join(parts) or "<p class='none'>(no output)</p>"


# ---------------------------------------------------------------------------------------
# The page

_STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; max-width: 48em;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; color: #111 }
h1 { font-size: 1.5em } h2 { margin-bottom: .1em }
.meta { font-size: .8em; color: #666; margin-top: 0 }
.prompt { border-left: 4px solid #bbb; padding: .1em 1em; background: #f7f7f7 }
.answer { border-left: 4px solid #3a7bd5; padding: .1em 1em }
.warning { border: 1px solid #d9a400; background: #fff6d6; padding: .4em .8em }
pre { white-space: pre-wrap; word-break: break-word; background: #f4f4f4; padding: .6em;
      font-size: .85em }
pre.error { background: #fde8e8 } img.output { max-width: 100%; display: block }
.math-display { text-align: center; margin: .6em 0 } svg.math { fill: currentColor }
code.tex { color: #555 }
table { border-collapse: collapse } td, th { border: 1px solid #ccc; padding: .2em .5em }
section.question { border-top: 2px solid #333; margin-top: 2.5em }
@media print { section.question { break-before: page; border-top: none; margin-top: 0 }
               nav { display: none } }
"""


def _anchor(q):
    return "q-" + re.sub(r"[^A-Za-z0-9_.-]", "-", f"{q.notebook}-{q.id}")


def question_html(q):
    """One question's section: its text, the answer, and for code its outputs."""
    points = "not stated" if q.points is None else f"{q.points:g}"
    parts = [
        f'<section class="question" id="{_anchor(q)}">',
        f"<h2>{html.escape(q.title)}</h2>",
        f'<p class="meta">{html.escape(q.notebook)} · {html.escape(q.kind)} · '
        f"<code>{html.escape(q.id)}</code> · points: {points}</p>",
    ]
    if q.notice:
        parts.append(f'<p class="warning">{html.escape(q.notice)}</p>')
    if q.prompt:
        parts.append(f'<div class="prompt">{markdown_html(q.prompt)}</div>')
    if q.kind == CODE:
        code = html.escape(q.answer) if q.answer.strip() else "(empty)"
        parts += [
            "<h3>Code</h3>",
            f'<pre class="code"><code>{code}</code></pre>',
            "<h3>Output of the cell</h3>",
            outputs_html(q.outputs),
        ]
    else:
        body = (
            markdown_html(q.answer, q.attachments) if not q.empty else "<p><em>(no answer)</em></p>"
        )
        parts += ["<h3>Answer</h3>", f'<div class="answer">{body}</div>']
    parts.append("</section>")
    return "\n".join(parts)


def questions_html(assignment, questions):
    """The standalone page of every question graded by hand, in notebook order."""
    title = f"{assignment}: questions graded by hand"
    toc = "\n".join(
        f'<li><a href="#{_anchor(q)}">{html.escape(q.title)}</a> '
        f"<small>({html.escape(q.notebook)}, {html.escape(q.kind)})</small></li>"
        for q in questions
    )
    body = "\n".join(question_html(q) for q in questions) or "<p>No questions graded by hand.</p>"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n<nav><ol>\n{toc}\n</ol></nav>\n{body}\n</body></html>\n"
    )
