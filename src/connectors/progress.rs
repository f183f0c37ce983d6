//! Progress of a long import: a bar redrawn on the terminal when standard
//! error is one, and a log line at every tenth of the way either way.

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    /// The last tenth logged.
    logged_tenth: u64,
    /// The last percentage drawn.
    drawn: Option<u64>,
    terminal: bool,
    started: Instant,
}

const BAR_WIDTH: u64 = 30;

impl Progress {
    /// Progress towards `total` units (bytes, rows) of `label`.
    pub fn new(label: impl Into<String>, total: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            label: label.into(),
            total: total.max(1),
            done: 0,
            logged_tenth: 0,
            drawn: None,
            terminal,
            started: Instant::now(),
        }
    }

    pub fn advance(&mut self, units: u64) {
        self.done = (self.done + units).min(self.total);
        let percent = self.done * 100 / self.total;
        let tenth = percent / 10;
        if tenth > self.logged_tenth {
            self.logged_tenth = tenth;
            tracing::info!(
                step = %self.label,
                percent,
                elapsed_s = self.started.elapsed().as_secs_f64(),
                "import progress"
            );
        }
        if self.terminal && self.drawn != Some(percent) {
            self.drawn = Some(percent);
            let filled = (percent * BAR_WIDTH / 100) as usize;
            let mut stderr = std::io::stderr().lock();
            let _ = write!(
                stderr,
                "\r{:<28} [{}{}] {percent:>3}%",
                self.label,
                "#".repeat(filled),
                " ".repeat(BAR_WIDTH as usize - filled)
            );
            let _ = stderr.flush();
        }
    }

    /// Completes the bar and ends its line.
    pub fn finish(mut self) {
        self.advance(self.total);
        if self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}
