#!/usr/bin/env python3
"""Compare the service's EU CRM supply risk (buyer EU) with the EU 2023 study.

Reads a running service (default http://127.0.0.1:18555) and prints the
tables of docs/validation.md ("EU CRM cross-check against the EU 2023
study") as Markdown: one row per study material, the Spearman rank
correlation, and the inputs of each material's binding stage.

    python3 bench/eu_crm_compare.py [--base URL] [--json FILE] [--transcription DIR]

With --transcription DIR (the Data/ folder of a checkout of the transcription
named below), a further table compares the concentration of the study's
Appendix 7 shares with the shares the service used at the same stage.

Standard library only. Nothing is written to the service.

The study values below are the 2023 supply-risk (SR) scores of the
European Commission's *Study on the Critical Raw Materials for the EU 2023 -
Final Report* (Annex 4, pp. 61-62, the locator the baseline gives), as
transcribed in github.com/erikemilsson/EU-Critical-Raw-Materials-CRM-Reports-Datasets,
file Data/dimension_CRMsOverTime.csv at commit
59383504ead25f91fe9c197a1e660f4813684f17 (rows with Year 2023). The report's
PDF itself could not be read; see docs/validation.md.
"""

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# (material as named in the transcription, study SR 2023,
#  stages the study gives shares for in Appendix 7 ("E" extraction,
#  "P" processing; from fact_GlobalSupplyShares&t.csv of the same commit),
#  catalogue products queried,
#  the products of each queried chain at the study's stages)
#
# A queried product's answer covers it and every product upstream of it
# (the service's SR is the maximum over those stages).  Where the study has
# both stages the most processed catalogue product is queried, so that both
# are evaluated; where it has one stage, the product at that stage.  The
# "study-stage" SR is the maximum over the listed products only.
STUDY = [
    ("HREEs", 5.1, "E,P", ["dy-oxide", "tb-oxide"], None),
    ("LREEs", 3.7, "E,P", ["ndpr-oxide", "cerium-compounds"], None),
    ("Gallium", 3.9, "P", ["primary-gallium"], None),
    ("Germanium", 1.8, "P", ["germanium-metal"], None),
    ("Natural graphite", 1.8, "E", ["natural-graphite"], None),
    ("Tungsten", 1.2, "E,P", ["apt"], None),
    ("Antimony", 1.8, "E,P", ["antimony-metal"], None),
    ("Cobalt", 2.8, "E,P", ["refined-cobalt"], None),
    ("Lithium", 1.9, "E,P", ["lithium-chemicals"], None),
    ("Copper", 0.1, "E,P", ["copper-ore"], None),
    ("Nickel", 0.5, "E,P", ["nickel-mine"], None),
    ("Aluminium", 1.1, "E,P", ["aluminium"], None),
    ("Manganese", 1.2, "E,P", ["manganese-ore"], None),
    ("Baryte", 1.3, "E", ["baryte"], None),
    ("Beryllium", 1.8, "E,P", ["beryllium-metal"], None),
    ("Bismuth", 1.9, "P", ["bismuth-metal"], {"bismuth-metal": ["bismuth-metal"]}),
    ("Boron", 3.6, "E,P", ["boron-minerals"], None),
    ("Fluorspar", 1.1, "E", ["fluorspar"], None),
    ("Magnesite", 0.6, "E", ["magnesite"], None),
    ("Niobium", 4.4, "E,P", ["ferro-niobium"], None),
    ("Phosphate rock", 1.0, "E", ["phosphate-rock"], None),
    ("PGMs", 2.7, "P", ["platinum", "palladium", "rhodium"],
     {"platinum": ["platinum"], "palladium": ["palladium"], "rhodium": ["rhodium"]}),
    ("Tantalum", 1.3, "E", ["tantalum-concentrate"], None),
    ("Titanium", 0.5, "E,P", ["titanium-minerals"], None),
    ("Vanadium", 2.3, "E,P", ["vanadium-oxides"], None),
    ("Arsenic", 1.9, "P", ["arsenic"], None),
    ("Feldspar", 1.5, "E", ["feldspar"], None),
    ("Coking coal", 1.0, "E,P", ["coking-coal"], None),
    ("Zinc", 0.2, "E,P", ["zinc-concentrate"], None),
    ("Tin", 0.9, "E,P", ["tin-concentrate"], None),
    ("Lead", 0.1, "E,P", ["lead-concentrate"], None),
    ("Chromium", 0.7, "E,P", ["chromite"], None),
    ("Molybdenum", 0.8, "E", ["molybdenum-concentrate"], None),
    ("Cadmium", 0.2, "P", ["cadmium"], None),
    ("Selenium", 0.3, "P", ["selenium"], None),
    ("Tellurium", 0.3, "P", ["tellurium"], None),
    ("Indium", 0.6, "P", ["indium"], None),
    ("Rhenium", 0.5, "P", ["rhenium"], None),
    ("Gold", 0.4, "E", ["gold-mine"], None),
    ("Silver", 0.8, "E", ["silver-mine"], None),
    ("Iron ore", 0.5, "E,P", ["iron-ore"], None),
    ("Kaolin clay", 0.8, "E,P", ["kaolin"], None),
    ("Bentonite", 0.4, "E", ["bentonite"], None),
    ("Diatomite", 0.3, "E", ["diatomite"], None),
    ("Gypsum", 0.6, "E", ["gypsum-anhydrite"], None),
    ("Perlite", 0.8, "E", ["perlite"], None),
    ("Potash", 0.7, "E", ["potash"], None),
    ("Sulphur", 0.3, "P", ["sulfur"], None),
    ("Talc", 0.2, "E", ["talc"], None),
    ("Zirconium", 0.8, "E", ["zircon"], None),
]

