//! The HTTP API: routes, their OpenAPI documentation (one declaration feeds
//! both), extractors, middleware and the error catalogue.

mod auth;
mod backtests;
mod caching;
mod conventions;
mod csv_export;
mod docs;
pub mod error;
mod events;
mod examples;
mod exposure;
pub mod extract;
mod facts;
mod fallback;
pub mod head_guard;
mod health;
mod import;
mod keys;
pub mod limits;
pub mod metrics;
mod middleware;
mod pagination;
mod params;
mod pictures;
mod problems;
mod products;
mod render;
pub mod request_id;
mod rules;
mod scenarios;
mod scores;
mod sources;
mod watchlists;
mod webhooks;
mod write;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{web, App, Error};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::OpenApi;
use utoipa_actix_web::{scope, AppExt, UtoipaApp};

pub use auth::ReadAccess;
pub use fallback::RouteTable;
pub use webhooks::WebhookTargets;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chokepoint: critical-mineral supply-chain risk scores",
        version = "1.0.0",
        description = "Explainable scores of how much a Western buyer's supply of a critical-mineral \
product passes through Chinese-controlled capacity (dependency) and how hard it would be to replace \
(displacement difficulty), computed from sourced facts by a published, versioned method.\n\n\
Errors are RFC 9457 `application/problem+json` documents with a stable `code`; \
`GET /problems` lists every code.\n\n\
Rules that hold for every operation: no string (in a body, a query or a path) may contain \
U+0000; query parameters an operation does not list are refused; country and buyer codes are \
upper case.\n\n\
Numbers: every number the method derives (scores, shares, weights, intervals, deltas, exposure \
totals) is written rounded to 4 decimal places, in JSON as in CSV, and never as `-0`; it is \
computed unrounded. Facts are returned as stored by `/v1/facts`; fact values quoted inside \
explanations are written at the same 4 places.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "scores", description = "Dependency and displacement difficulty per product and buyer, explained; EU CRM cross-check; history"),
        (name = "scenarios", description = "What-if: hypothetical facts, dropped facts and switched export controls scored next to the data as it is; saved change sets"),
        (name = "validation", description = "Backtests: the scores read before each of China's export controls, against the products it hit, next to simpler methods"),
        (name = "exposure", description = "A bill of materials scored item by item from its suppliers' countries, with spend-weighted aggregates and hotspots"),
        (name = "monitoring", description = "Watchlists of products, alert rules over them, the event feed (long polling) and signed webhooks, all owned by the key that made them"),
        (name = "sources", description = "Publications that facts cite, with their reliability"),
        (name = "products", description = "Products along the value chain and the inputs between them"),
        (name = "facts", description = "Sourced claims about capacity, trade, controls and costs; append-only, with point-in-time reads"),
        (name = "access", description = "API keys (scopes `read` ⊂ `ingest` ⊂ `admin`) and the audit trail of every write"),
        (name = "operations", description = "Health, readiness, metrics and the error catalogue"),
    ),
    external_docs(url = "/methodology", description = "The scoring method: formulas, defaults, parameters and sources"),
    modifiers(&BearerAuth),
    components(schemas(error::Problem, error::ErrorCode, error::FieldError, crate::ingest::import::OnError, crate::scoring::Step))
)]
struct ApiDoc;

/// Declares the `bearer` scheme, so Swagger UI's Authorize button works.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key: `Authorization: Bearer ck_…`. Writes need `ingest`, keys and \
                         the audit trail `admin`; reads need `read` only when the service runs \
                         with `--reads key`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Registers every route on `app`. Used by the server and by [`openapi`],
