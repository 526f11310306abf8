//! TLS: rustls server configurations (ring provider only) and a small certificate authority built
//! with rcgen, for `--tls-auto DIR` and for simulated caches whose certificates must cover names such
//! as `*.redis.cache.windows.net`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
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

fn ca_params(name: &str) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// A certificate authority that issues server certificates.
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

impl CertAuthority {
    /// A new CA named `name`.
    pub fn generate(name: &str) -> Result<CertAuthority, TlsError> {
        let key = KeyPair::generate()?;
        let params = ca_params(name)?;
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(CertAuthority {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// Load a CA from `ca.crt` and `ca.key` in `dir`, or create and save one there.
    pub fn load_or_create(dir: &Path, name: &str) -> Result<CertAuthority, TlsError> {
        let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        if crt.exists() && key.exists() {
            let cert_pem = read(&crt)?;
            let key_pem = read(&key)?;
            let kp = KeyPair::from_pem(&key_pem)?;
            // The same subject and key make an issuer whose certificates chain to the saved CA.
            let issuer = Issuer::new(ca_params(name)?, kp);
            return Ok(CertAuthority {
                issuer,
                cert_pem,
                key_pem,
            });
        }
        let ca = Self::generate(name)?;
        write(&crt, &ca.cert_pem)?;
        write(&key, &ca.key_pem)?;
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
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.into(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), TlsError> {
    std::fs::write(path, text).map_err(|source| TlsError::Io {
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
/// localhost, 127.0.0.1, ::1 and `hostnames`.
pub fn auto_certificates(dir: &Path, hostnames: &[String]) -> Result<AutoCerts, TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.into(),
        source,
    })?;
    let ca = CertAuthority::load_or_create(dir, "redlink local CA")?;
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.extend(hostnames.iter().cloned());
    let leaf = ca.issue(&names)?;
    let out = AutoCerts {
        ca: dir.join("ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    write(&out.cert, &leaf.cert_pem)?;
    write(&out.key, &leaf.key_pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&out.key, std::fs::Permissions::from_mode(0o600));
    }
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