# Names of the materials in the transcription's Appendix 7 tables, where they
# differ from the names above: (global supply table, EU sourcing table).
APP7_NAMES = {
    "HREEs": ("Dysprosium", "Heavy Rare earths Elements"),
    "LREEs": ("Neodymium", "Neodymium"),
    "Natural graphite": ("Natural Graphite", "Natural Graphite"),
    "Baryte": ("Barytes", "Barytes"),
    "Boron": ("Borate", "Borate"),
    "Phosphate rock": ("Phosphate Rock", "Phosphate Rock"),
    "Kaolin clay": ("Kaolin", "Kaolin"),
    "Titanium": ("Titanium", "Titanium ores"),
    "platinum": ("Platinum", "Platinum"),
    "palladium": ("Palladium", "Palladium"),
    "rhodium": ("Rhodium", "Rhodium"),
}
EU27 = {
    "Austria", "Belgium", "Bulgaria", "Croatia", "Cyprus", "Czechia", "Denmark", "Estonia",
    "Finland", "France", "Germany", "Greece", "Hungary", "Ireland", "Italy", "Latvia",
    "Lithuania", "Luxembourg", "Malta", "Netherlands", "Poland", "Portugal", "Romania",
    "Slovakia", "Slovenia", "Spain", "Sweden",
}

BACI = "cepii-baci-hs92-v202401b"
STUDY_SOURCE = "ec-crm-2023-study"


def get(base, path, **query):
    q = {k: v for k, v in query.items() if v is not None}
    url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(q) if q else "")
    for attempt in range(8):
        try:
            with urllib.request.urlopen(url, timeout=120) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            # 429: rate limited; 5xx: a busy database (statement timeout)
            if (e.code != 429 and e.code < 500) or attempt == 7:
                raise
            time.sleep(float(e.headers.get("Retry-After") or 2 ** attempt))


def all_facts(base, **query):
    items, cursor = [], None
    while True:
        page = get(base, "/v1/facts", limit=1000, cursor=cursor, **query)
        items += page["items"]
        if not page.get("has_more"):
            return items
        cursor = page["next_cursor"]


def period_start(p):
    s = p.split("/")[0]
    return s if len(s) > 4 else s + "-01-01"


