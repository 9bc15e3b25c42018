"""Reading, checking and writing a legacy cell-bank inventory (CSV or XLSX).

One row of the file is one aliquot (container). Rows sharing a DIN belong to one collection;
rows sharing a DIN and a product description code + collection type belong to one product.
The import works in two phases, so that only a clean file is ever written:

1. **Check.** The file is streamed (``csv`` over a file object, or openpyxl ``read_only``);
   each row is checked on its own (dates, numbers, codes, the ISBT 128 check character, the
   storage path and position) and, if clean, appended in normalised form to a *staging*
   SQLite file on disk. Checks across rows (the same aliquot twice, the same position twice,
   rows of one collection that disagree) and against the bank (a DIN or an aliquot identity
   already there) are then SQL queries over the staging file. Memory therefore does not grow
   with the file: only the storage racks the file names are held, box by box as compact arrays.
2. **Write.** Only if no problem was found: one transaction inserts donors, collections,
   products, aliquots and placements with ``executemany`` in large chunks (every database
   constraint stays in force), and the caller appends the ledger entries in the same
   transaction. The per-kind row digests (:func:`celltrace.audit.ledger.rows_digest`) are
   computed on the rows as written.

Every problem is reported as :class:`Problem` (row, column, value, rule), the first
:data:`MAX_ERRORS` of them kept.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime as dt
import functools
import hashlib
import io
import itertools
import json
import operator
import os
import queue
import sqlite3
import sys
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from celltrace.audit.canonical import jsonable, utc_iso
from celltrace.bank import isbt128, sprec
from celltrace.bank.choices import (
    LEAVING_STATUSES,
    AliquotStatus,
    CollectionType,
    ContainerType,
    ProductType,
)
from celltrace.bank.models import Aliquot, Collection, Donor, Product
from celltrace.storage.choices import BoxKind
from celltrace.storage.models import Box, BoxType, Placement, Position, parse_position_label
from celltrace.storage.services import box_kind_for

_COLLECTION_TYPES = frozenset(CollectionType.values)
_PRODUCT_TYPES = frozenset(ProductType.values)
_CONTAINERS = frozenset(ContainerType.values)
_STATUSES = frozenset(AliquotStatus.values)
#: The kind of box each container goes into (:func:`celltrace.storage.services.box_kind_for`).
_BOX_KIND = {c: str(box_kind_for(c)) for c in ContainerType.values}

#: How many problems are kept (and shown); the total is still counted.
MAX_ERRORS = 1000
#: Rows per ``executemany`` call.
CHUNK = 20_000
#: Storage racks whose positions the check holds at once, the least recently used let go
#: first (a rack of ten 10 × 10 boxes takes 16 kB, so at most about 64 MB): a file laid out rack
#: by rack, or any order within 4,096 racks, loads each rack once.
RACKS_LOADED = 4096
#: Largest file accepted (bytes).
MAX_FILE_BYTES = 2 * 1024**3

#: ``progress(phase, done, total)``: phase ``"check"`` counts bytes (CSV) or rows (XLSX),
#: phase ``"write"`` counts rows.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    help: Any
    example: str


#: The columns of an inventory file, in template order. Names are matched case-insensitively.
COLUMNS: tuple[Column, ...] = (
    Column("donor_reference", True, _l("Pseudonymous donor reference (max. 40)"), "D-0001"),
    Column(
        "din", True, _l("DIN (13 characters) followed by its check character"), "A9999260000018"
    ),
    Column(
        "collection_type",
        True,
        _l("peripheral_blood, apheresis, cord_blood or tissue"),
        "apheresis",
    ),
    Column(
        "collected_at",
        True,
        _l("Date (midnight UTC) or ISO date-time with its offset"),
        "2026-03-02T09:30:00+08:00",
    ),
    Column("collection_volume_ml", True, _l("Collected volume, mL (2 decimals)"), "250.00"),
    Column("collection_site", False, _l("Where it was collected (max. 200)"), "Ward 3"),
    Column("sprec_code", False, _l("SPREC code of the collection"), ""),
    Column("product_type", True, _l("pbmc, t_cells, nk_cells, msc, cd34 or other"), "pbmc"),
    Column(
        "product_code",
        True,
        _l("ISBT 128 product code: PDC, collection type, division (8 characters)"),
        "S1234V00",
    ),
    Column("frozen_on", False, _l("Date the product was frozen (processed)"), "2026-03-02"),
    Column("container", True, _l("cryovial_1_8ml, cryovial_5ml or cryobag"), "cryovial_1_8ml"),
    Column("volume_ul", True, _l("Volume in the container, µL (1 decimal)"), "1000.0"),
    Column(
        "cell_count", False, _l("Cells in the container (whole number; 1.5E7 allowed)"), "15000000"
    ),
    Column("viability_pct", False, _l("Viability, % (0 to 100)"), "95.5"),
    Column("expires_on", False, _l("Expiry date (until the end of that day, UTC)"), "2036-03-01"),
    Column(
        "status",
        False,
        _l("quarantine (default), available, reserved, issued, thawed or discarded"),
        "quarantine",
    ),
    Column(
        "storage_path",
        False,
        _l("SITE/UNIT/RACK/BOX: site and unit codes, rack and box names"),
        "main/tank-1/R1/B1",
    ),
    Column("position", False, _l("Position in the box, e.g. A1 (with storage_path)"), "A1"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
REQUIRED = frozenset(c.name for c in COLUMNS if c.required)


@dataclass(frozen=True)
class Problem:
    """One problem: spreadsheet row (1 = header; None for the whole file), column, value, rule."""

    row: int | None
    column: str
    value: str
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "rule": self.rule}

    def __str__(self) -> str:
        where = _("row %(row)s") % {"row": self.row} if self.row is not None else _("file")
        col = f", {self.column}" if self.column else ""
        val = f" {self.value!r}" if self.value else ""
        return f"{where}{col}:{val} {self.rule}"


class Problems:
    """The problems found, capped at :data:`MAX_ERRORS`, with the total count."""

    def __init__(self, cap: int = MAX_ERRORS) -> None:
        self.cap = cap
        self.items: list[Problem] = []
        self.count = 0

    def add(self, row: int | None, column: str, value: str, rule: str) -> None:
        self.count += 1
        if len(self.items) < self.cap:
            # NUL cannot be stored in PostgreSQL text or JSON: show it escaped
            value = value[:80].replace("\x00", "\\x00")
            self.items.append(Problem(row, column, value, rule.replace("\x00", "\\x00")))

    def __bool__(self) -> bool:
        return self.count > 0


class FileRejected(Exception):
    """The file cannot be read at all (empty, wrong encoding, not a workbook, bad header)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _file_problem(rule: str, column: str = "", value: str = "", row: int | None = None) -> None:
    raise FileRejected(Problem(row, column, value, rule))


# --- reading ------------------------------------------------------------------------------


#: Calls the writer thread holds before the caller waits (a chunk makes five: donors,
#: collections, products, aliquots, placements; two chunks' worth smooths out the bursts).
WRITER_QUEUE = 10


class _Writer:
    """One background thread that runs database calls in the order they are given.

    SQLite lets go of Python's global lock while it inserts, so the rows of one chunk are
    written while the next chunk is checked or built: the import keeps both CPUs busy.
    At most :data:`WRITER_QUEUE` calls wait (memory stays bounded). :meth:`wait` returns
    once every call has run and raises the first error one of them raised; after an error
    the calls still queued are dropped. The caller runs no statement of its own on the
    connection while calls are under way (the one-pass import reads the bank through a
    second, read-only connection) and waits before leaving (also on an error).
    """

    def __init__(self) -> None:
        self.jobs: queue.Queue[Callable[[], Any] | None] = queue.Queue(WRITER_QUEUE)
        self.error: BaseException | None = None
        #: the calls still queued are not run (the caller is failing: it will roll back)
        self.dropped = False
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="inventory-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None and not self.dropped:
                try:
                    job()
                except BaseException as exc:  # handed to the caller by wait()
                    self.error = exc
            self.jobs.task_done()
        self.jobs.task_done()

    def submit(self, job: Callable[[], Any]) -> None:
        """Run ``job()`` in the background; what it refers to now belongs to the writer."""
        if self.error is not None:
            self.wait()
        self.jobs.put(job)

    def wait(self) -> None:
        self.jobs.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self, *, drop: bool = False) -> None:
        """Wait for the call under way (``drop``: skip those still queued), stop the thread
        (errors are raised by :meth:`wait`). An interrupt while waiting (a second Ctrl-C)
        drops the queued calls but still waits for the one running, then is raised: the
        caller's rollback must not happen while a statement runs, nor be followed by one
        (the connection is in autocommit mode after it)."""
        if self.closed:
            return
        self.dropped = self.dropped or drop
        interrupted: BaseException | None = None
        while True:
            try:
                self.jobs.join()
                break
            except BaseException as exc:
                self.dropped = True
                interrupted = exc
        self.jobs.put(None)
        self.thread.join()
        self.closed = True
        if interrupted is not None:
            raise interrupted

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        """Closed on leaving; leaving on an error drops the calls still queued (nothing more
        reaches the database the caller is about to roll back)."""
        self.close(drop=kind is not None)


