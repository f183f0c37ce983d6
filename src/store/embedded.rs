//! The embedded default database: a private PostgreSQL cluster run from the
//! machine's own PostgreSQL binaries, in a persistent data directory,
//! listening on a unix socket only (so it can never clash with another
//! server's TCP port), and stopped when the service stops.
//!
//! `initdb` and `postgres` refuse to run as root; when the service runs as
//! root, they run as the `postgres` system user, who owns the data directory.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};

/// The database the service uses inside its cluster.
pub const DATABASE: &str = "chokepoint";
const SUPERUSER: &str = "postgres";
const PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes; keep a margin for the file name.
const MAX_SOCKET_DIR_LEN: usize = 90;

/// Whether a server this process starts survives a machine crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is flushed to disk: the service's own data.
    Durable,
    /// Nothing is flushed (fsync, synchronous commit and full-page writes
    /// off): much faster, and a crash may corrupt the cluster. Only for
    /// data nobody needs afterwards, such as a test run's.
    Throwaway,
}

#[derive(Debug)]
pub struct EmbeddedCluster {
    bindir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<SystemUser>,
    /// Whether this process started the server (and so must stop it).
    owned: bool,
}

#[derive(Debug, Clone)]
struct SystemUser {
    uid: u32,
    gid: u32,
}

impl EmbeddedCluster {
    /// Starts (initialising if needed) the cluster in `data_dir`, or attaches
    /// to one already running there (which keeps the durability it was
    /// started with).
    pub fn start(
        data_dir: &Path,
        bindir_override: Option<&Path>,
        durability: Durability,
    ) -> anyhow::Result<EmbeddedCluster> {
        let bindir = find_bindir(bindir_override)?;
        let run_as = if is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        let data_dir = absolute(data_dir)?;
        let socket_dir = socket_dir_for(&data_dir);
        let mut cluster = EmbeddedCluster {
            bindir,
            data_dir,
            socket_dir,
            run_as,
            owned: false,
        };
        cluster.prepare_directories()?;
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        if cluster.running_pid()?.is_some() {
            tracing::info!(data_dir = %cluster.data_dir.display(), "reusing the running embedded PostgreSQL");
        } else {
            cluster.start_server(durability)?;
            cluster.owned = true;
        }
        cluster.ensure_database()?;
        Ok(cluster)
    }

    /// A `DATABASE_URL` for the cluster's socket, naming `database`.
    pub fn url(&self, database: &str) -> String {
        let host: String =
            form_urlencoded::byte_serialize(self.socket_dir.to_string_lossy().as_bytes()).collect();
        format!("postgresql://{SUPERUSER}@{host}:{PORT}/{database}")
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the server if this process started it (fast shutdown: open
    /// sessions are disconnected, nothing committed is lost).
    pub fn stop(&mut self) {
        if !self.owned {
            return;
        }
        self.owned = false;
        let result = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "-t", "60"])
            .output();
        match result {
            Ok(out) if out.status.success() => tracing::info!("embedded PostgreSQL stopped"),
            Ok(out) => {
                tracing::error!(stderr = %String::from_utf8_lossy(&out.stderr), "pg_ctl stop failed")
            }
            Err(e) => tracing::error!(error = %e, "could not run pg_ctl stop"),
        }
    }

