//! The real binary as a child process: `chokepoint serve` started on a
//! free port, its log collected, stopped when the test is done.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The service's log lines, collected as it writes them.
pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// The service process. A test that fails midway still stops it (with
/// SIGTERM, so it stops its database too) when this drops.
pub struct Service(pub Child);

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: sends SIGTERM to our own child.
            unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
            let _ = self.0.wait();
        }
    }
}

/// `chokepoint serve` on a free port, logging JSON.
pub fn serve_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chokepoint"));
    command.args([
        "serve",
        "--port",
        "0",
        "--log-format",
        "json",
        "--workers",
        "1",
    ]);
    command
}

/// Starts `command` and waits for the address it serves on.
pub fn spawn_service(mut command: Command) -> (Service, String, Log) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let address = loop {
        let Some(line) = lines.next() else {
            panic!("the service did not start:\n{}", log.join("\n"));
        };
        let line = line.unwrap();
        if let Some(start) = line.find("http://127.0.0.1:") {
            let rest = &line[start + "http://".len()..];
            break format!("http://{}", &rest[..rest.find('/').unwrap()]);
        }
        log.push(line);
    };
    // Keep draining the log so the service never blocks on a full pipe.
    let collected: Log = std::sync::Arc::new(std::sync::Mutex::new(log));
    let sink = collected.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (Service(child), address, collected)
}
