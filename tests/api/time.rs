//! Time as the world knew it: a fact's publication date decides the
//! `public` view of the past, its recording the `recorded` view, and what
//! stands today the `current` view.

use serde_json::json;

use crate::helpers::{
    assert_problem, pointers, production_fact, spawn_app, spawn_seeded_app, table_counts, TestApp,
};

const MAGNET: &str = "/v1/scores/sintered-ndfeb-magnet";
const AS_OF: &str = "2025-06-30";

fn mine(country: &str, kilotonnes: f64, published_on: &str) -> serde_json::Value {
    let mut fact = production_fact();
    fact["country"] = json!(country);
    fact["value"] = json!(kilotonnes);
    fact["published_on"] = json!(published_on);
    fact
}

/// The magnet's dependency, `None` while nothing on its chain has supply
/// data.
async fn dependency(app: &TestApp, query: &str) -> Option<f64> {
    let body = app.get_current(&format!("{MAGNET}?{query}")).await;
    body["dependency"]["score"].as_f64()
}

async fn fact_ids(app: &TestApp, query: &str) -> Vec<i64> {
    let body = app.get_current(&format!("/v1/facts?{query}")).await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn publication_decides_the_public_view_and_recording_the_recorded_one() {
    let app = spawn_app().await;
    app.seed_chain().await;
    // Published before AS_OF, recorded only now.
    let china = app
        .post_ok("/v1/facts", &mine("CN", 270.0, "2024-03-01"))
        .await;
    // Published after AS_OF (recorded now, too).
    let australia = app
        .post_ok("/v1/facts", &mine("AU", 90.0, "2025-12-01"))
        .await;
    let (china, australia) = (
        china["id"].as_i64().unwrap(),
        australia["id"].as_i64().unwrap(),
    );

    // Public: only what was out by then, China's 270 kt alone.
    assert_eq!(
        dependency(&app, &format!("as_of={AS_OF}")).await,
        Some(100.0)
    );
    assert_eq!(fact_ids(&app, &format!("as_of={AS_OF}")).await, [china]);
    // Current: today's knowledge of mid-2025, 270 of 360 kt.
    assert_eq!(
        dependency(&app, &format!("as_of={AS_OF}&view=current")).await,
        Some(75.0)
    );
    assert_eq!(
        fact_ids(&app, &format!("as_of={AS_OF}&view=current")).await,
        [china, australia]
    );
    // Recorded: this database did not even hold the magnet then.
    let recorded = app
        .get(&format!("{MAGNET}?as_of={AS_OF}&view=recorded"))
        .await;
    assert_problem(recorded, 404, "not_found").await;
    assert!(fact_ids(&app, &format!("as_of={AS_OF}&view=recorded"))
        .await
        .is_empty());
    // The fact carries its publication date.
    let stored = app.get_current(&format!("/v1/facts/{australia}")).await;
    assert_eq!(stored["published_on"], "2025-12-01");
}

#[tokio::test]
async fn a_fact_takes_its_sources_publication_date_unless_it_gives_one() {
    let app = spawn_app().await;
    app.seed_chain().await;
    app.post_ok(
        "/v1/sources",
        &json!({"id": "mcs-2025", "title": "MCS 2025", "publisher": "USGS",
                "kind": "government_statistics", "published_on": "2025-01-31"}),
    )
    .await;
    let mut fact = production_fact();
    fact["source_id"] = json!("mcs-2025");
    let from_source = app.post_ok("/v1/facts", &fact).await;
    assert_eq!(from_source["published_on"], "2025-01-31");
    fact["published_on"] = json!("2024-01-31");
    let own = app.post_ok("/v1/facts", &fact).await;
    assert_eq!(own["published_on"], "2024-01-31");
    // A source without a date: the day the fact is recorded.
    let before = time::OffsetDateTime::now_utc().date().to_string();
    let undated = app.post_ok("/v1/facts", &production_fact()).await;
    let after = time::OffsetDateTime::now_utc().date().to_string();
    let day = undated["published_on"].as_str().unwrap();
    assert!(day == before || day == after, "{day}");
    // A source cannot have been published in the future or before 1900.
    let counts = table_counts(&app).await;
    for (published_on, message) in [("2999-01-01", "after today"), ("1850-01-01", "1900")] {
        let response = app
            .post_json(
                "/v1/sources",
                &json!({"id": "odd-date", "title": "t", "publisher": "p",
                        "kind": "news", "published_on": published_on}),
            )
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(pointers(&problem), ["/published_on"], "{problem}");
        assert!(problem.to_string().contains(message), "{problem}");
    }
    assert_eq!(table_counts(&app).await, counts);
}

#[tokio::test]
async fn a_csv_import_carries_publication_dates() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let csv = "product,country,metric,value,unit,period,status,source_id,published_on\n\
               rare-earth-concentrate,CN,production,270,kt/yr,2024,estimate,usgs-mcs-2025,2024-03-01\n\
               rare-earth-concentrate,AU,production,90,kt/yr,2024,estimate,usgs-mcs-2025,2025-12-01\n";
    let response = app.post_raw("/v1/facts/import", "text/csv", csv).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert_eq!(
        dependency(&app, &format!("as_of={AS_OF}")).await,
        Some(100.0)
    );
    assert_eq!(dependency(&app, "").await, Some(75.0));
}

