//! CSV exports: every listing and the exposure report as RFC 4180 CSV with
//! `Accept: text/csv`, read back with a parser of the test's own and
//! compared cell by cell with the JSON of the same request.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{
    assert_problem, ok_body, production_fact, spawn_app, spawn_seeded_app, TestApp,
};
use crate::scenarios::{ok_json, seeded_chain};

const CSV: &str = "text/csv; charset=utf-8";

/// RFC 4180, strictly: every record ends with CRLF, a field with a comma,
/// quote, CR or LF is quoted, a quote inside one is doubled. Panics on
/// anything else, so a sloppy writer cannot pass.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().expect("a quoted field is closed") {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\r' {
                    break;
                }
                assert!(c != '"' && c != '\n', "unquoted {c:?} in {text:?}");
                field.push(c);
                chars.next();
            }
        }
        record.push(field);
        match chars.next() {
            Some(',') => {}
            Some('\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                records.push(std::mem::take(&mut record));
            }
            other => panic!("a record ends with CRLF, not {other:?}"),
        }
    }
    assert!(record.is_empty(), "the last record ends with CRLF");
    records
}

/// A CSV table: its header and its rows as maps from column to cell.
struct Table {
    header: Vec<String>,
    rows: Vec<BTreeMap<String, String>>,
}

fn table(text: &str) -> Table {
    let mut records = parse_csv(text).into_iter();
    let header = records.next().expect("a header row");
    let rows = records
        .map(|record| {
            assert_eq!(record.len(), header.len(), "{record:?}");
            header.iter().cloned().zip(record).collect()
        })
        .collect();
    Table { header, rows }
}

/// `Vary` names `Accept`, so caches keep JSON and CSV apart.
fn varies_by_accept(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("accept"))
}

async fn csv_response(response: reqwest::Response) -> (reqwest::header::HeaderMap, String) {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], CSV);
    assert!(varies_by_accept(&headers), "{headers:?}");
    (headers, body)
}

async fn get_csv(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, Table) {
    let response = app
        .client
        .get(app.url(path))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    let (headers, body) = csv_response(response).await;
    (headers, table(&body))
}

/// A JSON record flattened as the CSV writes it: nested objects become
/// `outer_inner` columns, except the fields kept whole as JSON text.
fn flatten(record: &Value, whole: &[&str]) -> BTreeMap<String, Value> {
    let mut flat = BTreeMap::new();
    for (name, value) in record.as_object().expect("a JSON object") {
        match value {
            Value::Object(inner) if !whole.contains(&name.as_str()) => {
                for (key, value) in inner {
                    flat.insert(format!("{name}_{key}"), value.clone());
                }
            }
            other => {
                flat.insert(name.clone(), other.clone());
            }
        }
    }
    flat
}

/// The cell the CSV must hold for a JSON value: the same text (numbers as
/// JSON writes them, already rounded), empty for null.
fn expected_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The CSV rows are the JSON items: same columns, same order, same cells.
fn assert_same(csv: &Table, items: &[Value], whole: &[&str]) {
    assert_eq!(csv.rows.len(), items.len(), "row count");
    for (row, item) in csv.rows.iter().zip(items) {
        let flat = flatten(item, whole);
        let columns: Vec<&String> = csv.header.iter().collect();
        let mut names: Vec<&String> = flat.keys().collect();
        let mut sorted = columns.clone();
        sorted.sort();
        names.sort();
        for name in &names {
            // A null nested value (no advice) has its flattened columns.
            let flattened =
                flat[*name].is_null() && sorted.iter().any(|c| c.starts_with(&format!("{name}_")));
            assert!(
                sorted.contains(name) || flattened,
                "JSON field {name} has no column"
            );
        }
        for column in columns {
            let expected = flat.get(column).map_or_else(String::new, expected_cell);
            assert_eq!(&row[column], &expected, "{column} of {item}");
        }
    }
}

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_scores_listing_as_csv_is_the_json_listing_rounded_the_same() {
    let app = spawn_seeded_app().await;
    let path = "/v1/scores?sort=-dependency&buyer=EU";
    let json = ok_json(app.get(&format!("{path}&limit=1000")).await).await;
    assert_eq!(json["has_more"], false);
    let (headers, csv) = get_csv(&app, path).await;
    assert!(
        !headers.contains_key("link"),
        "a whole listing has no next page"
    );
    assert_eq!(
        csv.header[..5],
        [
            "product",
            "stage",
            "dependency",
            "dependency_range_low",
            "dependency_range_high"
        ]
    );
    assert!(csv.rows.len() > 10, "the baseline lists many products");
    assert_same(&csv, &items(&json), &[]);
    // Rounded to at most four decimals, as the JSON is.
    for row in &csv.rows {
        for column in ["dependency", "difficulty", "coverage", "years_to_displace"] {
            let decimals = row[column].split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 4, "{column} = {}", row[column]);
        }
    }

    // Two representations, two ETags; each revalidates on its own.
    let json_tag = app.get(path).await.headers()["etag"].clone();
    let csv_tag = headers["etag"].clone();
    assert_ne!(json_tag, csv_tag);
    let revalidated = app
        .client
        .get(app.url(path))
        .header("accept", "text/csv")
        .header("if-none-match", csv_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert!(varies_by_accept(revalidated.headers()));
}

