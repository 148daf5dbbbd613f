//! The archive `backup` writes and `restore` reads: a tar file (ustar) holding, under
//! fixed names, the cluster's CA, front-proxy CA and etcd CA with their keys, the
//! service-account key pair, the kubeadm-config and kubelet-config ConfigMaps and an etcd
//! snapshot, preceded by a manifest giving each entry's size and SHA-256.
//!
//! It is written whole or not at all (a 0600 temporary file in the same directory,
//! synced, then renamed over the target). It is read as hostile input: only the names
//! of [`ENTRIES`] are taken, each once, as plain files within its size bound, the
//! manifest first; every entry must match the manifest's size and checksum, and be what
//! its name says (CA certificates with their keys, a key pair, ConfigMaps of those names,
//! an etcd database), before anything is done with it. Nothing in it is ever written to
//! a path it names.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::escape;

/// The manifest's name: the archive's first entry.
pub const MANIFEST: &str = "MANIFEST.json";
/// The etcd snapshot's name.
pub const SNAPSHOT: &str = "etcd/snapshot.db";
/// The manifest's `apiVersion`.
pub const API_VERSION: &str = "kubeadm-rs.io/v1alpha1";
/// The manifest's `kind`.
pub const KIND: &str = "ClusterBackup";

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
/// The largest manifest read.
const MAX_MANIFEST: u64 = 64 * KIB;
/// The largest certificate or key read.
const MAX_PKI: u64 = 64 * KIB;
/// The largest ConfigMap read (the API server stores objects of up to 1.5 MiB).
const MAX_CONFIGMAP: u64 = 3 * MIB;
/// The largest snapshot read: etcd's largest recommended storage quota (8 GiB).
pub const MAX_SNAPSHOT: u64 = 8 * 1024 * MIB;

/// What an entry holds, checked on reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A CA certificate (PEM).
    CaCertificate,
    /// The private key (PEM) of the certificate or public key named.
    PrivateKey(&'static str),
    /// A public key (PEM `PUBLIC KEY`).
    PublicKey,
    /// A ConfigMap of kube-system with this name, as the API returned it (JSON).
    ConfigMap(&'static str),
    /// An etcd snapshot (a bbolt database file, with etcd's checksum appended).
    Snapshot,
}

/// An entry of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Its name in the archive.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// For PKI files, where it lives under the certificates directory, and with which
    /// mode kubeadm writes it there.
    pub pki: Option<(&'static str, u32)>,
}

const fn pki(name: &'static str, kind: Kind, file: &'static str, mode: u32) -> Entry {
    Entry {
        name,
        kind,
        pki: Some((file, mode)),
    }
}

/// Every entry of a backup besides the manifest, in the archive's order. Certificates
/// are written 0644, keys 0600; sa.pub with the key-file mode, as kubeadm writes it.
pub const ENTRIES: [Entry; 11] = [
    pki("pki/ca.crt", Kind::CaCertificate, "ca.crt", 0o644),
    pki(
        "pki/ca.key",
        Kind::PrivateKey("pki/ca.crt"),
        "ca.key",
        0o600,
    ),
    pki(
        "pki/front-proxy-ca.crt",
        Kind::CaCertificate,
        "front-proxy-ca.crt",
        0o644,
    ),
    pki(
        "pki/front-proxy-ca.key",
        Kind::PrivateKey("pki/front-proxy-ca.crt"),
        "front-proxy-ca.key",
        0o600,
    ),
    pki("pki/etcd/ca.crt", Kind::CaCertificate, "etcd/ca.crt", 0o644),
    pki(
        "pki/etcd/ca.key",
        Kind::PrivateKey("pki/etcd/ca.crt"),
        "etcd/ca.key",
        0o600,
    ),
    pki(
        "pki/sa.key",
        Kind::PrivateKey("pki/sa.pub"),
        "sa.key",
        0o600,
    ),
    pki("pki/sa.pub", Kind::PublicKey, "sa.pub", 0o600),
    Entry {
        name: "configmaps/kubeadm-config.json",
        kind: Kind::ConfigMap("kubeadm-config"),
        pki: None,
    },
    Entry {
        name: "configmaps/kubelet-config.json",
        kind: Kind::ConfigMap("kubelet-config"),
        pki: None,
    },
    Entry {
        name: SNAPSHOT,
        kind: Kind::Snapshot,
        pki: None,
    },
];

impl Kind {
    /// The largest size taken.
    fn max(self) -> u64 {
        match self {
            Kind::CaCertificate | Kind::PrivateKey(_) | Kind::PublicKey => MAX_PKI,
            Kind::ConfigMap(_) => MAX_CONFIGMAP,
            Kind::Snapshot => MAX_SNAPSHOT,
        }
    }
}

fn entry(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.name == name)
}

