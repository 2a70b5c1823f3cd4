//! A local HTTP server standing in for a provider (Telegram, Twilio, a webhook receiver),
//! on 127.0.0.1 only. It records every request and can be told to fail.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// Reads a whole request as it arrived.
    pub async fn read(request: Request<hyper::body::Incoming>) -> Recorded {
        let method = request.method().to_string();
        let path = request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        Recorded {
            method,
            path,
            headers,
            body,
            at: Instant::now(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "sink got no JSON ({err}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    failures_left: Arc<AtomicUsize>,
    failure_status: Arc<AtomicU16>,
    response_body: Arc<Mutex<String>>,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    /// (path prefix, body) answers that take precedence over `response_body`.
    routes: Arc<Mutex<Vec<(String, String)>>>,
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = Sink {
            addr,
            url: format!("http://{addr}"),
            requests: Arc::default(),
            failures_left: Arc::default(),
            failure_status: Arc::new(AtomicU16::new(500)),
            response_body: Arc::new(Mutex::new("{\"ok\":true}".to_owned())),
            routes: Arc::default(),
            delay_ms: Arc::default(),
        };
        let server = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let sink = server.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let sink = sink.clone();
                        async move { Ok::<_, Infallible>(sink.answer(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        sink
    }

    async fn answer(&self, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let recorded = Recorded::read(request).await;
        let request_path = recorded.path.clone();
        self.requests.lock().unwrap().push(recorded);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let fail = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        let status = if fail {
            self.failure_status.load(Ordering::SeqCst)
        } else {
            200
        };
        let routed = self
            .routes
            .lock()
            .unwrap()
            .iter()
            .find(|(prefix, _)| request_path.starts_with(prefix.as_str()))
            .map(|(_, body)| body.clone());
        let body = routed.unwrap_or_else(|| self.response_body.lock().unwrap().clone());
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        response
            .headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        response
    }

    /// The next `count` requests get `status` instead of 200.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.failure_status.store(status, Ordering::SeqCst);
        self.failures_left.store(count, Ordering::SeqCst);
    }

    /// Answers every request only after `delay` (a slow provider).
    pub fn delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Answers requests whose path starts with `prefix` with `body` (an API with
    /// several endpoints); others get the `respond_with` body.
    pub fn respond_on(&self, prefix: &str, body: &str) {
        self.routes
            .lock()
            .unwrap()
            .push((prefix.to_owned(), body.to_owned()));
    }

    pub fn respond_with(&self, body: &str) {
        *self.response_body.lock().unwrap() = body.to_owned();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived, for at most `limit`.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Recorded> {
        super::wait_for(limit, async || self.requests().len() >= count).await;
        self.requests()
    }
}
