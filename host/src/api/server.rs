//! The listener and connection loop, with a graceful stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::response::{ApiError, HttpResponse};
use super::router;
use super::state::AppState;
use super::throttle::ClientAddr;
use crate::config::ListenAddr;

/// How long a client may take to send a request's headers, or stay idle between requests.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long in-flight requests may take to finish once a stop is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Server {
    pub async fn bind(state: Arc<AppState>, port: ListenAddr) -> anyhow::Result<Server> {
        let addr = port.0;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("app.port: cannot listen on {addr}"))?;
        Ok(Server { listener, state })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `stop` is cancelled, then lets open requests finish (bounded).
    pub async fn run(self, stop: CancellationToken) {
        let Server { listener, state } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // HTTP/1: a client gets HEADER_TIMEOUT for each request's headers, which also
        // ends a kept-alive connection that sits idle that long. HTTP/2: pings find dead
        // peers, and a connection's streams are bounded. Bodies have their own deadline
        // (`app.body_timeout`, in `http::read_body`).
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(HEADER_TIMEOUT))
            .keep_alive_timeout(Duration::from_secs(10))
            .max_concurrent_streams(100)
            .max_header_list_size(64 * 1024);
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            // Out of file descriptors and the like: pause rather than spin.
                            tracing::warn!(error = %err, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let state = state.clone();
                    let service = service_fn(move |mut request: Request<Incoming>| {
                        request.extensions_mut().insert(ClientAddr(peer.ip()));
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, request).await) }
                    });
                    let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(err) = connection.await {
                            tracing::debug!(%peer, error = %err, "connection ended with an error");
                        }
                    });
                }
                () = stop.cancelled() => break,
            }
        }
        drop(listener);
        tracing::info!("stopping: no new connections, finishing open requests");
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("open requests did not finish within {DRAIN_TIMEOUT:?}");
        }
    }
}

async fn handle(state: &AppState, request: Request<Incoming>) -> HttpResponse {
    let started = Instant::now();
    let method = request.method().clone();
    let (route, result) = router::dispatch(state, request).await;
    let response = match result {
        Ok(response) => response,
        Err(err) => {
            match &err {
                ApiError::Internal(detail) => {
                    tracing::error!(route, error = %detail, "request failed")
                }
                ApiError::DatabaseUnavailable(detail) => {
                    tracing::warn!(route, error = %detail, "database unavailable")
                }
                _ => {}
            }
            err.into_response()
        }
    };
    let status = response.status().as_u16();
    state.metrics.request(route, status);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if matches!(route, "healthz" | "readyz" | "metrics" | "heartbeat") {
        tracing::debug!(%method, route, status, elapsed_ms, "request");
    } else {
        tracing::info!(%method, route, status, elapsed_ms, "request");
    }
    response
}