#[tokio::test]
async fn a_retraction_counts_in_the_public_view_once_published() {
    let app = spawn_app().await;
    app.seed_chain().await;
    app.post_ok("/v1/facts", &mine("CN", 270.0, "2024-03-01"))
        .await;
    let australia = app
        .post_ok("/v1/facts", &mine("AU", 90.0, "2024-03-01"))
        .await["id"]
        .as_i64()
        .unwrap();

    // A correction dated before the fact itself was published is refused.
    let counts = table_counts(&app).await;
    let early = app
        .client
        .delete(app.url(&format!(
            "/v1/facts/{australia}?reason=revised&published_on=2024-01-01"
        )))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(early, 422, "invalid_parameter").await;
    assert_eq!(pointers(&problem), ["/query/published_on"]);
    assert_eq!(table_counts(&app).await, counts, "nothing was written");

    let retracted = app
        .delete_ok(&format!(
            "/v1/facts/{australia}?reason=revised&published_on=2025-09-01"
        ))
        .await;
    assert_eq!(retracted["retraction_published_on"], "2025-09-01");
    // Before the correction was published, the world still read 270 of 360.
    assert_eq!(
        dependency(&app, &format!("as_of={AS_OF}")).await,
        Some(75.0)
    );
    assert_eq!(dependency(&app, "as_of=2025-10-01").await, Some(100.0));
    // Today's knowledge of mid-2025 no longer holds the retracted fact.
    assert_eq!(
        dependency(&app, &format!("as_of={AS_OF}&view=current")).await,
        Some(100.0)
    );
}

#[tokio::test]
async fn impossible_dates_and_unknown_views_are_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let counts = table_counts(&app).await;
    for (published_on, message) in [("2999-01-01", "after today"), ("1850-06-30", "1900")] {
        let response = app
            .post_json("/v1/facts", &mine("CN", 270.0, published_on))
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(pointers(&problem), ["/published_on"], "{problem}");
        assert!(problem.to_string().contains(message), "{problem}");
    }
    let csv = "product,country,metric,value,unit,period,status,source_id,published_on\n\
               rare-earth-concentrate,CN,production,270,kt/yr,2024,estimate,usgs-mcs-2025,2999-01-01\n";
    let response = app.post_raw("/v1/facts/import", "text/csv", csv).await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(pointers(&problem), ["/line/2/published_on"]);
    let ndjson = format!("{}\n", mine("CN", 270.0, "2999-01-01"));
    let response = app
        .post_raw("/v1/facts/import", "application/x-ndjson", ndjson)
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(pointers(&problem), ["/line/1/published_on"]);
    assert_eq!(table_counts(&app).await, counts);
    for path in [
        format!("{MAGNET}?view=someday"),
        "/v1/facts?view=Public".to_owned(),
        "/v1/scores?view=".to_owned(),
    ] {
        let problem = assert_problem(app.get(&path).await, 422, "invalid_parameter").await;
        assert_eq!(pointers(&problem), ["/query/view"], "{path}");
    }
}

