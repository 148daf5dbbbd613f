//! The cluster's certificates and keys: the table of what exists ([`certlist`]), key
//! generation ([`keys`]), and making, loading and checking certificates against the
//! configuration.

pub mod certlist;
pub mod csr;
pub mod keycache;
pub mod keys;
pub mod renewal;
mod x509;
pub use x509::{public_key_pin, public_key_pin_pem};

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SanType, SerialNumber,
};
use time::OffsetDateTime;

pub use certlist::{CertSpec, SanRule, Usage, CERTS, SERVICE_ACCOUNT_KEY_BASE_NAME};
pub use keycache::KeyCache;
pub use keys::PrivateKey;
pub use x509::CertInfo;

use crate::config::{split_host_port, Etcd, InitConfiguration};
use crate::host::{Host, HostError, Sensitivity};
use crate::names::{is_dns_subdomain, is_wildcard_dns_subdomain};

/// How far back a new CA's validity starts, so that nodes with slightly slow clocks accept
/// it (upstream's `CertificateBackdate`).
pub const CERTIFICATE_BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Mode of private key files.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificate and public key files.
pub const CERT_MODE: u32 = 0o644;

/// What a certificate says about its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    /// Subject CN.
    pub common_name: String,
    /// Subject O values.
    pub organizations: Vec<String>,
    /// DNS SANs, sorted and without duplicates (as upstream).
    pub dns_names: Vec<String>,
    /// IP SANs, without duplicates, in order.
    pub ips: Vec<IpAddr>,
    /// Extended key usages.
    pub usages: Vec<Usage>,
}

impl CertRequest {
    /// A request with names and usages; SANs are normalised.
    pub fn new(
        common_name: String,
        organizations: Vec<String>,
        mut dns_names: Vec<String>,
        ips: Vec<IpAddr>,
        usages: Vec<Usage>,
    ) -> Self {
        dns_names.sort();
        dns_names.dedup();
        let mut uniq = Vec::new();
        for ip in ips {
            if !uniq.contains(&ip) {
                uniq.push(ip);
            }
        }
        CertRequest {
            common_name,
            organizations,
            dns_names,
            ips: uniq,
            usages,
        }
    }

    /// The request for one of the certificates of the table.
    pub fn for_spec(spec: &CertSpec, cfg: &InitConfiguration) -> anyhow::Result<Self> {
        let (dns, ips) = alt_names(spec.sans, cfg)?;
        Ok(CertRequest::new(
            spec.common_name_for(&cfg.node_registration.name),
            spec.organizations.iter().map(|s| s.to_string()).collect(),
            dns,
            ips,
            spec.usages.to_vec(),
        ))
    }
}

/// The first address of the service subnet: the `kubernetes` Service's ClusterIP.
///
/// ```
/// let ip = kubeadm::pki::api_server_virtual_ip("10.96.0.0/12").unwrap();
/// assert_eq!(ip.to_string(), "10.96.0.1");
/// let ip = kubeadm::pki::api_server_virtual_ip("fd00:10:96::/112,10.96.0.0/12").unwrap();
/// assert_eq!(ip.to_string(), "fd00:10:96::1");
/// ```
pub fn api_server_virtual_ip(service_subnet: &str) -> anyhow::Result<IpAddr> {
    nth_service_ip(service_subnet, 1)
}

/// The cluster DNS Service's address: the 10th address of the (first) service subnet,
/// which the kubelet config and the CoreDNS Service share.
pub fn dns_service_ip(service_subnet: &str) -> anyhow::Result<IpAddr> {
    nth_service_ip(service_subnet, 10)
}

/// The `n`th address of the first CIDR of `networking.serviceSubnet`.
pub fn nth_service_ip(service_subnet: &str, n: u32) -> anyhow::Result<IpAddr> {
    let first = service_subnet.split(',').next().unwrap_or_default().trim();
    let (addr, bits) = first.split_once('/').ok_or_else(|| {
        anyhow::anyhow!("networking.serviceSubnet {first:?} is not a CIDR such as 10.96.0.0/12")
    })?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| anyhow::anyhow!("networking.serviceSubnet {first:?} has no valid address"))?;
    let bits: u32 = bits.parse().map_err(|_| {
        anyhow::anyhow!("networking.serviceSubnet {first:?} has no valid prefix length")
    })?;
    Ok(match addr {
        IpAddr::V4(v4) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            IpAddr::V4((u32::from(v4) & mask).wrapping_add(n).into())
        }
        IpAddr::V6(v6) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            IpAddr::V6((u128::from(v6) & mask).wrapping_add(u128::from(n)).into())
        }
        _ => anyhow::bail!("networking.serviceSubnet {first:?} has a prefix length out of range"),
    })
}

