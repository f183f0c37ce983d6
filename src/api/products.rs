//! `/v1/products`: the value-chain graph.

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Ingest, Reader};
use super::caching;
use super::docs::{AccessErrors, BodyErrors, Conflict, NotFound, QueryErrors};
use super::error::{ApiError, ErrorCode, FieldError};
use super::extract::{Json, Query};
use super::pagination::{self, Paged};
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::{NewProduct, Product, ProductRecord, Stage};
use crate::ingest::products::save_product;
use crate::live::Announcer;
use crate::store::{self, idempotency, StoreError};

/// The body of `POST /v1/products`: a [`NewProduct`] whose `id` is
/// required, since no path names it.
struct NewProductWithId;

impl utoipa::PartialSchema for NewProductWithId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
        use utoipa::openapi::RefOr;
        let mut schema = <NewProduct as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.required.insert(0, "id".to_owned());
            object.description = Some("A product to create: its id is required.".to_owned());
            object.example = None;
            object.examples = vec![serde_json::json!({
                "id": "bonded-ndfeb-magnet",
                "name": "Bonded NdFeB magnet",
                "stage": "materials",
                "description": "Melt-spun NdFeB powder bound in a polymer, for small motors and sensors.",
                "inputs": [{"product": "ndpr-metal", "share": 1.0, "essential": true}]
            })];
            object.properties.insert(
                "id".to_owned(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "2 to 64 lower-case letters, digits and inner hyphens.",
                    ))
                    .pattern(Some("^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$"))
                    .examples([serde_json::json!("sintered-ndfeb-magnet")])
                    .into(),
            );
        }
        schema
    }
}

impl utoipa::ToSchema for NewProductWithId {}

/// Creates a product. Inputs must exist and sit at the same or an earlier
/// stage; the graph must stay acyclic (a cycle is a 422 naming it).
#[utoipa::path(tag = "products", request_body = NewProductWithId, params(IdempotencyKeyHeader),
    security(("bearer" = ["ingest"])),
    responses((status = 201, description = "Created", body = ProductRecord, headers(("Location" = String, description = "The created resource, e.g. `/v1/products/ndpr-oxide`"))), Conflict, AccessErrors, BodyErrors))]
#[post("/products")]
pub async fn create_product(
    req: HttpRequest,
    pool: web::Data<Pool>,
    announcer: web::Data<Announcer>,
    caller: Ingest,
    body: Json<NewProduct>,
) -> Result<HttpResponse, ApiError> {
    let actor = write::actor(&caller.0, &req);
    let (new, digest) = body.parse()?;
    let key = write::idempotency(&req, digest)?;
    let product = validate(new, None)?;
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            if store::products::get(tx, product.id.as_str())
                .await?
                .is_some()
            {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "product `{}` already exists; PUT /v1/products/{} replaces it",
                        product.id, product.id
                    ),
                ));
            }
            save_product(tx, &product, &actor).await?;
            let record = store::products::get(tx, product.id.as_str())
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("product vanished")))?;
            write::created(format!("/v1/products/{}", record.id), &record)
        })
    })
    .await?;
    write::announce(&announcer, &outcome);
    write::respond(outcome)
}

/// Creates or replaces a product (its name, stage, description and the whole
/// list of inputs). Every version is kept as a revision. With `If-Match`
/// (the ETag of `GET /v1/products/{id}`) the write happens only if nobody
/// changed the product since: otherwise 412.
#[utoipa::path(tag = "products", request_body = NewProduct,
    params(("id" = String, Path, description = "Product id", example = "sintered-ndfeb-magnet"),
        ("If-Match" = Option<String>, Header, description = "Write only if the product still has this ETag")),
    responses(
        (status = 200, description = "Replaced", body = ProductRecord),
        (status = 412, description = "If-Match names an ETag the product no longer has", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 201, description = "Created", body = ProductRecord, headers(("Location" = String, description = "The created resource, e.g. `/v1/products/ndpr-oxide`"))),
        AccessErrors, BodyErrors),
    security(("bearer" = ["ingest"])))]
#[put("/products/{id}")]
pub async fn put_product(
    req: HttpRequest,
    pool: web::Data<Pool>,
    announcer: web::Data<Announcer>,
    caller: Ingest,
    id: web::Path<String>,
    body: Json<NewProduct>,
) -> Result<HttpResponse, ApiError> {
    let actor = write::actor(&caller.0, &req);
    let (new, digest) = body.parse()?;
    let key = write::idempotency(&req, digest)?;
    let product = validate(new, Some(&id))?;
    let if_match = caching::if_match(&req);
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            // Under the graph lock, so nobody writes between check and write.
            store::products::lock_graph(tx).await?;
            let current = store::products::get(tx, product.id.as_str()).await?;
            let current_tag = current
                .map(|record| serde_json::to_vec(&record).map(|body| caching::content_etag(&body)))
                .transpose()
                .map_err(ApiError::internal)?;
            if caching::if_match_fails(if_match.as_deref(), current_tag.as_deref()) {
                return Err(ApiError::new(
                    ErrorCode::PreconditionFailed,
                    "the product's ETag is no longer the one in If-Match: GET it again",
                ));
            }
            let created = save_product(tx, &product, &actor).await?;
            let record = store::products::get(tx, product.id.as_str())
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("product vanished")))?;
            if created {
                write::created(format!("/v1/products/{}", record.id), &record)
            } else {
                write::reply(StatusCode::OK, &record)
            }
        })
    })
    .await?;
    write::announce(&announcer, &outcome);
    write::respond(outcome)
}

fn validate(new: NewProduct, path_id: Option<&str>) -> Result<Product, ApiError> {
    new.validate(path_id).map_err(|errors| {
        ApiError::validation(
            errors
                .into_iter()
                .map(|(pointer, message)| FieldError::new(pointer, message))
                .collect(),
        )
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductListQuery {
    /// Only products at this stage.
    #[param(value_type = Option<Stage>)]
    stage: Option<Stage>,
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    cursor: Option<String>,
}

/// Lists products by id, optionally at one stage.
#[utoipa::path(tag = "products", params(ProductListQuery), security((), ("bearer" = ["read"])),
    responses((status = 200, description = "One page", body = Paged<ProductRecord>, headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"))), AccessErrors, QueryErrors))]
#[get("/products")]
pub async fn list_products(
    req: HttpRequest,
    pool: web::Data<Pool>,
    _reader: Reader,
    query: Query<ProductListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    let limit = pagination::limit(query.limit)?;
    let listing = pagination::Listing::new("products", &req);
    let after: Option<String> = listing.after(query.cursor.as_deref())?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let page = store::products::list(&client, query.stage, after.as_deref(), limit).await?;
    Ok(listing.respond(&listing.page(page, |p| p.id.as_str().to_owned())))
}

/// One product with its inputs and the products that use it.
#[utoipa::path(tag = "products",
    params(("id" = String, Path, description = "Product id", example = "sintered-ndfeb-magnet")),
    security((), ("bearer" = ["read"])),
    responses(
        (status = 200, description = "The product", body = ProductRecord, headers(("ETag" = String, description = "Changes whenever the product does; send it in If-Match to PUT safely"))),
        (status = 304, description = "Not modified since the `If-None-Match` ETag"),
        NotFound, AccessErrors))]
#[get("/products/{id}")]
pub async fn get_product(
    req: HttpRequest,
    pool: web::Data<Pool>,
    _reader: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let product = store::products::get(&client, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("product `{id}`")))?;
    caching::tagged_json(&req, &product)
}
