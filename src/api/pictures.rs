//! The pictures: a product's value chain, its scores over time and its
//! world supply, as SVG (the default) or PNG (`Accept: image/png`). Each
//! handler gathers the same scores the JSON reads serve, with the same
//! parameters, and hands them to `crate::pictures`, which draws them;
//! PNG is the SVG rendered. Every answer carries an `ETag` over the data
//! version, the parameters and the media type, so a held picture is a 304
//! before anything is drawn.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Reader;
use super::caching::{cached, etag, not_modified};
use super::csv_export::{self, Picture};
use super::docs::{AccessErrors, NotFound, PictureResponses, QueryErrors};
use super::error::ApiError;
use super::extract::Query;
use super::params::{product_id, unknown_product, AsOfQuery, ScoreParams, ScoreRequest, US};
use super::scores::{computed, snapshot_for, HistoryQuery, HistoryRange};
use crate::domain::{ProductId, View};
use crate::live::LiveScores;
use crate::pictures::{self, ChainNode, HistoryInput};
use crate::scoring::{self, Params, ProductScore, Snapshot, DEFAULT_DRAWS};

/// An SVG answer may not load or run anything, wherever it is opened.
const SVG_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// The answer for `picture`: 304 for a held `tag`, else the picture.
fn respond(
    req: &HttpRequest,
    tag: String,
    immutable: bool,
    picture: Picture,
    body: Option<Bytes>,
) -> Result<HttpResponse, ApiError> {
    let mut response = cached(req, tag, immutable, move || {
        let mut response = HttpResponse::Ok();
        response.content_type(picture.media_type());
        if picture == Picture::Svg {
            response.insert_header((header::CONTENT_SECURITY_POLICY, SVG_POLICY));
        }
        Ok(response.body(body.expect("drawn unless answered 304")))
    })?;
    csv_export::vary(&mut response);
    Ok(response)
}

/// The SVG drawn by `draw` (cached under `key`), or the PNG rendered from
/// it (cached beside it).
async fn drawn(
    live: &web::Data<LiveScores>,
    key: String,
    picture: Picture,
    draw: impl FnOnce() -> Option<String> + Send + 'static,
) -> Result<Option<Bytes>, ApiError> {
    let Some(svg) = computed(live, format!("{key}|svg"), move || draw().map(Bytes::from)).await?
    else {
        return Ok(None);
    };
    match picture {
        Picture::Svg => Ok(Some((*svg).clone())),
        Picture::Png => {
            let png = computed(live, format!("{key}|png"), move || {
                let text = std::str::from_utf8(&svg).expect("SVG is UTF-8");
                Some(
                    pictures::png::render(text)
                        .map(Bytes::from)
                        .map_err(|e| e.to_string()),
                )
            })
            .await?
            .expect("always rendered");
            match &*png {
                Ok(bytes) => Ok(Some(bytes.clone())),
                Err(error) => Err(ApiError::internal(anyhow::anyhow!(
                    "the picture did not render to PNG: {error}"
                ))),
            }
        }
    }
}

/// The product's name in `snapshot`, or its id.
fn name_in<'a>(snapshot: &'a Snapshot, id: &'a ProductId) -> &'a str {
    snapshot
        .product(id)
        .map_or(id.as_str(), |p| p.name.as_str())
}

fn draw_chain(
    product: &ProductId,
    scores: &[&ProductScore],
    snapshot: &Snapshot,
    data_version: &str,
) -> Option<String> {
    let nodes: Vec<ChainNode<'_>> = scores
        .iter()
        .map(|score| ChainNode {
            score,
            name: name_in(snapshot, &score.product),
        })
        .collect();
    pictures::chain(product, &nodes, data_version)
}

/// A product's value chain, as a picture.
///
/// From the raw material to the product, left to right: one box per product,
/// coloured by China's share of its own stage (reversed viridis: darker is
/// more) with its main origins and its two scores; the chokepoint (the stage
/// that bounds the dependency) outlined and marked ▲; the binding stage of
/// difficulty marked ◆ with a dashed inner outline; edges labelled with the
/// input's share of the product's input needs (dashed: a substitutable input);
/// the path to the chokepoint in vermillion; a legend; the methodology and data
/// versions in the footer.
///
/// The same parameters as `GET /v1/scores/{product}`: every box is that read's
/// answer for its product. SVG by default, PNG with `Accept: image/png`. A
/// sample: `openapi/examples/get_chain_picture.svg`, which is this operation's
/// example.
#[utoipa::path(tag = "scores",
    params(("product" = String, Path, example = "sintered-ndfeb-magnet"), ScoreParams, AsOfQuery),
    responses(PictureResponses, NotFound, AccessErrors, QueryErrors),
    security((), ("bearer" = ["read"])))]