/// Splits user-given SANs into IPs and DNS names (upstream's `appendSANsToAltNames`);
/// entries that are neither are reported and left out.
fn append_sans(dns: &mut Vec<String>, ips: &mut Vec<IpAddr>, sans: &[String], cert: &str) {
    for san in sans {
        if let Ok(ip) = san.parse::<IpAddr>() {
            ips.push(ip);
        } else if is_dns_subdomain(san) || is_wildcard_dns_subdomain(san) {
            dns.push(san.clone());
        } else {
            eprintln!(
                "[certs] WARNING: '{san}' was not added to the '{cert}' SAN, because it is not a valid IP or RFC-1123 compliant DNS entry"
            );
        }
    }
}

fn alt_names(rule: SanRule, cfg: &InitConfiguration) -> anyhow::Result<(Vec<String>, Vec<IpAddr>)> {
    let node = cfg.node_registration.name.clone();
    let advertise = cfg.local_api_endpoint.advertise_address;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    match rule {
        SanRule::None => {}
        SanRule::ApiServer => {
            let domain = &cfg.cluster.networking.dns_domain;
            dns.extend([
                node,
                "kubernetes".into(),
                "kubernetes.default".into(),
                "kubernetes.default.svc".into(),
                format!("kubernetes.default.svc.{domain}"),
            ]);
            ips.push(api_server_virtual_ip(
                &cfg.cluster.networking.service_subnet,
            )?);
            ips.push(advertise);
            let cpe = &cfg.cluster.control_plane_endpoint;
            if !cpe.is_empty() {
                let (host, _) = split_host_port(cpe);
                match host.parse::<IpAddr>() {
                    Ok(ip) => ips.push(ip),
                    Err(_) => dns.push(host),
                }
            }
            append_sans(
                &mut dns,
                &mut ips,
                &cfg.cluster.api_server.cert_sans,
                "apiserver",
            );
        }
        SanRule::EtcdServer | SanRule::EtcdPeer => {
            dns.extend([node, "localhost".into()]);
            ips.extend([advertise, "127.0.0.1".parse()?, "::1".parse()?]);
            if let Etcd::Local(local) = &cfg.cluster.etcd {
                if rule == SanRule::EtcdServer {
                    append_sans(&mut dns, &mut ips, &local.server_cert_sans, "etcd/server");
                } else {
                    append_sans(&mut dns, &mut ips, &local.peer_cert_sans, "etcd/peer");
                }
            }
        }
    }
    Ok((dns, ips))
}

fn random_serial() -> anyhow::Result<SerialNumber> {
    // Uniform in [1, 2^63 - 1], as upstream.
    loop {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b)
            .map_err(|e| anyhow::anyhow!("reading random bytes for a serial number: {e}"))?;
        b[0] &= 0x7f;
        let v = u64::from_be_bytes(b);
        if v != 0 && v != i64::MAX as u64 {
            let bytes = v.to_be_bytes();
            let start = bytes.iter().position(|&x| x != 0).unwrap_or(7);
            return Ok(SerialNumber::from_slice(&bytes[start..]));
        }
    }
}

fn to_offset(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .expect("zero nanoseconds are valid")
}

/// The subject name. The certificate builder holds one value per attribute type, so more
/// than one Organization is refused here rather than silently cut to one; a signed
/// certificate gets them through [`with_subject`].
pub(crate) fn subject(req: &CertRequest) -> anyhow::Result<DistinguishedName> {
    if req.organizations.len() > 1 {
        anyhow::bail!(
            "a subject with more than one Organization ({}) is written only into signed certificates",
            req.organizations.join(", ")
        );
    }
    let mut dn = DistinguishedName::new();
    for o in &req.organizations {
        dn.push(DnType::OrganizationName, o.as_str());
    }
    dn.push(DnType::CommonName, req.common_name.as_str());
    Ok(dn)
}

/// Makes a self-signed CA certificate for `key`, valid from five minutes ago for `validity`.
pub fn new_ca_cert(
    common_name: &str,
    key: &PrivateKey,
    validity: Duration,
) -> anyhow::Result<Vec<u8>> {
    let now = SystemTime::now();
    let mut p = CertificateParams::default();
    p.distinguished_name = subject(&CertRequest::new(
        common_name.into(),
        vec![],
        vec![],
        vec![],
        vec![],
    ))?;
    p.subject_alt_names = vec![SanType::DnsName(common_name.try_into()?)];
    p.serial_number = Some(random_serial()?);
    p.not_before = to_offset(now - CERTIFICATE_BACKDATE);
    p.not_after = to_offset(now + validity);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    Ok(p.self_signed(key.pair())?.der().to_vec())
}