class _Counting(io.RawIOBase):
    """A raw reader that counts the bytes read (progress of the check phase)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


XLSX_MAGIC = b"PK\x03\x04"


def sniff_format(path: Path) -> str:
    """``"xlsx"`` for a zip container (a workbook), else ``"csv"``."""
    with path.open("rb") as f:
        return "xlsx" if f.read(4) == XLSX_MAGIC else "csv"


class Reader:
    """Streams the records of an inventory file as lists of strings (header first)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = sniff_format(path)
        self.size = path.stat().st_size
        self.total = self.size
        self._counter: _Counting | None = None
        self.rows_seen = 0

    @property
    def done(self) -> int:
        if self._counter is not None:
            return self._counter.count
        return self.rows_seen

    def records(self) -> Iterator[list[str]]:
        if self.size == 0:
            _file_problem(_("The file is empty."))
        if self.size > MAX_FILE_BYTES:
            _file_problem(
                _("The file is larger than %(n)s GB; split it.") % {"n": MAX_FILE_BYTES // 1024**3}
            )
        if self.format == "xlsx":
            yield from self._xlsx()
        else:
            yield from self._csv()

    def _csv(self) -> Iterator[list[str]]:
        with self.path.open("rb") as raw:
            head = raw.read(4096)
            if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (
                len(head) >= 4 and head.count(b"\x00") > len(head) // 4
            ):
                _file_problem(
                    _(
                        "The file is UTF-16 encoded; save it as CSV UTF-8 (in Excel: "
                        "“CSV UTF-8 (comma delimited)”)."
                    )
                )
            raw.seek(0)
            self._counter = _Counting(raw)
            buffered = io.BufferedReader(self._counter, buffer_size=1 << 20)
            text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="strict", newline="")
            reader = csv.reader(text, strict=False)
            line = 0
            try:
                for record in reader:
                    line += 1
                    yield record
            except UnicodeDecodeError:
                _file_problem(
                    _(
                        "The file is not UTF-8 text (near row %(row)s); save it as CSV UTF-8 "
                        "(in Excel: “CSV UTF-8 (comma delimited)”)."
                    )
                    % {"row": line + 1},
                    row=line + 1,
                )
            except csv.Error as exc:
                _file_problem(
                    _("Row %(row)s cannot be read as CSV (%(detail)s).")
                    % {"row": line + 1, "detail": exc},
                    row=line + 1,
                )

    def _xlsx(self) -> Iterator[list[str]]:
        import zipfile

        import openpyxl

        _check_workbook(self.path)
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
            _file_problem(
                _("The file is not a readable XLSX workbook (%(detail)s).") % {"detail": exc}
            )
        try:
            sheet = book.worksheets[0]
            self.total = int(sheet.max_row or 0)
            try:
                for values in sheet.iter_rows(values_only=True):
                    self.rows_seen += 1
                    yield [_cell_text(v) for v in values]
            except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
                _file_problem(
                    _("Row %(row)s of the workbook cannot be read (%(detail)s).")
                    % {"row": self.rows_seen + 1, "detail": exc},
                    row=self.rows_seen + 1,
                )
        finally:
            book.close()


#: What a workbook may expand to (the ZIP entries' declared sizes, which bound what is read).
MAX_XLSX_EXPANDED = 4 * 1024**3
#: The longest text between two XML tags: Excel's own cell limit is 32,767 characters, so a
#: longer run is not a spreadsheet value (openpyxl would hold it whole in memory).
MAX_XML_TEXT = 1024**2


