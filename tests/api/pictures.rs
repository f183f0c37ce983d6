//! The pictures over HTTP against the seeded baseline: the value chain, the
//! trend and the map of the magnet, gallium and graphite chains, read as
//! XML and checked against the JSON reads of the same scores; PNG by
//! `Accept`; 406, ETags and 304.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::helpers::{assert_problem, spawn_seeded_app, TestApp};

/// (chain picture, history picture, map picture) products of each chain.
const CHAINS: [(&str, &str, &str); 3] = [
    (
        "sintered-ndfeb-magnet",
        "sintered-ndfeb-magnet",
        "rare-earth-concentrate",
    ),
    ("power-rf-device", "primary-gallium", "primary-gallium"),
    ("li-ion-cell", "anode-material", "natural-graphite"),
];

async fn fetch(app: &TestApp, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header(reqwest::header::ACCEPT, accept);
    }
    request.send().await.expect("request failed")
}

/// The SVG at `path`, asserting a 200 with the SVG media type.
async fn svg(app: &TestApp, path: &str) -> String {
    let response = fetch(app, path, None).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "image/svg+xml",
        "{path}"
    );
    assert!(varies_by_accept(&response), "{path}");
    response.text().await.unwrap()
}

fn varies_by_accept(response: &reqwest::Response) -> bool {
    response.headers()["vary"]
        .to_str()
        .unwrap()
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case("accept"))
}

fn has_class(node: &roxmltree::Node<'_, '_>, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split(' ').any(|c| c == class))
}

fn with_class<'a, 'input>(
    document: &'a roxmltree::Document<'input>,
    class: &str,
) -> Vec<roxmltree::Node<'a, 'input>> {
    document
        .descendants()
        .filter(|n| has_class(n, class))
        .collect()
}

fn text_of(node: &roxmltree::Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ")
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("a number: {value}"))
}

/// What the footer of every picture must say.
async fn versions(app: &TestApp, score: &Value) -> (String, String) {
    let (data_version, _) = app.data_versions().await;
    (
        score["methodology_version"].as_str().unwrap().to_owned(),
        data_version,
    )
}

fn assert_legend_and_footer(document: &roxmltree::Document<'_>, versions: &(String, String)) {
    let legend = with_class(document, "legend");
    assert_eq!(legend.len(), 1, "one legend");
    assert!(!text_of(&legend[0]).is_empty());
    let footer = with_class(document, "footer");
    assert_eq!(footer.len(), 1, "one footer");
    let footer = text_of(&footer[0]);
    assert!(
        footer.contains(&format!("methodology {}", versions.0)),
        "{footer}"
    );
    assert!(
        footer.contains(&format!("data version {}", versions.1)),
        "{footer}"
    );
}

