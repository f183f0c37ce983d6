#!/usr/bin/env python3
"""Generates realistic facts for the import benchmark: the same rows as
NDJSON (for POST /v1/facts/import) and as COPY text (for psql \\copy), so
both paths load identical data.

usage: gen_facts.py ROWS PRODUCTS OUT_PREFIX [SEED]
writes OUT_PREFIX.ndjson, OUT_PREFIX.tsv and OUT_PREFIX.setup.ndjson (the
products and source the facts refer to, one JSON request body a line).
Products form a layered value chain: each one past the first stage takes
one to three inputs from the stage before it.
"""
import json
import random
import sys

rows, products, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(42)
countries = ["CN", "US", "AU", "MM", "MY", "VN", "IN", "RU", "BR", "CA", "JP", "KR", "DE", "FR", "EE"]
stages = ["mining", "smelting", "materials", "applications"]
metrics = [
    ("production", "t/yr", lambda: rng.randint(100, 300_000)),
    ("capacity", "t/yr", lambda: rng.randint(100, 300_000)),
    ("market_share", "fraction", lambda: round(rng.random(), 4)),
    ("lead_time_years", "years", lambda: rng.randint(1, 20)),
    ("capex_per_tpa", "USD per t/yr", lambda: rng.randint(5_000, 150_000)),
]
statuses = ["actual", "estimate", "operating", "planned", "under_construction"]

with open(prefix + ".setup.ndjson", "w") as setup:
    setup.write(json.dumps({"kind": "source", "body": {
        "id": "bench-source", "title": "Benchmark source", "publisher": "bench", "kind": "industry_analyst"}}) + "\n")
    layer = max(products // 4, 1)
    for p in range(products):
        stage = min(p // layer, 3)
        inputs = []
        if stage > 0:
            upstream = range((stage - 1) * layer, stage * layer)
            for q in rng.sample(list(upstream), k=min(rng.randint(1, 3), len(upstream))):
                inputs.append({"product": f"bench-product-{q}", "share": round(rng.uniform(0.1, 1.0), 2),
                               "essential": rng.random() < 0.5})
        setup.write(json.dumps({"kind": "product", "body": {
            "id": f"bench-product-{p}", "name": f"Bench product {p}", "stage": stages[stage],
            "inputs": inputs}}) + "\n")

# The products depend on PRODUCTS only; SEED draws other facts over them.
if len(sys.argv) > 4:
    rng.seed(int(sys.argv[4]))
with open(prefix + ".ndjson", "w") as ndjson, open(prefix + ".tsv", "w") as tsv:
    for i in range(rows):
        metric, unit, value = rng.choice(metrics)
        value = value()
        fact = {
            "product": f"bench-product-{rng.randrange(products)}",
            "country": rng.choice(countries),
            "metric": metric,
            "value": value,
            "unit": unit,
            "period": str(rng.randint(2015, 2025)),
            "status": rng.choice(statuses),
            "source_id": "bench-source",
            "confidence": 0.7,
            "quote": f"Output reached {value} {unit} in the reporting year (row {i})",
        }
        ndjson.write(json.dumps(fact) + "\n")
        year = fact["period"]
        # COPY text columns: product_id, country, buyer, facility, metric, value, unit,
        # period_start, period_end, status, controlled_by, expected_online, source_id,
        # confidence, quote, locator, note
        tsv.write("\t".join([
            fact["product"], fact["country"], "\\N", "\\N", metric, str(value), unit,
            f"{year}-01-01", f"{year}-12-31", fact["status"], "\\N", "\\N", "bench-source",
            "0.7", fact["quote"], "\\N", "\\N",
        ]) + "\n")