def _check_workbook(path: Path) -> None:
    """Refuse a workbook that would expand beyond :data:`MAX_XLSX_EXPANDED` or holds a text
    longer than :data:`MAX_XML_TEXT` (a ZIP bomb: a small file whose one cell is a gigabyte)
    before openpyxl reads it; the XML is streamed, a megabyte at a time."""
    import re
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            expanded = sum(i.file_size for i in infos)
            if expanded > MAX_XLSX_EXPANDED:
                _file_problem(
                    _("The workbook expands to %(n)s GB; split it (at most %(max)s GB).")
                    % {"n": expanded // 1024**3, "max": MAX_XLSX_EXPANDED // 1024**3}
                )
            too_long = re.compile(rb"[^<]{%d,}" % (MAX_XML_TEXT + 1))
            for info in infos:
                if not info.filename.endswith(".xml"):
                    continue
                run = 0  # text since the last "<", carried across chunks
                with zf.open(info) as member:
                    while chunk := member.read(1 << 20):
                        last = chunk.rfind(b"<")
                        first = chunk.find(b"<")
                        if last < 0:
                            run += len(chunk)
                        elif run + first > MAX_XML_TEXT or too_long.search(chunk):
                            run = MAX_XML_TEXT + 1
                        else:
                            run = len(chunk) - last - 1
                        if run > MAX_XML_TEXT:
                            _file_problem(
                                _(
                                    "The workbook holds a value longer than a spreadsheet cell "
                                    "can (%(part)s); it is not a legacy inventory."
                                )
                                % {"part": info.filename}
                            )
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        _file_problem(_("The file is not a readable XLSX workbook (%(detail)s).") % {"detail": exc})


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    return str(value)


# --- checking one row -------------------------------------------------------------------------

_STAGING_SCHEMA = """
CREATE TABLE rows (
    rowno INTEGER PRIMARY KEY, donor TEXT, din TEXT, ctype TEXT, collected TEXT, cvol TEXT,
    csite TEXT, sprec TEXT, ptype TEXT, pdc TEXT, t TEXT, division TEXT, processed TEXT,
    container TEXT, vol TEXT, cells INTEGER, viab TEXT, expiry TEXT, status TEXT,
    box_id INTEGER, position_id INTEGER
);
CREATE TABLE donors (ref TEXT PRIMARY KEY, id INTEGER) WITHOUT ROWID;
"""
_STAGE_INSERT = "INSERT INTO rows VALUES (" + ",".join("?" * 21) + ")"  # noqa: S608
#: The positions of some boxes with their active placement (``%s``: the boxes' placeholders).
#: (:data:`_RACK_CELLS`: the same, a row per box: JSON arrays of cell indexes and ±position ids.)
_RACK_POSITIONS = (
    f"SELECT p.box_id, p.id, p.row, p.col, pl.id FROM {Position._meta.db_table} p "  # noqa: S608
    f"LEFT JOIN {Placement._meta.db_table} pl ON pl.position_id = p.id "
    "AND pl.removed_at IS NULL WHERE p.box_id IN (%s)"
)
_RACK_CELLS = (
    "SELECT p.box_id, json_group_array((p.row - 1) * t.columns + p.col - 1), "  # noqa: S608
    "json_group_array(CASE WHEN pl.id IS NULL THEN p.id ELSE -p.id END) "
    f"FROM {Position._meta.db_table} p "
    f"JOIN {Box._meta.db_table} b ON b.id = p.box_id "
    f"JOIN {BoxType._meta.db_table} t ON t.id = b.box_type_id "
    f"LEFT JOIN {Placement._meta.db_table} pl ON pl.position_id = p.id "
    "AND pl.removed_at IS NULL WHERE p.box_id IN (%s) "
    "AND p.row BETWEEN 1 AND t.rows AND p.col BETWEEN 1 AND t.columns GROUP BY p.box_id"
)


def _decimal(text: str, *, digits: int, places: int, low: int, high: int | None) -> str | None:
    """The normalised decimal text, or None if it is not a number in range."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < low or (high is not None and value > high):
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        return None
    q = value.quantize(Decimal(1).scaleb(-places))
    if len(q.as_tuple().digits) > digits:
        return None
    if q.is_zero():
        q = abs(q)  # "-0" is 0: stored and digested as such
    return str(q)


@dataclass
class _BoxInfo:
    box_id: int
    rack_id: int
    rows: int
    cols: int
    kind: str
    #: position id per cell (row-major); negative if occupied in the bank, 0 if missing
    cells: array[int] | None = None
    #: the file's first row using each cell (0: none yet)
    used: array[int] | None = None


class Checker:
    """Checks rows one by one and stages the clean ones; then checks across rows."""

    def __init__(self, *, organisation_id: int, problems: Problems, staging: Path | str) -> None:
        self.organisation_id = organisation_id
        self.problems = problems
        self.db = sqlite3.connect(staging, isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;"
            "PRAGMA temp_store=FILE;" + _STAGING_SCHEMA
        )
        self.db.execute("BEGIN")
        self.buffer: list[tuple[Any, ...]] = []
        self.refs: set[str] = set()
        self.rows = 0
        self.staged = 0
        self.today = dt.datetime.now(dt.UTC).isoformat()
        self.boxes = self._boxes()
        self.rack_boxes: dict[int, list[_BoxInfo]] = {}
        #: racks whose positions are loaded, least recently used first (at most
        #: :data:`RACKS_LOADED`: memory does not grow with the file)
        self._loaded: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._ever_loaded: set[int] = set()
        #: a rack was loaded again after it was let go: the same position twice may then be
        #: split across the two loads, and is looked for in the staging file instead
        self.reloaded = False
        self._last_rack = 0
        for info in self.boxes.values():
            self.rack_boxes.setdefault(info.rack_id, []).append(info)
        self._dates: dict[str, dt.date | None] = {}
        self._moments: dict[str, str | None] = {}
        self._codes: dict[str, tuple[str, str, str] | str] = {}
        self._sprec: dict[str, str | None] = {}
        self._last_din = ("", "", "")  # text, din, rule ("" = ok)
        self._last_collection: tuple[tuple[str, ...], tuple[Any, ...] | None] = ((), None)
        self._numbers: dict[tuple[str, int, int, int | None], str | None] = {}
        self._box_by_text: dict[str, _BoxInfo] = {}
        self._labels: dict[str, tuple[int, int] | None] = {}
        self._products: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        self._values: dict[tuple[str, ...], tuple[Any, ...]] = {}

    # lookups ------------------------------------------------------------------------------

    @staticmethod
    def _boxes() -> dict[str, _BoxInfo]:
        out: dict[str, _BoxInfo] = {}
        qs = Box.objects.values_list(
            "pk",
            "rack_id",
            "name",
            "rack__name",
            "rack__unit__code",
            "rack__unit__site__code",
            "box_type__rows",
            "box_type__columns",
            "box_type__kind",
        )
        for pk, rack_id, name, rack, unit, site, rows, cols, kind in qs.iterator(chunk_size=5000):
            out[f"{site}/{unit}/{rack}/{name}".casefold()] = _BoxInfo(pk, rack_id, rows, cols, kind)
        return out

    def _load_rack(self, rack_id: int) -> None:
        """The positions of every box of a rack, in one query: files are laid out rack by
        rack, so the next boxes a file names are usually loaded already (one query per box
        made a tenth of a million-row check). The least recently used rack is let go beyond
        :data:`RACKS_LOADED`."""
        if rack_id in self._ever_loaded:
            self.reloaded = True
        self._ever_loaded.add(rack_id)
        self._loaded[rack_id] = None
        while len(self._loaded) > RACKS_LOADED:
            old, _none = self._loaded.popitem(last=False)
            for gone in self.rack_boxes[old]:
                gone.cells = gone.used = None
        boxes = {b.box_id: b for b in self.rack_boxes[rack_id]}
        for box in boxes.values():
            box.cells = array("q", bytes(8 * box.rows * box.cols))
            box.used = array("q", bytes(8 * box.rows * box.cols))
        self._fill_cells(boxes)

    def _fill_cells(self, boxes: dict[int, _BoxInfo]) -> None:
        """Each box's ``cells``: the id of the position in each cell, negative if it is
        occupied. ``boxes``: those the rack held when the check began (:meth:`_boxes`: a box
        moved meanwhile keeps the path the file was checked against)."""
        marks = ", ".join(["%s"] * len(boxes))
        with connection.cursor() as c:
            c.execute(_RACK_POSITIONS % marks, list(boxes))
            found = c.fetchall()
        for box_id, pk, row, col, taken in found:
            info = boxes.get(box_id)
            if info is not None and 1 <= row <= info.rows and 1 <= col <= info.cols:
                assert info.cells is not None
                info.cells[(row - 1) * info.cols + col - 1] = -pk if taken else pk

    def _date(self, text: str) -> dt.date | None:
        try:
            return self._dates[text]
        except KeyError:
            pass
        try:
            value: dt.date | None = dt.date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            value = None
        if len(self._dates) > 100_000:
            self._dates.clear()
        self._dates[text] = value
        return value

    def _moment(self, text: str) -> str | None:
        """UTC ISO text of a date (midnight UTC) or a date-time with offset; None if bad;
        ``"naive"`` if it lacks a time zone."""
        try:
            return self._moments[text]
        except KeyError:
            pass
        value: str | None
        if len(text) == 10:
            d = self._date(text)
            value = None if d is None else f"{d.isoformat()}T00:00:00+00:00"
        else:
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                value = None
            else:
                if moment.tzinfo is None or moment.utcoffset() is None:
                    value = "naive"
                else:
                    value = moment.astimezone(dt.UTC).isoformat()
        if len(self._moments) > 100_000:
            self._moments.clear()
        self._moments[text] = value
        return value

    def _product_code(self, text: str) -> tuple[str, str, str] | str:
        try:
            return self._codes[text]
        except KeyError:
            pass
        result: tuple[str, str, str] | str
        if len(text) != 8:
            result = _(
                "a product code has 8 characters: the 5-character product description code, "
                "the collection type and the 2-character division (e.g. S1234V00)"
            )
        else:
            try:
                isbt128.ProductCode(text[:5], text[5], text[6:])
            except ValueError as exc:
                result = str(exc)
            else:
                result = (text[:5], text[5], text[6:])
        if len(self._codes) < 10_000:
            self._codes[text] = result
        return result

    def _din(self, text: str) -> tuple[str, str]:
        """(din, rule): the 13-character DIN, or a rule broken."""
        if text == self._last_din[0]:
            return self._last_din[1], self._last_din[2]
        din, rule = "", ""
        compact = text.replace(" ", "").upper()
        if len(compact) != 14:
            rule = _(
                "give the 13-character DIN followed by its check character (14 characters, "
                "spaces allowed)"
            )
        else:
            din, given = compact[:13], compact[13]
            try:
                expected = isbt128.check_character(din)
            except ValueError as exc:
                rule = str(exc)
            else:
                if given != expected:
                    rule = _(
                        "wrong ISBT 128 check character: %(given)s given, the DIN's MOD 37-2 "
                        "check character is %(expected)s"
                    ) % {"given": given, "expected": expected}
        self._last_din = (text, din, rule)
        return din, rule

    # the row check ------------------------------------------------------------------------

    def header(self, record: Sequence[str], rowno: int = 1) -> list[int]:
        """Column index of each of :data:`COLUMN_NAMES` (-1: absent), or the file is refused."""
        names = [h.strip().lower() for h in record]
        expected = ", ".join(COLUMN_NAMES)
        unknown = [h for h in names if h and h not in COLUMN_NAMES]
        missing = [c for c in COLUMN_NAMES if c in REQUIRED and c not in names]
        twice = sorted({h for h in names if h and names.count(h) > 1})
        blank = [i + 1 for i, h in enumerate(names) if not h]
        rules = []
        if unknown:
            rules.append(_("unknown columns: %(names)s") % {"names": ", ".join(unknown)})
        if missing:
            rules.append(_("missing columns: %(names)s") % {"names": ", ".join(missing)})
        if twice:
            rules.append(_("columns named twice: %(names)s") % {"names": ", ".join(twice)})
        if blank:
            rules.append(_("columns without a name: %(pos)s") % {"pos": ", ".join(map(str, blank))})
        if rules:
            _file_problem(
                _("Wrong column names (%(rules)s). The columns are: %(expected)s.")
                % {"rules": "; ".join(rules), "expected": expected},
                column=",".join(unknown + missing + twice),
                row=rowno,
            )
        return [names.index(c) if c in names else -1 for c in COLUMN_NAMES]

    def row(
        self, rowno: int, record: Sequence[str], pick: Callable[[Sequence[str]], Sequence[str]]
    ) -> None:
        """Check one data row and stage it if it is clean. ``pick(record)`` gives the cells of
        :data:`COLUMN_NAMES` in order (``record`` has an empty cell at every index ``pick``
        takes for a column the file does not have)."""
        (
            donor, din_text, ctype, collected_text, cvol_text, csite, sprec_text, ptype,
            code_text, frozen_text, container, vol_text, cells_text, viab_text, expires_text,
            status, path_text, label,
        ) = map(str.strip, pick(record))  # fmt: skip
        self.rows += 1
        before = self.problems.count
        key = (donor, din_text, ctype, collected_text, cvol_text, csite, sprec_text)
        if key == self._last_collection[0]:
            coll = self._last_collection[1]
        else:
            coll = self._collection(rowno, *key)
            self._last_collection = (key, coll) if coll is not None else ((), None)
        pkey = (ptype, code_text, frozen_text)
        product = self._products.get(pkey)
        if product is None:
            product = self._product(rowno, ptype, code_text, frozen_text)
            if product is not None and len(self._products) < 100_000:
                self._products[pkey] = product
        if (
            product is not None
            and coll is not None
            and product[4] is not None
            and product[4][:10] < coll[3][:10]
        ):
            self.problems.add(rowno, "frozen_on", frozen_text, _("before the collection date"))
        akey = (container, vol_text, cells_text, viab_text, expires_text, status)
        values = self._values.get(akey)
        if values is None:
            values = self._aliquot(rowno, *akey)
            if values is not None and len(self._values) < 100_000:
                self._values[akey] = values
        clean = self.problems.count == before  # every value but the position
        if values is None:
            return
        box_id = position_id = None
        if path_text or label:
            box_id, position_id = self._position(rowno, path_text, label, values[5], values[0])
        if coll is None or product is None or not clean:
            return
        # a row whose only problem is its position is staged without one, so that the checks
        # across rows and against the bank report its other problems in the same run (the
        # file is never written while any problem stands)
        if coll[0] not in self.refs:
            self.refs.add(coll[0])
            if len(self.refs) >= CHUNK:
                self._flush_refs()
        self._keep(rowno, coll, product, values, box_id, position_id)

    def _keep(
        self,
        rowno: int,
        coll: tuple[Any, ...],
        product: tuple[Any, ...],
        values: tuple[Any, ...],
        box_id: int | None,
        position_id: int | None,
    ) -> None:
        """A clean row, checked: its collection, product and aliquot values (the same tuple
        objects for rows that repeat them) and its position. Staged here."""
        self.buffer.append((rowno, *coll, *product, *values, box_id, position_id))
        if len(self.buffer) >= CHUNK:
            self.flush()

    def _number(
        self, text: str, digits: int, places: int, low: int, high: int | None
    ) -> str | None:
        key = (text, digits, places, high)
        try:
            return self._numbers[key]
        except KeyError:
            value = _decimal(text, digits=digits, places=places, low=low, high=high)
            if len(self._numbers) > 100_000:
                self._numbers.clear()
            self._numbers[key] = value
            return value

    def _collection(
        self,
        rowno: int,
        donor: str,
        din_text: str,
        ctype: str,
        collected_text: str,
        cvol_text: str,
        csite: str,
        sprec_text: str,
    ) -> tuple[Any, ...] | None:
        add = self.problems.add
        before = self.problems.count
        if not donor:
            add(rowno, "donor_reference", "", _("required"))
        elif len(donor) > 40:
            add(rowno, "donor_reference", donor, _("at most 40 characters"))
        elif "\x00" in donor:
            add(rowno, "donor_reference", donor, _("contains a NUL character"))
        din = ""
        if not din_text:
            add(rowno, "din", "", _("required"))
        else:
            din, rule = self._din(din_text)
            if rule:
                add(rowno, "din", din_text, rule)
        ctype = ctype.lower()
        if ctype not in _COLLECTION_TYPES:
            add(
                rowno,
                "collection_type",
                ctype,
                _("one of %(values)s") % {"values": ", ".join(CollectionType.values)},
            )
        collected = self._moment(collected_text) if collected_text else None
        if not collected_text:
            add(rowno, "collected_at", "", _("required"))
        elif collected is None:
            add(
                rowno,
                "collected_at",
                collected_text,
                _("not a date (YYYY-MM-DD) or ISO date-time (YYYY-MM-DDTHH:MM+08:00)"),
            )
        elif collected == "naive":
            add(
                rowno,
                "collected_at",
                collected_text,
                _("a date-time needs its time zone offset (e.g. +08:00 or Z)"),
            )
        elif collected > self.today:
            add(rowno, "collected_at", collected_text, _("lies in the future"))
        cvol = self._number(cvol_text, 10, 2, 0, None) if cvol_text else None
        if cvol is None:
            add(
                rowno,
                "collection_volume_ml",
                cvol_text,
                _("a number of mL, 0 or more, at most 2 decimals") if cvol_text else _("required"),
            )
        if len(csite) > 200:
            add(rowno, "collection_site", csite, _("at most 200 characters"))
        elif "\x00" in csite:
            add(rowno, "collection_site", csite, _("contains a NUL character"))
        sprec_text = sprec_text.upper()
        if sprec_text:
            if sprec_text not in self._sprec:
                try:
                    sprec.parse_sprec(sprec_text)
                    self._sprec[sprec_text] = None
                except ValueError as exc:
                    self._sprec[sprec_text] = str(exc)
            rule_s = self._sprec[sprec_text]
            if rule_s:
                add(rowno, "sprec_code", sprec_text, rule_s)
        if self.problems.count != before:
            return None
        return (donor, din, ctype, collected, cvol, csite, sprec_text)

    def _product(
        self, rowno: int, ptype: str, code_text: str, frozen_text: str
    ) -> tuple[Any, ...] | None:
        add = self.problems.add
        ok = True
        ptype = ptype.lower()
        if ptype not in _PRODUCT_TYPES:
            ok = False
            add(
                rowno,
                "product_type",
                ptype,
                _("one of %(values)s") % {"values": ", ".join(ProductType.values)},
            )
        code = self._product_code(code_text) if code_text else _("required")
        if isinstance(code, str):
            ok = False
            add(rowno, "product_code", code_text, code)
        processed = None
        if frozen_text:
            frozen = self._date(frozen_text)
            if frozen is None:
                ok = False
                add(rowno, "frozen_on", frozen_text, _("not a date (YYYY-MM-DD)"))
            else:
                processed = f"{frozen.isoformat()}T00:00:00+00:00"
        if not ok or isinstance(code, str):
            return None
        return (ptype, code[0], code[1], code[2], processed)

    def _aliquot(
        self,
        rowno: int,
        container: str,
        vol_text: str,
        cells_text: str,
        viab_text: str,
        expires_text: str,
        status: str,
    ) -> tuple[Any, ...] | None:
        """The aliquot's own values (not its position), normalised; None if any is bad."""
        add = self.problems.add
        before = self.problems.count
        container = container.lower()
        if container not in _CONTAINERS:
            add(
                rowno,
                "container",
                container,
                _("one of %(values)s") % {"values": ", ".join(ContainerType.values)},
            )
        vol = self._number(vol_text, 10, 1, 0, None) if vol_text else None
        if vol is None:
            add(
                rowno,
                "volume_ul",
                vol_text,
                _("a number of µL, 0 or more, at most 1 decimal") if vol_text else _("required"),
            )
        cells: int | None = None
        if cells_text:
            number = self._number(cells_text, 19, 0, 0, 2**63 - 1)
            if number is None:
                add(rowno, "cell_count", cells_text, _("a whole number, 0 or more"))
            else:
                cells = int(number)
        viab = None
        if viab_text:
            viab = self._number(viab_text.rstrip("%").strip(), 5, 2, 0, 100)
            if viab is None:
                add(rowno, "viability_pct", viab_text, _("a percentage from 0 to 100"))
        expiry = None
        if expires_text:
            expires = self._date(expires_text)
            if expires is None:
                add(rowno, "expires_on", expires_text, _("not a date (YYYY-MM-DD)"))
            else:
                expiry = f"{expires.isoformat()}T23:59:59+00:00"
        status = status.lower() or AliquotStatus.QUARANTINE.value
        if status not in _STATUSES:
            add(
                rowno,
                "status",
                status,
                _("one of %(values)s") % {"values": ", ".join(AliquotStatus.values)},
            )
        if self.problems.count != before:
            return None
        return (container, vol, cells, viab, expiry, status)

    def _position(
        self, rowno: int, path_text: str, label: str, status: str, container: str
    ) -> tuple[int | None, int | None]:
        add = self.problems.add
        if not path_text:
            add(rowno, "storage_path", "", _("required when a position is given"))
            return None, None
        if not label:
            add(rowno, "position", "", _("required when a storage path is given"))
            return None, None
        if status in LEAVING_STATUSES:
            add(
                rowno,
                "position",
                label,
                _("an issued, thawed or discarded aliquot has no storage position"),
            )
            return None, None
        box = self._box_by_text.get(path_text)
        if box is None:
            box = self.boxes.get(path_text.replace(" / ", "/").casefold())
            if box is not None and len(self._box_by_text) < 100_000:
                self._box_by_text[path_text] = box
        if box is None:
            add(
                rowno,
                "storage_path",
                path_text,
                _("no storage box at this path (SITE/UNIT/RACK/BOX)"),
            )
            return None, None
        if box.kind != _BOX_KIND[container]:
            add(
                rowno,
                "storage_path",
                path_text,
                _("a %(container)s does not go into a %(kind)s")
                % {
                    "container": ContainerType(container).label.lower(),
                    "kind": BoxKind(box.kind).label.lower(),
                },
            )
            return None, None
        try:
            cell = self._labels[label]
        except KeyError:
            cell = self._labels[label] = parse_position_label(label)
            if len(self._labels) > 100_000:
                self._labels.clear()
        if cell is None or not (1 <= cell[0] <= box.rows and 1 <= cell[1] <= box.cols):
            add(
                rowno,
                "position",
                label,
                _("no such position in this box (rows A–%(row)s, columns 1–%(col)s)")
                % {"row": chr(ord("A") + box.rows - 1), "col": box.cols},
            )
            return None, None
        if box.cells is None:
            self._load_rack(box.rack_id)
        elif box.rack_id != self._last_rack:
            self._loaded.move_to_end(box.rack_id)  # used again: let go of others first
        self._last_rack = box.rack_id
        assert box.cells is not None and box.used is not None
        index = (cell[0] - 1) * box.cols + cell[1] - 1
        pid = box.cells[index]
        if pid == 0:
            add(rowno, "position", label, _("no such position in this box"))
            return None, None
        if pid < 0:
            add(rowno, "position", label, _("occupied in the bank"))
            return None, None
        if box.used[index]:
            add(
                rowno,
                "position",
                label,
                _("the same position as row %(row)s") % {"row": box.used[index]},
            )
            return None, None
        box.used[index] = rowno
        return box.box_id, pid

    def _flush_refs(self) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO donors (ref) VALUES (?)", ((r,) for r in self.refs)
        )
        self.refs.clear()

    def flush(self) -> None:
        if self.buffer:
            _sqlite_insert(self.db, _STAGE_INSERT, self.buffer)
            self.staged += len(self.buffer)
            self.buffer.clear()
        self._flush_refs()

    # checks across rows -------------------------------------------------------------------

    def cross_checks(self) -> None:
        """One pass over the staged rows in identity order: the same aliquot twice, rows of
        one collection (DIN) or one product that disagree. (The same position twice was
        found while reading, see :meth:`_position`, unless its rack was let go in between:
        :meth:`_positions_twice`.)"""
        self.flush()
        if self.reloaded:
            self._positions_twice()
        db, cap = self.db, self.problems.cap
        db.execute("CREATE INDEX rows_identity ON rows (din, pdc, division)")
        found: list[tuple[int, str, str, str]] = []
        same_din = _("differs from row %(row)s of the same DIN")
        same_product = _("differs from row %(row)s of the same product (DIN and product code)")
        collection_columns = (
            "donor_reference", "collection_type", "collected_at", "collection_volume_ml",
            "collection_site", "sprec_code",
        )  # fmt: skip
        last_din = None
        first: tuple[Any, ...] = ()
        products: dict[tuple[str, str], tuple[int, str, str | None]] = {}
        last_identity: tuple[str, str, str] | None = None
        last_rowno = 0
        for (
            rowno, din, donor, ctype, collected, cvol, csite, sprec_code, pdc, t, division,
            ptype, processed,
        ) in db.execute(
            "SELECT rowno, din, donor, ctype, collected, cvol, csite, sprec, pdc, t, division, "
            "ptype, processed FROM rows ORDER BY din, pdc, division"
        ):  # fmt: skip
            if len(found) >= 2 * cap:
                break
            if din != last_din:
                last_din = din
                first = (rowno, donor, ctype, collected, cvol, csite, sprec_code)
                products = {}
            elif first[1:] != (donor, ctype, collected, cvol, csite, sprec_code):
                mine = (donor, ctype, collected, cvol, csite, sprec_code)
                for column, a, b in zip(collection_columns, mine, first[1:], strict=True):
                    if a != b:
                        found.append((rowno, column, str(a or ""), same_din % {"row": first[0]}))
            identity = (din, pdc, division)
            if identity == last_identity:
                found.append(
                    (
                        rowno,
                        "product_code",
                        f"{din} {pdc}{t}{division}",
                        _("the same aliquot (DIN, product code and division) as row %(row)s")
                        % {"row": last_rowno},
                    )
                )
            else:
                last_identity, last_rowno = identity, rowno
            product = products.get((pdc, t))
            if product is None:
                products[pdc, t] = (rowno, ptype, processed)
            else:
                if product[1] != ptype:
                    found.append((rowno, "product_type", ptype, same_product % {"row": product[0]}))
                if product[2] != processed:
                    found.append(
                        (
                            rowno,
                            "frozen_on",
                            (processed or "")[:10],
                            same_product % {"row": product[0]},
                        )
                    )
        for problem in sorted(found)[:cap]:
            self.problems.add(*problem)
        if len(found) > cap:
            self.problems.count += len(found) - cap

    def _positions_twice(self) -> None:
        """The same position in staged rows (a rack loaded twice: its first load's record of
        the positions used was let go); each later row is reported against the first."""
        _index_positions(self.db)
        rule = _("the same position as row %(row)s")
        cap = self.problems.cap
        cursor = self.db.execute(
            "SELECT r.rowno, f.first, r.position_id FROM rows r JOIN ("
            " SELECT position_id, min(rowno) AS first FROM rows WHERE position_id IS NOT NULL"
            " GROUP BY position_id HAVING count(*) > 1) f ON f.position_id = r.position_id"
            " WHERE r.rowno > f.first ORDER BY r.rowno"
        )
        shown = cursor.fetchmany(cap)  # the rest are counted, not held
        labels = _position_labels({p for _r, _f, p in shown})
        for rowno, first, position_id in shown:
            self.problems.add(rowno, "position", labels.get(position_id, ""), rule % {"row": first})
        self.problems.count += sum(1 for _row in cursor)

    def bank_checks(self) -> None:
        """A DIN or aliquot already in the bank; a position another app's item holds (a QC
        sample); donors the organisation already has."""
        db, add = self.db, self.problems.add
        for rowno, label, item in rows_on_held_positions(db, staged_boxes(db)):
            add(rowno, "position", label, _("holds %(item)s in the bank") % {"item": item})
        cursor = db.execute("SELECT DISTINCT din FROM rows ORDER BY din")
        while chunk := cursor.fetchmany(500):
            part = [d for (d,) in chunk]
            taken = set(Collection.objects.filter(din__in=part).values_list("din", flat=True))
            if not taken:
                continue
            idents = set(
                Aliquot.objects.filter(din__in=taken).values_list("din", "pdc", "division")
            )
            marks = ",".join("?" * len(taken))
            for rowno, din, pdc, t, division in db.execute(
                f"SELECT rowno, din, pdc, t, division FROM rows WHERE din IN ({marks}) "  # noqa: S608
                "ORDER BY rowno",
                sorted(taken),
            ):
                if (din, pdc, division) in idents:
                    add(
                        rowno,
                        "product_code",
                        f"{din} {pdc}{t}{division}",
                        _("this aliquot (DIN, product code and division) is already in the bank"),
                    )
                else:
                    add(rowno, "din", din, _("this DIN is already assigned to a collection"))
        cursor = db.execute("SELECT ref FROM donors ORDER BY ref")
        while chunk := cursor.fetchmany(500):
            found = list(
                Donor.objects.filter(
                    organisation_id=self.organisation_id, reference__in=[r for (r,) in chunk]
                ).values_list("reference", "pk")
            )
            db.executemany("UPDATE donors SET id = ? WHERE ref = ?", ((pk, r) for r, pk in found))

    def close(self) -> None:
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute("COMMIT")
        self.db.close()


