//! The public-data connectors: fixtures of real BACI, World Mining Data
//! and WGI rows (tests/fixtures/public/) read, derived and written through
//! the import path, then read back over HTTP.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chokepoint::connectors::countries::{Area, CountryTable};
use chokepoint::connectors::{self, OnInvalid, Release};
use chokepoint::ingest::release::ReleaseSummary;
use chokepoint::public_data::{self, Dataset};
use chokepoint::store;
use serde_json::Value;

use crate::helpers::{database_url, rounded_eq, spawn_seeded_app, TestApp};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/public")
        .join(name)
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/public")
        .join(name)
}

/// A directory laid out as `data/public/` holding the fixtures: the
/// shipped catalogue and sources, the fixtures' rows (BACI's gzipped).
pub fn small_public_extract() -> PathBuf {
    let dir = tempdir();
    for sub in ["baci", "wmd", "wgi"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for name in ["products.ndjson", "sources.ndjson", "wmd_products.csv"] {
        std::fs::copy(shipped(name), dir.join(name)).unwrap();
    }
    let layout = public_data::Layout::new(&dir);
    std::fs::copy(fixture("baci_countries.csv"), layout.baci_countries()).unwrap();
    std::fs::copy(fixture("wmd_small.csv"), layout.wmd_production()).unwrap();
    std::fs::copy(fixture("wgi_small.csv"), layout.wgi_estimates()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(layout.baci_trade()).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&std::fs::read(fixture("baci_small.csv")).unwrap())
        .unwrap();
    gz.finish().unwrap();
    dir
}

fn countries() -> CountryTable {
    CountryTable::from_file(&fixture("baci_countries.csv")).expect("the fixture reads")
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

async fn import(
    app: &TestApp,
    (dataset, release): (Dataset, Release),
) -> anyhow::Result<ReleaseSummary> {
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    let result = public_data::import(&pool, dataset, release, &countries(), OnInvalid::Abort).await;
    pool.close();
    result
}

fn baci(path: PathBuf, release: &str) -> (Dataset, Release) {
    (
        Dataset::Baci { trade: path },
        connectors::baci::release(release, today()).unwrap(),
    )
}

/// A flow's year, exporter, importer and code.
type FlowKey = (i32, u32, u32, String);

/// The fixture's flows, each with its value.
fn flows(path: &Path) -> HashMap<FlowKey, f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let c: Vec<&str> = line.split(',').collect();
            (
                (
                    c[0].parse().unwrap(),
                    c[1].parse().unwrap(),
                    c[2].parse().unwrap(),
                    c[3].to_owned(),
                ),
                c[4].parse().unwrap(),
            )
        })
        .collect()
}

fn items(listing: &Value) -> &Vec<Value> {
    listing["items"].as_array().expect("a listing")
}

async fn facts_of(app: &TestApp, query: &str) -> Vec<Value> {
    items(
        &app.get_current(&format!("/v1/facts?limit=1000&{query}"))
            .await,
    )
    .clone()
}

