//! PostgreSQL for tests: the server at 127.0.0.1:5432 (or `SIGNET_TEST_POSTGRES_URL`), and a
//! fresh schema per test, dropped when the test ends. Tests that need PostgreSQL fail, never
//! skip, without it.

use std::process::Command;

/// The database URL tests use.
pub fn base_url() -> String {
    std::env::var("SIGNET_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The test database server's address (host and port of [`base_url`]; `127.0.0.1:5432` by
/// default).
pub fn server_addr() -> std::net::SocketAddr {
    use std::net::ToSocketAddrs;
    let (_, authority) = split_authority(&base_url());
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority.as_str(), |(_, h)| h);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    host_port.to_socket_addrs().unwrap().next().unwrap()
}

/// [`base_url`] with its host and port replaced by `addr` (e.g. a proxy's).
pub fn base_url_via(addr: std::net::SocketAddr) -> String {
    let url = base_url();
    let (scheme_and_rest, authority) = split_authority(&url);
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    let rest = &url[scheme_and_rest.len() + authority.len()..];
    format!(
        "{scheme_and_rest}{}{addr}{rest}",
        userinfo.unwrap_or_default()
    )
}

/// `("postgres://", "user@host:port")` of a URL.
fn split_authority(url: &str) -> (String, String) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    (url[..start].to_owned(), url[start..end].to_owned())
}

/// Runs `sql` with `psql` on the test database; panics with psql's error if it fails.
pub fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .arg(base_url())
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-At", "-c", sql])
        .output()
        .expect("psql is needed for this test (PostgreSQL client)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A schema of its own for one test, dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct Schema {
    name: String,
}

impl Schema {
    /// Creates `signet_<prefix>_<random hex>`.
    pub fn fresh(prefix: &str) -> Schema {
        let mut b = [0u8; 8];
        signet_crypto::fill_random(&mut b).unwrap();
        let name = format!("signet_{prefix}_{}", hex::encode(b));
        psql(&format!("CREATE SCHEMA {name}"));
        Schema { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store URL (`--store`) that selects this schema.
    pub fn url(&self) -> String {
        self.url_at(&base_url())
    }

    /// The store URL for this schema on another server address (e.g. a proxy in front of the
    /// test database): `base` with its `search_path` set to the schema.
    pub fn url_at(&self, base: &str) -> String {
        format!("{base}?options[search_path]={}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(base_url())
            .args([
                "-q",
                "-c",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            ])
            .output();
    }
}
