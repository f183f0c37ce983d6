use anyhow::Context;
use clap::Parser;

use chokepoint::backtest::{self, Backtest};
use chokepoint::config::{
    BacktestSettings, Cli, Command, DatabaseSettings, ImportCommand, ImportOptions, KeysCommand,
    ServeSettings,
};
use chokepoint::connectors::{self, countries::CountryTable};
use chokepoint::domain::{KeySecret, Scope};
use chokepoint::public_data::{self, Dataset};
use chokepoint::startup::{self, Application};
use chokepoint::store::{
    self,
    embedded::{Durability, EmbeddedCluster},
};
use chokepoint::{api, seed, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(&cli.log);
    let result = match cli.command {
        Command::Serve(settings) => serve(settings).await,
        Command::Migrate(settings) => migrate(settings).await,
        Command::Seed(settings) => seed(settings).await,
        Command::Keys(KeysCommand::Create {
            name,
            scopes,
            database,
        }) => create_key(&name, &scopes, database).await,
        Command::Import(command) => import(command).await,
        Command::Backtest(settings) => run_backtest(settings).await,
        Command::Openapi => {
            print!("{}", api::openapi_json());
            Ok(())
        }
    };
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "stopped on an error");
    }
    result
}

/// The database to use: `DATABASE_URL`, or the embedded cluster (started
/// here, stopped when the returned guard drops).
fn database(settings: &DatabaseSettings) -> anyhow::Result<(String, Option<EmbeddedCluster>)> {
    match &settings.database_url {
        Some(url) => Ok((url.clone(), None)),
        None => {
            let cluster = EmbeddedCluster::start(
                &settings.data_dir.join("postgres"),
                settings.pg_bindir.as_deref(),
                Durability::Durable,
            )
            .context("starting the embedded PostgreSQL (set DATABASE_URL to use another server)")?;
            Ok((cluster.url(store::embedded::DATABASE), Some(cluster)))
        }
    }
}

async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let listener = startup::bind(&settings)?;
    // The embedded cluster, if any, stops when this guard drops.
    let (url, cluster) = database(&settings.database)?;
    apply_migrations(&url).await?;
    if settings.seed || (cluster.is_some() && !settings.no_seed) {
        let pool = store::connect(&url, 1)?;
        if seed::is_empty(&pool).await? {
            tracing::info!("first start on an empty database: loading the baseline dataset");
            let report = seed::seed(&pool, &seed::BASELINE).await?;
            tracing::info!(?report, "baseline loaded");
            if !settings.no_public_data {
                load_public_data(&pool, &settings.public_data).await?;
            }
        }
        pool.close();
    }
    let app = Application::build_on(&settings, &url, listener).await?;
    tracing::info!(
        "serving on http://{}:{}/ (Swagger UI at /docs/)",
        settings.host,
        app.port()
    );
    app.run_until_stopped()
        .await
        .context("the HTTP server failed")
}