#[tokio::test]
async fn trade_flows_become_import_shares_of_each_buyer_and_the_eu_by_year() {
    let app = spawn_seeded_app().await;
    let summary = import(&app, baci(fixture("baci_small.csv"), "V202401b"))
        .await
        .expect("the fixture imports");
    assert!(summary.source_created);
    assert_eq!(summary.facts_written, summary.facts_derived);

    // Japan's 2022 natural graphite (HS 250410; 250490 has no rows here):
    // China's share is its value over every origin's, computed here.
    let flows = flows(&fixture("baci_small.csv"));
    let to_japan: Vec<(&FlowKey, &f64)> = flows
        .iter()
        .filter(|((t, _, j, k), _)| *t == 2022 && *j == 392 && k == "250410")
        .collect();
    let total: f64 = to_japan.iter().map(|(_, v)| **v).sum();
    let from_china: f64 = to_japan
        .iter()
        .filter(|((_, i, _, _), _)| *i == 156)
        .map(|(_, v)| **v)
        .sum();
    let listed = facts_of(
        &app,
        "metric=import_share&buyer=JP&product=natural-graphite&period_from=2022&period_to=2022",
    )
    .await;
    let table = countries();
    let named = to_japan
        .iter()
        .filter(|((_, i, _, _), _)| matches!(table.number(*i), Some(Area::Country(_))))
        .count();
    assert!(
        named < to_japan.len(),
        "the fixture has an area without a code"
    );
    assert_eq!(
        listed.len(),
        named,
        "one fact per origin with a country code"
    );
    let china = listed.iter().find(|f| f["country"] == "CN").expect("China");
    assert!(rounded_eq(
        china["value"].as_f64().unwrap(),
        from_china / total
    ));
    assert_eq!(china["source_id"], "cepii-baci-hs92-v202401b");
    assert_eq!(china["locator"], "t=2022 i=156 j=392 k=250410");
    assert_eq!(china["published_on"], "2024-01-31", "year Y in January Y+2");
    let sum: f64 = listed.iter().map(|f| f["value"].as_f64().unwrap()).sum();
    assert!(
        sum <= 1.0 + 1e-9 && sum > 0.99,
        "shares of named origins: {sum}"
    );

    // The EU buyer: German and French imports from outside the EU together.
    let eu_members = [
        276, 251, 40, 56, 100, 191, 196, 203, 208, 233, 246, 300, 348, 372, 380, 428, 440, 442,
        470, 528, 616, 620, 642, 703, 705, 724, 752,
    ];
    let extra_eu: Vec<(&FlowKey, &f64)> = flows
        .iter()
        .filter(|((t, i, j, k), _)| {
            *t == 2022 && (*j == 276 || *j == 251) && k == "284690" && !eu_members.contains(i)
        })
        .collect();
    let total: f64 = extra_eu.iter().map(|(_, v)| **v).sum();
    let from_china: f64 = extra_eu
        .iter()
        .filter(|((_, i, _, _), _)| *i == 156)
        .map(|(_, v)| **v)
        .sum();
    let eu = facts_of(
        &app,
        "metric=import_share&buyer=EU&product=ndpr-oxide&country=CN&period_from=2022&period_to=2022",
    )
    .await;
    assert_eq!(eu.len(), 1);
    assert!(rounded_eq(
        eu[0]["value"].as_f64().unwrap(),
        from_china / total
    ));
    assert_eq!(eu[0]["locator"], "t=2022 i=156 j=EU27 extra-EU k=284690");
    assert!(
        facts_of(&app, "metric=import_share&buyer=EU&country=DE")
            .await
            .is_empty(),
        "members are not origins of the EU's imports"
    );

    // One HS code serves each product that lists it.
    for product in ["ndpr-oxide", "dy-oxide", "tb-oxide"] {
        let listed = facts_of(
            &app,
            &format!("metric=import_share&buyer=US&product={product}&country=CN&period_from=2022&period_to=2022&source=cepii-baci-hs92-v202401b"),
        )
        .await;
        assert_eq!(listed.len(), 1, "{product}");
    }

    // Export shares of world exports are their own metric, never production.
    let exports = facts_of(
        &app,
        "metric=export_share&product=natural-graphite&country=CN&period_from=2022&period_to=2022",
    )
    .await;
    assert_eq!(exports.len(), 1);
    assert!(exports[0]["value"].as_f64().unwrap() > 0.0);
    assert!(
        facts_of(&app, "metric=production&source=cepii-baci-hs92-v202401b")
            .await
            .is_empty()
    );

    // The buyer's score reads the trade data.
    let score = app
        .get_current("/v1/scores/natural-graphite?buyer=JP")
        .await;
    let text = score.to_string();
    assert!(text.contains("cepii-baci-hs92-v202401b"), "{text}");
}

