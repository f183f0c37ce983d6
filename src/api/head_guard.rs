//! Request heads checked before actix-http parses them. actix-http answers
//! a head it cannot parse (a control character in a header, a URI over
//! 64 KiB, too many headers) itself, with an empty 400 or 431, before any
//! of the service's code runs. This stream sits between the socket and
//! actix-http: it lets well-formed traffic through untouched and replaces
//! a malformed head with a request for [`MALFORMED_PATH`], so the service
//! answers it in order, as a problem document like every other error, and
//! then closes the connection (the rest of the stream cannot be framed).
//!
//! It follows each request's body (`Content-Length` or chunked) only to
//! find where the next head starts; if a body cannot be framed it stops
//! inspecting and leaves the connection to actix-http.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where a malformed head is sent instead, with its [`Malformed`] kind.
pub const MALFORMED_PATH: &str = "/_malformed/";
/// The largest head actix-http buffers (its `MAX_BUFFER_SIZE`).
const MAX_HEAD_BYTES: usize = 131_072;
/// The most headers actix-http parses (its `MAX_HEADERS`).
const MAX_HEADERS: usize = 96;
/// The longest URI the `http` crate represents.
const MAX_URI_BYTES: usize = u16::MAX as usize - 1;

/// What is wrong with a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Bad syntax: a control character in a header, a bad request line, an
    /// unreadable `Content-Length`, `Content-Length` with chunked encoding.
    Syntax,
    UriTooLong,
    HeadersTooLarge,
}

impl Malformed {
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::Syntax => "syntax",
            Malformed::UriTooLong => "uri_too_long",
            Malformed::HeadersTooLarge => "headers_too_large",
        }
    }

    pub fn parse(text: &str) -> Option<Malformed> {
        [
            Malformed::Syntax,
            Malformed::UriTooLong,
            Malformed::HeadersTooLarge,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }

    fn stand_in(self) -> Vec<u8> {
        format!(
            "GET {MALFORMED_PATH}{} HTTP/1.1\r\nhost: malformed\r\nconnection: close\r\n\r\n",
            self.as_str()
        )
        .into_bytes()
    }
}

/// Where the stream is, between heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Head,
    Body(u64),
    Chunked(Chunk),
    /// Not inspected any more: an upgrade, or a body this cannot frame.
    Passthrough,
    /// A stand-in was sent: nothing more is read.
    Closed,
}

/// Position inside a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the size line; `digits` so far, whether inside an extension.
    Size {
        size: u64,
        digits: u8,
        extension: bool,
    },
    SizeEnd {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// Trailer lines after the last chunk; `empty` when at a line start.
    Trailer {
        empty: bool,
    },
    TrailerEnd {
        empty: bool,
    },
}

pub struct GuardedStream<S> {
    inner: S,
    framing: Framing,
    /// A head not yet complete.
    head: Vec<u8>,
    /// Bytes checked and ready for actix-http, from `ready_from`.
    ready: Vec<u8>,
    ready_from: usize,
}

impl<S> GuardedStream<S> {
    pub fn new(inner: S) -> GuardedStream<S> {
        GuardedStream {
            inner,
            framing: Framing::Head,
            head: Vec::new(),
            ready: Vec::new(),
            ready_from: 0,
        }
    }

    /// Moves `bytes` through the framing: checked bytes go to `ready`.
    fn accept(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.framing {
                Framing::Closed => return,
                Framing::Passthrough => {
                    self.ready.extend_from_slice(bytes);
                    return;
                }
                Framing::Body(remaining) => {
                    let taken = (remaining.min(bytes.len() as u64)) as usize;
                    self.ready.extend_from_slice(&bytes[..taken]);
                    bytes = &bytes[taken..];
                    self.framing = match remaining - taken as u64 {
                        0 => Framing::Head,
                        left => Framing::Body(left),
                    };
                }
                Framing::Chunked(chunk) => {
                    let (used, next) = follow_chunked(chunk, bytes);
                    self.ready.extend_from_slice(&bytes[..used]);
                    bytes = &bytes[used..];
                    self.framing = next;
                }
                Framing::Head => {
                    let searched_from = self.head.len().saturating_sub(3);
                    self.head.extend_from_slice(bytes);
                    bytes = &[];
                    let Some(end) = find_head_end(&self.head, searched_from) else {
                        if self.head.len() > MAX_HEAD_BYTES {
                            self.reject(Malformed::HeadersTooLarge);
                        }
                        continue;
                    };
                    if end > MAX_HEAD_BYTES {
                        self.reject(Malformed::HeadersTooLarge);
                        continue;
                    }
                    let rest = self.head.split_off(end);
                    let head = std::mem::take(&mut self.head);
                    match check_head(&head) {
                        Ok(framing) => {
                            self.ready.extend_from_slice(&head);
                            self.framing = framing;
                            self.accept(&rest);
                        }
                        Err(malformed) => self.reject(malformed),
                    }
                }
            }
        }
    }

    fn reject(&mut self, malformed: Malformed) {
        self.head.clear();
        self.ready.extend_from_slice(&malformed.stand_in());
        self.framing = Framing::Closed;
    }
}