# --- the whole check ------------------------------------------------------------------------


@dataclass
class Checked:
    """The outcome of the check phase."""

    problems: Problems
    rows: int = 0
    staging: Path | None = None
    checker: Checker | None = field(default=None, repr=False)
    format: str = "csv"

    @property
    def ok(self) -> bool:
        return not self.problems and self.rows > 0


def check_file(
    path: Path,
    *,
    organisation_id: int,
    progress: Progress | None = None,
    workdir: Path | None = None,
) -> Checked:
    """Check the whole file; returns the problems and, if clean, the staging file to write.

    The caller must call :func:`discard` on the result when done with it.
    """
    problems = Problems()
    reader = Reader(path)
    fd, name = tempfile.mkstemp(prefix="celltrace-import-", suffix=".sqlite3", dir=workdir)
    os.close(fd)
    staging = Path(name)
    checker = Checker(organisation_id=organisation_id, problems=problems, staging=staging)
    checked = Checked(problems=problems, staging=staging, checker=checker, format=reader.format)
    try:
        _check_rows(reader, checker, progress, "check")
        checked.rows = checker.rows
        # the clean rows are staged even when others had problems: check them across rows and
        # against the bank too, so one run reports every problem (up to the cap)
        checker.cross_checks()
        checker.bank_checks()
        if progress is not None:
            progress("check", reader.total, reader.total)
    except FileRejected as exc:
        problems.count += 1
        problems.items.insert(0, exc.problem)
        del problems.items[problems.cap :]
    except BaseException:
        discard(checked)
        raise
    return checked