/// Signs a leaf certificate for `key` with the CA. Its validity starts when the CA's does
/// (as upstream) and lasts `validity`, but never past the CA's own end.
pub fn new_signed_cert(
    req: &CertRequest,
    key: &PrivateKey,
    ca_cert_der: &[u8],
    ca_key: &PrivateKey,
    validity: Duration,
) -> anyhow::Result<Vec<u8>> {
    new_signed_cert_until(req, key, ca_cert_der, ca_key, SystemTime::now() + validity)
}

/// As [`new_signed_cert`], valid until `not_after` (or the CA's end, if sooner), which
/// may be in the past: `kubeconfig user --validity-period` takes a negative offset, as
/// upstream's does.
pub fn new_signed_cert_until(
    req: &CertRequest,
    key: &PrivateKey,
    ca_cert_der: &[u8],
    ca_key: &PrivateKey,
    not_after: SystemTime,
) -> anyhow::Result<Vec<u8>> {
    let ca = CertInfo::parse(ca_cert_der)?;
    let mut p = CertificateParams::default();
    let several_organizations = req.organizations.len() > 1;
    p.distinguished_name = if several_organizations {
        // Replaced below, once signed.
        subject(&CertRequest {
            organizations: Vec::new(),
            ..req.clone()
        })?
    } else {
        subject(req)?
    };
    p.subject_alt_names = san_list(req)?;
    p.serial_number = Some(random_serial()?);
    p.not_before = to_offset(ca.not_before);
    p.not_after = to_offset(not_after.min(ca.not_after));
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if key.is_rsa() {
        p.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    p.extended_key_usages = req
        .usages
        .iter()
        .map(|u| match u {
            Usage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            Usage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        })
        .collect();
    p.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_ca_cert_der(&ca_cert_der.into(), ca_key.pair())?;
    let der = p.signed_by(key.pair(), &issuer)?.der().to_vec();
    if several_organizations {
        return with_subject(&der, &subject_der(req), ca_key);
    }
    Ok(der)
}

/// The subject `O=a+O=b, CN=name` as DER: every Organization in one multi-valued RDN, as
/// upstream's Go `pkix.Name` writes a list of organizations (a user in several groups).
fn subject_der(req: &CertRequest) -> Vec<u8> {
    const ORGANIZATION: &[u64] = &[2, 5, 4, 10];
    const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
    let attribute = |w: yasna::DERWriter, oid: &[u64], value: &str| {
        w.write_sequence(|w| {
            w.next()
                .write_oid(&yasna::models::ObjectIdentifier::from_slice(oid));
            w.next().write_utf8_string(value);
        })
    };
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_set_of(|w| {
                for o in &req.organizations {
                    attribute(w.next(), ORGANIZATION, o);
                }
            });
            w.next()
                .write_set(|w| attribute(w.next(), COMMON_NAME, &req.common_name));
        })
    })
}

/// The certificate `cert` with its subject replaced by `subject` (a DER Name) and signed
/// again by the CA that signed it: the certificate builder keeps one value per attribute
/// type, so a subject it cannot hold is written into the signed structure.
fn with_subject(cert: &[u8], subject: &[u8], ca_key: &PrivateKey) -> anyhow::Result<Vec<u8>> {
    use rcgen::SigningKey;
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    let (tbs, algorithm) = yasna::parse_der(cert, |r| {
        r.read_sequence(|r| {
            let tbs = r.next().read_der()?;
            let algorithm = r.next().read_der()?;
            r.next().read_bitvec_bytes()?;
            Ok((tbs, algorithm))
        })
    })
    .map_err(|e| anyhow::anyhow!("reading the certificate just signed: {e}"))?;
    // TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer,
    // validity, subject, subjectPublicKeyInfo, [3] extensions }
    let mut fields = Vec::new();
    yasna::parse_der(&tbs, |r| {
        r.read_sequence_of(|r| {
            fields.push(r.read_der()?);
            Ok(())
        })
    })
    .map_err(|e| anyhow::anyhow!("reading the certificate just signed: {e}"))?;
    let subject_at = 5;
    anyhow::ensure!(
        fields.len() > subject_at + 1,
        "the certificate just signed has {} fields where a subject is expected at {}",
        fields.len(),
        subject_at + 1
    );
    fields[subject_at] = subject.to_vec();
    let tbs = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for f in &fields {
                w.next().write_der(f);
            }
        })
    });
    let signature = ca_key
        .pair()
        .sign(&tbs)
        .map_err(|e| anyhow::anyhow!("signing the certificate: {e}"))?;
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&tbs);
            w.next().write_der(&algorithm);
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    }))
}