/// The index just past the blank line ending a head, if it has arrived.
fn find_head_end(head: &[u8], from: usize) -> Option<usize> {
    head[from..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| from + at + 4)
}

/// The body framing a well-formed head announces, or what is wrong with it.
fn check_head(head: &[u8]) -> Result<Framing, Malformed> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Malformed::Syntax),
        Err(httparse::Error::TooManyHeaders) => return Err(Malformed::HeadersTooLarge),
        Err(_) => return Err(Malformed::Syntax),
    }
    let path = request.path.unwrap_or_default();
    if path.len() > MAX_URI_BYTES {
        return Err(Malformed::UriTooLong);
    }
    if actix_web::http::Uri::try_from(path).is_err() {
        return Err(Malformed::Syntax);
    }
    let named = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if request.method == Some("CONNECT") || named("upgrade").next().is_some() {
        return Ok(Framing::Passthrough);
    }
    let mut lengths = named("content-length").map(|value| {
        std::str::from_utf8(value)
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
    });
    let length = match lengths.next() {
        None => None,
        Some(first) => {
            let first = first.ok_or(Malformed::Syntax)?;
            if lengths.any(|other| other != Some(first)) {
                return Err(Malformed::Syntax);
            }
            Some(first)
        }
    };
    let chunked = named("transfer-encoding").next_back().map(|value| {
        std::str::from_utf8(value).is_ok_and(|v| {
            v.rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        })
    });
    match (chunked, length) {
        // Both framings at once is how requests are smuggled.
        (Some(_), Some(_)) => Err(Malformed::Syntax),
        (Some(true), None) => Ok(Framing::Chunked(Chunk::Size {
            size: 0,
            digits: 0,
            extension: false,
        })),
        (Some(false), None) => Ok(Framing::Passthrough),
        (None, Some(0)) | (None, None) => Ok(Framing::Head),
        (None, Some(length)) => Ok(Framing::Body(length)),
    }
}