#[get("/scores/{product}/chain.svg")]
pub async fn get_chain_picture(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    product: web::Path<String>,
    score: Query<ScoreParams>,
    as_of: Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let picture = csv_export::negotiate_picture(&req)?;
    let state = live.state();
    let product = product_id(&product)?;
    let request = ScoreRequest::parse(&score.0, as_of.0.as_of, &state, US)?;
    let immutable = request.is_immutable(&state);
    let tag = etag(
        &state,
        "chain-picture",
        product.as_str(),
        &request.canonical,
        picture.media_type(),
    );
    if not_modified(&req, &tag) {
        return respond(&req, tag, immutable, picture, None);
    }
    let key = format!(
        "{}|chain-picture|{}|{}",
        state.version, product, request.canonical
    );
    let version = state.version.clone();
    let id = product.clone();
    let body = match state
        .current(request.params.buyer)
        .filter(|_| request.current)
    {
        Some(current) => {
            let (state, buyer) = (state.clone(), current.buyer());
            drawn(&live, key, picture, move || {
                // The product and everything upstream, each as its current
                // score explains it.
                let mut seen = BTreeSet::new();
                let mut scores = Vec::new();
                let mut stack = vec![id.clone()];
                while let Some(next) = stack.pop() {
                    if seen.insert(next.clone()) {
                        if let Some(score) = state.explained(buyer, &next) {
                            stack.extend(score.dependency.inputs.iter().map(|i| i.product.clone()));
                            scores.push(score);
                        }
                    }
                }
                let scores: Vec<&ProductScore> = scores.iter().collect();
                draw_chain(&id, &scores, &state.snapshot, &version)
            })
            .await?
        }
        None => {
            let params = request.params;
            let snapshot = snapshot_for(&live, &state, params).await?;
            drawn(&live, key, picture, move || {
                let scores = scoring::score_chain(&snapshot, &id, &params)?;
                let scores: Vec<&ProductScore> = scores.iter().collect();
                draw_chain(&id, &scores, &snapshot, &version)
            })
            .await?
        }
    };
    let body = body.ok_or_else(|| unknown_product(&product))?;
    respond(&req, tag, immutable, picture, Some(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BandQuery {
    /// Monte Carlo draws per point for the p5–p95 bands (100..10000,
    /// default 1000); at most 100,000 over all points.
    #[param(minimum = 100, maximum = 10000)]
    draws: Option<u32>,
    /// Monte Carlo seed (default 42): the same seed gives the same bands.
    #[param(minimum = 0)]
    seed: Option<i64>,
}

/// Most points one history picture draws: a chart has room for no more.
const MAX_PICTURE_POINTS: usize = 120;
/// Most Monte Carlo draws one history picture makes over all its points.
const MAX_PICTURE_DRAWS: u64 = 100_000;

/// A product's scores over time, as a picture.
///
/// Dependency and displacement difficulty for a buyer in the chosen view: one
/// point per step (as `GET /v1/scores/{product}/history`), each with its Monte
/// Carlo p5–p95 band (as `uncertainty=true` gives it at that instant), and
/// every export control on the product or upstream marked where it takes effect
/// on the time axis, numbered and listed with the dates it was announced and
/// applies.
///
/// At most 120 points and 100,000 draws in all. SVG by default, PNG with
/// `Accept: image/png`. A sample: `openapi/examples/get_history_picture.svg`.
#[utoipa::path(tag = "scores",
    params(("product" = String, Path, example = "primary-gallium"), ScoreParams, HistoryQuery, BandQuery),
    responses(PictureResponses, NotFound, AccessErrors, QueryErrors),
    security((), ("bearer" = ["read"])))]
#[get("/scores/{product}/history.svg")]
pub async fn get_history_picture(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    product: web::Path<String>,
    score: Query<ScoreParams>,
    history: Query<HistoryQuery>,
    band: Query<BandQuery>,
) -> Result<HttpResponse, ApiError> {
    let picture = csv_export::negotiate_picture(&req)?;
    let state = live.state();
    let product = product_id(&product)?;
    let request = ScoreRequest::parse(&score.0, None, &state, US)?;
    let range = HistoryRange::parse(&history.0, &state, MAX_PICTURE_POINTS)?;
    let draws = band.0.draws.unwrap_or(DEFAULT_DRAWS);
    if !(100..=10_000).contains(&draws) {
        return Err(ApiError::invalid_parameter(
            "draws",
            "query",
            "must be between 100 and 10000",
        ));
    }
    let total = draws as u64 * range.instants.len() as u64;
    if total > MAX_PICTURE_DRAWS {
        return Err(ApiError::invalid_parameter(
            "draws",
            "query",
            format!(
                "{} points × {draws} draws is {total} Monte Carlo draws; at most \
                 {MAX_PICTURE_DRAWS}: use fewer draws, a coarser step or a shorter range",
                range.instants.len()
            ),
        ));
    }
    let seed = u64::try_from(band.0.seed.unwrap_or(42)).map_err(|_| {
        ApiError::invalid_parameter("seed", "query", "must be between 0 and 2^63 - 1")
    })?;
    let extra = format!("{}|{draws}|{seed}|{}", range.key(), picture.media_type());
    let tag = etag(
        &state,
        "history-picture",
        product.as_str(),
        &request.canonical,
        &extra,
    );
    if not_modified(&req, &tag) {
        return respond(&req, tag, false, picture, None);
    }
    let params = request.params;
    let snapshots = range.snapshots(&live, &state, params).await?;
    let key = format!(
        "{}|history-picture|{}|{}|{}|{draws}|{seed}",
        state.version,
        product,
        request.canonical,
        range.key()
    );
    let version = state.version.clone();
    let latest = state.snapshot.clone();
    let id = product.clone();
    let (step, instants) = (range.step, range.instants);
    let body = drawn(&live, key, picture, move || {
        let snapshot_at = |at| {
            let point = instants.iter().position(|t| *t == at)?;
            Some(snapshots[point].clone())
        };
        let history = scoring::summary::history(&id, &params, step, &instants, snapshot_at)?;
        let mut bands = Vec::with_capacity(history.points.len());
        let mut controls = Vec::new();
        for point in &history.points {
            let snapshot = snapshot_at(point.as_of)?;
            let at = Params {
                as_of: point.as_of,
                ..params
            };
            bands.push(scoring::uncertainty(&snapshot, &id, &at, draws, seed));
            if let Some(score) = scoring::score_product(&snapshot, &id, &at) {
                controls.extend(score.pressure);
            }
        }
        pictures::history(&HistoryInput {
            name: name_in(&latest, &id),
            history: &history,
            chain: params.chain,
            bands: &bands,
            controls: &controls,
            data_version: &version,
        })
    })
    .await?
    .ok_or_else(|| unknown_product(&product))?;
    respond(&req, tag, false, picture, Some(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MapQuery {
    /// Which facts count as known at `as_of`: `public` (default),
    /// `recorded` or `current`, as for scores.
    #[param(value_type = Option<View>)]
    view: Option<View>,
}

/// A product's world supply by country, as a map.
///
/// Each country shaded by its share of the rows China's share of the stage is
/// read from (production, else operating capacity, else published market
/// shares; the same for every buyer), China outlined in vermillion and labelled
/// with its share (Chinese plus Chinese-controlled output), countries whose
/// output is partly under Chinese control outlined dashed, and the largest
/// suppliers listed beside the map. The outlines are Natural Earth's 1:110m
/// countries (public domain) in the Equal Earth projection.
///
/// SVG by default, PNG with `Accept: image/png`. A sample:
/// `openapi/examples/get_product_map.svg`.
#[utoipa::path(tag = "products",
    params(("id" = String, Path, description = "Product id", example = "primary-gallium"), MapQuery, AsOfQuery),
    responses(PictureResponses, NotFound, AccessErrors, QueryErrors),
    security((), ("bearer" = ["read"])))]
#[get("/products/{id}/map.svg")]
pub async fn get_product_map(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    id: web::Path<String>,
    map: Query<MapQuery>,
    as_of: Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let picture = csv_export::negotiate_picture(&req)?;
    let state = live.state();
    let product = product_id(&id)?;
    let request =
        ScoreRequest::parse(&ScoreParams::viewing(map.0.view), as_of.0.as_of, &state, US)?;
    let immutable = request.is_immutable(&state);
    let tag = etag(
        &state,
        "map-picture",
        product.as_str(),
        &request.canonical,
        picture.media_type(),
    );
    if not_modified(&req, &tag) {
        return respond(&req, tag, immutable, picture, None);
    }
    let key = format!(
        "{}|map-picture|{}|{}",
        state.version, product, request.canonical
    );
    let version = state.version.clone();
    let id = product.clone();
    let current = state.current(request.params.buyer).is_some() && request.current;
    let params = request.params;
    let snapshot = if current {
        state.snapshot.clone()
    } else {
        snapshot_for(&live, &state, params).await?
    };
    let state = state.clone();
    let body = drawn(&live, key, picture, move || {
        let score = if current {
            state.explained(params.buyer, &id)?
        } else {
            scoring::score_product(&snapshot, &id, &params)?
        };
        Some(pictures::map(name_in(&snapshot, &id), &score, &version))
    })
    .await?
    .ok_or_else(|| unknown_product(&product))?;
    respond(&req, tag, immutable, picture, Some(body))
}
