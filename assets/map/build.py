#!/usr/bin/env python3
"""Converts Natural Earth's 1:110m countries, as the npm package `world-atlas`
carries them (TopoJSON), into `world.tsv`: one line per country, its ISO
3166-1 alpha-2 code, its name, a point to label it at (the centroid of its
largest piece) and its outline as SVG path data, already
projected (Equal Earth) onto a 1000-unit-wide frame. The service includes
the result in its binary; nothing here runs at build or request time.

Run once, when the geometry should change (Python 3 standard library only,
plus Debian's `iso-codes` for the numeric-to-alpha-2 table):

    npm pack world-atlas@2.0.2            # world-atlas-2.0.2.tgz
    python3 assets/map/build.py world-atlas-2.0.2.tgz > assets/map/world.tsv

Antarctica is left out (nothing the service scores is produced there, and
it would take a fifth of the height). Shapes without an ISO code (Kosovo,
Northern Cyprus, Somaliland) keep `--` as their code and are drawn without
data.
"""

import json
import math
import sys
import tarfile

ISO_CODES = "/usr/share/iso-codes/json/iso_3166-1.json"
WIDTH = 1000.0
LEFT_OUT = {"AQ"}

# Equal Earth (Šavrič, Patterson and Jenny, 2018).
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2


def equal_earth(lon, lat):
    lam, phi = math.radians(lon), math.radians(lat)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = 2 * math.sqrt(3) * lam * math.cos(theta) / (
        3 * (9 * A4 * t6 * t2 + 7 * A3 * t6 + 3 * A2 * t2 + A1)
    )
    y = A4 * t6 * t2 * theta + A3 * t6 * theta + A2 * t2 * theta + A1 * theta
    return x, y


def decode_arcs(topology):
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs, indices):
    points = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def unwrapped(points):
    """The ring with its longitudes made continuous: a ring that crosses
    the antimeridian (Russia's Chukotka, Fiji) jumps by 360° there."""
    out = [points[0]]
    for lon, lat in points[1:]:
        previous = out[-1][0]
        while lon - previous > 180:
            lon -= 360
        while previous - lon > 180:
            lon += 360
        out.append((lon, lat))
    return out


def clipped(points, keep):
    """Sutherland–Hodgman against one meridian: `keep(lon)` is the side kept,
    and the crossings are interpolated on the boundary."""
    boundary = 180 if not keep(181) else -180
    out = []
    for (lon_a, lat_a), (lon_b, lat_b) in zip(points, points[1:] + points[:1]):
        inside_a, inside_b = keep(lon_a), keep(lon_b)
        if inside_a:
            out.append((lon_a, lat_a))
        if inside_a != inside_b:
            t = (boundary - lon_a) / (lon_b - lon_a)
            out.append((boundary, lat_a + t * (lat_b - lat_a)))
    return out


def split_at_antimeridian(points):
    """The ring as pieces that each lie within [-180°, 180°]."""
    ring = unwrapped(points)
    lons = [lon for lon, _ in ring]
    if max(lons) > 180:
        shifted = [(lon - 360, lat) for lon, lat in ring]
        pieces = [clipped(ring, lambda lon: lon <= 180), clipped(shifted, lambda lon: lon >= -180)]
    elif min(lons) < -180:
        shifted = [(lon + 360, lat) for lon, lat in ring]
        pieces = [clipped(ring, lambda lon: lon >= -180), clipped(shifted, lambda lon: lon <= 180)]
    else:
        pieces = [ring]
    return [piece for piece in pieces if len(piece) >= 3]


def polygons(geometry):
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["arcs"]
    return []


def path_data(rings, project):
    """Absolute first point, then relative moves, at 0.1 unit: compact and
    still finer than a pixel at any size the service draws."""
    out = []
    for points in rings:
        projected = [project(lon, lat) for lon, lat in points]
        quantised = []
        for x, y in projected:
            q = (round(x * 10), round(y * 10))
            if not quantised or q != quantised[-1]:
                quantised.append(q)
        if len(quantised) < 3:
            continue
        (x0, y0) = quantised[0]
        parts = [f"M{x0 / 10:g} {y0 / 10:g}"]
        moves = []
        for (xa, ya), (xb, yb) in zip(quantised, quantised[1:]):
            moves.append(f"{(xb - xa) / 10:g} {(yb - ya) / 10:g}")
        parts.append("l" + " ".join(moves) + "z")
        out.append("".join(parts).replace(" -", "-"))
    return "".join(out)


def label_point(rings, project):
    """The centroid of the largest piece, where a label about the country
    goes (the mainland, not an overseas territory)."""
    best = (0.0, 0.0, 0.0)
    for points in rings:
        projected = [project(lon, lat) for lon, lat in points]
        area = cx = cy = 0.0
        for (xa, ya), (xb, yb) in zip(projected, projected[1:] + projected[:1]):
            cross = xa * yb - xb * ya
            area += cross
            cx += (xa + xb) * cross
            cy += (ya + yb) * cross
        if area != 0 and abs(area) > abs(best[0]):
            best = (area, cx / (3 * area), cy / (3 * area))
    return best[1], best[2]


def main():
    with tarfile.open(sys.argv[1]) as archive:
        topology = json.load(archive.extractfile("package/countries-110m.json"))
    with open(ISO_CODES, encoding="utf-8") as file:
        alpha2 = {entry["numeric"]: entry["alpha_2"] for entry in json.load(file)["3166-1"]}
    arcs = decode_arcs(topology)

    # The frame: Equal Earth's full width maps onto WIDTH; y grows down.
    x_max, _ = equal_earth(180, 0)
    scale = WIDTH / (2 * x_max)
    countries = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        code = alpha2.get(geometry.get("id"), "--")
        if code in LEFT_OUT:
            continue
        rings = [
            piece
            for polygon in polygons(geometry)
            for r in polygon
            for piece in split_at_antimeridian(ring(arcs, r))
        ]
        countries.append((code, geometry["properties"]["name"], rings))
    y_top = max(equal_earth(lon, lat)[1] for _, _, rings in countries for r in rings for lon, lat in r)
    y_bottom = min(equal_earth(lon, lat)[1] for _, _, rings in countries for r in rings for lon, lat in r)

    def project(lon, lat):
        x, y = equal_earth(lon, lat)
        return (x + x_max) * scale, (y_top - y) * scale

    height = (y_top - y_bottom) * scale
    print(f"#\tEqual Earth, Natural Earth 1:110m admin-0 countries (world-atlas 2.0.2)\t{WIDTH:g} {height:.1f}")
    for code, name, rings in sorted(countries, key=lambda c: (c[0], c[1])):
        x, y = label_point(rings, project)
        print(f"{code}\t{name}\t{x:.1f} {y:.1f}\t{path_data(rings, project)}")


if __name__ == "__main__":
    main()
