//! Wires configuration, the database pool and the HTTP server together.

use std::net::TcpListener;
use std::time::Duration;

use actix_http::{error::DispatchError, HttpService};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server};
use actix_web::web;
use std::sync::Arc;

use utoipa_swagger_ui::SwaggerUi;

use crate::api::head_guard::GuardedStream;
use crate::api::limits::RateLimiter;
use crate::api::ReadAccess;
use crate::api::WebhookTargets;
use crate::api::{self, extract::BodyLimit, metrics::Metrics, RouteTable};
use crate::config::{ChangeNotifications, Reads, ServeSettings};
use crate::live::{listener, Announcer, LiveScores};
use crate::monitor::{delivery, evaluator, EventSignal};
use crate::store;

pub struct Application {
    port: u16,
    server: Server,
    /// The change listener, the rule evaluator and the webhook deliverer.
    background: Vec<tokio::task::JoinHandle<()>>,
    announcer: web::Data<Announcer>,
}

/// Binds the HTTP listener: done first, so a port in use is reported
/// before any database is started.
pub fn bind(settings: &ServeSettings) -> anyhow::Result<TcpListener> {
    TcpListener::bind((settings.host, settings.port)).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {}:{}: {e}; pick another port with --port (or CHOKEPOINT_PORT), \
             or another address with --host",
            settings.host,
            settings.port
        )
    })
}

impl Application {
    /// Binds the listener, then [`Application::build_on`] it.
    pub async fn build(
        settings: &ServeSettings,
        database_url: &str,
    ) -> anyhow::Result<Application> {
        Application::build_on(settings, database_url, bind(settings)?).await
    }

    /// Connects to the database, loads the live scores, starts listening for
    /// changes and builds the server on `listener`; requests are served once
    /// [`Application::run_until_stopped`] is awaited. A database that is
    /// down at start is not fatal: the scores load when it is back.
    pub async fn build_on(
        settings: &ServeSettings,
        database_url: &str,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        let pool = store::connect_with(
            database_url,
            settings.database.pool_size.into(),
            Some(settings.database.statement_timeout),
        )?;
        let live = match LiveScores::load(&pool).await {
            Ok(live) => Arc::new(live),
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "could not load the scores; serving none until the database answers"
                );
                Arc::new(LiveScores::empty())
            }
        };
        let loaded = !live.state().version.is_empty();
        let events = Arc::new(EventSignal::default());
        let background = vec![
            tokio::spawn(listener::run(
                live.clone(),
                pool.clone(),
                database_url.to_owned(),
                !loaded,
                events.clone(),
            )),
            tokio::spawn(evaluator::run(
                live.clone(),
                pool.clone(),
                database_url.to_owned(),
            )),
            tokio::spawn(delivery::run(
                pool.clone(),
                database_url.to_owned(),
                settings.webhooks.clone(),
                events.clone(),
            )),
        ];
        let events = web::Data::from(events);
        let webhook_targets = web::Data::new(WebhookTargets {
            allow_private: settings.webhooks.allow_private_targets,
        });
        let announcer = web::Data::new(match settings.change_notifications {
            ChangeNotifications::On => Announcer::start(pool.clone()),
            ChangeNotifications::Off => Announcer::silent(),
        });
        let announcer_handle = announcer.clone();
        let port = listener.local_addr()?.port();
        let pool = web::Data::new(pool);
        let live = web::Data::from(live);
        let metrics = web::Data::new(Metrics::default());
        let body_limit = BodyLimit(settings.body_limit);
        let route_table = web::Data::new(RouteTable::from_openapi(&api::openapi()));
        let read_access = ReadAccess {
            needs_key: settings.reads == Reads::Key,
        };
        let rate_limiter =
            web::Data::new(RateLimiter::new(settings.rate_limit, settings.rate_burst));
        let cors_origins = settings.cors_origins.clone();

        let app = move || {
            let (app, document) = api::app_with_routes(&cors_origins);
            app.app_data(pool.clone())
                .app_data(live.clone())
                .app_data(announcer.clone())
                .app_data(metrics.clone())
                .app_data(route_table.clone())
                .app_data(read_access)
                .app_data(rate_limiter.clone())
                .app_data(body_limit)
                .app_data(events.clone())
                .app_data(webhook_targets.clone())
                .service(web::redirect("/docs", "/docs/"))
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document))
                .default_service(api::default_service())
        };
        // actix-web's HttpServer, but with each connection's bytes passing
        // through the head guard, so malformed heads get problem answers.
        let local_addr = listener.local_addr()?;
        let builder = actix_server::Server::build();
        // Idle keep-alive connections close as soon as shutdown starts.
        let shutting_down = builder.graceful_shutdown_signal();
        let mut server =
            builder
                .shutdown_timeout(30)
                .listen("chokepoint", listener, move || {
                    let app = app();
                    let shutting_down = shutting_down.clone();
                    fn_service(|stream: actix_web::rt::net::TcpStream| async move {
                        let peer = stream.peer_addr().ok();
                        Ok::<_, DispatchError>((GuardedStream::new(stream), peer))
                    })
                    .and_then(
                        HttpService::build()
                            .graceful_shutdown_signal(move || {
                                let signal = shutting_down.clone();
                                async move { signal.notified().await }
                            })
                            .keep_alive(Duration::from_secs(30))
                            .client_request_timeout(Duration::from_secs(10))
                            .local_addr(local_addr)
                            .h1(map_config(
                                app.into_factory()
                                    .map_err(|error: actix_web::Error| error.error_response()),
                                |_| AppConfig::default(),
                            )),
                    )
                })?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers.into());
        }
        Ok(Application {
            port,
            server: server.run(),
            background,
            announcer: announcer_handle,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then stops accepting connections and
    /// lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopped = self.server.await;
        // Stopping is not a lost connection: the background tasks go
        // quietly, their connections closed before the caller goes on (and
        // perhaps stops the database).
        for task in self.background {
            task.abort();
            let _ = task.await;
        }
        tokio::task::yield_now().await;
        self.announcer.stop();
        stopped
    }
}