#[tokio::test]
async fn the_seeded_magnet_history_follows_what_was_published() {
    let app = spawn_seeded_app().await;
    // The first publication date of the supply figures of the magnet chain:
    // from then on the chain's dependency is known (other facts may make it
    // known earlier).
    let mut first_published: Option<String> = None;
    for product in [
        "rare-earth-concentrate",
        "ndpr-oxide",
        "ndpr-metal",
        "dy-oxide",
        "tb-oxide",
        "sintered-ndfeb-magnet",
    ] {
        for metric in ["production", "market_share"] {
            let facts = app
                .get_current(&format!(
                    "/v1/facts?product={product}&metric={metric}&limit=1000"
                ))
                .await;
            for fact in facts["items"].as_array().unwrap() {
                let day = fact["published_on"].as_str().unwrap().to_owned();
                if first_published.as_ref().is_none_or(|first| day < *first) {
                    first_published = Some(day);
                }
            }
        }
    }
    let first_published = first_published.expect("the baseline has supply figures");
    let history = app
        .get_current(&format!("{MAGNET}/history?from=2021-01-01"))
        .await;
    let points = history["points"].as_array().unwrap();
    let mut published_years = 0;
    for point in points {
        let day = &point["as_of"].as_str().unwrap()[..10];
        let dependency = point["dependency"].as_f64();
        if *day >= *first_published.as_str() {
            published_years += 1;
            assert!(
                dependency.is_some_and(|d| d > 0.0),
                "{day}: published data, yet {dependency:?}"
            );
        }
    }
    assert!(published_years >= 2, "{first_published}: {points:?}");
    // As recorded, a fresh install knew nothing before today.
    let recorded = app
        .get_current(&format!("{MAGNET}/history?from=2021-01-01&view=recorded"))
        .await;
    let recorded = recorded["points"].as_array().unwrap();
    assert_eq!(
        recorded.len(),
        1,
        "the graph was recorded today: {recorded:?}"
    );
    assert!(recorded[0]["dependency"].as_f64().unwrap() > 0.0);
    assert_eq!(history["view"], "public");
}

#[tokio::test]
async fn the_recorded_view_reads_the_product_graph_as_it_was() {
    let app = spawn_app().await;
    app.seed_chain().await;
    app.post_ok("/v1/facts", &mine("CN", 270.0, "2024-03-01"))
        .await;
    app.post_ok("/v1/facts", &mine("AU", 90.0, "2024-03-01"))
        .await;
    assert_eq!(dependency(&app, "").await, Some(75.0));
    let before = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    // The magnet is redefined without inputs: nothing upstream reaches it.
    let response = app
        .client
        .put(app.url("/v1/products/sintered-ndfeb-magnet"))
        .json(&json!({"name": "Sintered NdFeB magnet", "stage": "materials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(dependency(&app, "").await, None);
    // As recorded before the change, the magnet still drew on the chain.
    assert_eq!(
        dependency(&app, &format!("as_of={before}&view=recorded")).await,
        Some(75.0)
    );
    // The other views read today's graph at any date.
    assert_eq!(dependency(&app, &format!("as_of={before}")).await, None);
    assert_eq!(
        dependency(&app, &format!("as_of={before}&view=current")).await,
        None
    );
}

#[tokio::test]
async fn a_control_announced_before_it_takes_effect_is_listed_not_counted() {
    let app = spawn_app().await;
    app.seed_chain().await;
    app.post_ok("/v1/facts", &mine("CN", 270.0, "2024-03-01"))
        .await;
    // Announced on 2025-04-04, in force from 2025-05-01.
    app.post_ok(
        "/v1/facts",
        &json!({"product": "sintered-ndfeb-magnet", "country": "CN", "metric": "export_control",
                "value": 1, "unit": "level", "period": "2025-05-01/..", "status": "in_force",
                "source_id": "usgs-mcs-2025", "published_on": "2025-04-04"}),
    )
    .await;
    let pressure = |body: &serde_json::Value| body["pressure"].as_array().unwrap().clone();
    let announced = app.get_current(&format!("{MAGNET}?as_of=2025-04-20")).await;
    let listed = pressure(&announced);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["announced_on"], "2025-04-04");
    assert_eq!(listed[0]["takes_effect_on"], "2025-05-01");
    let summary = app
        .get_current("/v1/scores?as_of=2025-04-20&stage=materials")
        .await;
    assert_eq!(
        summary["items"][0]["export_controls"], 0,
        "not yet in force"
    );
    let in_force = app.get_current(&format!("{MAGNET}?as_of=2025-06-01")).await;
    let listed = pressure(&in_force);
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["takes_effect_on"].is_null());
    assert_eq!(listed[0]["announced_on"], "2025-04-04");
    // Before the announcement nobody knew of it.
    let before = app.get_current(&format!("{MAGNET}?as_of=2025-03-01")).await;
    assert!(pressure(&before).is_empty());
}
