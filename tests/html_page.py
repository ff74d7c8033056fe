"""Reads a report page back with the standard library's HTML parser (not hitcount's code).

Used on the page hitcount writes and on the DOM a headless browser dumps after loading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

#: Elements whose content is never markup (the parser hands it over as text).
_RAW_TEXT = frozenset({"style", "script"})
#: Void elements: they never get an end tag.
_VOID = frozenset({"meta", "br", "img", "link", "input", "hr", "source", "base"})


@dataclass
class Element:
    """One start tag: its name, attributes (entities decoded) and text (for cells, titles)."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    figure: str | None = None  # data-endpoint of the enclosing <figure>, if any
    table: str | None = None  # id of the enclosing <table>, if any


class Page(HTMLParser):
    """Every element of a page, in document order, and all its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.texts: list[str] = []
        self._open: list[Element] = []

    @classmethod
    def parse(cls, markup: str) -> Page:
        """Parse a whole document."""
        page = cls()
        page.feed(markup)
        page.close()
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the element with the figure and table it sits in."""
        element = Element(tag, {name: value or "" for name, value in attrs})
        for parent in reversed(self._open):
            if parent.tag == "figure" and element.figure is None:
                element.figure = parent.attrs.get("data-endpoint")
            if parent.tag == "table" and element.table is None:
                element.table = parent.attrs.get("id")
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost open element of that name."""
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        """Text belongs to every open element (a cell's text includes its link's)."""
        if self._open and self._open[-1].tag in _RAW_TEXT:
            return
        self.texts.append(data)
        for element in self._open:
            element.text += data

    def all(self, tag: str, css_class: str | None = None) -> list[Element]:
        """Elements of a tag (and with a class among theirs)."""
        return [
            e
            for e in self.elements
            if e.tag == tag and (css_class is None or css_class in e.attrs.get("class", "").split())
        ]

    def marks(self, endpoint: str) -> list[Element]:
        """The step marks (bars and unknown steps) of one endpoint's chart, oldest first."""
        return [
            e
            for e in self.elements
            if e.tag == "rect" and e.figure == endpoint and "data-end" in e.attrs
        ]

    def rows(self, table_id: str) -> list[list[str]]:
        """The text of every body cell of a table, row by row."""
        rows: list[list[str]] = []
        for e in self.elements:
            if e.table != table_id:
                continue
            if e.tag == "tr":
                rows.append([])
            elif e.tag == "td":
                rows[-1].append(e.text)
        return [row for row in rows if row]

    @property
    def title(self) -> str:
        """The document title (the first <title>, which is the page's, not a chart's)."""
        return next(e.text for e in self.elements if e.tag == "title")

    @property
    def text(self) -> str:
        """All text of the page, entities decoded."""
        return "".join(self.texts)