def _check_rows(
    reader: Reader,
    checker: Checker,
    progress: Progress | None,
    phase: str,
    *,
    stop_at_problem: bool = False,
) -> None:
    """Find the header (leading blank rows are skipped) and check every data row with
    ``checker``; progress is reported as ``phase``. ``stop_at_problem``: raise
    :class:`NotClean` as soon as a problem is found (the one-pass import)."""
    problems = checker.problems
    records = reader.records()
    header: list[str] | None = None
    rowno = 0
    for record in records:
        rowno += 1
        if any(h.strip() for h in record):
            header = record
            break
    if header is None:
        _file_problem(_("The file is empty."))
    assert header is not None
    width = len(header)
    # a column the file does not have reads the empty cell appended after the last one
    index = [width if i < 0 else i for i in checker.header(header, rowno)]
    pick = operator.itemgetter(*index)
    needed = max(index) + 1  # a shorter row is padded with empty cells
    tick = 0
    for record in records:
        rowno += 1
        if not any(record) or (not record[0].strip() and not any(v.strip() for v in record)):
            continue
        if len(record) > width and any(v.strip() for v in record[width:]):
            problems.add(
                rowno,
                "",
                "",
                _("has %(n)s values but the header names %(m)s columns")
                % {"n": len(record), "m": width},
            )
            checker.rows += 1
        else:
            if len(record) < needed:
                record.extend([""] * (needed - len(record)))
            checker.row(rowno, record, pick)
        if stop_at_problem and problems.count:
            raise NotClean(problems.items[0] if problems.items else None)
        tick += 1
        if progress is not None and tick >= 5000:
            tick = 0
            progress(phase, reader.done, reader.total)
    if checker.rows == 0:
        _file_problem(_("The file has a header but no data rows."), row=rowno + 1)


def discard(checked: Checked) -> None:
    """Close and delete the staging file."""
    if checked.checker is not None:
        checked.checker.close()
        checked.checker = None
    if checked.staging is not None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{checked.staging}{suffix}").unlink(missing_ok=True)
        checked.staging = None


# --- writing --------------------------------------------------------------------------------