/// PEM text with Unix line endings, as every tool of the Kubernetes ecosystem writes it.
pub fn encode_pem(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// PEM form of a DER certificate.
pub fn cert_pem(der: &[u8]) -> String {
    encode_pem("CERTIFICATE", der)
}

/// Paths of a certificate and its key under a directory.
pub fn cert_and_key_paths(dir: &Path, base_name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{base_name}.crt")),
        dir.join(format!("{base_name}.key")),
    )
}

/// Reads a PEM certificate file (the first certificate of a bundle).
pub fn load_cert(host: &dyn Host, path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match host.read(path) {
        Ok(bytes) => {
            let blocks = pem::parse_many(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", path.display()))?;
            let first = blocks
                .into_iter()
                .find(|b| b.tag() == "CERTIFICATE")
                .ok_or_else(|| anyhow::anyhow!("{}: holds no CERTIFICATE block", path.display()))?;
            Ok(Some(first.into_contents()))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads a PEM private key file. The error never contains the key.
pub fn load_key(host: &dyn Host, path: &Path) -> anyhow::Result<Option<PrivateKey>> {
    match host.read_to_string(path) {
        Ok(text) => PrivateKey::from_pem(&text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes a private key, mode 0600.
pub fn write_key(host: &dyn Host, path: &Path, key: &PrivateKey) -> Result<(), HostError> {
    host.write_file(path, key.to_pem().as_bytes(), KEY_MODE, Sensitivity::Secret)
}

/// The Subject Alternative Names of a request, DNS names first.
pub(crate) fn san_list(req: &CertRequest) -> anyhow::Result<Vec<SanType>> {
    req.dns_names
        .iter()
        .map(|d| Ok(SanType::DnsName(d.as_str().try_into()?)))
        .chain(req.ips.iter().map(|ip| Ok(SanType::IpAddress(*ip))))
        .collect()
}

/// Writes a certificate (0644) and its key (0600); the key first, as upstream.
pub fn write_cert_and_key(
    host: &dyn Host,
    dir: &Path,
    base_name: &str,
    cert_der: &[u8],
    key: &PrivateKey,
) -> Result<(), HostError> {
    let (cert_path, key_path) = cert_and_key_paths(dir, base_name);
    write_key(host, &key_path, key)?;
    host.write_file(
        &cert_path,
        cert_pem(cert_der).as_bytes(),
        CERT_MODE,
        Sensitivity::Public,
    )
}

/// Why an existing certificate cannot be used.
pub fn check_existing(
    path: &Path,
    info: &CertInfo,
    key: Option<&PrivateKey>,
    want: Option<&CertRequest>,
    ca: Option<&CertInfo>,
) -> anyhow::Result<()> {
    let p = path.display();
    let now = SystemTime::now();
    if now > info.not_after {
        anyhow::bail!(
            "{p}: the certificate has expired (NotAfter {}); renew it with 'kubeadm certs renew' or remove it and its key to have a new one made",
            x509::rfc3339(info.not_after)
        );
    }
    if now < info.not_before {
        anyhow::bail!(
            "{p}: the certificate is not valid yet (NotBefore {}); check this machine's clock",
            x509::rfc3339(info.not_before)
        );
    }
    if let Some(key) = key {
        if key.public_key_der() != info.public_key_der {
            anyhow::bail!(
                "{p}: the certificate does not match its private key (the .key file next to it holds another key); restore the matching pair or remove both"
            );
        }
    }
    if let Some(ca) = ca {
        if !info.is_signed_by(ca) {
            anyhow::bail!(
                "{p}: the certificate is not signed by the corresponding CA ({}); remove it and its key to have a new one made",
                ca.common_name
            );
        }
    }
    if let Some(want) = want {
        let missing_dns: Vec<_> = want
            .dns_names
            .iter()
            .filter(|d| !info.dns_names.contains(d))
            .collect();
        let missing_ips: Vec<_> = want.ips.iter().filter(|i| !info.ips.contains(i)).collect();
        if !missing_dns.is_empty() || !missing_ips.is_empty() {
            anyhow::bail!(
                "{p}: the certificate lacks Subject Alternative Names the configuration needs (DNS {:?}, IPs {:?}); remove it and its key to have a new one made, or renew it",
                missing_dns,
                missing_ips.iter().map(|i| i.to_string()).collect::<Vec<_>>()
            );
        }
        if info.common_name != want.common_name {
            anyhow::bail!(
                "{p}: the certificate's CN is {:?}, the configuration needs {:?}",
                info.common_name,
                want.common_name
            );
        }
    }
    Ok(())
}

impl PrivateKey {
    /// True for an RSA key.
    pub fn is_rsa(&self) -> bool {
        self.pair().algorithm() == &rcgen::PKCS_RSA_SHA256
    }
}