/// A fact whose quote needs every kind of quoting.
const AWKWARD: &str = "China \"refines\" 92%, by tonnage,\nper the 2025 survey\r\nend";

async fn facts_app() -> TestApp {
    let app = spawn_app().await;
    app.seed_chain().await;
    let mut facts = Vec::new();
    for (i, country) in ["CN", "US", "AU", "MM", "LA"].into_iter().enumerate() {
        let mut fact = production_fact();
        fact["country"] = json!(country);
        // Kilotonnes stored as tonnes, some with more than four decimals.
        fact["value"] = json!(1.23456789 * (i + 1) as f64);
        if i == 0 {
            fact["quote"] = json!(AWKWARD);
            fact["confidence"] = json!(0.85);
        }
        facts.push(fact);
    }
    app.post_ok("/v1/facts", &json!(facts)).await;
    // Scores are read from the live state: let it take in the chain.
    app.wait_until_current().await;
    app
}

#[tokio::test]
async fn the_facts_listing_as_csv_is_the_json_listing_with_awkward_text_quoted() {
    let app = facts_app().await;
    let json = ok_json(app.get("/v1/facts?limit=1000").await).await;
    let response = app
        .client
        .get(app.url("/v1/facts"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    let (_, body) = csv_response(response).await;
    assert!(
        body.contains("\"China \"\"refines\"\" 92%, by tonnage,\nper the 2025 survey\r\nend\""),
        "the quote is quoted with its quotes doubled: {body}"
    );
    let csv = table(&body);
    assert_eq!(csv.header[0], "id");
    assert_same(&csv, &items(&json), &[]);
    assert_eq!(csv.rows[0]["quote"], AWKWARD);
    let stored = csv.rows[0]["value"].split_once('.').unwrap().1.len();
    assert!(
        stored > 4,
        "stored values are not rounded: {}",
        csv.rows[0]["value"]
    );
    assert_eq!(csv.rows[0]["buyer"], "", "null is an empty cell");

    // Filters apply as in JSON.
    let (_, us) = get_csv(&app, "/v1/facts?country=US").await;
    assert_eq!(us.rows.len(), 1);
    assert_eq!(us.rows[0]["country"], "US");
}

/// Follows `Link: rel="next"` from `path` to the end; the rows of every
/// page, and how many pages there were.
async fn follow_links(app: &TestApp, path: &str) -> (Vec<BTreeMap<String, String>>, usize) {
    let mut rows = Vec::new();
    let mut next = Some(path.to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let (headers, page) = get_csv(app, &path).await;
        pages += 1;
        rows.extend(page.rows);
        if let Some(link) = headers.get("link") {
            let link = link.to_str().unwrap();
            let target = link
                .strip_prefix('<')
                .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("{link}"));
            assert!(target.contains("limit=2"), "{target} keeps the limit");
            next = Some(target.to_owned());
        }
    }
    (rows, pages)
}

#[tokio::test]
async fn csv_pages_carry_the_next_one_in_the_link_header() {
    let app = facts_app().await;
    let (_, whole) = get_csv(&app, "/v1/facts").await;
    let (paged, pages) = follow_links(&app, "/v1/facts?limit=2").await;
    assert_eq!(pages, 3, "five facts, two a page");
    assert_eq!(paged, whole.rows);

    // A cursor the JSON listing handed out continues a CSV listing.
    let first = ok_json(app.get("/v1/facts?limit=2").await).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, rest) = get_csv(&app, &format!("/v1/facts?cursor={cursor}")).await;
    assert_eq!(rest.rows, whole.rows[2..], "the rest after the cursor");

    let (scores, _) = follow_links(&app, "/v1/scores?limit=2").await;
    let (_, all_scores) = get_csv(&app, "/v1/scores").await;
    assert_eq!(scores, all_scores.rows);
    let listed = ok_json(app.get("/v1/scores").await).await;
    assert_eq!(scores.len(), items(&listed).len());
    assert_eq!(scores.len(), 4, "the chain's products, over two pages");
}

