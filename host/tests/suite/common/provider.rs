//! A provider's API stood in for on 127.0.0.1: each request is checked against what
//! that provider's documentation requires, and answered as its documentation shows.
//! A request the checks refuse gets a 400 naming the rule, and the rule is kept so the
//! test can fail on it even when the plugin took the 400 in its stride.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::sink::Recorded;

/// An answer as the provider's documentation shows it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string(),
        }
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "text/plain".to_owned())],
            body: body.to_owned(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// Checks one request and answers it, or names the documented rule it breaks.
pub type Judge = Arc<dyn Fn(&Recorded) -> Result<Reply, String> + Send + Sync>;

#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    broken_rules: Arc<Mutex<Vec<String>>>,
}

impl StandIn {
    pub async fn start(judge: Judge) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stand_in = StandIn {
            url: format!("http://{addr}"),
            requests: Arc::default(),
            broken_rules: Arc::default(),
        };
        let server = stand_in.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (server, judge) = (server.clone(), judge.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (server, judge) = (server.clone(), judge.clone());
                        async move { Ok::<_, Infallible>(server.answer(request, &judge).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        stand_in
    }

    async fn answer(
        &self,
        request: Request<hyper::body::Incoming>,
        judge: &Judge,
    ) -> Response<Full<Bytes>> {
        let recorded = Recorded::read(request).await;
        let verdict = judge(&recorded);
        self.requests.lock().unwrap().push(recorded);
        let reply = verdict.unwrap_or_else(|rule| {
            self.broken_rules.lock().unwrap().push(rule.clone());
            Reply::text(400, &format!("stand-in: {rule}"))
        });
        let mut response = Response::new(Full::new(Bytes::from(reply.body)));
        *response.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap();
        for (name, value) in reply.headers {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        response
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The documented rules the plugin's requests broke.
    pub fn broken_rules(&self) -> Vec<String> {
        self.broken_rules.lock().unwrap().clone()
    }
}

/// The query parameters of a recorded request.
pub fn query(request: &Recorded) -> Vec<(String, String)> {
    let query = request.path.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The path of a recorded request, without its query.
pub fn path(request: &Recorded) -> &str {
    request.path.split('?').next().unwrap_or("")
}

/// The form fields of a recorded request's body.
pub fn form(request: &Recorded) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of `name` among `pairs`.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The user and password of a request's HTTP basic authentication.
pub fn basic_auth(request: &Recorded) -> Option<(String, String)> {
    use base64::Engine;
    let encoded = request.header("authorization")?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Fails with `rule` unless `ok`.
pub fn require(ok: bool, rule: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(rule.to_owned())
    }
}