/// Follows a chunked body through `bytes`: how many bytes belong to it,
/// and the framing after them.
fn follow_chunked(mut chunk: Chunk, bytes: &[u8]) -> (usize, Framing) {
    let mut used = 0;
    while used < bytes.len() {
        let byte = bytes[used];
        if let Chunk::Data(remaining) = chunk {
            let taken = remaining.min((bytes.len() - used) as u64);
            used += taken as usize;
            chunk = match remaining - taken {
                0 => Chunk::DataCr,
                left => Chunk::Data(left),
            };
            continue;
        }
        used += 1;
        chunk = match (chunk, byte) {
            (
                Chunk::Size {
                    extension: false,
                    size,
                    digits,
                },
                b,
            ) if b.is_ascii_hexdigit() => {
                if digits >= 15 {
                    return (used, Framing::Passthrough);
                }
                let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                Chunk::Size {
                    size: size * 16 + digit,
                    digits: digits + 1,
                    extension: false,
                }
            }
            (Chunk::Size { size, digits, .. }, b';') if digits > 0 => Chunk::Size {
                size,
                digits,
                extension: true,
            },
            (Chunk::Size { size, digits, .. }, b'\r') if digits > 0 => Chunk::SizeEnd { size },
            (
                Chunk::Size {
                    extension: true, ..
                },
                _,
            ) => chunk,
            (Chunk::SizeEnd { size: 0 }, b'\n') => Chunk::Trailer { empty: true },
            (Chunk::SizeEnd { size }, b'\n') => Chunk::Data(size),
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::Size {
                size: 0,
                digits: 0,
                extension: false,
            },
            (Chunk::Trailer { empty }, b'\r') => Chunk::TrailerEnd { empty },
            (Chunk::Trailer { .. }, _) => Chunk::Trailer { empty: false },
            (Chunk::TrailerEnd { empty: true }, b'\n') => return (used, Framing::Head),
            (Chunk::TrailerEnd { empty: false }, b'\n') => Chunk::Trailer { empty: true },
            // Not chunked encoding as this reads it: actix-http decides.
            _ => return (used, Framing::Passthrough),
        };
    }
    (used, Framing::Chunked(chunk))
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_from < this.ready.len() {
                let available = &this.ready[this.ready_from..];
                let n = available.len().min(buf.remaining());
                buf.put_slice(&available[..n]);
                this.ready_from += n;
                if this.ready_from == this.ready.len() {
                    this.ready.clear();
                    this.ready_from = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.framing == Framing::Closed {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let filled = read.filled().len();
            if filled == 0 {
                // The peer is done: a partial head is actix-http's to judge.
                let partial = std::mem::take(&mut this.head);
                this.ready.extend_from_slice(&partial);
                this.framing = Framing::Closed;
                continue;
            }
            this.accept(&chunk[..filled]);
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What actix-http would read from `stream` fed in chunks of `size`.
    fn passed(stream: &[u8], size: usize) -> Vec<u8> {
        let mut guard = GuardedStream::new(());
        for chunk in stream.chunks(size.max(1)) {
            guard.accept(chunk);
        }
        guard.ready
    }

    fn pipelined() -> Vec<u8> {
        let mut stream = b"GET /v1/products HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
        stream.extend(
            b"POST /v1/facts HTTP/1.1\r\nhost: x\r\ncontent-length: 12\r\n\r\n{\"a\":\"\r\n\r\n\"}",
        );
        stream.extend(
            b"POST /v1/facts/import HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        stream.extend(b"5;name=v\r\nab\r\nc\r\n0\r\nx-trailer: 1\r\n\r\n");
        stream.extend(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
        stream
    }

    proptest! {
        #[test]
        fn well_formed_traffic_passes_untouched_at_any_chunking(size in 1usize..300) {
            let stream = pipelined();
            prop_assert_eq!(passed(&stream, size), stream);
        }
    }

    #[test]
    fn a_malformed_head_after_good_ones_becomes_the_stand_in_and_ends_the_stream() {
        let good = pipelined();
        for (bad, kind) in [
            (b"POST /v1/facts HTTP/1.1\r\nidempotency-key: a\x01b\r\n\r\n".to_vec(), Malformed::Syntax),
            (format!("GET /v1/facts?{} HTTP/1.1\r\n\r\n", "a=1&".repeat(20_000)).into_bytes(), Malformed::UriTooLong),
            ((0..100).map(|i| format!("x-{i}: v\r\n")).fold(b"GET / HTTP/1.1\r\n".to_vec(), |mut h, l| { h.extend(l.bytes()); h }).into_iter().chain(*b"\r\n").collect(), Malformed::HeadersTooLarge),
            (b"POST /v1/facts HTTP/1.1\r\ncontent-length: 1x\r\n\r\n".to_vec(), Malformed::Syntax),
            (b"POST /v1/facts HTTP/1.1\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n".to_vec(), Malformed::Syntax),
            (b"GET / HTTP/1.1\r\nx: y\r\n".iter().copied().chain(std::iter::repeat_n(b'z', MAX_HEAD_BYTES)).collect(), Malformed::HeadersTooLarge),
        ] {
            let mut stream = good.clone();
            stream.extend(&bad);
            stream.extend(b"GET /after HTTP/1.1\r\n\r\n");
            let mut expected = good.clone();
            expected.extend(kind.stand_in());
            assert_eq!(passed(&stream, 4096), expected, "{kind:?}");
        }
    }

    #[test]
    fn upgrades_and_unframeable_bodies_are_left_to_actix() {
        let mut stream = b"GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n".to_vec();
        stream.extend(b"\x01\x02 anything \r\n\r\n GET x");
        assert_eq!(passed(&stream, 7), stream);
        let mut stream = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec();
        stream.extend(b"GET /\x01 HTTP/1.1\r\n\r\n");
        assert_eq!(passed(&stream, 5), stream);
    }
}