#[tokio::test]
async fn the_audit_trail_as_csv_is_the_json_trail() {
    let app = facts_app().await;
    let json = ok_json(app.get("/v1/audit?limit=1000").await).await;
    let (_, csv) = get_csv(&app, "/v1/audit").await;
    assert_eq!(
        csv.header,
        [
            "id",
            "at",
            "key_id",
            "method",
            "route",
            "object_ids",
            "request_id"
        ]
    );
    assert_same(&csv, &items(&json), &["object_ids"]);
    let batch = csv
        .rows
        .iter()
        .find(|row| row["route"] == "/v1/facts")
        .expect("the batch is audited");
    let ids: Value = serde_json::from_str(&batch["object_ids"]).unwrap();
    assert_eq!(ids["facts"].as_array().unwrap().len(), 5);

    let (paged, _) = follow_links(&app, "/v1/audit?limit=2").await;
    assert_eq!(paged, csv.rows);
}

/// A bill of materials with one item that cannot be scored.
fn bill() -> Value {
    json!({"buyer": "US", "items": [
        {"ref": "MAG-1", "product": "sintered-ndfeb-magnet", "annual_spend": 500000, "supplier_country": "JP", "supplier": "Supplier B, Osaka"},
        {"ref": "MAG-2", "product": "sintered-ndfeb-magnet", "annual_spend": 250000, "supplier_country": "CN"},
        {"ref": "X-1", "product": "unobtainium", "annual_spend": 1000},
        {"ref": "OX-1", "product": "ndpr-oxide", "annual_spend": 125000},
        {"ref": "ORE-1", "product": "rare-earth-concentrate", "annual_spend": 125000, "supplier_country": "AU"}
    ]})
}

async fn exposure_csv(app: &TestApp, query: &str, body: &Value) -> Table {
    let response = app
        .client
        .post(app.url(&format!("/v1/exposure{query}")))
        .header("accept", "text/csv")
        .json(body)
        .send()
        .await
        .unwrap();
    let (_, body) = csv_response(response).await;
    table(&body)
}

#[tokio::test]
async fn the_exposure_report_as_csv_is_its_tables_rounded_as_in_json() {
    let app = seeded_chain().await;
    app.wait_until_current().await;
    let report = ok_json(app.post_json("/v1/exposure", &bill()).await).await;

    let items = exposure_csv(&app, "", &bill()).await;
    assert_eq!(
        items.header,
        [
            "index",
            "ref",
            "product",
            "stage",
            "supplier_country",
            "supplier",
            "annual_spend",
            "quantity",
            "weight",
            "own_exposure",
            "dependency",
            "difficulty",
            "chokepoint",
            "chokepoint_stage"
        ]
    );
    assert_same(&items, report["items"].as_array().unwrap(), &[]);
    assert_eq!(items.rows.len(), 4, "the unknown product is not scored");
    assert_eq!(items.rows[2]["index"], "3", "indexes are request positions");
    assert_eq!(items.rows[0]["supplier"], "Supplier B, Osaka");
    assert_eq!(
        exposure_csv(&app, "?part=items", &bill()).await.rows,
        items.rows
    );

    let hotspots = exposure_csv(&app, "?part=hotspots", &bill()).await;
    assert_same(&hotspots, report["hotspots"].as_array().unwrap(), &[]);
    assert!(hotspots.header.contains(&"advice_action".to_owned()));

    let rejected = exposure_csv(&app, "?part=rejected", &bill()).await;
    assert_eq!(rejected.header, ["index", "ref", "field", "message"]);
    assert_eq!(rejected.rows.len(), 1);
    let problem = &report["rejected"][0];
    assert_eq!(rejected.rows[0]["index"], problem["index"].to_string());
    assert_eq!(rejected.rows[0]["ref"], "X-1");
    assert_eq!(rejected.rows[0]["field"], problem["errors"][0]["field"]);
    assert_eq!(rejected.rows[0]["message"], problem["errors"][0]["message"]);

    let summary = exposure_csv(&app, "?part=summary", &bill()).await;
    assert_eq!(summary.rows.len(), 1);
    let mut expected = report["summary"].clone();
    for name in ["buyer", "as_of", "methodology_version", "data_version"] {
        expected[name] = report[name].clone();
    }
    assert_same(&summary, &[expected], &[]);

    // A CSV bill of materials can be answered in CSV too.
    let upload =
        "ref,product,annual_spend,supplier_country\r\nMAG-1,sintered-ndfeb-magnet,500000,JP\r\n";
    let response = app
        .client
        .post(app.url("/v1/exposure?buyer=US"))
        .header("content-type", "text/csv")
        .header("accept", "text/csv")
        .body(upload)
        .send()
        .await
        .unwrap();
    let (_, body) = csv_response(response).await;
    let rows = table(&body).rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["weight"], "1.0");
}

