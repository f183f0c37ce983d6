//! The route table as the OpenAPI document declares it (the same
//! declaration that built the routes): it answers requests no route took
//! (`OPTIONS` with `Allow`, 405 when the path exists under another method,
//! else 404), and tells which query parameters each operation takes.

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{KnownFormat, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

use super::error::{ApiError, ErrorCode};
use super::head_guard::{self, Malformed};

/// The problem for a request head `head_guard` refused.
fn malformed(kind: Malformed) -> ApiError {
    match kind {
        Malformed::Syntax => ApiError::new(
            ErrorCode::BadRequest,
            "the request head is malformed: a header holds a control character, the request \
             line or Content-Length cannot be read, or Content-Length comes with chunked \
             encoding; the connection is closed",
        ),
        Malformed::UriTooLong => ApiError::new(
            ErrorCode::UriTooLong,
            "the request URI is longer than 65,534 bytes: send large inputs in a body",
        ),
        Malformed::HeadersTooLarge => ApiError::new(
            ErrorCode::HeadersTooLarge,
            "the request has more than 96 headers or a head over 128 KiB",
        ),
    }
}

/// What a path segment of a route accepts.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    /// A path parameter, with the shape its schema declares.
    Integer,
    Uuid,
    Text,
}

impl Segment {
    fn accepts(&self, segment: &str) -> bool {
        match self {
            Segment::Literal(literal) => literal == segment,
            Segment::Integer => !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()),
            Segment::Uuid => uuid::Uuid::parse_str(segment).is_ok(),
            Segment::Text => !segment.is_empty(),
        }
    }
}

#[derive(Debug, Clone)]
struct Route {
    /// As documented: `/v1/facts/{id}`.
    pattern: String,
    segments: Vec<Segment>,
    /// Each method with the query parameters its operation declares.
    methods: Vec<(Method, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
}

fn operations(item: &PathItem) -> Vec<(Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::POST, &item.post),
        (Method::PUT, &item.put),
        (Method::PATCH, &item.patch),
        (Method::DELETE, &item.delete),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|op| (method, op)))
    .collect()
}

fn parameters(
    operation: &Operation,
    location: ParameterIn,
) -> impl Iterator<Item = &utoipa::openapi::path::Parameter> {
    operation.parameters.iter().flatten().filter(move |p| {
        std::mem::discriminant(&p.parameter_in) == std::mem::discriminant(&location)
    })
}

fn segment_kind(schema: Option<&RefOr<Schema>>) -> Segment {
    let Some(RefOr::T(Schema::Object(object))) = schema else {
        return Segment::Text;
    };
    match (&object.schema_type, &object.format) {
        (SchemaType::Type(Type::Integer), _) => Segment::Integer,
        (_, Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))) => Segment::Uuid,
        _ => Segment::Text,
    }
}

impl RouteTable {
    pub fn from_openapi(document: &OpenApi) -> RouteTable {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let operations = operations(item);
                let segments = path
                    .trim_matches('/')
                    .split('/')
                    .map(|segment| {
                        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            None => Segment::Literal(segment.to_owned()),
                            Some(name) => segment_kind(
                                operations
                                    .iter()
                                    .flat_map(|(_, op)| parameters(op, ParameterIn::Path))
                                    .find(|p| p.name == name)
                                    .and_then(|p| p.schema.as_ref()),
                            ),
                        }
                    })
                    .collect();
                let mut methods: Vec<(Method, Vec<String>)> = operations
                    .iter()
                    .map(|(method, op)| {
                        let query = parameters(op, ParameterIn::Query)
                            .map(|p| p.name.clone())
                            .collect();
                        (method.clone(), query)
                    })
                    .collect();
                if let Some((_, query)) = methods.iter().find(|(m, _)| *m == Method::GET).cloned() {
                    methods.push((Method::HEAD, query));
                }
                Route {
                    pattern: path.clone(),
                    segments,
                    methods,
                }
            })
            .collect();
        RouteTable { routes }
    }

    /// The route a path names: among those whose shape fits, the one with
    /// the most literal segments (`/v1/facts/import` before `/v1/facts/{id}`).
    fn route(&self, path: &str) -> Option<&Route> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|route| {
                route.segments.len() == segments.len()
                    && route
                        .segments
                        .iter()
                        .zip(&segments)
                        .all(|(s, p)| s.accepts(p))
            })
            .max_by_key(|route| {
                route
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
    }

    fn allow(route: &Route) -> String {
        let mut methods: Vec<&str> = route.methods.iter().map(|(m, _)| m.as_str()).collect();
        methods.push("OPTIONS");
        methods.join(", ")
    }

    /// The documented pattern of the route a path names, whatever the
    /// method; `None` when no route has such a path.
    pub fn pattern(&self, path: &str) -> Option<&str> {
        self.route(path).map(|route| route.pattern.as_str())
    }

    /// The query parameters the operation at `method path` declares, or
    /// `None` when no declared operation matches (the route answers itself).
    pub fn query_parameters(&self, method: &Method, path: &str) -> Option<&[String]> {
        let route = self.route(path)?;
        route
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, query)| query.as_slice())
    }
}