/// so the document and the routing cannot disagree.
fn routes<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = Error, InitError = ()>,
{
    app.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(problems::list_problems)
        .service(problems::get_problem)
        .service(problems::methodology)
        .service(
            scope("/v1")
                .service(sources::create_source)
                .service(sources::list_sources)
                .service(sources::get_source)
                .service(products::create_product)
                .service(products::put_product)
                .service(products::list_products)
                .service(products::get_product)
                .service(pictures::get_product_map)
                .service(import::import_facts)
                .service(facts::create_facts)
                .service(facts::list_facts)
                .service(facts::get_fact)
                .service(facts::retract_fact)
                .service(scores::list_scores)
                .service(scores::get_eu_crm)
                .service(scores::get_history)
                .service(pictures::get_chain_picture)
                .service(pictures::get_history_picture)
                .service(scores::get_score)
                .service(scenarios::evaluate_scenario)
                .service(scenarios::create_scenario)
                .service(scenarios::list_scenarios)
                .service(scenarios::get_scenario)
                .service(scenarios::delete_scenario)
                .service(scenarios::evaluate_saved_scenario)
                .service(exposure::assess_exposure)
                .service(backtests::run_backtest)
                .service(watchlists::create_watchlist)
                .service(watchlists::list_watchlists)
                .service(watchlists::get_watchlist)
                .service(watchlists::put_watchlist)
                .service(watchlists::delete_watchlist)
                .service(rules::create_rule)
                .service(rules::list_rules)
                .service(rules::get_rule)
                .service(rules::delete_rule)
                .service(events::list_events)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::ping_webhook)
                .service(webhooks::rotate_webhook_secret)
                .service(webhooks::enable_webhook)
                .service(webhooks::list_deliveries)
                .service(webhooks::redeliver)
                .service(keys::create_key)
                .service(keys::list_keys)
                .service(keys::revoke_key)
                .service(keys::list_audit),
        )
}

/// The OpenAPI document of the whole API.
pub fn openapi() -> OpenApiDocument {
    let (_, document) =
        routes(App::new().into_utoipa_app().openapi(ApiDoc::openapi())).split_for_parts();
    with_examples(document)
}

/// The operations' recorded response examples, added once every route is.
fn with_examples(mut document: OpenApiDocument) -> OpenApiDocument {
    utoipa::Modify::modify(&examples::ResponseExamples, &mut document);
    document
}

/// Builds the application's routes and middleware and returns them with
/// the document. Requests pass, outermost first: request id and access log,
/// gzip (when the client accepts it), panic guard, problem bodies for bare
/// errors, security headers, authentication and rate limit, CORS, URL
/// rules, `HEAD` as `GET`; then routing.
pub fn app_with_routes(
    cors_origins: &[String],
) -> (
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Error = Error,
            InitError = (),
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        >,
    >,
    OpenApiDocument,
) {
    let app = App::new()
        .wrap(actix_web::middleware::from_fn(conventions::head_as_get))
        .wrap(actix_web::middleware::from_fn(conventions::check_url))
        .wrap(cors(cors_origins))
        .wrap(actix_web::middleware::from_fn(limits::rate_limit))
        .wrap(actix_web::middleware::from_fn(limits::security_headers))
        .wrap(actix_web::middleware::from_fn(conventions::problem_errors))
        .wrap(actix_web::middleware::from_fn(conventions::catch_panic))
        .wrap(actix_web::middleware::Compress::default())
        .wrap(actix_web::middleware::from_fn(middleware::observe))
        .into_utoipa_app()
        .openapi(ApiDoc::openapi());
    let (app, document) = routes(app).split_for_parts();
    (app, with_examples(document))
}

/// CORS: off unless origins are configured; then those origins may call
/// the API with the methods and headers it uses.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::IF_NONE_MATCH,
        ])
        .allowed_header("idempotency-key")
        .expose_headers([
            "etag",
            "x-request-id",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// The spec as pretty JSON with a trailing newline: the committed form.
pub fn openapi_json() -> String {
    let mut json = openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

pub(crate) fn default_service() -> actix_web::Route {
    web::to(fallback::not_found_or_not_allowed)
}
