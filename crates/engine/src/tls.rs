//! TLS: rustls server configurations (ring provider only) and a small certificate authority built
//! with rcgen, for `--tls-auto DIR` and for simulated caches whose certificates must cover names such
//! as `*.redis.cache.windows.net`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// A TLS set-up problem, naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A PEM file held no usable certificate or key.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        what: String,
    },
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Options missing for TLS.
    #[error("{0}")]
    Config(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Pem {
            path: path.into(),
            what: e.to_string(),
        })?
        .collect();
    let certs = certs.map_err(|e| TlsError::Pem {
        path: path.into(),
        what: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.into(),
            what: "no certificate found".into(),
        });
    }
    Ok(certs)
}

/// A server configuration from PEM files. With a CA file and `auth_clients` `yes`/`optional`,
/// clients present certificates signed by that CA (Redis's `tls-auth-clients`).
pub fn server_config_from_files(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
    auth_clients: &str,
) -> Result<ServerConfig, TlsError> {
    let certs = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        path: key.into(),
        what: e.to_string(),
    })?;
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match (ca, auth_clients) {
        (Some(ca), "yes" | "optional") => {
            let mut roots = RootCertStore::empty();
            for c in read_certs(ca)? {
                roots.add(c)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = if auth_clients == "optional" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Config(format!("client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(certs, key)?)
}

/// A server configuration from PEM text already in memory.
pub fn server_config_from_pem(cert_pem: &str, key_pem: &str) -> Result<ServerConfig, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect();
    let certs = certs.map_err(|e| TlsError::Config(format!("certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError::Config(format!("key: {e}")))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(config)
}

/// How long generated certificates (CAs and the certificates they issue) are valid: from an hour
/// ago (clock skew) to this many days from now. A CA kept in a `--tls-auto` directory is replaced
/// when it expires.
pub const VALIDITY_DAYS: i64 = 30;

fn set_validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(VALIDITY_DAYS);
}

/// The names a generated CA may issue certificates for (X.509 name constraints, RFC 5280
/// 4.2.1.10): a certificate for any other name does not validate, so the CA's key is worth little
/// to anyone who gets it. A DNS entry covers the name and every name below it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaScope {
    /// DNS subtrees (`localhost`, `redis.cache.windows.net`).
    pub dns: Vec<String>,
    /// IP ranges (address, prefix length).
    pub ip: Vec<(IpAddr, u8)>,
}

impl CaScope {
    /// Loopback only: `localhost`, 127.0.0.0/8 and ::1.
    pub fn loopback() -> CaScope {
        CaScope {
            dns: vec!["localhost".into()],
            ip: vec![
                (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
                (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
            ],
        }
    }

    /// Adds a name as a certificate would carry it: an IP address (outside the ranges already
    /// permitted) or a DNS name.
    pub fn allow(&mut self, name: &str) {
        match name.parse::<IpAddr>() {
            Ok(ip) if !self.ip.iter().any(|(net, len)| within(ip, *net, *len)) => {
                let len = if ip.is_ipv4() { 32 } else { 128 };
                self.ip.push((ip, len));
            }
            Ok(_) => {}
            Err(_) => {
                let name = name.trim_start_matches("*.").to_ascii_lowercase();
                if !self.dns.contains(&name) {
                    self.dns.push(name);
                }
            }
        }
    }

    fn constraints(&self) -> NameConstraints {
        let mut permitted: Vec<GeneralSubtree> = self
            .dns
            .iter()
            .map(|d| GeneralSubtree::DnsName(d.clone()))
            .collect();
        permitted.extend(self.ip.iter().map(|(ip, len)| {
            GeneralSubtree::IpAddress(match ip {
                IpAddr::V4(a) => CidrSubnet::from_v4_prefix(a.octets(), *len),
                IpAddr::V6(a) => CidrSubnet::from_v6_prefix(a.octets(), *len),
            })
        }));
        NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: Vec::new(),
        }
    }
}

fn within(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn ca_params(name: &str, scope: &CaScope) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.name_constraints = Some(scope.constraints());
    set_validity(&mut params);
    Ok(params)
}

/// A certificate authority that issues server certificates: name-constrained to its [`CaScope`],
/// valid for [`VALIDITY_DAYS`], no intermediate CAs below it.
pub struct CertAuthority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
    key_pem: String,
}

/// A server certificate and its key, PEM.
pub struct IssuedCert {
    /// Certificate chain (leaf), PEM.
    pub cert_pem: String,
    /// PKCS#8 private key, PEM.
    pub key_pem: String,
}

/// Mode of private keys written to disk.
const KEY_MODE: u32 = 0o600;
/// Mode of certificates written to disk (public).
const CERT_MODE: u32 = 0o644;

impl CertAuthority {
    /// A new CA named `name` for the names in `scope`.
    pub fn generate(name: &str, scope: &CaScope) -> Result<CertAuthority, TlsError> {
        let key = KeyPair::generate()?;
        let params = ca_params(name, scope)?;
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(CertAuthority {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA kept as `ca.crt` and `ca.key` in `dir` when it can still issue for `names` (the
    /// key is this user's, readable by nobody else, and a certificate for `names` validates
    /// against the kept CA now: not expired, within its name constraints); otherwise a new CA
    /// (written there, the key 0600 from creation) — clients must then trust the new `ca.crt`.
    pub fn load_or_create(
        dir: &Path,
        name: &str,
        scope: &CaScope,
        names: &[String],
    ) -> Result<CertAuthority, TlsError> {
        let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        if crt.exists() || key.exists() {
            match Self::load(&crt, &key, name, scope, names) {
                Ok(ca) => return Ok(ca),
                Err(why) => tracing::warn!(
                    "{}: not reusing the CA kept there ({why}); writing a new one: clients must trust the new {}",
                    dir.display(),
                    crt.display()
                ),
            }
        }
        let ca = Self::generate(name, scope)?;
        write_file(&key, &ca.key_pem, KEY_MODE)?;
        write_file(&crt, &ca.cert_pem, CERT_MODE)?;
        Ok(ca)
    }

    fn load(
        crt: &Path,
        key: &Path,
        name: &str,
        scope: &CaScope,
        names: &[String],
    ) -> Result<CertAuthority, String> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::symlink_metadata(key).map_err(|e| format!("{}: {e}", key.display()))?;
        if !meta.is_file() || meta.uid() != crate::files::euid() {
            return Err(format!(
                "{} is not a regular file of this user",
                key.display()
            ));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "{} was readable by other users (mode {:04o}), so its key is no longer private",
                key.display(),
                meta.permissions().mode() & 0o7777
            ));
        }
        let cert_pem = read(crt).map_err(|e| e.to_string())?;
        let key_pem = read(key).map_err(|e| e.to_string())?;
        let kp = KeyPair::from_pem(&key_pem).map_err(|e| e.to_string())?;
        // The same subject and key make an issuer whose certificates chain to the saved CA.
        let issuer = Issuer::new(ca_params(name, scope).map_err(|e| e.to_string())?, kp);
        let ca = CertAuthority {
            issuer,
            cert_pem,
            key_pem,
        };
        let leaf = ca.issue(names).map_err(|e| e.to_string())?;
        verify_chain(&ca.cert_pem, &leaf.cert_pem, names)?;
        Ok(ca)
    }

    /// Issue a server certificate for these DNS names and IP addresses.
    pub fn issue(&self, names: &[String]) -> Result<IssuedCert, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().map_or("redlink", |s| s.as_str()),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        set_validity(&mut params);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Whether `leaf_pem` validates against `ca_pem` for each of `names` now, with rustls's (webpki's)
/// verifier: the chain, validity dates and name constraints. The error says which name failed.
pub fn verify_chain(ca_pem: &str, leaf_pem: &str, names: &[String]) -> Result<(), String> {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(c.map_err(|e| format!("CA certificate: {e}"))?)
            .map_err(|e| format!("CA certificate: {e}"))?;
    }
    let leaf = CertificateDer::pem_slice_iter(leaf_pem.as_bytes())
        .next()
        .ok_or("no certificate")?
        .map_err(|e| format!("certificate: {e}"))?;
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| format!("verifier: {e}"))?;
    for name in names {
        let server = ServerName::try_from(name.clone()).map_err(|e| format!("{name}: {e}"))?;
        verifier
            .verify_server_cert(&leaf, &[], &server, &[], UnixTime::now())
            .map_err(|e| format!("a certificate for {name} does not validate: {e}"))?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    crate::files::replace(path, text.as_bytes(), mode).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })
}

/// Paths written by [`auto_certificates`].
#[derive(Debug, Clone)]
pub struct AutoCerts {
    /// `DIR/ca.crt`.
    pub ca: PathBuf,
    /// `DIR/server.crt`.
    pub cert: PathBuf,
    /// `DIR/server.key`.
    pub key: PathBuf,
}

/// `--tls-auto DIR`: keep (or create) a CA in DIR and issue `server.crt`/`server.key` covering
/// localhost, 127.0.0.1, ::1 and `hostnames`. DIR is created 0700 when missing; keys are written
/// 0600 and certificates 0644, each created new and renamed into place (see [`crate::files`]). The
/// CA is name-constrained to loopback and `hostnames` and valid for [`VALIDITY_DAYS`].
pub fn auto_certificates(dir: &Path, hostnames: &[String]) -> Result<AutoCerts, TlsError> {
    let io = |source| TlsError::Io {
        path: dir.into(),
        source,
    };
    if !dir.exists() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        crate::files::private_dir(dir).map_err(io)?;
    }
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.extend(hostnames.iter().cloned());
    let mut scope = CaScope::loopback();
    for n in hostnames {
        scope.allow(n);
    }
    let ca = CertAuthority::load_or_create(dir, "redlink local CA", &scope, &names)?;
    let leaf = ca.issue(&names)?;
    let out = AutoCerts {
        ca: dir.join("ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    write_file(&out.key, &leaf.key_pem, KEY_MODE)?;
    write_file(&out.cert, &leaf.cert_pem, CERT_MODE)?;
    Ok(out)
}

/// Load the TLS configuration the engine's options describe (tls-cert-file, tls-key-file,
/// tls-ca-cert-file, tls-auth-clients) into the engine. Returns whether TLS is configured.
pub fn configure(engine: &crate::Engine) -> Result<bool, TlsError> {
    let config = engine.config.read().clone();
    match load(&config)? {
        Some(server) => {
            *engine.tls.write() = Some(Arc::new(server));
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The TLS configuration `c` describes, without installing it (`None`: no TLS wanted). CONFIG SET
/// checks it before committing new values.
pub fn load(c: &crate::Config) -> Result<Option<rustls::ServerConfig>, TlsError> {
    let (cert, key, ca, auth, tls_port) = (
        c.path("tls-cert-file"),
        c.path("tls-key-file"),
        c.path("tls-ca-cert-file"),
        c.get("tls-auth-clients").unwrap_or("yes").to_string(),
        c.tls_port(),
    );
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(server_config_from_files(
            &cert,
            &key,
            ca.as_deref(),
            &auth,
        )?)),
        (None, None) if tls_port == 0 => Ok(None),
        _ => Err(TlsError::Config(
            "TLS needs both tls-cert-file and tls-key-file (or --tls-auto DIR)".into(),
        )),
    }
}
