//! `auth.jwt`: a bearer token signed for each request with the operator's RSA key
//! (RS256), for APIs that take nothing else (Vonage's Voice API). The claims are the
//! operator's template; `iat`, `exp` and a random `jti` are added here.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::sha2::Sha256;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::RsaPrivateKey;
use serde_json::{Map, Value};

/// Claims the plugin sets itself.
const OWN_CLAIMS: [&str; 3] = ["iat", "exp", "jti"];
const DEFAULT_LIFETIME_SECS: u64 = 900;
const MAX_LIFETIME_SECS: u64 = 86_400;

/// The host's `wasi:random`, for the signature's blinding and the token's id.
struct HostRandom;

impl RngCore for HostRandom {
    fn next_u32(&mut self) -> u32 {
        rsa::rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rsa::rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // `random_bytes` checked the source works before any signing starts; were it to
        // fail now, the trap ends this one sandboxed call and the host records why.
        if let Err(err) = getrandom::fill(dest) {
            panic!("the host's random source failed: {err}");
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        getrandom::fill(dest)
            .map_err(|err| rsa::rand_core::Error::new(std::io::Error::other(err.to_string())))
    }
}

impl CryptoRng for HostRandom {}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| format!("auth.jwt: no random source: {err}"))?;
    Ok(bytes)
}

/// The key, read leniently: PEM (PKCS#8 as Vonage issues it, or PKCS#1), with its
/// lines as written, indented, joined with literal `\n`, or bare base64. No error quotes
/// any of it: only the whole value is taken out of logs.
pub fn private_key(text: &str) -> Result<RsaPrivateKey, String> {
    let refused =
        || "`auth.jwt.private_key` is not an RSA private key in PEM (PKCS#8 or PKCS#1)".to_owned();
    let text = text.replace("\\n", "\n");
    let base64: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.chars())
        .filter(|ch| !ch.is_whitespace())
        .collect();
    let der = STANDARD.decode(base64).map_err(|_| refused())?;
    RsaPrivateKey::from_pkcs8_der(&der)
        .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
        .map_err(|_| refused())
}

/// The claims template's object, checked: the plugin's own claims are not the
/// operator's to set.
pub fn claims(rendered: &str) -> Result<Map<String, Value>, String> {
    let claims: Map<String, Value> = serde_json::from_str(rendered)
        .map_err(|err| format!("`auth.jwt.claims` is not a JSON object: {err}"))?;
    if let Some(own) = OWN_CLAIMS.iter().find(|own| claims.contains_key(**own)) {
        return Err(format!(
            "`auth.jwt.claims` must not set `{own}`: the plugin does"
        ));
    }
    Ok(claims)
}

pub fn lifetime(text: Option<&str>) -> Result<u64, String> {
    match text.map(str::trim) {
        None => Ok(DEFAULT_LIFETIME_SECS),
        Some(text) => match text.parse::<u64>() {
            Ok(secs) if (1..=MAX_LIFETIME_SECS).contains(&secs) => Ok(secs),
            _ => Err(format!(
                "`auth.jwt.lifetime_secs` must be 1 to {MAX_LIFETIME_SECS}, not {text:?}"
            )),
        },
    }
}

/// A token for one request: `claims` plus `iat` (now), `exp` and a random `jti`.
pub fn token(
    key: RsaPrivateKey,
    mut claims: Map<String, Value>,
    lifetime_secs: u64,
    now_secs: u64,
) -> Result<String, String> {
    let jti: String = random_bytes::<16>()?
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    claims.insert("iat".to_owned(), now_secs.into());
    claims.insert("exp".to_owned(), (now_secs + lifetime_secs).into());
    claims.insert("jti".to_owned(), jti.into());
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let signed = format!("{header}.{payload}");
    // Blinded (with random numbers): the plain `sign` would time the key's operations.
    let signature = SigningKey::<Sha256>::new(key)
        .try_sign_with_rng(&mut HostRandom, signed.as_bytes())
        .map_err(|_| "auth.jwt: signing failed".to_owned())?;
    Ok(format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_and_lifetimes_are_checked() {
        assert!(claims(r#"{"application_id": "a"}"#).is_ok());
        assert!(claims(r#"{"exp": 1}"#).unwrap_err().contains("`exp`"));
        assert!(claims("[1]").is_err());
        assert_eq!(lifetime(None), Ok(900));
        assert!(lifetime(Some("0")).is_err());
        assert!(lifetime(Some("86401")).is_err());
    }

    #[test]
    fn a_key_that_is_not_one_is_refused_without_being_quoted() {
        let err = private_key(
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1ub3QtYS1rZXk=\n-----END PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }
}