class _Ids:
    """Primary keys for rows inserted with explicit ids, inside the write transaction.

    SQLite: the write lock is held (``BEGIN IMMEDIATE``), so ids follow the largest used one
    (and the AUTOINCREMENT counter). PostgreSQL: ids are drawn from the table's sequence.
    """

    def __init__(self, table: str) -> None:
        self.table = table
        self.pool: list[int] = []
        self.next = 0
        if connection.vendor == "sqlite":
            with connection.cursor() as c:
                c.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
                top = int(c.fetchone()[0])
                c.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = c.fetchone()
                self.next = max(top, int(row[0]) if row else 0) + 1

        self.take: Callable[[], int] = (
            itertools.count(self.next).__next__ if connection.vendor == "sqlite" else self._draw
        )

    def _draw(self) -> int:
        if not self.pool:
            with connection.cursor() as c:
                c.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [self.table, 5000],
                )
                self.pool = [r[0] for r in c.fetchall()][::-1]
        return self.pool.pop()


def _sql_literal(value: Any) -> str:
    """A constant as SQL text: NULL, an integer, or text quoted (a time as the database
    stores it, or an aware one as ISO text); any other type is refused."""
    if value is None:
        return "NULL"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError("a naive time cannot be written into a statement")
        value = value.isoformat()
    if not isinstance(value, str):
        raise TypeError(f"no SQL literal for {type(value).__name__}")
    return "'" + value.replace("'", "''") + "'"


def _insert_sql(model: Any, names: Sequence[str], fixed: dict[str, Any] | None = None) -> str:
    """``INSERT`` of ``names`` (one ``%s`` each) and of ``fixed``: values that are the same
    on every row, written into the statement (on SQLite binding a parameter is Python work
    under the global lock; fewer of them leave the writer thread more of it)."""
    meta = model._meta
    fixed = fixed or {}
    columns = ", ".join(meta.get_field(n).column for n in [*names, *fixed])
    values = ", ".join(["%s"] * len(names) + [_sql_literal(v) for v in fixed.values()])
    return f"INSERT INTO {meta.db_table} ({columns}) VALUES ({values})"  # noqa: S608


#: Rows per ``INSERT`` statement on SQLite (at most: x columns stays within its variable
#: limit). Measured on a million-row import: 200 rows 14.1 s, 500 13.5 s, 2,000 12.9–13.3 s,
#: 4,000 14.9 s. The writer thread takes Python's global lock back after every statement
#: (it binds the next one's values), so fewer, larger statements make fewer hand-overs.
ROWS_PER_STATEMENT = 2000