    fn prepare_directories(&self) -> anyhow::Result<()> {
        for dir in [&self.data_dir, &self.socket_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", dir.display()))?;
            if let Some(user) = &self.run_as {
                std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))
                    .with_context(|| format!("handing {} to the postgres user", dir.display()))?;
            }
        }
        if self.run_as.is_some() {
            // The postgres user must be able to reach the directory; a data
            // directory under /root, say, is not reachable.
            let probe = self
                .command("test")
                .arg("-w")
                .arg(&self.data_dir)
                .status()?;
            if !probe.success() {
                bail!(
                    "the postgres system user cannot reach {}: when running as root, choose a data \
                     directory outside private home folders (--data-dir or CHOKEPOINT_DATA_DIR), \
                     or set DATABASE_URL",
                    self.data_dir.display()
                );
            }
        }
        Ok(())
    }

    fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "initialising the embedded PostgreSQL cluster");
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data_dir)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// The pid of a live postmaster for this data directory. A stale
    /// `postmaster.pid` (its process is gone) is removed.
    fn running_pid(&self) -> anyhow::Result<Option<i32>> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let Ok(contents) = std::fs::read_to_string(&pid_file) else {
            return Ok(None);
        };
        let pid: Option<i32> = contents
            .lines()
            .next()
            .and_then(|line| line.trim().parse().ok());
        match pid {
            Some(pid) if pid > 0 && process_alive(pid) && self.accepts_connections() => Ok(Some(pid)),
            Some(pid) if pid > 0 && process_alive(pid) => bail!(
                "{} is locked by process {pid}, which is not answering on {}; stop it or remove the lock",
                self.data_dir.display(),
                self.socket_dir.display()
            ),
            _ => {
                tracing::warn!(file = %pid_file.display(), "removing a stale postmaster.pid");
                std::fs::remove_file(&pid_file).context("removing a stale postmaster.pid")?;
                Ok(None)
            }
        }
    }

    fn accepts_connections(&self) -> bool {
        self.command("pg_isready")
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &PORT.to_string(), "-U", SUPERUSER, "-t", "2"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    fn start_server(&self, durability: Durability) -> anyhow::Result<()> {
        let flushing = match durability {
            Durability::Durable => "-c fsync=on",
            Durability::Throwaway => {
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            }
        };
        let options = format!(
            "-k {} -p {PORT} -c listen_addresses='' {flushing}",
            self.socket_dir.display()
        );
        let log = self.data_dir.join("server.log");
        tracing::info!(socket_dir = %self.socket_dir.display(), "starting the embedded PostgreSQL");
        let out = self
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options])
            .output()
            .context("running pg_ctl start")?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(10).collect();
            bail!(
                "the embedded PostgreSQL did not start: {}\n{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    fn ensure_database(&self) -> anyhow::Result<()> {
        let psql = |sql: &str| {
            self.command("psql")
                .arg("-h")
                .arg(&self.socket_dir)
                .args([
                    "-p",
                    &PORT.to_string(),
                    "-U",
                    SUPERUSER,
                    "-d",
                    "postgres",
                    "-tAX",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    sql,
                ])
                .output()
                .context("running psql")
        };
        let out = psql(&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
        ))?;
        if !out.status.success() {
            bail!(
                "could not query the embedded cluster: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        if String::from_utf8_lossy(&out.stdout).trim() != "1" {
            let out = psql(&format!("CREATE DATABASE {DATABASE}"))?;
            // A concurrent start may have created it meanwhile: that is fine.
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() && !stderr.contains("already exists") {
                bail!("could not create the database: {}", stderr.trim());
            }
        }
        Ok(())
    }

    /// A command for one of the PostgreSQL programs, run as the postgres
    /// user when we are root, from a directory that user can enter.
    fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        let mut command = if path.exists() {
            Command::new(path)
        } else {
            Command::new(program)
        };
        command
            .current_dir("/")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if let Some(user) = &self.run_as {
            command
                .uid(user.uid)
                .gid(user.gid)
                .env("HOME", "/var/lib/postgresql");
        }
        command
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Finds the directory holding `initdb`, `pg_ctl` and `postgres`: an
/// override, then `pg_config --bindir`, then the newest
/// `/usr/lib/postgresql/*/bin`, then `PATH`.
fn find_bindir(override_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has_server = |dir: &Path| {
        dir.join("initdb").exists() && dir.join("pg_ctl").exists() && dir.join("postgres").exists()
    };
    if let Some(dir) = override_dir {
        if has_server(dir) {
            return Ok(dir.to_owned());
        }
        bail!(
            "CHOKEPOINT_PG_BINDIR={} does not contain initdb, pg_ctl and postgres",
            dir.display()
        );
    }
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort();
    candidates.extend(versioned.into_iter().rev().map(|(_, dir)| dir));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|dir| has_server(dir))
        .ok_or_else(|| {
            anyhow!(
            "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): install PostgreSQL \
             (e.g. `apt-get install postgresql`), point CHOKEPOINT_PG_BINDIR at its bin directory, \
             or set DATABASE_URL to use an existing server"
        )
        })
}

fn socket_dir_for(data_dir: &Path) -> PathBuf {
    if data_dir.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        return data_dir.to_owned();
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut hasher);
    std::env::temp_dir().join(format!("chokepoint-pg-{:016x}", hasher.finish()))
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_owned())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn postgres_user() -> anyhow::Result<SystemUser> {
    let name = CString::new(SUPERUSER).expect("no NUL");
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy
    // the fields out before any other call could overwrite it.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!(
            "running as root, but there is no `postgres` system user to run PostgreSQL as \
             (initdb and postgres refuse root): install PostgreSQL's packages, run as a normal \
             user, or set DATABASE_URL"
        );
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(SystemUser { uid, gid })
}
