//! Cookies, CSRF tokens, the sign-in session cookie and the throttle on
//! failed attempts: what every page and form of the site relies on.
//!
//! Every form carries a CSRF token: an HMAC, under a key kept in the data
//! directory, of what the browser holds: its session once signed in, else a
//! random `SameSite=Strict` cookie of its own. A token is valid for that
//! browser and that session only, and a forged pair of cookie and field is
//! worth nothing without the key.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use crate::account_store::random_token;

/// Failed attempts allowed per minute, per account and per address.
const ATTEMPTS_PER_MINUTE: usize = 10;

/// The cookie naming the signed-in session.
pub const SESSION_COOKIE: &str = "guichet_session";
/// The cookie naming a staff member's session (a session of the staff's
/// accounts: it opens staff pages only).
pub const STAFF_SESSION_COOKIE: &str = "guichet_staff";
/// The cookie a browser's CSRF tokens are bound to before it signs in.
const CSRF_COOKIE: &str = "guichet_csrf";
/// The same, over https: the `__Host-` prefix keeps sibling domains from
/// setting it.
const CSRF_COOKIE_HTTPS: &str = "__Host-guichet_csrf";
/// The cookie remembering the language a visitor chose.
pub const LANGUAGE_COOKIE: &str = "guichet_lang";

/// How long the links sent by mail work.
pub struct LinkValidity {
    /// Activation and email-change links.
    pub activation: Duration,
    /// Password-reset links.
    pub password_reset: Duration,
}

/// The value of cookie `name` in a request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: `HttpOnly`, for the whole site, `Secure` over https.
pub fn set_cookie(
    secure: bool,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: Option<u64>,
) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Adds a `Set-Cookie` header to `response`, if there is one.
pub fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The server's key for CSRF tokens.
pub struct CsrfKey(ring::hmac::Key);

impl CsrfKey {
    /// The key in `path`, created (readable by the server's user only) the
    /// first time: tokens stay valid across restarts.
    pub fn load_or_create(path: &std::path::Path) -> std::io::Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => bytes,
            Ok(_) => {
                let problem = format!("{} is not a 32-byte key", path.display());
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    problem,
                ));
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = vec![0u8; 32];
                getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
                write_private(path, &bytes)?;
                bytes
            }
            Err(error) => return Err(error),
        };
        Ok(CsrfKey(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &bytes,
        )))
    }

    fn token(&self, binding: &str) -> String {
        let tag = ring::hmac::sign(&self.0, binding.as_bytes());
        hex::encode(tag)
    }

    fn verifies(&self, binding: &str, token: &str) -> bool {
        let Some(tag) = from_hex(token) else {
            return false;
        };
        ring::hmac::verify(&self.0, binding.as_bytes(), &tag).is_ok()
    }
}

