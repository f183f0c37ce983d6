//! A webhook receiver started by a test: a real HTTP/1.1 server on
//! loopback that records each request it accepts, and can be told to be
//! down (it closes every connection unanswered), to fail with a status,
//! or to take its time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    Accept,
    /// Closes the connection without reading or answering.
    Down,
    /// Waits this long, then accepts.
    Slow(Duration),
}

/// A request the receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn event_id(&self) -> String {
        self.headers["chokepoint-event-id"].clone()
    }
}

#[derive(Debug)]
struct State {
    behaviour: Behaviour,
    accepted: Vec<Received>,
    /// Requests whose head arrived, whatever the answer.
    arrived: usize,
    refused: usize,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            behaviour,
            accepted: Vec::new(),
            arrived: 0,
            refused: 0,
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(answer(stream, shared.clone()));
            }
        });
        Receiver { url, state, task }
    }

    pub fn set(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// Connections closed unanswered while down.
    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    /// Requests whose head arrived (answered or not yet).
    pub fn arrived(&self) -> usize {
        self.state.lock().unwrap().arrived
    }

    /// Waits until `count` requests were accepted; them.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} deliveries arrived",
                accepted.len()
            );
            // Polling what another task records: no version to wait on.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn answer(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    {
        let mut state = state.lock().unwrap();
        if let Behaviour::Down = state.behaviour {
            state.refused += 1;
            return;
        }
    }
    let Some(received) = read_request(&mut stream).await else {
        return;
    };
    let behaviour = {
        let mut state = state.lock().unwrap();
        state.arrived += 1;
        state.behaviour
    };
    let status = match behaviour {
        Behaviour::Accept | Behaviour::Down => 200,
        Behaviour::Slow(wait) => {
            tokio::time::sleep(wait).await;
            200
        }
    };
    if status == 200 {
        state.lock().unwrap().accepted.push(received);
    }
    let response = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head) = request.parse(&buffer).ok()? {
            let headers: HashMap<String, String> = request
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let length: usize = headers.get("content-length")?.parse().ok()?;
            while buffer.len() < head + length {
                let read = stream.read(&mut chunk).await.ok()?;
                if read == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            return Some(Received {
                headers,
                body: buffer[head..head + length].to_vec(),
            });
        }
    }
}
