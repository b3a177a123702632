"""Writers: rows from the database to bytes, one chunk at a time, in flat memory.

CSV (from COPY, or Python's csv for datasets with computed columns), XLSX (streamed
SpreadsheetML), Parquet (one row group per 64k rows), GeoJSON (a FeatureCollection, one
Feature per row at the facility's location) and ZIP (a CSV per dataset and
datapackage.json). Text cells starting like a formula are neutralised in CSV and XLSX.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from monitor_api.exports import datapackage
from monitor_api.exports.columns import Column, Filters, Query
from monitor_api.exports.datasets import Dataset
from monitor_api.exports.fastcsv import FORMULA_START, copy_csv
from monitor_api.exports.pseudonyms import Pseudonyms
from monitor_api.exports.xlsx import Workbook

CHUNK = 256 * 1024  # bytes handed to the server at a time
FETCH = 5000  # rows per round trip of the server-side cursor
ROW_GROUP = 65_536  # Parquet rows per row group
MEDIA = {"csv": "text/csv; charset=utf-8; header=present",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "geojson": "application/geo+json", "parquet": "application/vnd.apache.parquet",
         "zip": "application/zip"}
EXTENSION = {"csv": "csv", "xlsx": "xlsx", "geojson": "geojson", "parquet": "parquet",
             "zip": "zip"}


class Buffer:
    """A write-only, non-seekable byte sink the stream drains between rows."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        data = bytes(data)
        self.parts.append(data)
        self.size += len(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


@dataclass
class Job:
    """One export run: its connection, datasets, pseudonyms, metadata and row counts."""

    conn: Connection
    parts: list[tuple[Dataset, Query]]
    pseudo: Pseudonyms
    meta: dict[str, Any]
    filters: Filters
    rows: dict[str, list[int]] = field(default_factory=dict)

    def counter(self, name: str) -> list[int]:
        return self.rows.setdefault(name, [0])


def output(query: Query) -> list[Column]:
    """Columns in the order every writer emits them: pseudonyms, SQL values, derived."""
    return [*query.refs, *query.sql_columns, *(c for c in query.columns if c.derived)]


def typed_rows(job: Job, query: Query, location: bool = False) -> Iterator[list[list[Any]]]:
    """Batches of output rows (lists) from a server-side cursor; with `location`, each row
    ends with the facility's (lng, lat)."""
    refs = [(c.ref.encode(), c.ref in ("visit", "team")) for c in query.refs if c.ref]
    n_ref, n_sql = len(refs), len(query.sql_columns)
    n_derived = len(query.columns) - n_ref - n_sql
    pseudo, derive = job.pseudo, query.derive
    result = job.conn.execute(query.select().execution_options(stream_results=True,
                                                                yield_per=FETCH))
    for part in result.partitions():
        batch = []
        for r in part:
            row: list[Any] = [
                None if r[i] is None else (pseudo.cached(kind, r[i].encode()) if cached
                                           else pseudo.ref(kind, r[i].encode()))
                for i, (kind, cached) in enumerate(refs)]
            row.extend(r[n_ref:n_ref + n_sql])
            if n_derived and derive is not None:
                row.extend([None] * n_derived)
                derive(row, r[n_ref + n_sql:n_ref + n_sql + len(query.helpers)])
            if location:
                row.append((r[-2], r[-1]))
            batch.append(row)
        yield batch


def _neutralise(rows: list[list[Any]], columns: list[Column]) -> None:
    for i in [i for i, c in enumerate(columns) if c.text]:
        for row in rows:
            value = row[i]
            if value and value[0] in FORMULA_START:
                row[i] = "'" + value


def csv_lines(job: Job, dataset: Dataset, query: Query) -> Iterator[bytes]:
    """Header and rows of one dataset as CSV (RFC 4180, UTF-8, CRLF)."""
    columns = output(query)
    counter = job.counter(dataset.name)
    yield (",".join(c.name for c in columns) + "\r\n").encode()
    if query.derive is None:
        yield from copy_csv(job.conn, query, job.pseudo, counter)
        return
    flags = [i for i, c in enumerate(columns) if c.type == "boolean"]
    text = io.StringIO()
    writer = csv.writer(text)
    for rows in typed_rows(job, query):
        _neutralise(rows, columns)
        for row in rows:
            for i in flags:
                if row[i] is not None:
                    row[i] = "true" if row[i] else "false"
        writer.writerows(rows)
        counter[0] += len(rows)
        yield text.getvalue().encode()
        text.seek(0)
        text.truncate()


def write_csv(job: Job) -> Iterator[bytes]:
    dataset, query = job.parts[0]
    pending: list[bytes] = []
    size = 0
    for chunk in csv_lines(job, dataset, query):
        pending.append(chunk)
        size += len(chunk)
        if size >= CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    yield b"".join(pending)


def write_xlsx(job: Job) -> Iterator[bytes]:
    dataset, query = job.parts[0]
    columns, counter, out = output(query), job.counter(dataset.name), Buffer()
    book = Workbook(out)
    book.start_sheet(dataset.name, [c.name for c in columns], [c.type for c in columns])
    for rows in typed_rows(job, query):
        _neutralise(rows, columns)
        book.write_rows(rows)
        counter[0] += len(rows)
        if out.size >= CHUNK:
            yield out.drain()
    book.start_sheet("about", ["name", "type", "unit", "description", "values"],
                     ["string"] * 5)
    meta = {**job.meta, "dataset": dataset.name, "title": dataset.title,
            "rows": counter[0], "filters": json.dumps(job.meta["filters"], ensure_ascii=False),
            "licenses": None}
    book.write_rows([[k, "", "", str(v), ""] for k, v in meta.items() if v is not None])
    book.write_rows([["", "", "", "", ""]] + [
        [c.name, c.type, c.unit or "", c.description, ", ".join(c.enum or ())]
        for c in columns])
    book.close()
    yield out.drain()


def write_parquet(job: Job) -> Iterator[bytes]:
    # Imported here: pyarrow costs a worker ~40 MiB that only Parquet downloads need.
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(),
             "boolean": pa.bool_(), "date": pa.date32()}
    dataset, query = job.parts[0]
    columns, counter, out = output(query), job.counter(dataset.name), Buffer()
    meta = {**job.meta, "resource": {"name": dataset.name, "title": dataset.title,
                                     "description": dataset.description,
                                     "schema": datapackage.schema(dataset, columns)}}
    schema = pa.schema([pa.field(c.name, arrow[c.type]) for c in columns],
                       metadata={"datapackage": json.dumps(meta, ensure_ascii=False)})
    writer = pq.ParquetWriter(out, schema, compression="zstd")
    pending: list[Any] = []
    held = 0
    for rows in typed_rows(job, query):
        arrays = [pa.array(values, type=arrow[c.type])
                  for c, values in zip(columns, zip(*rows, strict=True), strict=True)]
        pending.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
        held += len(rows)
        counter[0] += len(rows)
        if held >= ROW_GROUP:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=held)
            pending, held = [], 0
            yield out.drain()
    if pending:
        writer.write_table(pa.Table.from_batches(pending), row_group_size=held)
    writer.close()
    yield out.drain()


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else str(value)