#[tokio::test]
async fn a_release_loaded_again_adds_nothing_and_a_newer_one_revises_what_changed() {
    let app = spawn_seeded_app().await;
    let first = import(&app, baci(fixture("baci_small.csv"), "V202401b"))
        .await
        .unwrap();
    let facts_before = app.count("facts").await;
    let again = import(&app, baci(fixture("baci_small.csv"), "V202401b"))
        .await
        .unwrap();
    assert_eq!(again.facts_written, 0);
    assert_eq!(again.facts_unchanged, first.facts_derived);
    assert_eq!(app.count("facts").await, facts_before);

    // A newer release: China's 2022 graphite to Japan revised upwards, one
    // Japanese origin dropped from 2021, and a new year.
    let text = std::fs::read_to_string(fixture("baci_small.csv")).unwrap();
    let mut newer = String::new();
    let mut dropped = None;
    for (n, line) in text.lines().enumerate() {
        let c: Vec<&str> = line.split(',').collect();
        if n > 0
            && c[0] == "2021"
            && c[2] == "392"
            && c[3] == "250410"
            && c[1] != "156"
            && dropped.is_none()
        {
            dropped = Some(c[1].to_owned());
            continue;
        }
        if n > 0 && c[0] == "2022" && c[1] == "156" && c[2] == "392" && c[3] == "250410" {
            let doubled = c[4].parse::<f64>().unwrap() * 2.0;
            newer.push_str(&format!(
                "{},{},{},{},{doubled},{}\n",
                c[0], c[1], c[2], c[3], c[5]
            ));
        } else {
            newer.push_str(line);
            newer.push('\n');
        }
        if n > 0 && c[0] == "2022" {
            newer.push_str(&format!(
                "2023,{},{},{},{},{}\n",
                c[1], c[2], c[3], c[4], c[5]
            ));
        }
    }
    let dir = tempdir();
    let path = dir.join("BACI_HS92_V202501.csv");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(newer.as_bytes())
        .unwrap();
    let revised = import(&app, baci(path, "V202501")).await.unwrap();
    // Every Japanese graphite share of 2022 changes with China's value.
    assert!(revised.facts_revised > 0, "{revised:?}");
    assert_eq!(revised.facts_withdrawn, 1, "the dropped 2021 origin");
    assert!(revised.facts_written > revised.facts_revised);

    let query = "metric=import_share&buyer=JP&product=natural-graphite&country=CN&period_from=2022&period_to=2022";
    let now = facts_of(&app, query).await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["source_id"], "cepii-baci-hs92-v202501");
    assert_eq!(
        now[0]["published_on"], "2025-01-31",
        "a revision is public from its release"
    );
    // The old value is kept, retracted as of the revising release, and the
    // past reads it.
    let all = facts_of(&app, &format!("{query}&include_retracted=true")).await;
    let old = all
        .iter()
        .find(|f| f["source_id"] == "cepii-baci-hs92-v202401b")
        .expect("the old fact is kept");
    assert_eq!(
        old["retraction_reason"],
        "revised by cepii-baci-hs92-v202501"
    );
    assert_eq!(old["retraction_published_on"], "2025-01-31");
    let then = facts_of(&app, &format!("{query}&as_of=2024-06-30&view=public")).await;
    assert_eq!(then.len(), 1);
    assert_eq!(then[0]["id"], old["id"]);
    assert!(now[0]["value"].as_f64() > old["value"].as_f64());
    let new_year = facts_of(&app, "metric=import_share&buyer=JP&product=natural-graphite&country=CN&period_from=2023&period_to=2023").await;
    assert_eq!(new_year.len(), 1);
    assert_eq!(new_year[0]["published_on"], "2025-01-31");

    // Loading the older release again changes nothing: the newer stands.
    let older_again = import(&app, baci(fixture("baci_small.csv"), "V202401b"))
        .await
        .unwrap();
    assert_eq!(older_again.facts_written, 0);
    assert!(older_again.facts_older_than_standing > 0);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chokepoint-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the BACI fixture with `edit` applied to its text.