def _sqlite_insert(raw: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """``executemany`` with up to :data:`ROWS_PER_STATEMENT` rows in each statement's
    ``VALUES``.

    SQLite runs an ``INSERT`` once per statement execution: the per-statement work
    (``AUTOINCREMENT`` bookkeeping in ``sqlite_sequence``, deferred foreign key counters,
    the virtual machine's setup) then happens once per 2,000 rows, not once per row, which
    about halves the time of a large import. The rows are the same.
    """
    if rows:
        _sqlite_insert_flat(raw, sql, list(itertools.chain.from_iterable(rows)), len(rows[0]))


def _sqlite_insert_flat(raw: sqlite3.Connection, sql: str, flat: list[Any], width: int) -> None:
    """:func:`_sqlite_insert` of rows given as one flat list of values, ``width`` a row:
    each statement's parameters are then a slice of the list (made in C), not a tuple built
    row by row. The rows beyond the last full statement go in one statement of their own."""
    head, _sep, marks = sql.replace("%s", "?").partition(" VALUES ")
    # older SQLite builds allow only 999 (before 3.32: 32,766) variables per statement
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    k = max(1, min(ROWS_PER_STATEMENT, limit // max(1, width)))
    step = k * width
    full = len(flat) - len(flat) % step
    if full:
        many = f"{head} VALUES {', '.join([marks] * k)}"
        raw.executemany(many, (flat[i : i + step] for i in range(0, full, step)))
    if full < len(flat):
        rest = (len(flat) - full) // width
        raw.execute(f"{head} VALUES {', '.join([marks] * rest)}", flat[full:])


#: The 8-byte big-endian length prefixes :func:`celltrace.audit.ledger.rows_digest` puts
#: before each row, for the lengths a row of an import has.
_PREFIXES = [n.to_bytes(8, "big") for n in range(4096)]


class _Digest:
    """:func:`celltrace.audit.ledger.rows_digest`, fed row by row with canonical bytes.

    :meth:`add` only keeps the bytes; :meth:`flush` hashes what was kept in one call
    (hashlib then runs without Python's global lock)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.n = 0
        self.parts: list[bytes] = []

    def add(self, data: bytes) -> None:
        self.parts += (
            _PREFIXES[len(data)] if len(data) < 4096 else len(data).to_bytes(8, "big"),
            data,
        )

    def flush(self) -> None:
        self.n += len(self.parts) // 2
        self.sha.update(b"".join(self.parts))
        self.parts = []

    def result(self) -> dict[str, Any]:
        self.flush()
        return {"rows": self.n, "digest": self.sha.hexdigest()}


def _js(value: str | None) -> str:
    """JSON text of any string (free text), or null."""
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


@dataclass
class Written:
    counts: dict[str, int]
    digests: dict[str, dict[str, Any]]


class NotClean(Exception):
    """The one-pass import met a problem (a row's own, rows of one DIN that disagree or are
    apart, a file that cannot be read): it stops; the caller rolls back and checks the file
    in two phases for the full report."""

    def __init__(self, problem: Problem | None = None) -> None:
        super().__init__(str(problem) if problem else "")
        self.problem = problem


class _Inserts:
    """The rows of an import as ``INSERT`` parameters and row digests, chunk by chunk.

    :meth:`add` takes checked rows as (row number, collection, product, aliquot values,
    position id), the tuples of :meth:`Checker.row` (the collection's donor as its reference
    with ``donors`` to look its id up, or as its id). A collection starts where the DIN
    changes: the rows of a DIN must follow one another (the two-phase write reads them sorted
    by DIN; the one-pass import stops with :class:`NotClean` when a DIN comes back, as the
    collection's unique DIN then refuses it, or when a row disagrees with the collection or
    product it belongs to). The digests are
    :func:`celltrace.audit.ledger.rows_digest` of the rows in the order written (ids
    ascending). On SQLite the statements run on ``writer``'s thread.
    """

    def __init__(
        self,
        *,
        organisation_id: int,
        actor_id: int,
        batch_id: int,
        now: dt.datetime,
        writer: _Writer | None,
    ) -> None:
        self.vendor = connection.vendor
        self.writer = writer
        self.raw: Any = connection.connection if writer is not None else None
        self.adapt = connection.ops.adapt_datetimefield_value
        now_db = self.adapt(now)
        org = organisation_id
        self.donor_ids = _Ids(Donor._meta.db_table)
        self.c_ids, self.p_ids = _Ids(Collection._meta.db_table), _Ids(Product._meta.db_table)
        self.a_ids, self.pl_ids = _Ids(Aliquot._meta.db_table), _Ids(Placement._meta.db_table)
        self.donor_sql = _insert_sql(
            Donor,
            ["id", "reference"],
            {
                "organisation": org, "name_enc": "", "national_id_enc": "", "phone_enc": "",
                "date_of_birth_enc": "", "created_at": now_db,
            },
        )  # fmt: skip
        made = {"organisation": org, "batch": batch_id, "created_at": now_db}
        self.c_sql = _insert_sql(
            Collection,
            [
                "id", "donor", "din", "collection_type", "collected_at", "volume_ml",
                "collection_site", "sprec_code",
            ],
            {**made, "sprec_version": "3.0"},
        )  # fmt: skip
        self.p_sql = _insert_sql(
            Product,
            ["id", "collection", "product_type", "pdc", "isbt_collection_type", "processed_at"],
            made,
        )
        self.a_sql = _insert_sql(
            Aliquot,
            [
                "id", "product", "din", "pdc", "isbt_collection_type", "division", "barcode",
                "container_type", "volume_ul", "cell_count", "viability_pct", "expiry", "status",
            ],
            {**made, "thaw_count": 0},
        )  # fmt: skip
        self.pl_sql = _insert_sql(
            Placement,
            ["id", "aliquot", "position"],
            {"organisation": org, "placed_at": now_db, "placed_by": actor_id},
        )
        self.digests = {
            k: _Digest() for k in ("donors", "collections", "products", "aliquots", "placements")
        }
        self.placed_at = f'"{utc_iso(now)}"'
        self._moments: dict[str, Any] = {}
        self._canonical: dict[str | None, str] = {}
        self.ds: list[Any] = []
        self.cs: list[Any] = []
        self.ps: list[Any] = []
        self.als: list[Any] = []
        self.pls: list[Any] = []
        self.last_din: str | None = None
        self.collection: tuple[Any, ...] = ()
        self.coll_id = 0
        self.products: dict[tuple[str, str], tuple[int, str, str | None]] = {}
        self._known_values: dict[tuple[Any, ...], tuple[tuple[Any, ...], str, str, str]] = {}

    # values as stored and as digested ------------------------------------------------------

    def moment(self, text: str | None) -> Any:
        """The database value of a checked UTC ISO time."""
        if text is None:
            return None
        try:
            return self._moments[text]
        except KeyError:
            value = self.adapt(dt.datetime.fromisoformat(text))
            if len(self._moments) > 100_000:
                self._moments.clear()
            self._moments[text] = value
            return value

    def number(self, text: str | None) -> Any:
        """The database value of a checked decimal text (SQLite stores the text)."""
        if text is None or self.vendor == "sqlite":
            return text
        return Decimal(text)

    @staticmethod
    def _canonical_moment(text: str | None) -> str:
        if text is None:
            return "null"
        return f'"{utc_iso(dt.datetime.fromisoformat(text))}"'

    def cmoment(self, text: str | None) -> str:
        """The ledger's canonical JSON of a checked UTC ISO time."""
        try:
            return self._canonical[text]
        except KeyError:
            value = self._canonical_moment(text)
            if len(self._canonical) > 100_000:
                self._canonical.clear()
            self._canonical[text] = value
            return value

    # rows ------------------------------------------------------------------------------------

    def donor(self, reference: str) -> int:
        """A new donor of the organisation (its personal data is entered later); its id."""
        pk = self.donor_ids.take()
        self.ds += (pk, reference)
        self.digests["donors"].add(f'{{"id":{pk},"reference":{_js(reference)}}}'.encode())
        return pk

    def _aliquot_values(self, values: tuple[Any, ...]) -> tuple[tuple[Any, ...], str, str, str]:
        """An aliquot's own checked values (container, volume, cells, viability, expiry,
        status) as the database takes them, and the three pieces of its digest's JSON that
        depend on them only (many rows share them: worked out once)."""
        container, vol, cells, viab, expiry, status = values
        viability = "null" if viab is None else f'"{viab}"'
        stored = (
            container, self.number(vol), cells, self.number(viab), self.moment(expiry), status,
        )  # fmt: skip
        return (
            stored,
            f'","cell_count":{json.dumps(jsonable(cells))},"container_type":"{container}","din":"',
            f'","expiry":{self.cmoment(expiry)},"id":',
            f'"status":"{status}","viability_pct":{viability},"volume_ul":"{vol}"}}',
        )

    def add(
        self,
        rows: Iterable[tuple[int, Any, Any, Any, int | None]],
        donors: dict[str, int] | None = None,
    ) -> None:
        """Turn checked rows into inserts (see the class); then hand them to the database.
        A row: (row number, collection, product, aliquot values, position id) as the check
        gives them (:meth:`Checker._keep`); rows that repeat a collection repeat its tuple."""
        cs, ps, als, pls = self.cs, self.ps, self.als, self.pls
        dc, dp = self.digests["collections"], self.digests["products"]
        # the per-row digests' bytes go straight to their lists (see _Digest)
        a_parts, pl_parts = self.digests["aliquots"].parts, self.digests["placements"].parts
        prefixes = _PREFIXES
        moment, number, cmoment = self.moment, self.number, self.cmoment
        c_take, p_take = self.c_ids.take, self.p_ids.take
        a_take, pl_take = self.a_ids.take, self.pl_ids.take
        placed_at = self.placed_at
        last_din, collection, coll_id = self.last_din, self.collection, self.coll_id
        products = self.products
        known = self._known_values
        if len(known) > 10_000:
            known.clear()
        last_coll: Any = None
        for rowno, coll, product, values, position_id in rows:
            if coll is not last_coll:  # the same tuple: the same collection as the row before
                last_coll = coll
                if coll[1] != last_din:
                    donor, last_din, ctype, collected, cvol, csite, sprec_code = coll
                    products = {}
                    coll_id = c_take()
                    collection = coll
                    donor_id = donor if donors is None else donors[donor]
                    cs += (
                        coll_id, donor_id, last_din, ctype, moment(collected), number(cvol),
                        csite, sprec_code,
                    )  # fmt: skip
                    dc.add(
                        (
                            f'{{"collected_at":{cmoment(collected)},"collection_type":"{ctype}",'
                            f'"din":"{last_din}","donor_id":{donor_id},"id":{coll_id},'
                            f'"sprec_code":"{sprec_code}","volume_ml":"{cvol}"}}'
                        ).encode()
                    )
                elif coll != collection:
                    raise NotClean(Problem(rowno, "din", last_din, "differs from its collection"))
            din = last_din
            ptype, pdc, t, division, processed = product
            prod = products.get((pdc, t))
            if prod is None:
                prod_id = p_take()
                products[pdc, t] = (prod_id, ptype, processed)
                ps += (prod_id, coll_id, ptype, pdc, t, moment(processed))
                dp.add(
                    (
                        f'{{"collection_id":{coll_id},"id":{prod_id},'
                        f'"isbt_collection_type":"{t}","pdc":"{pdc}",'
                        f'"processed_at":{cmoment(processed)},"product_type":"{ptype}"}}'
                    ).encode()
                )
            elif prod[1] != ptype or prod[2] != processed:
                raise NotClean(Problem(rowno, "product_code", pdc, "differs from its product"))
            else:
                prod_id = prod[0]
            try:
                stored, j1, j2, j3 = known[values]
            except KeyError:
                stored, j1, j2, j3 = known[values] = self._aliquot_values(values)
            aliquot_id = a_take()
            code = pdc + t + division
            barcode = din + code
            als += (aliquot_id, prod_id, din, pdc, t, division, barcode)
            als += stored
            data = (
                f'{{"barcode":"{barcode}{j1}{din}{j2}{aliquot_id},"parent_id":null,'
                f'"product_code":"{code}","product_id":{prod_id},{j3}'
            ).encode()
            a_parts += (prefixes[len(data)], data)  # validated values: far below 4,096 bytes
            if position_id is not None:
                pl_id = pl_take()
                pls += (pl_id, aliquot_id, position_id)
                data = (
                    f'{{"aliquot_id":{aliquot_id},"placed_at":{placed_at},'
                    f'"position_id":{position_id}}}'
                ).encode()
                pl_parts += (prefixes[len(data)], data)
        self.last_din, self.collection, self.coll_id = last_din, collection, coll_id
        self.products = products
        self.flush()

    def flush(self) -> None:
        """Hand the rows gathered so far to the database (donors first: the rows refer to
        them). On SQLite the writer thread owns the lists from here."""
        for sql, flat, width in (
            (self.donor_sql, self.ds, 2),
            (self.c_sql, self.cs, 8),
            (self.p_sql, self.ps, 6),
            (self.a_sql, self.als, 13),
            (self.pl_sql, self.pls, 3),
        ):
            if not flat:
                continue
            if self.writer is not None:
                self.writer.submit(
                    functools.partial(_sqlite_insert_flat, self.raw, sql, flat, width)
                )
            else:
                with connection.cursor() as c:
                    c.executemany(sql, list(zip(*[iter(flat)] * width, strict=True)))
        self.ds, self.cs, self.ps, self.als, self.pls = [], [], [], [], []
        for digest in self.digests.values():
            digest.flush()

    def finish(self) -> Written:
        """Flush, wait for the writer, and return the counts and digests."""
        self.flush()
        if self.writer is not None:
            self.writer.wait()
        out = {k: v.result() for k, v in self.digests.items()}
        return Written(counts={k: int(v["rows"]) for k, v in out.items()}, digests=out)


def write_staged(
    checked: Checked,
    *,
    organisation_id: int,
    actor_id: int,
    batch_id: int,
    now: dt.datetime,
    progress: Progress | None = None,
) -> Written:
    """Insert everything staged, inside the caller's transaction (which appends the ledger)."""
    assert checked.checker is not None and checked.ok
    db = checked.checker.db
    # SQLite: the inserts run on a background thread while the next chunk is built; nothing
    # else uses the connection meanwhile (the _Ids queries run before the first insert, their
    # ``take`` needs no query on SQLite)
    writer = _Writer() if connection.vendor == "sqlite" else None
    # errors of the raw SQLite connection (also those the writer thread hands back) become
    # Django's (``IntegrityError`` for a position taken since the check)
    with (
        writer or contextlib.nullcontext(),
        connection.wrap_database_errors,
        _quick_switching(writer),
    ):
        inserts = _Inserts(
            organisation_id=organisation_id, actor_id=actor_id, batch_id=batch_id,
            now=now, writer=writer,
        )  # fmt: skip
        # donors the organisation does not have yet
        new = [r for (r,) in db.execute("SELECT ref FROM donors WHERE id IS NULL ORDER BY ref")]
        for i in range(0, len(new), CHUNK):
            part = [(inserts.donor(ref), ref) for ref in new[i : i + CHUNK]]
            db.executemany("UPDATE donors SET id = ? WHERE ref = ?", part)
        del new
        total, done = checked.rows, 0
        cursor = db.execute(
            "SELECT r.rowno, d.id, r.din, r.ctype, r.collected, r.cvol, r.csite, r.sprec, "
            "r.ptype, r.pdc, r.t, r.division, r.processed, r.container, r.vol, r.cells, "
            "r.viab, r.expiry, r.status, r.box_id, r.position_id FROM rows r "
            "JOIN donors d ON d.ref = r.donor ORDER BY r.din, r.pdc, r.division"
        )
        while chunk := cursor.fetchmany(CHUNK):
            inserts.add([(r[0], r[1:8], r[8:13], r[13:19], r[20]) for r in chunk])
            done += len(chunk)
            if progress is not None:
                progress("write", done, total)
        written = inserts.finish()
        if progress is not None:
            progress("write", done, total)
        return written


#: Python's thread switch interval while an import writes on SQLite. The writer thread needs
#: the global lock back after every statement (SQLite runs without it); at the default 5 ms
#: it waits for the checking thread that long each time, and a million-row import spends
#: most of its write waiting (measured: 22 s at 5 ms, 15 s at 0.1 ms).
SWITCH_INTERVAL = 0.0001


@contextlib.contextmanager
def _quick_switching(writer: _Writer | None) -> Iterator[None]:
    """:data:`SWITCH_INTERVAL` while a writer thread works (process-wide; restored after)."""
    if writer is None:
        yield
        return
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


# --- the one-pass import (SQLite) -------------------------------------------------------------

#: New donors the one-pass import remembers by reference (beyond, it forgets them all: a
#: reference seen again after that is inserted again, the database refuses the duplicate and
#: the import falls back to two phases). Files list a donor's rows together.
DONORS_REMEMBERED = 200_000


class _OnePassChecker(Checker):
    """The row check of :func:`import_in_one_pass`: each chunk of clean rows is written
    (through ``inserts``) instead of staged; the bank is read through ``read_db``, a
    read-only connection (the import's own connection is busy writing), which sees the bank
    as it was when the write lock was taken; positions that other apps' items hold
    (``held``) count as taken."""

    def __init__(
        self,
        *,
        organisation_id: int,
        problems: Problems,
        inserts: _Inserts,
        read_db: sqlite3.Connection,
        held: set[int],
    ) -> None:
        super().__init__(organisation_id=organisation_id, problems=problems, staging=":memory:")
        self.inserts = inserts
        self.read_db = read_db
        self.held = held
        self.donor_ids: dict[str, int] = {}

    def _fill_cells(self, boxes: dict[int, _BoxInfo]) -> None:
        """As the two-phase check does, through the read-only connection, a row per box: each
        box's cells come as two JSON texts, cell indexes and ±position ids (row by row,
        every step of the query would give up Python's global lock to the writer thread
        and wait to get it back). A box whose cells come complete and in order (as the
        positions' index lists them) takes its array as it is."""
        marks = ", ".join(["?"] * len(boxes))
        held = self.held
        for box_id, indexes_text, ids_text in self.read_db.execute(
            _RACK_CELLS.replace("%s", marks), list(boxes)
        ):
            info = boxes[box_id]
            indexes, ids = json.loads(indexes_text), json.loads(ids_text)
            if held and not held.isdisjoint(ids):
                ids = [-pk if pk > 0 and pk in held else pk for pk in ids]
            if indexes == list(range(info.rows * info.cols)):
                info.cells = array("q", ids)
            else:
                cells = info.cells
                assert cells is not None
                for index, pk in zip(indexes, ids, strict=True):
                    cells[index] = pk

    def _flush_refs(self) -> None:
        """Give the chunk's donor references their ids: the organisation's donor, or a new
        one (inserted ahead of the rows)."""
        unknown = sorted(r for r in self.refs if r not in self.donor_ids)
        self.refs.clear()
        table = Donor._meta.db_table
        for i in range(0, len(unknown), 500):
            part = unknown[i : i + 500]
            marks = ",".join("?" * len(part))
            self.donor_ids.update(
                self.read_db.execute(
                    f"SELECT reference, id FROM {table} "  # noqa: S608
                    f"WHERE organisation_id = ? AND reference IN ({marks})",
                    [self.organisation_id, *part],
                )
            )
        for ref in unknown:
            if ref not in self.donor_ids:
                self.donor_ids[ref] = self.inserts.donor(ref)

    def _keep(
        self,
        rowno: int,
        coll: tuple[Any, ...],
        product: tuple[Any, ...],
        values: tuple[Any, ...],
        box_id: int | None,
        position_id: int | None,
    ) -> None:
        self.buffer.append((rowno, coll, product, values, position_id))
        if len(self.buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        self._flush_refs()
        if self.buffer:
            self.inserts.add(self.buffer, self.donor_ids)
            self.staged += len(self.buffer)
            self.buffer = []
        # forgotten only once no kept row needs them (the next chunk looks its donors up again)
        if len(self.donor_ids) > DONORS_REMEMBERED:
            self.donor_ids.clear()


def import_in_one_pass(
    path: Path,
    *,
    organisation_id: int,
    actor_id: int,
    batch_id: int,
    now: dt.datetime,
    progress: Progress | None = None,
) -> tuple[int, Written]:
    """Check the file and write it in the same pass, inside the caller's transaction, which
    holds SQLite's write lock (``BEGIN IMMEDIATE``) from before the first row is read: the
    bank cannot change under the check, and nothing is visible to anyone until the caller
    commits. Every rule of :func:`check_file` holds: the rows' own rules here; a DIN, an
    aliquot or a donor reference met again out of order, and anything already in the bank,
    are refused by the database's unique constraints. At the first problem it raises
    :class:`NotClean` (or the database's ``IntegrityError``): the caller rolls back and runs
    :func:`check_file` for the full report. Returns the data rows read and the counts and
    digests written.

    Only for SQLite outside any transaction of the caller's (the read-only connection must
    see the bank the write connection sees). Progress is reported as phase ``"import"``.
    """
    from celltrace.storage.services import held_by_others

    assert connection.vendor == "sqlite" and connection.in_atomic_block
    held = set(Position.objects.filter(held_by_others()).values_list("pk", flat=True))
    name = Path(connection.settings_dict["NAME"]).resolve()
    problems = Problems(cap=1)
    reader = Reader(path)
    if progress is not None:
        progress("import", 0, reader.total)
    read_db = sqlite3.connect(f"{name.as_uri()}?mode=ro", uri=True, timeout=20)
    checker: _OnePassChecker | None = None
    try:
        with _Writer() as writer, connection.wrap_database_errors, _quick_switching(writer):
            inserts = _Inserts(
                organisation_id=organisation_id, actor_id=actor_id, batch_id=batch_id,
                now=now, writer=writer,
            )  # fmt: skip
            checker = _OnePassChecker(
                organisation_id=organisation_id, problems=problems, inserts=inserts,
                read_db=read_db, held=held,
            )  # fmt: skip
            try:
                _check_rows(reader, checker, progress, "import", stop_at_problem=True)
            except FileRejected as exc:
                raise NotClean(exc.problem) from exc
            checker.flush()
            written = inserts.finish()
    finally:
        read_db.close()
        if checker is not None:
            checker.close()
    if progress is not None:
        progress("import", reader.total, reader.total)
    return checker.rows, written


def rows_on_held_positions(
    db: sqlite3.Connection, boxes: Sequence[int]
) -> list[tuple[int, str, str]]:
    """``(row, position label, item)`` of the staged rows whose position holds an item of
    another app (a QC sample), as :func:`celltrace.storage.services.other_occupants` reports
    them for ``boxes`` (the file's, :func:`staged_boxes`); one query per 500 boxes."""
    from celltrace.storage.services import other_occupants

    held: dict[int, str] = {}
    for i in range(0, len(boxes), 500):
        held.update(other_occupants(boxes[i : i + 500]))
    found = _staged_on(db, list(held))
    if not found:
        return []
    labels = _position_labels({p for _r, p in found})
    return sorted((rowno, labels.get(pid, ""), str(held[pid])) for rowno, pid in found)


def _position_labels(position_ids: Iterable[int]) -> dict[int, str]:
    """Position id → its label (A1 …), one query."""
    return dict(Position.objects.filter(pk__in=position_ids).values_list("pk", "label"))


def _staged_on(db: sqlite3.Connection, position_ids: Sequence[int]) -> list[tuple[int, int]]:
    """``(row, position id)`` of the staged rows placed on ``position_ids`` (500 a query; the
    staging index on position_id is built on first use)."""
    found: list[tuple[int, int]] = []
    if position_ids:
        _index_positions(db)
    for i in range(0, len(position_ids), 500):
        part = position_ids[i : i + 500]
        marks = ",".join("?" * len(part))
        found += db.execute(
            f"SELECT rowno, position_id FROM rows WHERE position_id IN ({marks})",  # noqa: S608
            part,
        ).fetchall()
    return found


def _index_positions(db: sqlite3.Connection) -> None:
    db.execute("CREATE INDEX IF NOT EXISTS rows_position ON rows (position_id)")


def staged_boxes(db: sqlite3.Connection) -> list[int]:
    """The boxes the staged rows are placed in, in pk order (to lock them)."""
    return [
        b
        for (b,) in db.execute(
            "SELECT DISTINCT box_id FROM rows WHERE box_id IS NOT NULL ORDER BY box_id"
        )
    ]


def taken_since_check(checked: Checked) -> Problems:
    """After the write was refused because something of the file was taken since the check
    (a DIN, an aliquot identity, a position holding an aliquot or a QC sample): the rows
    concerned, found again against the bank as it is now (row, column, value, rule)."""
    checker = checked.checker
    assert checker is not None
    problems = checker.problems = Problems()
    checker.bank_checks()
    _index_positions(checker.db)  # before the cursor below is open on the staged rows
    cursor = checker.db.execute(
        "SELECT DISTINCT position_id FROM rows WHERE position_id IS NOT NULL ORDER BY 1"
    )
    while chunk := cursor.fetchmany(500):
        taken = dict(
            Placement.objects.filter(
                position_id__in=[p for (p,) in chunk], removed_at__isnull=True
            ).values_list("position_id", "position__label")
        )
        for rowno, position_id in _staged_on(checker.db, list(taken)):
            problems.add(rowno, "position", taken[position_id], _("occupied in the bank"))
    problems.items.sort(key=lambda p: (p.row or 0, p.column))
    return problems
