//! A browser's side of the pages, over plain HTTP: cookies kept by hand, forms posted
//! with the CSRF token the page carried.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

pub struct Answer {
    pub status: u16,
    pub body: String,
    pub set_cookies: Vec<String>,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The hidden CSRF field of the page's first form.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in: {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }

    pub fn cookie_named(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|cookie| cookie.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }
}

/// One browser: its cookie jar is the `Cookie` header it sends.
pub struct PageClient {
    client: reqwest::Client,
    pub base: String,
    pub cookies: Vec<(String, String)>,
    pub extra_headers: Vec<(&'static str, &'static str)>,
}

impl PageClient {
    pub fn new(base: &str) -> PageClient {
        super::client();
        PageClient {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookies: Vec::new(),
            extra_headers: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let mut request = request.header(COOKIE, self.cookie_header());
        for (name, value) in &self.extra_headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(existing, _)| existing != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        Answer {
            status,
            body,
            set_cookies,
            location,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self.client.get(format!("{}{path}", self.base));
        self.finish(request).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields);
        self.finish(request).await
    }
}