/// The manifest: what the archive holds, with sizes and checksums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`API_VERSION`].
    pub api_version: String,
    /// [`KIND`].
    pub kind: String,
    /// When the backup was taken (RFC 3339).
    pub created: String,
    /// The etcd version the snapshot was taken from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_version: Option<String>,
    /// Every entry but the manifest.
    pub entries: Vec<ManifestEntry>,
}

/// One entry of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Its name in the archive.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, in lower-case hex.
    pub sha256: String,
}

/// SHA-256 as it goes, for data written in pieces.
pub struct Sha256(aws_lc_rs::digest::Context);

impl Default for Sha256 {
    fn default() -> Self {
        Sha256(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }
}

impl Sha256 {
    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest, in lower-case hex.
    pub fn hex(self) -> String {
        hex(self.0.finish().as_ref())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `data`, in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    let mut s = Sha256::default();
    s.update(data);
    s.hex()
}

/// A snapshot already written to a file, with its size and checksum.
pub struct SnapshotFile<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its size.
    pub size: u64,
    /// Its SHA-256, in hex.
    pub sha256: String,
}

/// Writes the archive at `out`: the manifest, then `files` (every entry of [`ENTRIES`]
/// but the snapshot, by name), then the snapshot. Whole or not at all: a 0600 file
/// beside `out`, synced and renamed over it.
pub fn write(
    out: &Path,
    created: &str,
    etcd_version: Option<&str>,
    files: &BTreeMap<&'static str, Vec<u8>>,
    snapshot: &SnapshotFile<'_>,
) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    for e in &ENTRIES {
        if e.kind == Kind::Snapshot {
            entries.push(ManifestEntry {
                name: e.name.into(),
                size: snapshot.size,
                sha256: snapshot.sha256.clone(),
            });
            continue;
        }
        let data = files
            .get(e.name)
            .ok_or_else(|| anyhow::anyhow!("the backup lacks {}", e.name))?;
        entries.push(ManifestEntry {
            name: e.name.into(),
            size: data.len() as u64,
            sha256: sha256_hex(data),
        });
    }
    let manifest = Manifest {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        created: created.into(),
        etcd_version: etcd_version.map(str::to_string),
        entries,
    };
    let manifest = serde_json::to_vec_pretty(&manifest)?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("writing {}: {e}", out.display());
    // tempfile makes its files 0600.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut b = tar::Builder::new(std::io::BufWriter::new(tmp.as_file()));
    let mut add = |name: &str, size: u64, data: &mut dyn Read| {
        let mut h = tar::Header::new_ustar();
        h.set_path(name)?;
        h.set_size(size);
        h.set_mode(0o600);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data)
    };
    add(MANIFEST, manifest.len() as u64, &mut manifest.as_slice()).map_err(|e| fail(&e))?;
    for e in &ENTRIES {
        if e.kind == Kind::Snapshot {
            let f = std::fs::File::open(snapshot.path).map_err(|e| fail(&e))?;
            add(e.name, snapshot.size, &mut f.take(snapshot.size)).map_err(|e| fail(&e))?;
        } else {
            let data = &files[e.name];
            add(e.name, data.len() as u64, &mut data.as_slice()).map_err(|e| fail(&e))?;
        }
    }
    let mut w = b.into_inner().map_err(|e| fail(&e))?;
    w.flush().map_err(|e| fail(&e))?;
    drop(w);
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.persist(out).map_err(|e| fail(&e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().map_err(|e| fail(&e))?;
    }
    Ok(())
}

/// A verified backup: every entry present, of its size and checksum, and what its name
/// says.
pub struct Backup {
    /// The manifest.
    pub manifest: Manifest,
    /// Every entry but the snapshot, by name.
    pub files: BTreeMap<&'static str, Vec<u8>>,
    /// The etcd snapshot.
    pub snapshot: Vec<u8>,
}

impl std::fmt::Debug for Backup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are in there: names and sizes only.
        f.debug_struct("Backup")
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

/// A name read from the archive, for a message: escaped and cut short.
fn shown(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    let cut: String = text.chars().take(100).collect();
    let more = if cut.len() < text.len() { "..." } else { "" };
    format!("{:?}{more}", escape::controls(&cut))
}

