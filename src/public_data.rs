//! The public datasets as the service ships them (`data/public/`): the
//! catalogue of every commodity they cover, and one release of each
//! dataset, loaded through the connectors and the write layer. Each step
//! commits on its own, and loading again adds nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use deadpool_postgres::Pool;
use time::OffsetDateTime;

use crate::connectors::{self, countries::CountryTable, Derived, OnInvalid, Problems, Release};
use crate::domain::{NewProduct, NewSource};
use crate::ingest::products::save_product;
use crate::ingest::release::{write_release, ReleaseRefused, ReleaseSummary};
use crate::ingest::Rejected;
use crate::store::{self, audit::Actor, StoreError};

/// The releases of the shipped extract, as their files name them (their
/// sources are `sources.ndjson`).
pub const BACI_RELEASE: &str = "V202401b";
pub const WMD_EDITION: i32 = 2026;
pub const WGI_UPDATE: i32 = 2025;

/// The files of the shipped extract, under its directory.
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: impl Into<PathBuf>) -> Layout {
        Layout { dir: dir.into() }
    }
    pub fn catalogue(&self) -> PathBuf {
        self.dir.join("products.ndjson")
    }
    pub fn baci_trade(&self) -> PathBuf {
        self.dir
            .join(format!("baci/BACI_HS92_{BACI_RELEASE}.csv.gz"))
    }
    pub fn baci_countries(&self) -> PathBuf {
        self.dir
            .join(format!("baci/country_codes_{BACI_RELEASE}.csv"))
    }
    pub fn wmd_production(&self) -> PathBuf {
        self.dir.join("wmd/world_mining_data.csv")
    }
    pub fn wmd_products(&self) -> PathBuf {
        self.dir.join("wmd_products.csv")
    }
    pub fn wgi_estimates(&self) -> PathBuf {
        self.dir.join("wgi/wgi_pv_estimate.csv")
    }
    pub fn sources(&self) -> PathBuf {
        self.dir.join("sources.ndjson")
    }

    /// The release of the dataset whose sources share `family`, as
    /// `sources.ndjson` records it.
    fn release(&self, family: &'static str) -> anyhow::Result<Release> {
        let path = self.sources();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let source: NewSource = serde_json::from_str(line)
                .with_context(|| format!("{} line {}", path.display(), index + 1))?;
            if source.id.starts_with(family) {
                return Release::of_source(source, family).map_err(|e| anyhow!(e));
            }
        }
        Err(anyhow!("{} names no `{family}` source", path.display()))
    }
}

/// What loading did, step by step.
#[derive(Debug, Default)]
pub struct PublicReport {
    pub products_added: usize,
    pub releases: Vec<(String, ReleaseSummary)>,
}

/// Loads the catalogue and every dataset of `layout`.
pub async fn load(pool: &Pool, layout: &Layout) -> anyhow::Result<PublicReport> {
    let mut report = PublicReport {
        products_added: load_catalogue(pool, &layout.catalogue()).await?,
        ..PublicReport::default()
    };
    let countries = CountryTable::from_file(&layout.baci_countries()).map_err(refused_dataset)?;
    let steps: [(&str, Dataset, Release); 3] = [
        (
            "World Mining Data",
            Dataset::Wmd {
                file: layout.wmd_production(),
                map: layout.wmd_products(),
            },
            layout.release(connectors::wmd::FAMILY)?,
        ),
        (
            "WGI",
            Dataset::Wgi {
                file: layout.wgi_estimates(),
            },
            layout.release(connectors::wgi::FAMILY)?,
        ),
        (
            "BACI",
            Dataset::Baci {
                trade: layout.baci_trade(),
            },
            layout.release(connectors::baci::FAMILY)?,
        ),
    ];
    for (name, dataset, release) in steps {
        let summary = import(pool, dataset, release, &countries, OnInvalid::Abort)
            .await
            .with_context(|| format!("loading {name}"))?;
        report.releases.push((name.to_owned(), summary));
    }
    Ok(report)
}

