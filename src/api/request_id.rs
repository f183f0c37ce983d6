//! Request ids: accepted from `X-Request-Id` or generated, echoed on the
//! response, attached to every log line of the request and to problems.

tokio::task_local! {
    static REQUEST_ID: String;
    /// The path of the request, for the `instance` of its problems.
    static REQUEST_PATH: String;
}

pub const HEADER: &str = "x-request-id";

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The path of the request being handled on this task, if any.
pub fn current_path() -> Option<String> {
    REQUEST_PATH.try_with(Clone::clone).ok()
}

/// Runs `future` with `id` as the current request id and `path` as its path.
pub async fn scope<F: std::future::Future>(id: String, path: String, future: F) -> F::Output {
    REQUEST_ID.scope(id, REQUEST_PATH.scope(path, future)).await
}

/// A client-supplied id is kept only when it is short, printable ASCII, so
/// it cannot forge log lines or bloat them.
pub fn accept_or_generate(supplied: Option<&str>) -> String {
    supplied
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