#[tokio::test]
async fn accept_chooses_the_representation_and_one_allowing_neither_is_a_406() {
    let app = facts_app().await;
    let get = |path: &'static str, accept: Option<&'static str>| {
        let mut request = app.client.get(app.url(path));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    for path in ["/v1/facts", "/v1/scores", "/v1/audit"] {
        for (accept, expected) in [
            (None, "application/json"),
            (Some("*/*"), "application/json"),
            (Some("application/json, text/csv"), "application/json"),
            (Some("text/csv;q=0.5, application/json"), "application/json"),
            (Some("application/json;q=0.1, text/csv"), CSV),
            (Some("text/*"), CSV),
        ] {
            let response = get(path, accept).await.unwrap();
            assert_eq!(response.status(), 200, "{path} {accept:?}");
            assert_eq!(
                response.headers()["content-type"],
                expected,
                "{path} {accept:?}"
            );
        }
        for refused in ["application/xml", "text/csv;q=0, application/json;q=0"] {
            let problem = assert_problem(
                get(path, Some(refused)).await.unwrap(),
                406,
                "not_acceptable",
            )
            .await;
            assert!(problem["detail"].as_str().unwrap().contains("text/csv"));
        }
    }
    let refused = app
        .client
        .post(app.url("/v1/exposure"))
        .header("accept", "application/xml")
        .json(&bill())
        .send()
        .await
        .unwrap();
    assert_problem(refused, 406, "not_acceptable").await;
    // `part` only chooses among CSV tables.
    let body = assert_problem(
        app.post_json("/v1/exposure?part=items", &bill()).await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/query/part");
    let problems = ok_body("/problems", app.get("/problems").await).await;
    assert!(problems
        .as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["code"] == "not_acceptable"));
}

#[tokio::test]
async fn a_large_facts_export_is_streamed_whole() {
    let app = spawn_app().await;
    app.seed_chain().await;
    // Several database pages of facts, imported as a stream.
    let count = 4500;
    let mut upload =
        String::from("product,country,metric,value,unit,period,status,source_id,quote\n");
    for i in 0..count {
        upload.push_str(&format!(
            "rare-earth-concentrate,AU,production,{},kt/yr,{},estimate,usgs-mcs-2025,\"row {i}, \"\"quoted\"\"\"\n",
            i + 1,
            1990 + i % 30
        ));
    }
    let response = app.post_raw("/v1/facts/import", "text/csv", upload).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());

    let response = app
        .client
        .get(app.url("/v1/facts?metric=production"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("transfer-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("chunked"),
        "written as it is read, not buffered to learn its length"
    );
    assert!(!response.headers().contains_key("content-length"));
    let (_, body) = csv_response(response).await;
    let csv = table(&body);
    assert_eq!(csv.rows.len(), count);
    let stored: Vec<i64> = app
        .db
        .query(
            "SELECT id FROM facts WHERE metric = 'production' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let exported: Vec<i64> = csv
        .rows
        .iter()
        .map(|row| row["id"].parse().unwrap())
        .collect();
    assert_eq!(exported, stored, "every fact once, in id order");
    for (i, row) in csv.rows.iter().enumerate() {
        assert_eq!(row["quote"], format!("row {i}, \"quoted\""));
        assert_eq!(row["value"], format!("{}.0", (i + 1) * 1000), "kt as t");
    }
}