/// A matched route's pattern as the API documents it: `/v1/facts/{id}`,
/// without the segment's regex (`{id:[0-9]+}`) that routing uses.
pub fn documented_pattern(pattern: &str) -> String {
    let mut documented = String::with_capacity(pattern.len());
    let mut in_regex = 0usize;
    let mut depth = 0usize;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if in_regex == 0 {
                    documented.push(c);
                }
            }
            '}' => {
                depth -= 1;
                if depth < in_regex {
                    in_regex = 0;
                }
                if in_regex == 0 {
                    documented.push(c);
                }
            }
            ':' if depth == 1 && in_regex == 0 => in_regex = 1,
            _ if in_regex > 0 => {}
            _ => documented.push(c),
        }
    }
    documented
}

pub async fn not_found_or_not_allowed(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    if let Some(kind) = req.path().strip_prefix(head_guard::MALFORMED_PATH) {
        return Err(malformed(
            Malformed::parse(kind).unwrap_or(Malformed::Syntax),
        ));
    }
    let Some(route) = table.route(req.path()) else {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            format!("no route matches {}", req.path()),
        ));
    };
    let allow = RouteTable::allow(route);
    if req.method() == Method::OPTIONS {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ALLOW, allow))
            .finish());
    }
    Err(ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} does not accept {}; it accepts {allow}",
            req.path(),
            req.method()
        ),
    )
    .with_header(header::ALLOW, allow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_literal_route_wins_and_parameters_keep_their_shape() {
        let table = RouteTable::from_openapi(&crate::api::openapi());
        let allow = |path: &str| table.route(path).map(RouteTable::allow);
        assert_eq!(allow("/v1/facts/import").as_deref(), Some("POST, OPTIONS"));
        assert_eq!(
            allow("/v1/facts/12").as_deref(),
            Some("GET, DELETE, HEAD, OPTIONS")
        );
        assert_eq!(allow("/v1/facts/twelve"), None);
        assert_eq!(
            allow("/v1/scenarios/evaluate").as_deref(),
            Some("POST, OPTIONS")
        );
        assert_eq!(
            table.query_parameters(&Method::DELETE, "/v1/facts/12"),
            Some(&["reason".to_owned(), "published_on".to_owned()][..])
        );
        assert_eq!(
            table.query_parameters(&Method::POST, "/v1/sources"),
            Some(&[][..])
        );
    }

    #[test]
    fn documented_patterns_drop_the_routing_regex() {
        assert_eq!(
            documented_pattern("/v1/facts/{id:[0-9]+}"),
            "/v1/facts/{id}"
        );
        assert_eq!(
            documented_pattern("/v1/x/{id:\\d{3}}/y/{z}"),
            "/v1/x/{id}/y/{z}"
        );
        assert_eq!(documented_pattern("/v1/sources"), "/v1/sources");
    }
}