/// Writes `bytes` to a new file at `path` that only its owner can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// 32 bytes written as 64 lowercase hex digits, exactly.
fn from_hex(text: &str) -> Option<[u8; 32]> {
    if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut bytes = [0; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// What a browser's CSRF tokens are bound to: its sessions once signed in
/// (as a candidate, as staff, or both), else its own random cookie.
fn binding(secure: bool, headers: &HeaderMap) -> Option<String> {
    let candidate = cookie(headers, SESSION_COOKIE);
    let staff = cookie(headers, STAFF_SESSION_COOKIE);
    if candidate.is_some() || staff.is_some() {
        let [candidate, staff] = [candidate, staff].map(Option::unwrap_or_default);
        return Some(format!("session:{candidate}|staff:{staff}"));
    }
    let name = if secure {
        CSRF_COOKIE_HTTPS
    } else {
        CSRF_COOKIE
    };
    let own = cookie(headers, name).filter(|value| from_hex(value).is_some())?;
    Some(format!("browser:{own}"))
}

/// The CSRF token for this browser's forms, and the cookie to set if the
/// browser had nothing to bind it to yet.
pub fn csrf_token(
    key: &CsrfKey,
    secure: bool,
    headers: &HeaderMap,
) -> (String, Option<HeaderValue>) {
    if let Some(binding) = binding(secure, headers) {
        return (key.token(&binding), None);
    }
    let own = random_token().unwrap_or_default();
    let name = if secure {
        CSRF_COOKIE_HTTPS
    } else {
        CSRF_COOKIE
    };
    let set = set_cookie(secure, name, &own, "Strict", None);
    (key.token(&format!("browser:{own}")), Some(set))
}

/// Whether a form's `csrf` field is this browser's token.
pub fn csrf_valid(key: &CsrfKey, secure: bool, headers: &HeaderMap, field: Option<&str>) -> bool {
    match (binding(secure, headers), field) {
        (Some(binding), Some(token)) => key.verifies(&binding, token),
        _ => false,
    }
}

/// What the throttle refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client address used its attempts of the minute.
    Address,
    /// The account failed too often lately: the next attempt must wait this
    /// many seconds.
    Account(u64),
}

/// Failures of one account, and the last one.
struct AccountFailures {
    count: u32,
    last: Instant,
}

#[derive(Default)]
struct Attempts {
    /// Attempts of the last minute, by client address; a successful sign-in
    /// gives its attempt back.
    by_address: HashMap<IpAddr, Vec<Instant>>,
    by_account: HashMap<String, AccountFailures>,
}

/// An attempt the throttle let through, to report back as failed or not.
pub struct Attempt {
    address: IpAddr,
    at: Instant,
    account: Option<String>,
}

/// Limits the attempts of public forms (sign-in, sign-up, forgotten password).
///
/// Each client address has [`ATTEMPTS_PER_MINUTE`] attempts a minute,
/// counted when they start, so parallel requests cannot all be tried. An
/// account is never locked: after [`ACCOUNT_FAILURES_FREE`] failures, each
/// attempt waits a delay that doubles with every further failure (at most
/// five minutes), and a success clears it.
#[derive(Default)]
pub struct Throttle {
    attempts: std::sync::Mutex<Attempts>,
}

/// Failures an account may have before its attempts are slowed down.
const ACCOUNT_FAILURES_FREE: u32 = 10;
/// The longest an account's next attempt is made to wait.
const ACCOUNT_DELAY_MAX: u64 = 300;

impl Throttle {
    /// Reserves an attempt for `address` (about `account`, if the form names
    /// one), or says why not.
    pub fn reserve(&self, address: IpAddr, account: Option<&str>) -> Result<Attempt, Refusal> {
        let Ok(mut attempts) = self.attempts.lock() else {
            return Err(Refusal::Address);
        };
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        // Many distinct addresses must not grow the table without end.
        if attempts.by_address.len() > 10_000 {
            attempts
                .by_address
                .retain(|_, list| list.iter().any(|at| now.duration_since(*at) < minute));
            attempts
                .by_account
                .retain(|_, f| now.duration_since(f.last) < Duration::from_secs(3600));
        }
        let list = attempts.by_address.entry(address).or_default();
        list.retain(|at| now.duration_since(*at) < minute);
        if list.len() >= ATTEMPTS_PER_MINUTE {
            return Err(Refusal::Address);
        }
        if let Some(failures) = account.and_then(|a| attempts.by_account.get(a)) {
            if failures.count >= ACCOUNT_FAILURES_FREE {
                let doublings = (failures.count - ACCOUNT_FAILURES_FREE).min(16);
                let delay = (1u64 << doublings).min(ACCOUNT_DELAY_MAX);
                let waited = now.duration_since(failures.last).as_secs();
                if waited < delay {
                    return Err(Refusal::Account(delay - waited));
                }
            }
        }
        attempts.by_address.entry(address).or_default().push(now);
        Ok(Attempt {
            address,
            at: now,
            account: account.map(str::to_owned),
        })
    }

    /// The attempt failed (a wrong password): it counts against the account.
    pub fn failed(&self, attempt: &Attempt) {
        let (Ok(mut attempts), Some(account)) = (self.attempts.lock(), &attempt.account) else {
            return;
        };
        let failures = attempts
            .by_account
            .entry(account.clone())
            .or_insert(AccountFailures {
                count: 0,
                last: attempt.at,
            });
        failures.count += 1;
        failures.last = Instant::now();
    }

    /// The attempt succeeded (a right password): it is given back to the
    /// address, and the account's failures are forgotten.
    pub fn succeeded(&self, attempt: &Attempt) {
        let Ok(mut attempts) = self.attempts.lock() else {
            return;
        };
        if let Some(list) = attempts.by_address.get_mut(&attempt.address) {
            if let Some(at) = list.iter().position(|at| *at == attempt.at) {
                list.remove(at);
            }
        }
        if let Some(account) = &attempt.account {
            attempts.by_account.remove(account);
        }
    }
}

/// Changes a signed-in candidate may make in a minute: more than any person
/// makes, few enough that no one fills the disk by scripting them.
const WRITES_PER_MINUTE: usize = 60;

/// The changes each account made in the last minute.
#[derive(Default)]
pub struct WriteBudget {
    writes: std::sync::Mutex<HashMap<String, Vec<Instant>>>,
}

impl WriteBudget {
    /// Counts one change of `account`, or says in how many seconds one is
    /// allowed again.
    pub fn spend(&self, account: &str) -> Result<(), u64> {
        let Ok(mut writes) = self.writes.lock() else {
            return Err(60);
        };
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        if writes.len() > 10_000 {
            writes.retain(|_, list| list.iter().any(|at| now.duration_since(*at) < minute));
        }
        let list = writes.entry(account.to_owned()).or_default();
        list.retain(|at| now.duration_since(*at) < minute);
        if list.len() >= WRITES_PER_MINUTE {
            let oldest = list
                .first()
                .map_or(0, |at| now.duration_since(*at).as_secs());
            return Err(60u64.saturating_sub(oldest).max(1));
        }
        list.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_csrf_token_verifies_for_its_binding_only_and_exactly_as_written() {
        let key = CsrfKey(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7; 32]));
        let token = key.token("session:abc|staff:");
        assert_eq!(token.len(), 64);
        assert!(key.verifies("session:abc|staff:", &token));
        assert!(!key.verifies("session:abd|staff:", &token));
        let mut other_digit = token.clone().into_bytes();
        other_digit[10] = if other_digit[10] == b'0' { b'1' } else { b'0' };
        let refused = [
            token.to_uppercase(),
            token[..63].to_owned(),
            format!("{token}0"),
            format!("{}g", &token[..63]),
            String::from_utf8(other_digit).expect("hex digits"),
            String::new(),
        ];
        for altered in refused {
            assert!(!key.verifies("session:abc|staff:", &altered), "{altered}");
        }
    }

    #[test]
    fn an_account_has_sixty_changes_a_minute() {
        let budget = WriteBudget::default();
        for _ in 0..WRITES_PER_MINUTE {
            assert!(budget.spend("zoe").is_ok());
        }
        assert!(budget.spend("zoe").is_err());
        assert!(budget.spend("noe").is_ok(), "another account");
    }

    #[test]
    fn an_address_has_ten_attempts_a_minute_counted_when_they_start() {
        let throttle = Throttle::default();
        for _ in 0..ATTEMPTS_PER_MINUTE {
            assert!(throttle.reserve(address(1), None).is_ok());
        }
        assert_eq!(
            throttle.reserve(address(1), None).err(),
            Some(Refusal::Address)
        );
        assert!(
            throttle.reserve(address(2), None).is_ok(),
            "another address"
        );
    }

    #[test]
    fn a_failing_account_is_slowed_down_not_locked_and_a_success_clears_it() {
        let throttle = Throttle::default();
        for n in 0..ACCOUNT_FAILURES_FREE {
            let attempt = throttle
                .reserve(address(n as u8), Some("zoe"))
                .expect("free");
            throttle.failed(&attempt);
        }
        let slowed = throttle.reserve(address(100), Some("zoe"));
        assert_eq!(slowed.err(), Some(Refusal::Account(1)));
        assert!(throttle.reserve(address(100), Some("noe")).is_ok());
        std::thread::sleep(Duration::from_millis(1100));
        let attempt = throttle
            .reserve(address(101), Some("zoe"))
            .expect("after the delay");
        throttle.succeeded(&attempt);
        assert!(
            throttle.reserve(address(102), Some("zoe")).is_ok(),
            "cleared"
        );
    }
}