def sourcing_origin(base, product, stage):
    """Which recorded import shares the stage's EU sourcing term used."""
    if not stage["sourcing_countries"]:
        return {"label": "none", "source": None, "period": None, "checked": True}
    facts = all_facts(base, product=product, metric="import_share", buyer="EU")
    if not facts:
        return {"label": "?", "source": None, "period": None, "checked": False}
    latest = max(period_start(f["period"]) for f in facts)
    chosen = [f for f in facts if period_start(f["period"]) == latest]
    sources = sorted({f["source_id"] for f in chosen})
    periods = sorted({f["period"] for f in chosen})
    # Check that the answer's shares are these facts' (rounded as answered).
    by_country = {}
    for f in chosen:
        by_country.setdefault(f["country"], []).append(f["value"])
    answered = {c["country"]: c["share"] for c in stage["sourcing_countries"]}
    checked = set(answered) == set(by_country) and all(
        abs(sum(v) / len(v) - answered[c]) < 6e-5 for c, v in by_country.items()
    )
    label = {BACI: "trade (BACI)", STUDY_SOURCE: "study"}
    return {
        "label": " + ".join(label.get(s, s) for s in sources) + " " + ",".join(periods),
        "source": sources,
        "period": periods,
        "checked": checked,
    }


def global_origin(base, product):
    """The basis of the stage's global term and the sources of the facts behind it."""
    score = get(base, "/v1/scores/" + product, buyer="EU")
    cs = score["dependency"]["china_share"]
    basis = cs.get("basis")
    ids = {i for c in cs.get("countries", []) for i in c.get("fact_ids", [])}
    # The rows also cite governance and trade-restriction facts; keep the basis.
    facts = [f for f in all_facts(base, product=product, metric=basis) if f["id"] in ids] if basis else []
    sources = sorted({f["source_id"] for f in facts})
    periods = sorted({f["period"] for f in facts})
    return {"basis": basis, "sources": sources, "periods": periods}


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1  # average rank for ties
        i = j + 1
    return r


def spearman(xs, ys):
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    rho = sxy / math.sqrt(sxx * syy)
    # t approximation for a two-sided test of rho = 0
    t = rho * math.sqrt((n - 2) / max(1e-12, 1 - rho * rho))
    return rho, t


def read_app7(folder, name):
    """{(material, stage): [(country, share, t)]} from a transcription CSV."""
    import csv
    import os
    out = {}
    with open(os.path.join(folder, name), encoding="utf-8", errors="replace", newline="") as f:
        for row in csv.DictReader(f):
            share = row["Share"].strip()
            v = 0.0 if share.startswith("<") else float(share.rstrip("%")) / 100
            out.setdefault((row["Material"].strip(), row["Stage"].strip()), []).append(
                (row["Country"].strip(), v, row["t"].strip()))
    return out


def large(study, service):
    return abs(service - study) >= 1.0 or service >= 2 * study or study >= 2 * service


def fmt(x, d=2):
    return "–" if x is None else f"{x:.{d}f}"