/// The public datasets on a first start, before serving, so the service is
/// ready with everything; a missing extract leaves the baseline alone.
async fn load_public_data(
    pool: &deadpool_postgres::Pool,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    if !dir.join("sources.ndjson").is_file() {
        tracing::warn!(
            dir = %dir.display(),
            "no public-data extract here: serving the baseline only (`chokepoint import public --dir DIR` loads it later)"
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    tracing::info!(dir = %dir.display(), "loading the public datasets (progress below)");
    let report = public_data::load(pool, &public_data::Layout::new(dir))
        .await
        .context("loading the public datasets (start with --no-public-data to skip them)")?;
    tracing::info!(
        products_added = report.products_added,
        releases = ?report.releases,
        seconds = started.elapsed().as_secs_f64(),
        "public datasets loaded"
    );
    Ok(())
}

async fn migrate(settings: DatabaseSettings) -> anyhow::Result<()> {
    let (url, _cluster) = database(&settings)?;
    apply_migrations(&url).await
}

async fn seed(settings: DatabaseSettings) -> anyhow::Result<()> {
    let (url, _cluster) = database(&settings)?;
    apply_migrations(&url).await?;
    let pool = store::connect(&url, 1)?;
    let report = seed::seed(&pool, &seed::BASELINE).await;
    pool.close();
    let report = report?;
    println!(
        "sources added: {}, products added: {}, facts added: {}, facts already present: {}",
        report.sources_added,
        report.products_added,
        report.facts_added,
        report.facts_already_present
    );
    Ok(())
}

async fn import(command: ImportCommand) -> anyhow::Result<()> {
    let today = time::OffsetDateTime::now_utc().date();
    let (dataset, release, countries, options) = match command {
        ImportCommand::Public {
            dir,
            database: settings,
        } => {
            let (url, _cluster) = database(&settings)?;
            apply_migrations(&url).await?;
            let pool = store::connect(&url, 2)?;
            // The catalogue links into the baseline's chains.
            let baseline = seed::seed(&pool, &seed::BASELINE).await?;
            println!("baseline: {baseline:?}");
            let report = public_data::load(&pool, &public_data::Layout::new(dir)).await;
            pool.close();
            let report = report?;
            println!("products added: {}", report.products_added);
            for (name, summary) in report.releases {
                println!("{name}: {summary:?}");
            }
            return Ok(());
        }
        ImportCommand::Catalogue {
            file,
            database: settings,
        } => {
            let (url, _cluster) = database(&settings)?;
            apply_migrations(&url).await?;
            let pool = store::connect(&url, 2)?;
            let added = public_data::load_catalogue(&pool, &file).await;
            pool.close();
            println!("products added: {}", added?);
            return Ok(());
        }
        ImportCommand::Baci {
            trade,
            countries,
            release,
            options,
        } => {
            let countries = match countries {
                Some(path) => {
                    CountryTable::from_file(&path).map_err(public_data::refused_dataset)?
                }
                None => CountryTable::shipped(),
            };
            let release = connectors::baci::release(&release, today).map_err(anyhow::Error::msg)?;
            (Dataset::Baci { trade }, release, countries, options)
        }
        ImportCommand::Wmd {
            file,
            map,
            edition,
            options,
        } => (
            Dataset::Wmd { file, map },
            connectors::wmd::release(edition, today).map_err(anyhow::Error::msg)?,
            CountryTable::shipped(),
            options,
        ),
        ImportCommand::Wgi {
            file,
            update,
            options,
        } => (
            Dataset::Wgi { file },
            connectors::wgi::release(update, today).map_err(anyhow::Error::msg)?,
            CountryTable::shipped(),
            options,
        ),
    };
    let ImportOptions {
        on_invalid,
        database: settings,
    } = options;
    let (url, _cluster) = database(&settings)?;
    apply_migrations(&url).await?;
    let pool = store::connect(&url, 2)?;
    let summary = public_data::import(&pool, dataset, release, &countries, on_invalid).await;
    pool.close();
    println!("{:?}", summary?);
    Ok(())
}

/// Creates a key from the command line: how the first admin key is made.
async fn create_key(
    name: &str,
    scopes: &[Scope],
    settings: DatabaseSettings,
) -> anyhow::Result<()> {
    let (url, _cluster) = database(&settings)?;
    apply_migrations(&url).await?;
    let pool = store::connect(&url, 1)?;
    let secret = KeySecret::generate().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let client = pool.get().await?;
    let record = store::keys::insert(
        &client,
        name,
        scopes,
        &secret.prefix,
        &KeySecret::hash(&secret.full),
        None,
    )
    .await?;
    drop(client);
    pool.close();
    eprintln!(
        "created key {} ({}) with scopes {:?}; it is shown only this once:",
        record.id, record.name, scopes
    );
    println!("{}", secret.full);
    Ok(())
}

/// Runs the backtest on the stored facts and prints its tables (or JSON).
async fn run_backtest(settings: BacktestSettings) -> anyhow::Result<()> {
    let buyers = settings
        .buyers
        .iter()
        .map(|b| chokepoint::domain::Buyer::read(b.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--buyers: {e}"))?;
    let request = match &settings.events {
        None => Backtest {
            buyers,
            lead_days: settings.lead_days,
            ..Backtest::shipped()
        },
        Some(path) => Backtest {
            events: backtest::read_events(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            shipped: false,
            lead_days: settings.lead_days,
            buyers,
        },
    };
    let (url, _cluster) = database(&settings.database)?;
    apply_migrations(&url).await?;
    let pool = store::connect(&url, 1)?;
    let snapshot = chokepoint::live::load_snapshot(&pool).await;
    pool.close();
    let snapshot = snapshot?;
    let problems = request.problems(&snapshot);
    if !problems.is_empty() {
        let listed: Vec<String> = problems
            .iter()
            .map(|(at, m)| format!("{at}: {m}"))
            .collect();
        anyhow::bail!("the backtest cannot run:\n{}", listed.join("\n"));
    }
    let report = tokio::task::spawn_blocking(move || backtest::run(&snapshot, &request)).await?;
    if settings.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", backtest::table::render(&report));
    }
    Ok(())
}

async fn apply_migrations(url: &str) -> anyhow::Result<()> {
    let pool = store::connect(url, 1)?;
    let result = store::migrate(&pool)
        .await
        .context("migrating the database");
    pool.close();
    result
}
