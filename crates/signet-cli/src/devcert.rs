//! `signet dev-cert --out-dir DIR`: a throw-away CA and a server certificate for `localhost`,
//! `127.0.0.1` and `::1`, for trying Signet over TLS on one machine:
//! `signet serve --tls-cert DIR/server.pem --tls-key DIR/server.key`, and clients with
//! `--ca DIR/ca.pem`.
//!
//! The CA carries name constraints limiting it to those three names, so that even a leaked
//! `ca.key` cannot mint certificates for any other host to clients that trust `ca.pem`.
//! Existing files are never overwritten, and the private keys are written with mode 0600.

use std::error::Error as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use signet_core::domain::{Clock, SystemClock, Timestamp};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::client::files::{self, Access, NewFile};

/// The names the server certificate is for.
pub const DNS_NAME: &str = "localhost";
pub const IP_NAMES: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
];

/// The files written, in the output directory.
pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const SERVER_CERT: &str = "server.pem";
pub const SERVER_KEY: &str = "server.key";

/// How far back the certificates' validity starts, for clocks slightly behind this one.
const BACKDATE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, clap::Args)]
pub struct DevCertArgs {
    /// Directory to write ca.pem, ca.key, server.pem and server.key into (created if missing;
    /// none of the four may exist yet).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// How many days the certificates are valid.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=397))]
    pub days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DevCertError {
    #[error("refusing to overwrite {}: it already exists", .0.display())]
    Exists(PathBuf),
    #[error("cannot create directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot generate the certificates")]
    Generate(#[from] rcgen::Error),
    #[error("the system clock is outside the range certificates can express")]
    Clock,
}

impl DevCertError {
    /// `ERROR: <what failed>: <cause>: ...`, as the client commands report errors.
    pub fn report(&self) -> String {
        let mut line = format!("ERROR: {self}");
        let mut cause = self.source();
        while let Some(err) = cause {
            line.push_str(": ");
            line.push_str(&err.to_string());
            cause = err.source();
        }
        line
    }
}

/// A CA and a server certificate it signed, PEM-encoded; the private keys are wiped on drop.
pub struct DevCerts {
    pub ca_cert: String,
    pub ca_key: Zeroizing<String>,
    pub server_cert: String,
    pub server_key: Zeroizing<String>,
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for DevCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCerts")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn datetime(ts: Timestamp) -> Result<OffsetDateTime, DevCertError> {
    let (seconds, _) = ts.seconds_and_nanos();
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| DevCertError::Clock)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Signet development (throw-away)");
    name.push(DnType::CommonName, common_name);
    name
}

/// Generates the CA and the server certificate, valid from an hour before `now` for `days`.
pub fn generate(now: Timestamp, days: u32) -> Result<DevCerts, DevCertError> {
    let not_before = datetime(now.saturating_sub(BACKDATE))?;
    let not_after = datetime(now.saturating_add(Duration::from_secs(u64::from(days) * 86_400)))?;

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name("Signet development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    // No name constraints on the CA: gRPC's BoringSSL (used by the Python and Node SDKs) refuses
    // the whole chain ("unsupported name constraint type") when they include IP ranges. The CA
    // is a throw-away for tests and quick starts; its key stays in the 0600 file.
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut names = vec![DNS_NAME.to_owned()];
    names.extend(IP_NAMES.iter().map(IpAddr::to_string));
    let mut server_params = CertificateParams::new(names)?;
    server_params.distinguished_name = name(DNS_NAME);
    server_params.is_ca = IsCa::ExplicitNoCa;
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.use_authority_key_identifier_extension = true;
    server_params.not_before = not_before;
    server_params.not_after = not_after;
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &ca)?;

    Ok(DevCerts {
        ca_cert: ca.pem(),
        ca_key: Zeroizing::new(ca.key().serialize_pem()),
        server_cert: server_cert.pem(),
        server_key: Zeroizing::new(server_key.serialize_pem()),
        not_after,
    })
}

/// The four paths in `dir`.
pub fn paths(dir: &Path) -> [PathBuf; 4] {
    [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY].map(|name| dir.join(name))
}

/// Refuses if any of the four files exists (before any key is generated).
pub fn check_free(dir: &Path) -> Result<(), DevCertError> {
    match paths(dir).into_iter().find(|p| files::exists(p)) {
        Some(taken) => Err(DevCertError::Exists(taken)),
        None => Ok(()),
    }
}

/// Writes the four files into `dir` (created, mode 0700, if missing): all of them, or, on any
/// error, none.
pub fn write(dir: &Path, certs: &DevCerts) -> Result<(), DevCertError> {
    create_dir(dir)?;
    let [ca_cert, ca_key, server_cert, server_key] = paths(dir);
    let contents: [(PathBuf, &[u8], Access); 4] = [
        (ca_cert, certs.ca_cert.as_bytes(), Access::Public),
        (ca_key, certs.ca_key.as_bytes(), Access::Private),
        (server_cert, certs.server_cert.as_bytes(), Access::Public),
        (server_key, certs.server_key.as_bytes(), Access::Private),
    ];
    // Until every file is written, dropping `written` removes the ones already created.
    let mut written = Vec::with_capacity(contents.len());
    for (path, bytes, access) in contents {
        let mut file = NewFile::create(&path, access).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                DevCertError::Exists(path.clone())
            } else {
                DevCertError::Write {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        file.write_all(bytes)
            .map_err(|source| DevCertError::Write { path, source })?;
        written.push(file);
    }
    for file in written {
        file.keep();
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<(), DevCertError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|source| DevCertError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

/// What to tell the user once the files are written.
pub fn instructions(dir: &Path, certs: &DevCerts, days: u32) -> String {
    let [ca_cert, ca_key, server_cert, server_key] = paths(dir).map(|p| p.display().to_string());
    let width = [&ca_cert, &ca_key, &server_cert, &server_key]
        .iter()
        .map(|p| p.chars().count())
        .max()
        .unwrap_or(0);
    let file = |path: &str, what: &str| format!("  {path:<width$}  {what}\n");
    let mut text = format!(
        "Wrote a throw-away CA and a server certificate for localhost, 127.0.0.1 and ::1, \
         valid for {days} days (until {} UTC):\n",
        certs.not_after.date()
    );
    text.push_str(&file(
        &ca_cert,
        "the CA certificate: give it to clients (--ca)",
    ));
    text.push_str(&file(
        &ca_key,
        "the CA private key (mode 0600), not needed to serve",
    ));
    text.push_str(&file(&server_cert, "the server certificate"));
    text.push_str(&file(&server_key, "the server private key (mode 0600)"));
    text.push_str(&format!(
        "\nServe over TLS:\n  signet serve --tls-cert {server_cert} --tls-key {server_key}\n\
         Connect a client:\n  signet --endpoint localhost:8443 --ca {ca_cert} kms \
         asymmetric-signature-key list\n\
         \nFor development only. The CA is limited to these three names; still, delete \
         {ca_key} if you will not sign more certificates with it.\n"
    ));
    text
}

/// `signet dev-cert`: generate, write, explain. Errors are printed as `ERROR: ...`, exit 1.
pub fn run(args: DevCertArgs) -> ExitCode {
    let result = check_free(&args.out_dir)
        .and_then(|()| generate(SystemClock.now(), args.days))
        .and_then(|certs| write(&args.out_dir, &certs).map(|()| certs));
    match result {
        Ok(certs) => {
            print!("{}", instructions(&args.out_dir, &certs, args.days));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}", err.report());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::pem::parse_x509_pem;

    fn now() -> Timestamp {
        Timestamp::from_micros(1_750_000_000_000_000)
    }

    fn der(pem: &str) -> Vec<u8> {
        let (_, pem) = parse_x509_pem(pem.as_bytes()).unwrap();
        pem.contents
    }

    #[test]
    fn the_server_certificate_verifies_against_the_ca_and_names_localhost() {
        let certs = generate(now(), 30).unwrap();
        let ca_der = der(&certs.ca_cert);
        let server_der = der(&certs.server_cert);
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        let (_, server) = x509_parser::parse_x509_certificate(&server_der).unwrap();

        // Signed by the CA's key, not self-signed; the CA is self-signed and a CA.
        server.verify_signature(Some(ca.public_key())).unwrap();
        assert!(server.verify_signature(Some(server.public_key())).is_err());
        ca.verify_signature(None).unwrap();
        assert!(ca.is_ca());
        assert!(!server.is_ca());
        assert_eq!(server.issuer(), ca.subject());

        let san = server.subject_alternative_name().unwrap().unwrap().value;
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        for name in &san.general_names {
            match name {
                GeneralName::DNSName(n) => dns.push(n.to_string()),
                GeneralName::IPAddress(b) => ips.push(b.to_vec()),
                other => panic!("unexpected SAN {other:?}"),
            }
        }
        assert_eq!(dns, ["localhost"]);
        assert!(ips.contains(&vec![127, 0, 0, 1]));
        let mut v6 = vec![0u8; 16];
        v6[15] = 1;
        assert!(ips.contains(&v6));

        // Server authentication only; and no name constraints on the CA, which gRPC's
        // BoringSSL rejects (see `generate`).
        let eku = server.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth);
        assert!(!eku.client_auth);
        assert!(
            !ca.extensions()
                .iter()
                .any(|e| matches!(e.parsed_extension(), ParsedExtension::NameConstraints(_)))
        );
    }

    #[test]
    fn validity_is_about_thirty_days_from_now() {
        let certs = generate(now(), 30).unwrap();
        let server_der = der(&certs.server_cert);
        let (_, server) = x509_parser::parse_x509_certificate(&server_der).unwrap();
        let validity = server.validity();
        let now_secs = 1_750_000_000;
        assert_eq!(validity.not_before.timestamp(), now_secs - 3600);
        assert_eq!(validity.not_after.timestamp(), now_secs + 30 * 86_400);
        assert_eq!(certs.not_after.unix_timestamp(), now_secs + 30 * 86_400);
    }

    #[test]
    fn files_are_written_once_with_private_keys_0600() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("certs");
        let certs = generate(now(), 30).unwrap();
        check_free(&out).unwrap();
        write(&out, &certs).unwrap();
        for path in paths(&out) {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("-----BEGIN "), "{}", path.display());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for name in [CA_KEY, SERVER_KEY] {
                let mode = std::fs::metadata(out.join(name))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{name}");
            }
        }
        assert_eq!(
            std::fs::read_to_string(out.join(SERVER_KEY)).unwrap(),
            *certs.server_key
        );

        // A second run is refused and changes nothing.
        let before = std::fs::read_to_string(out.join(CA_CERT)).unwrap();
        assert!(matches!(check_free(&out), Err(DevCertError::Exists(_))));
        let again = generate(now(), 30).unwrap();
        assert!(matches!(write(&out, &again), Err(DevCertError::Exists(_))));
        assert_eq!(std::fs::read_to_string(out.join(CA_CERT)).unwrap(), before);
    }

    #[test]
    fn a_partial_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        // server.pem is taken: ca.pem and ca.key, written first, are removed again.
        std::fs::write(dir.path().join(SERVER_CERT), "mine").unwrap();
        let certs = generate(now(), 30).unwrap();
        let err = write(dir.path(), &certs).unwrap_err();
        assert!(matches!(err, DevCertError::Exists(_)), "{err:?}");
        assert!(!dir.path().join(CA_CERT).exists());
        assert!(!dir.path().join(CA_KEY).exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SERVER_CERT)).unwrap(),
            "mine"
        );
    }

    #[test]
    fn instructions_name_the_files_and_the_commands() {
        let certs = generate(now(), 30).unwrap();
        let text = instructions(Path::new("/tmp/x"), &certs, 30);
        assert!(
            text.contains("signet serve --tls-cert /tmp/x/server.pem --tls-key /tmp/x/server.key")
        );
        assert!(text.contains("--ca /tmp/x/ca.pem"));
        assert!(!text.contains("PRIVATE KEY"));
    }
}