/// Reads and verifies the archive at `path`; the error says what is wrong, and that
/// nothing was done.
pub fn read(path: &Path) -> anyhow::Result<Backup> {
    let p = path.display();
    let meta = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("--from {p}: {e}"))?;
    if !meta.is_file() {
        anyhow::bail!("--from {p}: not a regular file");
    }
    let limit = MAX_MANIFEST + ENTRIES.iter().map(|e| e.kind.max() + 1024).sum::<u64>() + 4096;
    if meta.len() > limit {
        anyhow::bail!(
            "--from {p}: {} bytes is larger than any backup can be ({limit} bytes); this is not a kubeadm-cluster backup",
            meta.len()
        );
    }
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("--from {p}: {e}"))?;
    verify(std::io::BufReader::new(f)).map_err(|e| {
        anyhow::anyhow!("--from {p}: the backup is refused, nothing was done on any host: {e}")
    })
}

/// Reads and verifies an archive from `r`.
pub fn verify(r: impl Read) -> anyhow::Result<Backup> {
    let mut archive = tar::Archive::new(r);
    let mut manifest: Option<Manifest> = None;
    let mut files = BTreeMap::new();
    let mut snapshot = None;
    let entries = archive
        .entries()
        .map_err(|e| anyhow::anyhow!("not a tar archive: {e}"))?;
    for (i, item) in entries.enumerate() {
        let mut item = item.map_err(|e| {
            anyhow::anyhow!(
                "entry {}: not readable (a truncated or damaged archive?): {e}",
                i + 1
            )
        })?;
        if i > ENTRIES.len() {
            anyhow::bail!("more than the {} entries a backup holds", ENTRIES.len() + 1);
        }
        let name = item.path_bytes().into_owned();
        let kind = item.header().entry_type();
        if kind != tar::EntryType::Regular {
            anyhow::bail!(
                "entry {} ({}) is not a plain file ({kind:?}); a backup holds plain files only",
                i + 1,
                shown(&name)
            );
        }
        let size = item.header().size().map_err(|e| {
            anyhow::anyhow!(
                "entry {} ({}): its size is unreadable: {e}",
                i + 1,
                shown(&name)
            )
        })?;
        if i == 0 {
            if name != MANIFEST.as_bytes() {
                anyhow::bail!(
                    "the first entry is {}, not {MANIFEST}: this is not a kubeadm-cluster backup",
                    shown(&name)
                );
            }
            if size > MAX_MANIFEST {
                anyhow::bail!("{MANIFEST} is {size} bytes, more than the {MAX_MANIFEST} taken");
            }
            let data = read_exact(&mut item, size, MANIFEST)?;
            manifest = Some(parse_manifest(&data)?);
            continue;
        }
        let m = manifest.as_ref().expect("the first entry");
        let Some(e) = std::str::from_utf8(&name).ok().and_then(entry) else {
            anyhow::bail!(
                "entry {} is named {}, which a backup does not hold",
                i + 1,
                shown(&name)
            );
        };
        if files.contains_key(e.name) || (e.kind == Kind::Snapshot && snapshot.is_some()) {
            anyhow::bail!("{} is in the archive twice", e.name);
        }
        let listed = m
            .entries
            .iter()
            .find(|x| x.name == e.name)
            .expect("the manifest lists every entry");
        if size != listed.size {
            anyhow::bail!(
                "{} is {size} bytes, the manifest says {}: the archive was altered or damaged",
                e.name,
                listed.size
            );
        }
        let data = read_exact(&mut item, size, e.name)?;
        if sha256_hex(&data) != listed.sha256 {
            anyhow::bail!(
                "{}: its SHA-256 is not the manifest's: the archive was altered or damaged",
                e.name
            );
        }
        if e.kind == Kind::Snapshot {
            snapshot = Some(data);
        } else {
            files.insert(e.name, data);
        }
    }
    let Some(manifest) = manifest else {
        anyhow::bail!("the archive is empty: this is not a kubeadm-cluster backup");
    };
    let missing: Vec<&str> = ENTRIES
        .iter()
        .filter(|e| {
            if e.kind == Kind::Snapshot {
                snapshot.is_none()
            } else {
                !files.contains_key(e.name)
            }
        })
        .map(|e| e.name)
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "{} missing: the archive is truncated or incomplete",
            missing.join(", ")
        );
    }
    let backup = Backup {
        manifest,
        files,
        snapshot: snapshot.expect("checked"),
    };
    check_kinds(&backup)?;
    Ok(backup)
}