/// The products by id, with their names and inputs.
async fn products(app: &TestApp) -> BTreeMap<String, Value> {
    let listing = app.get_current("/v1/products?limit=1000").await;
    listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

fn upstream(products: &BTreeMap<String, Value>, product: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![product.to_owned()];
    while let Some(id) = stack.pop() {
        if seen.insert(id.clone()) {
            for input in products[&id]["inputs"].as_array().unwrap() {
                stack.push(input["product"].as_str().unwrap().to_owned());
            }
        }
    }
    seen
}

#[tokio::test]
async fn each_chain_picture_shows_every_product_its_share_and_the_marks() {
    let app = spawn_seeded_app().await;
    let catalogue = products(&app).await;
    for (product, _, _) in CHAINS {
        let text = svg(&app, &format!("/v1/scores/{product}/chain.svg?buyer=US")).await;
        let document = roxmltree::Document::parse(&text).expect("the SVG is XML");
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        let score = app
            .get_current(&format!("/v1/scores/{product}?buyer=US"))
            .await;

        // One box per product of the chain, named, with China's share.
        let nodes = with_class(&document, "node");
        let drawn: BTreeSet<String> = nodes
            .iter()
            .map(|n| n.attribute("data-product").unwrap().to_owned())
            .collect();
        assert_eq!(drawn, upstream(&catalogue, product), "{product}");
        assert_eq!(nodes.len(), drawn.len(), "each product once");
        for node in &nodes {
            let id = node.attribute("data-product").unwrap();
            let name: Vec<String> = node
                .descendants()
                .filter(|n| has_class(n, "name"))
                .map(|n| text_of(&n))
                .collect();
            assert_eq!(name.join(" "), catalogue[id]["name"], "{id}");
            let own = app.get_current(&format!("/v1/scores/{id}?buyer=US")).await;
            let share: f64 = node.attribute("data-china-share").unwrap().parse().unwrap();
            assert_eq!(
                share,
                number(&own["dependency"]["china_share"]["value"]),
                "{id}"
            );
            let line = node
                .descendants()
                .find(|n| has_class(n, "china-share"))
                .map(|n| text_of(&n))
                .unwrap();
            assert!(
                line.contains("China ") || line.contains("no share"),
                "{line}"
            );
        }
        let scored = with_class(&document, "scored");
        assert_eq!(scored.len(), 1);
        assert_eq!(scored[0].attribute("data-product"), Some(product));

        // The chokepoint and the binding stage, marked where the JSON says.
        let chokepoint = with_class(&document, "chokepoint");
        assert_eq!(chokepoint.len(), 1, "{product}: one chokepoint");
        assert_eq!(
            chokepoint[0].attribute("data-product").unwrap(),
            score["dependency"]["chokepoint"]["product"],
            "{product}"
        );
        assert!(chokepoint[0]
            .descendants()
            .any(|n| has_class(&n, "mark-chokepoint") && text_of(&n).contains("chokepoint")));
        let binding = with_class(&document, "binding");
        assert_eq!(binding.len(), 1, "{product}: one binding stage");
        assert_eq!(
            binding[0].attribute("data-product").unwrap(),
            score["difficulty"]["binding"]["product"],
            "{product}"
        );
        assert!(binding[0]
            .descendants()
            .any(|n| has_class(&n, "mark-binding")));

        // One edge per input, labelled with its share.
        let edges = with_class(&document, "edge");
        let expected: usize = drawn
            .iter()
            .map(|id| catalogue[id]["inputs"].as_array().unwrap().len())
            .sum();
        assert_eq!(edges.len(), expected, "{product}: one edge per input");
        for edge in &edges {
            let (from, to) = (
                edge.attribute("data-from").unwrap(),
                edge.attribute("data-to").unwrap(),
            );
            let input = catalogue[to]["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["product"] == from)
                .unwrap_or_else(|| panic!("{from} is an input of {to}"));
            let share: f64 = edge.attribute("data-share").unwrap().parse().unwrap();
            assert_eq!(share, number(&input["share"]));
            let label = edge
                .descendants()
                .find(|n| has_class(n, "share"))
                .map(|n| text_of(&n))
                .unwrap();
            assert_eq!(label, format!("{}%", (share * 100.0).round()));
        }
        // The path to a chokepoint upstream is drawn as such.
        let path = score["dependency"]["chokepoint"]["path"]
            .as_array()
            .unwrap();
        assert_eq!(
            with_class(&document, "chokepoint-path").len(),
            path.len() - 1,
            "{product}"
        );

        let title = with_class(&document, "title");
        assert!(text_of(&title[0]).contains(catalogue[product]["name"].as_str().unwrap()));
        assert_legend_and_footer(&document, &versions(&app, &score).await);
    }
}

#[tokio::test]
async fn each_history_picture_draws_the_points_bands_and_export_controls() {
    let app = spawn_seeded_app().await;
    for (_, product, _) in CHAINS {
        let query = "buyer=US&from=2021-06-30&to=2026-06-30&draws=200&seed=7";
        let text = svg(&app, &format!("/v1/scores/{product}/history.svg?{query}")).await;
        let document = roxmltree::Document::parse(&text).expect("the SVG is XML");
        let history = app
            .get_current(&format!(
                "/v1/scores/{product}/history?buyer=US&from=2021-06-30&to=2026-06-30"
            ))
            .await;
        let points = history["points"].as_array().unwrap();
        for name in ["dependency", "difficulty"] {
            let series: Vec<_> = with_class(&document, "series")
                .into_iter()
                .filter(|n| n.attribute("data-series") == Some(name))
                .collect();
            assert_eq!(series.len(), 1, "{product}: one {name} series");
            let drawn: Vec<(String, f64)> = series[0]
                .descendants()
                .filter(|n| has_class(n, "point"))
                .map(|n| {
                    (
                        n.attribute("data-as-of").unwrap().to_owned(),
                        n.attribute("data-value").unwrap().parse().unwrap(),
                    )
                })
                .collect();
            // A point without a dependency (no supply data then) is not drawn.
            let expected: Vec<(String, f64)> = points
                .iter()
                .filter(|p| !p[name].is_null())
                .map(|p| {
                    (
                        p["as_of"].as_str().unwrap()[..10].to_owned(),
                        number(&p[name]),
                    )
                })
                .collect();
            assert_eq!(drawn, expected, "{product} {name}");
            let bands: Vec<_> = with_class(&document, "band")
                .into_iter()
                .filter(|n| n.attribute("data-series") == Some(name))
                .collect();
            assert_eq!(bands.len(), 1, "{product}: a {name} band");
        }
        let band = with_class(&document, "band-label");
        assert!(text_of(&band[0]).contains("200 Monte Carlo draws (seed 7)"));

        // Every export control in the latest score is listed, with its date.
        let score = app
            .get_current(&format!("/v1/scores/{product}?buyer=US&as_of=2026-06-30"))
            .await;
        let listed: Vec<String> = with_class(&document, "control")
            .iter()
            .map(text_of)
            .collect();
        for control in score["pressure"].as_array().unwrap() {
            let announced = format!("announced {}", control["announced_on"].as_str().unwrap());
            assert!(
                listed
                    .iter()
                    .any(|l| l.contains(&announced)
                        && l.contains(control["product"].as_str().unwrap())),
                "{product}: {control} in {listed:?}"
            );
        }
        if product == "primary-gallium" {
            let marks = with_class(&document, "control-mark");
            assert!(!marks.is_empty(), "gallium's controls are on the time axis");
            let dates: Vec<&str> = marks
                .iter()
                .map(|m| m.attribute("data-date").unwrap())
                .collect();
            assert!(dates.contains(&"2023-08-01"), "{dates:?}");
        }
        assert_legend_and_footer(&document, &versions(&app, &history).await);
    }
}

#[tokio::test]
async fn each_map_shades_supplying_countries_and_marks_china() {
    let app = spawn_seeded_app().await;
    for (_, _, product) in CHAINS {
        let text = svg(&app, &format!("/v1/products/{product}/map.svg")).await;
        let document = roxmltree::Document::parse(&text).expect("the SVG is XML");
        let score = app
            .get_current(&format!("/v1/scores/{product}?buyer=US"))
            .await;
        let rows = score["dependency"]["china_share"]["countries"]
            .as_array()
            .unwrap();
        assert!(!rows.is_empty(), "{product} has supply by country");
        let countries = with_class(&document, "country");
        assert!(countries.len() > 170, "the world is drawn");
        for row in rows {
            let code = row["country"].as_str().unwrap();
            let share = number(&row["share"]);
            let shape = countries
                .iter()
                .find(|c| c.attribute("data-country") == Some(code));
            if let Some(shape) = shape.filter(|_| share > 0.0) {
                let drawn: f64 = shape.attribute("data-share").unwrap().parse().unwrap();
                assert_eq!(drawn, share, "{product} {code}");
            }
        }
        let china = with_class(&document, "china");
        assert!(
            china.iter().any(|c| c.tag_name().name() == "path"),
            "{product}: China outlined"
        );
        let label = with_class(&document, "china-label");
        assert_eq!(label.len(), 1, "{product}: China labelled");
        assert!(text_of(&label[0]).starts_with("China "));
        let suppliers = with_class(&document, "supplier");
        assert_eq!(suppliers.len(), rows.len().min(12), "{product}");
        assert_eq!(
            suppliers[0].attribute("data-country"),
            rows.iter()
                .max_by(|a, b| number(&a["share"]).total_cmp(&number(&b["share"])))
                .and_then(|r| r["country"].as_str()),
            "the largest supplier first"
        );
        assert_legend_and_footer(&document, &versions(&app, &score).await);
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[tokio::test]
async fn pictures_come_as_png_by_accept_are_tagged_and_refuse_other_types() {
    let app = spawn_seeded_app().await;
    let paths = [
        "/v1/scores/sintered-ndfeb-magnet/chain.svg",
        "/v1/scores/primary-gallium/history.svg?draws=100",
        "/v1/products/natural-graphite/map.svg",
    ];
    for path in paths {
        let svg_response = fetch(&app, path, None).await;
        assert_eq!(svg_response.status(), 200, "{path}");
        let svg_tag = svg_response.headers()["etag"].to_str().unwrap().to_owned();
        let text = svg_response.text().await.unwrap();
        let document = roxmltree::Document::parse(&text).unwrap();
        let size = |name| -> u32 {
            document
                .root_element()
                .attribute(name)
                .unwrap()
                .parse()
                .unwrap()
        };

        let response = fetch(&app, path, Some("image/png")).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "image/png");
        assert!(varies_by_accept(&response), "{path}");
        let png_tag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(png_tag, svg_tag, "two representations, two tags");
        let png = response.bytes().await.unwrap();
        assert_eq!(png_size(&png), (size("width"), size("height")), "{path}");
        let again = fetch(&app, path, Some("image/png")).await;
        assert_eq!(again.bytes().await.unwrap(), png, "{path}: deterministic");

        // The same bytes again, and 304 for a held tag of that representation.
        assert_eq!(fetch(&app, path, None).await.text().await.unwrap(), text);
        for (accept, tag) in [(None, &svg_tag), (Some("image/png"), &png_tag)] {
            let mut request = app.client.get(app.url(path)).header("if-none-match", tag);
            if let Some(accept) = accept {
                request = request.header("accept", accept);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 304, "{path} {accept:?}");
            assert_eq!(response.headers()["etag"].to_str().unwrap(), tag);
        }
        let other = app
            .client
            .get(app.url(path))
            .header("if-none-match", &png_tag)
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "a PNG tag does not match the SVG");

        for accept in ["application/json", "text/csv", "image/jpeg"] {
            let response = fetch(&app, path, Some(accept)).await;
            assert_problem(response, 406, "not_acceptable").await;
        }
    }

    for path in [
        "/v1/scores/unobtainium/chain.svg",
        "/v1/scores/unobtainium/history.svg",
        "/v1/products/unobtainium/map.svg",
    ] {
        assert_problem(fetch(&app, path, None).await, 404, "not_found").await;
    }
    let too_many = fetch(
        &app,
        "/v1/scores/primary-gallium/history.svg?step=month&from=2020-01-01&to=2026-01-01&draws=5000",
        None,
    )
    .await;
    assert_problem(too_many, 422, "invalid_parameter").await;
}

#[tokio::test]
async fn a_past_recorded_chain_is_drawn_from_the_scores_of_then() {
    let app = spawn_seeded_app().await;
    let path = "/v1/scores/li-ion-cell/chain.svg?as_of=2025-06-30&view=current&chain=independent";
    let text = svg(&app, path).await;
    let document = roxmltree::Document::parse(&text).unwrap();
    let score = app
        .get_current("/v1/scores/li-ion-cell?as_of=2025-06-30&view=current&chain=independent")
        .await;
    let headline = text_of(&with_class(&document, "headline")[0]);
    let dependency = number(&score["dependency"]["score"]);
    assert!(
        headline.contains(&format!(
            "Dependency {}",
            (dependency * 10.0).round() / 10.0
        )),
        "{headline} for {dependency}"
    );
    let context = text_of(&with_class(&document, "context")[0]);
    assert!(context.contains("as of 2025-06-30"), "{context}");
    assert!(context.contains("view current"), "{context}");
    assert!(context.contains("chain independent"), "{context}");
}