def transcription_table(w, rows, folder):
    glob_ = read_app7(folder, "fact_GlobalSupplyShares&t.csv")
    eu = read_app7(folder, "fact_EUSupplyShares&t.csv")
    w("Concentration of the shares at the binding stage: the study's (Appendix 7, as transcribed) "
      "and the service's. HHI = Σ s² of the shares as fractions, without governance; "
      "\"EU-27 in sourcing\" is the part of the study's EU sourcing that is EU production.")
    w("")
    w("| material | stage | study global: HHI, China | service global: HHI, China | "
      "study EU sourcing: HHI, China, EU-27 | service EU sourcing (extra-EU imports): HHI, China |")
    w("|---|---|---|---|---|---|")
    for r in rows:
        q = max((q for q in r["products"] if q["sr"] is not None), key=lambda q: q["sr"], default=None)
        if q is None:
            continue
        s = next(s for s in q["stages"] if s["product"] == q["binding_product"])
        names = APP7_NAMES.get(q["product"]) or APP7_NAMES.get(r["material"]) or (r["material"], r["material"])
        st = "E" if s["stage"] == "mining" else "P"
        if len(q["stages"]) == 1 and r["study_stages"] in ("E", "P"):
            st = r["study_stages"]  # a one-product chain: the study's only stage

        def summary(table, name, with_eu):
            rows_ = table.get((name, st))
            if not rows_:
                return "–"
            h = sum(v * v for _, v, _ in rows_)
            cn = sum(v for c, v, _ in rows_ if c == "China")
            txt = f"{h:.2f}, {cn:.2f}"
            if with_eu:
                txt += f", {sum(v for c, v, _ in rows_ if c in EU27):.2f}"
            return txt

        def ours(key):
            cs = s["all_" + key]
            if not cs:
                return "–"
            h = sum(c["share"] ** 2 for c in cs)
            cn = sum(c["share"] for c in cs if c["country"] == "CN")
            return f"{h:.2f}, {cn:.2f}"

        w(f'| {r["material"]} | {s["product"]} ({st}) | {summary(glob_, names[0], False)} | {ours("global")} | '
          f'{summary(eu, names[1], True)} | {ours("sourcing")} |')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:18555")
    ap.add_argument("--json", help="also write the raw rows here")
    ap.add_argument("--transcription", help="the transcription's Data/ folder (optional)")
    a = ap.parse_args()
    base = a.base

    ready = get(base, "/readyz")
    rows, versions, as_of = [], set(), set()
    for material, study_sr, stages, products, stage_products in STUDY:
        prods = []
        for p in products:
            ans = get(base, f"/v1/scores/{p}/eu-crm", buyer="EU")
            versions.add(ans["methodology_version"])
            as_of.add(ans["as_of"])
            keep = (stage_products or {}).get(p)
            st_sr = [s["supply_risk"] for s in ans["stages"]
                     if s["supply_risk"] is not None and (keep is None or s["product"] in keep)]
            detail = []
            for s in ans["stages"]:
                so = sourcing_origin(base, s["product"], s)
                go = global_origin(base, s["product"])
                dflt = [c["country"] for c in s["global_countries"] + s["sourcing_countries"]
                        if c["wgi_origin"] == "default" and c["share"] >= 0.01]
                detail.append({
                    "product": s["product"], "stage": s["stage"],
                    "sr": s["supply_risk"],
                    "g": s["hhi_wgi_t_global"], "s": s["hhi_wgi_t_sourcing"],
                    "ir": s["import_reliance"], "rir": s["end_of_life_recycling_input_rate"],
                    "si": s["substitution_index"],
                    "top_global": sorted(s["global_countries"], key=lambda c: -c["share"])[:3],
                    "top_sourcing": sorted(s["sourcing_countries"], key=lambda c: -c["share"])[:4],
                    "all_global": s["global_countries"], "all_sourcing": s["sourcing_countries"],
                    "sourcing": so, "global": go,
                    "default_wgi_1pct": sorted(set(dflt)),
                })
            prods.append({
                "product": p, "sr": ans["supply_risk"],
                "binding": f'{ans["binding_product"]}/{ans["binding_stage"]}',
                "binding_product": ans["binding_product"],
                "sr_study_stage": max(st_sr) if st_sr else None,
                "stages": detail,
            })
        have = [q for q in prods if q["sr"] is not None]
        top = max(have, key=lambda q: q["sr"]) if have else None
        rows.append({
            "material": material, "study_sr": study_sr, "study_stages": stages,
            "products": prods,
            "service_sr": top["sr"] if top else None,
            "service_sr_study_stage": max((q["sr_study_stage"] for q in prods
                                           if q["sr_study_stage"] is not None), default=None),
        })

    out = []
    w = out.append
    w(f"Data version (`GET /readyz`): `{ready.get('data_version')}`; "
      f"methodology_version: `{', '.join(sorted(versions))}`; "
      f"as_of: {', '.join(sorted(as_of))}.")
    w("")
    w("| material | study SR | service SR | binding product/stage | EU sourcing shares used (binding stage) | gap | SR at the study's stage(s) |")
    w("|---|---|---|---|---|---|---|")
    for r in rows:
        for i, q in enumerate(r["products"]):
            bind = next((s for s in q["stages"] if s["product"] == q["binding_product"]), None)
            src = bind["sourcing"]["label"] if bind else "–"
            if bind and not bind["sourcing"]["checked"]:
                src += " (unverified)"
            gap = None if q["sr"] is None else q["sr"] - r["study_sr"]
            flag = " **" if gap is not None and large(r["study_sr"], q["sr"]) else ""
            name = f'{r["material"]} ({r["study_stages"]})' if i == 0 else "″"
            study = fmt(r["study_sr"], 1) if i == 0 else "″"
            w(f'| {name} | {study} | {fmt(q["sr"])} ({q["product"]}) | {q["binding"]} | {src} | '
              f'{"+" if gap is not None and gap >= 0 else ""}{fmt(gap)}{flag} | {fmt(q["sr_study_stage"])} |')
    w("")

    def corr(key, label):
        pairs = [(r["study_sr"], r[key]) for r in rows if r[key] is not None]
        rho, t = spearman([p[0] for p in pairs], [p[1] for p in pairs])
        w(f"- {label}: n = {len(pairs)}, Spearman ρ = {rho:.3f} (t = {t:.2f}, {len(pairs) - 2} df)")

    corr("service_sr", "Service SR (headline, maximum over the queried chain and, for groups, its products) vs study SR")
    corr("service_sr_study_stage", "Service SR restricted to the study's stage(s) vs study SR")
    per = [(r["study_sr"], q["sr"]) for r in rows for q in r["products"] if q["sr"] is not None]
    rho, t = spearman([p[0] for p in per], [p[1] for p in per])
    w(f"- One row per catalogue product (group members each paired with the group's study SR): "
      f"n = {len(per)}, Spearman ρ = {rho:.3f} (t = {t:.2f})")
    big = [r for r in rows if r["service_sr"] is not None and large(r["study_sr"], r["service_sr"])]
    w(f"- Large gaps (|gap| ≥ 1.0 or a factor of 2 either way, headline): {len(big)} of {len(rows)}")
    w("")

    w("Inputs of the binding stage of each material's highest product:")
    w("")
    w("| material | binding stage | HHI_WGI,t global (basis; sources) | HHI_WGI,t EU sourcing | IR | EoL-RIR | SI | top global shares (WGI_c) | top EU sourcing shares (WGI_c) | default WGI ≥1% |")
    w("|---|---|---|---|---|---|---|---|---|---|")

    def cc(cs):
        return ", ".join(f'{c["country"]} {c["share"]:.2f} ({c["wgi_scaled"]:.1f}'
                         f'{"*" if c["wgi_origin"] == "default" else ""}'
                         f'{", t " + format(c["trade_restriction"], ".1f") if c["trade_restriction"] != 1 else ""})'
                         for c in cs) or "–"

    def val(v):
        return f'{v["value"]:g}{"" if v["origin"] == "facts" else " (d)"}'

    for r in rows:
        q = max((q for q in r["products"] if q["sr"] is not None), key=lambda q: q["sr"], default=None)
        if q is None:
            continue
        s = next(s for s in q["stages"] if s["product"] == q["binding_product"])
        gsrc = "; ".join(s["global"]["sources"]) + " " + ",".join(s["global"]["periods"])
        w(f'| {r["material"]} | {s["product"]} ({s["stage"]}) | {fmt(s["g"])} ({s["global"]["basis"]}; {gsrc}) | '
          f'{fmt(s["s"])} | {val(s["ir"])} | {val(s["rir"])} | {val(s["si"])} | {cc(s["top_global"])} | '
          f'{cc(s["top_sourcing"])} | {", ".join(s["default_wgi_1pct"]) or "–"} |')
    w("")
    w("(d) = the method's default; * = WGI_c default 5 (no governance fact for the country).")
    if a.transcription:
        w("")
        transcription_table(w, rows, a.transcription)
    print("\n".join(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"readyz": ready, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