/// Reads exactly `size` bytes of entry `name`.
fn read_exact(r: &mut dyn Read, size: u64, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(size.min(MIB) as usize);
    r.take(size)
        .read_to_end(&mut data)
        .map_err(|e| anyhow::anyhow!("{name}: not readable: {e}"))?;
    if (data.len() as u64) < size {
        anyhow::bail!(
            "{name}: {} of its {size} bytes are there: the archive is truncated",
            data.len()
        );
    }
    Ok(data)
}

fn parse_manifest(data: &[u8]) -> anyhow::Result<Manifest> {
    let m: Manifest = serde_json::from_slice(data)
        .map_err(|e| anyhow::anyhow!("{MANIFEST}: not a backup manifest: {e}"))?;
    if m.api_version != API_VERSION || m.kind != KIND {
        anyhow::bail!(
            "{MANIFEST}: apiVersion {} kind {}, not {API_VERSION} {KIND}",
            shown(m.api_version.as_bytes()),
            shown(m.kind.as_bytes())
        );
    }
    let listed: Vec<&str> = m.entries.iter().map(|e| e.name.as_str()).collect();
    let want: Vec<&str> = ENTRIES.iter().map(|e| e.name).collect();
    if listed != want {
        anyhow::bail!(
            "{MANIFEST}: the entries listed are not those of a backup ({})",
            want.join(", ")
        );
    }
    for e in &m.entries {
        let max = entry(&e.name).expect("listed").kind.max();
        if e.size > max {
            anyhow::bail!(
                "{MANIFEST}: {} is said to be {} bytes, more than the {max} taken",
                e.name,
                e.size
            );
        }
        if e.sha256.len() != 64
            || !e
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            anyhow::bail!(
                "{MANIFEST}: the sha256 of {} is not 64 lower-case hex digits",
                e.name
            );
        }
    }
    Ok(m)
}

/// The bytes of a PEM text with its whitespace taken out, to compare two encodings of
/// the same key.
fn pem_body(text: &[u8]) -> Vec<u8> {
    text.iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect()
}