def write_geojson(job: Job) -> Iterator[bytes]:
    dataset, query = job.parts[0]
    columns, counter = output(query), job.counter(dataset.name)
    names = [c.name for c in columns]
    head = {"type": "FeatureCollection", "name": dataset.name, "metadata": job.meta}
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n').encode()
    first = True
    for rows in typed_rows(job, query, location=True):
        parts = []
        for row in rows:
            lng, lat = row.pop()
            geometry = None if lng is None else {"type": "Point", "coordinates": [lng, lat]}
            parts.append(json.dumps({"type": "Feature", "geometry": geometry,
                                     "properties": dict(zip(names, row, strict=True))},
                                    ensure_ascii=False, default=_jsonable))
        counter[0] += len(rows)
        if parts:
            yield (("" if first else ",\n") + ",\n".join(parts)).encode()
            first = False
    yield b"\n]}\n"


def write_zip(job: Job) -> Iterator[bytes]:
    out = Buffer()
    bundle = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6)
    resources = []
    for dataset, query in job.parts:
        digest, size = hashlib.sha256(), 0
        with bundle.open(f"{dataset.name}.csv", "w", force_zip64=True) as entry:
            for chunk in csv_lines(job, dataset, query):
                digest.update(chunk)
                size += len(chunk)
                entry.write(chunk)
                if out.size >= CHUNK:
                    yield out.drain()
        resources.append(datapackage.resource(
            dataset, output(query), rows=job.counter(dataset.name)[0], size=size,
            sha256=digest.hexdigest(), filters=job.filters))
    names = "-".join(d.name for d, _ in job.parts) if len(job.parts) == 1 else "all"
    package = datapackage.package(f"monitor-api-{names.replace('_', '-')}", resources,
                                  job.meta)
    bundle.writestr("datapackage.json", json.dumps(package, ensure_ascii=False, indent=2))
    bundle.close()
    yield out.drain()


WRITERS: dict[str, Callable[[Job], Iterator[bytes]]] = {
    "csv": write_csv, "xlsx": write_xlsx, "parquet": write_parquet, "geojson": write_geojson,
    "zip": write_zip}