fn edited_baci(name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(fixture("baci_small.csv")).unwrap();
    let path = tempdir().join(name);
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

#[tokio::test]
async fn bad_dataset_files_are_refused_naming_file_line_and_column_and_nothing_is_written() {
    let app = spawn_seeded_app().await;
    let facts_before = app.count("facts").await;
    let sources_before = app.count("sources").await;
    let second_line = |text: &str| text.lines().nth(1).unwrap().to_owned();
    let replace_row = |text: &str, row: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[3] = row.to_owned();
        lines.join("\n") + "\n"
    };
    let cases: Vec<(&str, PathBuf, u64, Option<&str>, &str)> = vec![
        (
            "wrong header",
            edited_baci("header.csv", |t| {
                t.replacen("t,i,j,k,v,q", "year,i,j,k,v,q", 1)
            }),
            1,
            None,
            "lacks column(s) t",
        ),
        (
            "unknown HS code",
            edited_baci("hs.csv", |t| replace_row(t, "2022,156,392,123456,1.5,2")),
            4,
            Some("k"),
            "not in the HS 1992 code table",
        ),
        (
            "unknown country code",
            edited_baci("country.csv", |t| {
                replace_row(t, "2022,9999,392,250410,1.5,2")
            }),
            4,
            Some("i"),
            "country code 9999 is not in the country code file",
        ),
        (
            "negative value",
            edited_baci("negative.csv", |t| {
                replace_row(t, "2022,156,392,250410,-1.5,2")
            }),
            4,
            Some("v"),
            "is negative",
        ),
        (
            "non-numeric quantity",
            edited_baci("text.csv", |t| {
                replace_row(t, "2022,156,392,250410,1.5,lots")
            }),
            4,
            Some("q"),
            "`lots` is not a number",
        ),
        (
            "duplicate row",
            edited_baci("duplicate.csv", |t| {
                let mut lines: Vec<String> = t.lines().map(str::to_owned).collect();
                lines.insert(3, second_line(t));
                lines.join("\n") + "\n"
            }),
            4,
            None,
            "repeats the flow of line 2",
        ),
        (
            "truncated row",
            // Cut inside the last row, before its last cell.
            edited_baci("truncated.csv", |t| {
                t[..t.trim_end().rfind(',').unwrap()].to_owned()
            }),
            426,
            None,
            "cells where the header names 6",
        ),
    ];
    for (what, path, line, column, message) in cases {
        let problems = connectors::baci::derive(
            &path,
            &countries(),
            &HashMap::new(),
            connectors::baci::release("V202401b", today()).unwrap(),
            OnInvalid::Abort,
            today(),
        )
        .expect_err(what);
        let first = &problems.list[0];
        assert_eq!(first.file, path.display().to_string(), "{what}");
        assert_eq!(first.line, line, "{what}: {first}");
        assert_eq!(first.column.as_deref(), column, "{what}: {first}");
        assert!(first.message.contains(message), "{what}: {first}");
        let error = import(&app, baci(path.clone(), "V202401b"))
            .await
            .expect_err(what);
        let text = format!("{error:#}");
        assert!(text.contains(&path.display().to_string()), "{what}: {text}");
        assert!(text.contains("nothing was written"), "{what}: {text}");
    }

    // A gzip file cut short.
    let gz = std::fs::read(shipped(&format!(
        "baci/BACI_HS92_{}.csv.gz",
        public_data::BACI_RELEASE
    )))
    .unwrap();
    let path = tempdir().join("cut.csv.gz");
    std::fs::write(&path, &gz[..200_000]).unwrap();
    let error = import(&app, baci(path, "V202401b"))
        .await
        .expect_err("a truncated gzip");
    assert!(
        format!("{error:#}").contains("cannot be read to its end"),
        "{error:#}"
    );

    assert_eq!(app.count("facts").await, facts_before);
    assert_eq!(app.count("sources").await, sources_before);

    // In skip mode the bad row is left out and the rest is written.
    let path = edited_baci("skip.csv", |t| replace_row(t, "2022,156,392,250410,-1.5,2"));
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    let (dataset, release) = baci(path, "V202401b");
    let summary = public_data::import(&pool, dataset, release, &countries(), OnInvalid::Skip)
        .await
        .expect("skip mode writes the valid rows");
    pool.close();
    assert!(summary.facts_written > 0);
}