/// Each entry is what its name says.
fn check_kinds(b: &Backup) -> anyhow::Result<()> {
    for e in &ENTRIES {
        let data = match e.kind {
            Kind::Snapshot => &b.snapshot,
            _ => &b.files[e.name],
        };
        let text =
            || std::str::from_utf8(data).map_err(|_| anyhow::anyhow!("{}: not PEM text", e.name));
        match e.kind {
            Kind::CaCertificate => {
                let info = kubeadm::pki::CertInfo::parse_pem(text()?)
                    .map_err(|err| anyhow::anyhow!("{}: not a certificate: {err}", e.name))?;
                if !info.is_ca {
                    anyhow::bail!("{}: not a CA certificate", e.name);
                }
            }
            Kind::PrivateKey(pair) => {
                // The key parser's errors never contain the key.
                let key = kubeadm::pki::keys::PrivateKey::from_pem(text()?)
                    .map_err(|err| anyhow::anyhow!("{}: not a private key: {err}", e.name))?;
                let other = &b.files[pair];
                let matches = match entry(pair).map(|p| p.kind) {
                    Some(Kind::PublicKey) => {
                        pem_body(key.public_key_pem().as_bytes()) == pem_body(other)
                    }
                    _ => std::str::from_utf8(other)
                        .ok()
                        .and_then(|t| kubeadm::pki::CertInfo::parse_pem(t).ok())
                        .is_some_and(|c| c.public_key_der == key.public_key_der()),
                };
                if !matches {
                    anyhow::bail!("{}: not the key of {pair}", e.name);
                }
            }
            Kind::PublicKey => {
                let t = text()?;
                if !t.trim_start().starts_with("-----BEGIN PUBLIC KEY-----") {
                    anyhow::bail!("{}: not a PEM public key", e.name);
                }
            }
            Kind::ConfigMap(name) => {
                let v: serde_json::Value = serde_json::from_slice(data)
                    .map_err(|err| anyhow::anyhow!("{}: not JSON: {err}", e.name))?;
                let ok = v["kind"] == "ConfigMap"
                    && v["metadata"]["name"] == name
                    && v["metadata"]["namespace"] == "kube-system"
                    && v["data"]
                        .as_object()
                        .is_some_and(|d| d.values().all(|x| x.is_string()));
                if !ok {
                    anyhow::bail!(
                        "{}: not the ConfigMap kube-system/{name} with its data",
                        e.name
                    );
                }
            }
            Kind::Snapshot => {
                // A bbolt database begins with its meta page: a 16-byte page header,
                // then the magic number 0xED0CDAED (little-endian).
                if data.len() < 4096 || data[16..20] != [0xed, 0xda, 0x0c, 0xed] {
                    anyhow::bail!("{}: not an etcd database", e.name);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> (Vec<u8>, Vec<u8>) {
        let key = kubeadm::pki::keys::PrivateKey::generate(
            kubeadm::config::EncryptionAlgorithm::EcdsaP256,
        )
        .unwrap();
        let cert =
            kubeadm::pki::new_ca_cert(name, &key, std::time::Duration::from_secs(3600)).unwrap();
        (
            kubeadm::pki::cert_pem(&cert).into_bytes(),
            key.to_pem().into_bytes(),
        )
    }

    fn configmap(name: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "kube-system"},
            "data": {"k": "v"}
        }))
        .unwrap()
    }

    fn snapshot() -> Vec<u8> {
        let mut s = vec![0u8; 8192];
        s[16..20].copy_from_slice(&[0xed, 0xda, 0x0c, 0xed]);
        s[5000] = 7;
        s
    }

    fn contents() -> BTreeMap<&'static str, Vec<u8>> {
        let mut m = BTreeMap::new();
        for (c, k, n) in [
            ("pki/ca.crt", "pki/ca.key", "kubernetes"),
            (
                "pki/front-proxy-ca.crt",
                "pki/front-proxy-ca.key",
                "front-proxy-ca",
            ),
            ("pki/etcd/ca.crt", "pki/etcd/ca.key", "etcd-ca"),
        ] {
            let (cert, key) = ca(n);
            m.insert(c, cert);
            m.insert(k, key);
        }
        let sa = kubeadm::pki::keys::PrivateKey::generate(
            kubeadm::config::EncryptionAlgorithm::EcdsaP256,
        )
        .unwrap();
        m.insert("pki/sa.key", sa.to_pem().into_bytes());
        m.insert("pki/sa.pub", sa.public_key_pem().into_bytes());
        m.insert(
            "configmaps/kubeadm-config.json",
            configmap("kubeadm-config"),
        );
        m.insert(
            "configmaps/kubelet-config.json",
            configmap("kubelet-config"),
        );
        m
    }

    /// An archive of `files` and `snap` written by [`write`], as bytes.
    fn archive(files: &BTreeMap<&'static str, Vec<u8>>, snap: &[u8]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("snap");
        std::fs::write(&sp, snap).unwrap();
        let out = dir.path().join("backup.tar");
        write(
            &out,
            "2026-01-01T00:00:00Z",
            Some("3.5.1"),
            files,
            &SnapshotFile {
                path: &sp,
                size: snap.len() as u64,
                sha256: sha256_hex(snap),
            },
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the archive is 0600");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 2, "no temporary file is left: {left:?}");
        std::fs::read(out).unwrap()
    }

    fn refused(bytes: &[u8]) -> String {
        format!("{:#}", verify(bytes).expect_err("refused"))
    }

    /// A tar archive of raw entries, built without [`write`]'s guarantees.
    fn raw(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_entry_type(*kind);
            h.set_mode(0o600);
            if name.contains("..") {
                // The builder refuses such a name: written into the header as it is.
                h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            } else {
                // Long names go in a GNU long-name entry first.
                b.append_data(&mut h, name, *data).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_backup_reads_back_whole() {
        let files = contents();
        let snap = snapshot();
        let b = verify(archive(&files, &snap).as_slice()).unwrap();
        assert_eq!(b.snapshot, snap);
        assert_eq!(b.files, files);
        assert_eq!(b.manifest.entries.len(), ENTRIES.len());
        assert_eq!(b.manifest.etcd_version.as_deref(), Some("3.5.1"));
        let shown = format!("{b:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }

    #[test]
    fn a_truncated_archive_is_refused() {
        let bytes = archive(&contents(), &snapshot());
        for cut in [bytes.len() - 2048, bytes.len() / 2, 1500, 700, 100] {
            let e = refused(&bytes[..cut]);
            assert!(
                e.contains("truncated") || e.contains("missing") || e.contains("not readable"),
                "cut at {cut}: {e}"
            );
        }
        assert!(refused(&[]).contains("empty"), "{}", refused(&[]));
    }

    #[test]
    fn a_changed_byte_anywhere_in_an_entry_is_refused_by_its_checksum() {
        let files = contents();
        let bytes = archive(&files, &snapshot());
        // The snapshot's byte 5000, in the last entry's data.
        let snap_at = bytes.len() - 1024 - 8192;
        let mut t = bytes.clone();
        t[snap_at + 5000] ^= 1;
        let e = refused(&t);
        assert!(
            e.contains("etcd/snapshot.db: its SHA-256 is not the manifest's"),
            "{e}"
        );
        // A key's content.
        let key = &files["pki/ca.key"];
        let at = bytes
            .windows(key.len())
            .position(|w| w == key.as_slice())
            .unwrap();
        let mut t = bytes.clone();
        t[at + 40] ^= 2;
        let e = refused(&t);
        assert!(e.contains("pki/ca.key: its SHA-256"), "{e}");
        assert!(!e.contains("PRIVATE"), "{e}");
    }

    #[test]
    fn entries_that_are_not_what_their_name_says_are_refused() {
        let mut files = contents();
        // The etcd CA's key swapped for the front-proxy CA's.
        files.insert("pki/etcd/ca.key", files["pki/front-proxy-ca.key"].clone());
        let e = refused(&archive(&files, &snapshot()));
        assert!(
            e.contains("pki/etcd/ca.key: not the key of pki/etcd/ca.crt"),
            "{e}"
        );
        let mut files = contents();
        files.insert("configmaps/kubelet-config.json", configmap("other"));
        let e = refused(&archive(&files, &snapshot()));
        assert!(
            e.contains("not the ConfigMap kube-system/kubelet-config"),
            "{e}"
        );
        let e = refused(&archive(&contents(), &[0u8; 8192]));
        assert!(e.contains("not an etcd database"), "{e}");
    }

    #[test]
    fn hostile_archives_are_refused_with_a_bounded_message() {
        let reg = tar::EntryType::Regular;
        let manifest = {
            let bytes = archive(&contents(), &snapshot());
            let b = verify(bytes.as_slice()).unwrap();
            serde_json::to_vec(&b.manifest).unwrap()
        };
        // Not first: the manifest.
        let e = refused(&raw(&[("pki/ca.crt", reg, b"x")]));
        assert!(e.contains("not MANIFEST.json"), "{e}");
        // A path leaving the archive's names.
        let e = refused(&raw(&[
            (MANIFEST, reg, &manifest),
            ("../../etc/passwd", reg, b"x"),
        ]));
        assert!(
            e.contains("\"../../etc/passwd\", which a backup does not hold"),
            "{e}"
        );
        // A link, a directory.
        let e = refused(&raw(&[
            (MANIFEST, reg, &manifest),
            ("pki/ca.crt", tar::EntryType::Symlink, b""),
        ]));
        assert!(e.contains("not a plain file"), "{e}");
        let e = refused(&raw(&[(MANIFEST, tar::EntryType::Directory, b"")]));
        assert!(e.contains("not a plain file"), "{e}");
        // Control characters in a name are escaped, a long name cut.
        let long = format!("a\x1b[31m{}", "b".repeat(300));
        let e = refused(&raw(&[(MANIFEST, reg, &manifest), (&long, reg, b"x")]));
        assert!(!e.contains('\x1b') && e.contains("..."), "{e}");
        assert!(e.len() < 400, "{e}");
        // A manifest claiming an entry larger than taken.
        let mut m: Manifest = serde_json::from_slice(&manifest).unwrap();
        m.entries[0].size = MAX_PKI + 1;
        let e = refused(&raw(&[(MANIFEST, reg, &serde_json::to_vec(&m).unwrap())]));
        assert!(e.contains("more than the"), "{e}");
        // An entry whose size differs from the manifest's.
        let e = refused(&raw(&[
            (MANIFEST, reg, &manifest),
            ("pki/ca.crt", reg, b"short"),
        ]));
        assert!(e.contains("the manifest says"), "{e}");
        // Another kind of file altogether.
        let e = refused(&raw(&[(
            MANIFEST,
            reg,
            b"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"created\": \"\", \"entries\": []}",
        )]));
        assert!(
            e.contains("not kubeadm-rs.io/v1alpha1 ClusterBackup"),
            "{e}"
        );
        // Entries beyond a backup's, after a whole one.
        let whole = archive(&contents(), &snapshot());
        let mut more = whole[..whole.len() - 1024].to_vec();
        more.extend(raw(&[("extra", reg, b"x")]));
        let e = refused(&more);
        assert!(e.contains("more than the 12 entries a backup holds"), "{e}");
    }
}
