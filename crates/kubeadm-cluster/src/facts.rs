//! What a host is, read over SSH in one command: its architecture, whether the kubelet
//! and a container runtime are installed, the kubeadm installed where the cluster file
//! says, and which cluster (if any) its files belong to (the public-key pin of its
//! `/etc/kubernetes/pki/ca.crt`).

use crate::ssh::{quote, Remote};

/// A host's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `uname -m`.
    pub arch: String,
    /// `uname -n`: the host's name, which kubeadm makes the Node's name (lower-cased)
    /// unless the configuration names it.
    pub hostname: String,
    /// Where the kubelet is installed.
    pub kubelet: Option<String>,
    /// The container runtime sockets found.
    pub runtimes: Vec<String>,
    /// The SHA-256 of the installed kubeadm, when there is one.
    pub kubeadm_sha256: Option<String>,
    /// `/etc/kubernetes/kubelet.conf` exists: the node has joined a cluster.
    pub kubelet_conf: bool,
    /// The API server's static Pod manifest exists: the node runs a control plane.
    pub apiserver_manifest: bool,
    /// `/etc/kubernetes/admin.conf` exists.
    pub admin_conf: bool,
    /// kubeadm's files are there: any file under `/etc/kubernetes`, etcd's data, the
    /// kubelet's configuration from kubeadm.
    pub any_state: bool,
    /// The CA public-key pin of the cluster its files belong to.
    pub ca_pin: Option<String>,
}

const CA_MARK: &str = "ca.crt:";

/// The script that prints the facts of a host whose kubeadm lives at `kubeadm_path`.
pub fn script(kubeadm_path: &str) -> String {
    format!(
        r#"{sha256_of}K={k}
echo "arch=$(uname -m)"
echo "hostname=$(uname -n)"
echo "kubelet=$(command -v kubelet 2>/dev/null)"
for s in /run/containerd/containerd.sock /run/crio/crio.sock /run/cri-dockerd.sock; do
  if [ -S "$s" ]; then echo "runtime=$s"; fi
done
if [ -f "$K" ]; then echo "kubeadm=$(sha256_of "$K")"; fi
if [ -f /etc/kubernetes/kubelet.conf ]; then echo kubelet.conf=yes; fi
if [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then echo apiserver=yes; fi
if [ -f /etc/kubernetes/admin.conf ]; then echo admin.conf=yes; fi
if [ -n "$(find /etc/kubernetes -type f 2>/dev/null | head -n 1)" ] || [ -e /var/lib/etcd/member ] \
  || [ -e /var/lib/kubelet/config.yaml ] || [ -e /var/lib/kubelet/kubeadm-flags.env ]; then
  echo state=yes
fi
if [ -f /etc/kubernetes/pki/ca.crt ]; then echo "{CA_MARK}"; cat /etc/kubernetes/pki/ca.crt; fi
exit 0
"#,
        k = quote(kubeadm_path),
        sha256_of = crate::ssh::SHA256_OF,
    )
}

/// Parses what [`script`] printed.
pub fn parse(out: &str) -> anyhow::Result<Facts> {
    let mut f = Facts::default();
    let (head, ca) = match out.split_once(&format!("\n{CA_MARK}\n")) {
        Some((h, c)) => (h, Some(c)),
        None => (out, None),
    };
    for line in head.lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        match k {
            "arch" => f.arch = v.to_string(),
            "hostname" => f.hostname = v.to_string(),
            "kubelet" if !v.is_empty() => f.kubelet = Some(v.to_string()),
            "runtime" => f.runtimes.push(v.to_string()),
            "kubeadm" => f.kubeadm_sha256 = Some(v.to_string()),
            "kubelet.conf" => f.kubelet_conf = true,
            "apiserver" => f.apiserver_manifest = true,
            "admin.conf" => f.admin_conf = true,
            "state" => f.any_state = true,
            _ => {}
        }
    }
    if let Some(pem) = ca {
        f.ca_pin = Some(
            kubeadm::pki::public_key_pin_pem(pem.as_bytes()).map_err(|e| {
                anyhow::anyhow!("/etc/kubernetes/pki/ca.crt is not a certificate: {e}")
            })?,
        );
    }
    Ok(f)
}

/// Reads the facts of the host behind `r`.
pub async fn gather(r: &Remote, kubeadm_path: &str) -> anyhow::Result<Facts> {
    let out = r.run(&script(kubeadm_path), None).await?;
    if !out.success() {
        anyhow::bail!("reading the host's facts failed: {}", out.tail(5));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

impl Facts {
    /// One line for the progress output.
    pub fn summary(&self) -> String {
        format!(
            "{}, kubelet {}, runtime {}, {}",
            if self.arch.is_empty() {
                "?"
            } else {
                &self.arch
            },
            self.kubelet.as_deref().unwrap_or("not installed"),
            if self.runtimes.is_empty() {
                "none found".to_string()
            } else {
                self.runtimes.join(" ")
            },
            match (&self.ca_pin, self.kubelet_conf) {
                (Some(_), true) => "a node of a cluster",
                (Some(_), false) => "cluster files without a kubelet.conf",
                (None, _) if self.any_state => "files of an unfinished node",
                (None, _) => "not a node",
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse_with_and_without_a_ca() {
        let f = parse("arch=x86_64\nhostname=Node-1\nkubelet=\nruntime=/run/containerd/containerd.sock\nkubeadm=abc\nstate=yes\n").unwrap();
        assert_eq!(f.arch, "x86_64");
        assert_eq!(f.hostname, "Node-1");
        assert_eq!(f.kubelet, None);
        assert_eq!(f.runtimes, ["/run/containerd/containerd.sock"]);
        assert_eq!(f.kubeadm_sha256.as_deref(), Some("abc"));
        assert!(f.any_state && !f.kubelet_conf && f.ca_pin.is_none());
        let e = parse("arch=x86_64\nkubelet.conf=yes\nca.crt:\nnot a pem\n").unwrap_err();
        assert!(e.to_string().contains("ca.crt is not a certificate"), "{e}");
    }
}