/// One dataset's files.
pub enum Dataset {
    Baci { trade: PathBuf },
    Wmd { file: PathBuf, map: PathBuf },
    Wgi { file: PathBuf },
}

/// Derives one dataset's facts and writes them in one transaction.
pub async fn import(
    pool: &Pool,
    dataset: Dataset,
    release: Release,
    countries: &CountryTable,
    on_invalid: OnInvalid,
) -> anyhow::Result<ReleaseSummary> {
    let today = OffsetDateTime::now_utc().date();
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    let derived: Derived = match dataset {
        Dataset::Baci { trade } => {
            let products = store::products::trade_codes(&tx).await?;
            connectors::baci::derive(&trade, countries, &products, release, on_invalid, today)
                .map_err(refused_dataset)?
        }
        Dataset::Wmd { file, map } => {
            let products = store::facts::product_ids(&tx).await?;
            let mapping =
                connectors::wmd::read_mapping(&map, &products).map_err(refused_dataset)?;
            connectors::wmd::derive(&file, countries, &mapping, release, on_invalid, today)
                .map_err(refused_dataset)?
        }
        Dataset::Wgi { file } => {
            connectors::wgi::derive(&file, countries, release, on_invalid, today)
                .map_err(refused_dataset)?
        }
    };
    if !derived.problems.is_empty() {
        tracing::warn!(
            left_out = derived.problems.list.len() as u64 + derived.problems.more,
            "invalid rows left out:\n{}",
            derived.problems
        );
    }
    tracing::info!(
        source = derived.release.source.id,
        rows_read = derived.rows_read,
        rows_not_covered = derived.rows_not_covered,
        facts = derived.facts.len(),
        "derived"
    );
    let actor = Actor::command("import");
    let summary = write_release(&tx, derived, &actor).await.map_err(refused)?;
    tx.commit().await.map_err(StoreError::from)?;
    store::announce_changes(&client).await?;
    Ok(summary)
}

/// Adds the catalogue's products that are not stored yet.
pub async fn load_catalogue(pool: &Pool, path: &Path) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the catalogue {}", path.display()))?;
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    let actor = Actor::command("import");
    let stored: HashSet<String> = store::facts::product_ids(&tx).await?;
    let mut added = 0;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{} line {}", path.display(), index + 1);
        let new: NewProduct = serde_json::from_str(line).with_context(|| at.clone())?;
        let product = new
            .validate(None)
            .map_err(|errors| anyhow!("{at}: {errors:?}"))?;
        if stored.contains(product.id.as_str()) {
            continue;
        }
        save_product(&tx, &product, &actor)
            .await
            .map_err(|e| match e {
                Rejected::Invalid(problems) => anyhow!("{at}: {problems:?}"),
                Rejected::Store(error) => anyhow!(error).context(at.clone()),
            })?;
        added += 1;
    }
    tx.commit().await.map_err(StoreError::from)?;
    if added > 0 {
        store::announce_changes(&client).await?;
    }
    Ok(added)
}

/// A dataset refused for its problems, as one error naming each.
pub fn refused_dataset(problems: impl Into<ProblemList>) -> anyhow::Error {
    anyhow!(
        "the dataset is refused; nothing was written:\n{}",
        problems.into().0
    )
}

/// Problems as one message.
pub struct ProblemList(String);

impl From<Problems> for ProblemList {
    fn from(problems: Problems) -> ProblemList {
        ProblemList(problems.to_string())
    }
}

impl From<Vec<connectors::SourceProblem>> for ProblemList {
    fn from(problems: Vec<connectors::SourceProblem>) -> ProblemList {
        ProblemList(
            problems
                .iter()
                .map(|p| format!("{p}\n"))
                .collect::<String>(),
        )
    }
}

fn refused(error: ReleaseRefused) -> anyhow::Error {
    match error {
        ReleaseRefused::Source(problems) => {
            anyhow!("the release's source is invalid: {problems:?}")
        }
        ReleaseRefused::Import(failed) => anyhow!("the derived facts were refused: {failed:?}"),
        ReleaseRefused::Store(error) => anyhow!(error),
    }
}