#[tokio::test]
async fn mine_production_and_governance_estimates_are_dated_by_their_first_publication() {
    let app = spawn_seeded_app().await;
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    let added = public_data::load_catalogue(&pool, &shipped("products.ndjson"))
        .await
        .expect("the public catalogue loads");
    pool.close();
    assert!(added > 50, "{added}");
    let wmd = import(
        &app,
        (
            Dataset::Wmd {
                file: fixture("wmd_small.csv"),
                map: shipped("wmd_products.csv"),
            },
            connectors::wmd::release(public_data::WMD_EDITION, today()).unwrap(),
        ),
    )
    .await
    .expect("the WMD fixture imports");
    assert!(wmd.facts_written > 0);
    let gallium = facts_of(
        &app,
        "metric=production&product=primary-gallium&country=CN&period_from=2024&period_to=2024&source=bmf-world-mining-data-2026",
    )
    .await;
    assert_eq!(gallium.len(), 1);
    // The fixture's row: China 974 metric tonnes in 2024, reported (`r`).
    assert!(rounded_eq(gallium[0]["value"].as_f64().unwrap(), 974.0));
    assert_eq!(gallium[0]["status"], "actual");
    assert!(rounded_eq(gallium[0]["confidence"].as_f64().unwrap(), 0.9));
    assert_eq!(gallium[0]["published_on"], "2026-05-31");
    assert_eq!(gallium[0]["locator"], "sheet Gallium, row CHN, column 2024");
    let japan = facts_of(
        &app,
        "metric=production&product=primary-gallium&country=JP&period_from=2022&period_to=2022&source=bmf-world-mining-data-2026",
    )
    .await;
    assert_eq!(japan[0]["status"], "estimate", "flag `e`");
    assert!(rounded_eq(japan[0]["confidence"].as_f64().unwrap(), 0.7));
    assert_eq!(japan[0]["published_on"], "2024-05-31");
    // Five country rows have a 2024 figure (Ukraine's is 0); the table's
    // own total row is not a country.
    let all_2024 = facts_of(
        &app,
        "metric=production&product=primary-gallium&period_from=2024&period_to=2024&source=bmf-world-mining-data-2026",
    )
    .await;
    assert_eq!(all_2024.len(), 5);

    let wgi = import(
        &app,
        (
            Dataset::Wgi {
                file: fixture("wgi_small.csv"),
            },
            connectors::wgi::release(public_data::WGI_UPDATE, today()).unwrap(),
        ),
    )
    .await
    .expect("the WGI fixture imports");
    assert!(wgi.facts_written > 0);
    let china = facts_of(
        &app,
        "metric=wgi_political_stability&country=CN&period_from=2022&period_to=2022",
    )
    .await;
    assert_eq!(china.len(), 1);
    assert!(rounded_eq(
        china[0]["value"].as_f64().unwrap(),
        -0.441_073_626_279_830_93
    ));
    assert_eq!(china[0]["published_on"], "2023-09-29");
    // Missing estimates (`nan`, `None`) are not facts.
    let outlying = facts_of(&app, "metric=wgi_political_stability&country=UM").await;
    assert!(outlying
        .iter()
        .all(|f| f["period"] != "2024" && f["period"] != "2000"));
    // The six-indicator mean the method reads is untouched.
    assert!(
        facts_of(&app, "metric=governance_wgi&source=world-bank-wgi-pv-2025")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn every_catalogued_product_is_scored_for_every_importing_country() {
    let app = spawn_seeded_app().await;
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    let report = public_data::load(&pool, &public_data::Layout::new(small_public_extract()))
        .await
        .expect("the small extract loads");
    pool.close();
    assert!(report.products_added > 50);
    assert_eq!(report.releases.len(), 3);
    let products = items(&app.get_current("/v1/products?limit=1000").await).len();
    // The fixture's importers (US, JP, DE, FR), the EU, and buyers with no
    // trade data at all, who fall back to world shares.
    for buyer in [
        "US", "EU", "JP", "DE", "FR", "KR", "GB", "CA", "AU", "IN", "BR",
    ] {
        let listing = app
            .get_current(&format!("/v1/scores?buyer={buyer}&limit=1000"))
            .await;
        assert_eq!(items(&listing).len(), products, "{buyer}");
    }
    let japan = app.get_current("/v1/scores/ndpr-oxide?buyer=JP").await;
    let sources: Vec<&str> = japan["facts_used"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source_id"].as_str().unwrap())
        .collect();
    assert!(sources.contains(&"cepii-baci-hs92-v202401b"), "{sources:?}");
}

/// A copy of a fixture with its text edited.
fn edited(fixture_name: &str, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(fixture(fixture_name)).unwrap();
    let path = tempdir().join(name);
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

/// `text` with its line `n` (1-based) replaced by `edit` of it.
fn with_line(text: &str, n: usize, edit: impl Fn(&str) -> String) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[n - 1] = edit(&lines[n - 1]);
    lines.join("\n") + "\n"
}

#[tokio::test]
async fn bad_production_and_governance_files_are_refused_naming_file_line_and_column() {
    let app = spawn_seeded_app().await;
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    public_data::load_catalogue(&pool, &shipped("products.ndjson"))
        .await
        .unwrap();
    pool.close();
    let facts_before = app.count("facts").await;
    let sources_before = app.count("sources").await;
    let wmd = |path: PathBuf| {
        (
            Dataset::Wmd {
                file: path,
                map: shipped("wmd_products.csv"),
            },
            connectors::wmd::release(public_data::WMD_EDITION, today()).unwrap(),
        )
    };
    let wgi = |path: PathBuf| {
        (
            Dataset::Wgi { file: path },
            connectors::wgi::release(public_data::WGI_UPDATE, today()).unwrap(),
        )
    };
    let line2 = |f: &str| f.replacen("China,156,CHN", "China,156,XXX", 1);
    let cases: Vec<(&str, (Dataset, Release), &str)> = vec![
        (
            "WMD wrong header",
            wmd(edited("wmd_small.csv", "h.csv", |t| {
                t.replacen("commodity,", "sheet,", 1)
            })),
            "line 1: the header lacks column(s) commodity",
        ),
        (
            "WMD unknown country",
            wmd(edited("wmd_small.csv", "c.csv", |t| with_line(t, 2, line2))),
            "line 2, column `Country_ISO`: `XXX` is not an ISO 3166-1 alpha-3 code",
        ),
        (
            "WMD negative value",
            wmd(edited("wmd_small.csv", "n.csv", |t| {
                with_line(t, 2, |l| l.replacen(",974,", ",-974,", 1))
            })),
            "line 2, column `2024`: `-974` is negative",
        ),
        (
            "WMD non-numeric value",
            wmd(edited("wmd_small.csv", "t.csv", |t| {
                with_line(t, 2, |l| l.replacen(",974,", ",lots,", 1))
            })),
            "line 2, column `2024`: `lots` is not a number",
        ),
        (
            "WMD unknown commodity",
            wmd(edited("wmd_small.csv", "u.csv", |t| {
                with_line(t, 2, |l| l.replacen("Gallium,", "Galium,", 1))
            })),
            "line 2, column `commodity`: `Galium` is not in the commodity mapping",
        ),
        (
            "WMD duplicate row",
            wmd(edited("wmd_small.csv", "d.csv", |t| {
                with_line(t, 3, |_| t.lines().nth(1).unwrap().to_owned())
            })),
            "line 3: repeats the row of line 2 (Gallium, CHN)",
        ),
        (
            "WMD truncated",
            wmd(edited("wmd_small.csv", "x.csv", |t| {
                t[..t.trim_end().rfind(',').unwrap()].to_owned()
            })),
            "cells where the header names 13",
        ),
        (
            "WGI wrong header",
            wgi(edited("wgi_small.csv", "h.csv", |t| {
                t.replacen(",Code,", ",ISO,", 1)
            })),
            "line 1: the header lacks column(s) Code",
        ),
        (
            "WGI unknown country",
            wgi(edited("wgi_small.csv", "c.csv", |t| {
                with_line(t, 3, |l| l.replacen(",CHN,", ",XXX,", 1))
            })),
            "line 3, column `Code`: `XXX` is not an ISO 3166-1 alpha-3 code",
        ),
        (
            "WGI non-numeric",
            wgi(edited("wgi_small.csv", "t.csv", |t| {
                with_line(t, 3, |l| l.replacen(",CHN,-0.0", ",CHN,high", 1))
            })),
            "line 3, column `1996`: `high",
        ),
        (
            "WGI duplicate row",
            wgi(edited("wgi_small.csv", "d.csv", |t| {
                with_line(t, 4, |_| t.lines().nth(2).unwrap().to_owned())
            })),
            "line 4, column `Code`: repeats the row of line 3 (CHN)",
        ),
    ];
    for (what, dataset, message) in cases {
        let error = import(&app, dataset).await.expect_err(what);
        let text = format!("{error:#}");
        assert!(text.contains(message), "{what}: {text}");
        assert!(text.contains("nothing was written"), "{what}: {text}");
        assert!(
            text.contains(std::env::temp_dir().to_str().unwrap()),
            "{what} names the file: {text}"
        );
    }
    assert_eq!(app.count("facts").await, facts_before);
    assert_eq!(app.count("sources").await, sources_before);
}
