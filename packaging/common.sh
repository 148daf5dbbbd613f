# Sourced by packaging/deb/build and packaging/rpm/build: the arguments both take, the
# binaries and man pages they package, and the files both packages install.
#
#   --binary PATH           kubeadm (default: built with cargo, release profile)
#   --cluster-binary PATH   kubeadm-cluster (default: built with cargo, release profile)
#   --man-dir DIR           the man pages of both (default: written by kubeadm-manpages)
#   --out DIR               where the package goes
#   --compression xz|gzip|none

# package_inputs TOOL DEFAULT_OUT ARGS...: reads the arguments and builds what is missing.
# Sets $root, $binary, $cluster_binary, $man_dir, $out, $compression, $k8s_version (v1.37.1)
# and $stage, a temporary directory removed when the script exits.
package_inputs() {
    local tool="$1"
    out="$2"
    shift 2
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    binary="" cluster_binary="" man_dir="" compression=xz
    while (($#)); do
        case "$1" in
            --binary | --cluster-binary | --man-dir | --out | --compression)
                (($# >= 2)) || { echo "$tool: $1 needs a value" >&2; exit 2; } ;;&
            --binary) binary="$2"; shift 2 ;;
            --cluster-binary) cluster_binary="$2"; shift 2 ;;
            --man-dir) man_dir="$2"; shift 2 ;;
            --out) out="$2"; shift 2 ;;
            --compression) compression="$2"; shift 2 ;;
            *) echo "$tool: unknown argument $1" >&2; exit 2 ;;
        esac
    done
    case "$compression" in
        xz | gzip | none) ;;
        *) echo "$tool: --compression $compression: use xz, gzip or none" >&2; exit 2 ;;
    esac

    if [[ -z $binary || -z $cluster_binary ]]; then
        (cd "$root" && cargo build --release --locked -p kubeadm-rs -p kubeadm-cluster --bins)
        binary="${binary:-$root/target/release/kubeadm}"
        cluster_binary="${cluster_binary:-$root/target/release/kubeadm-cluster}"
    fi
    local b
    for b in "$binary" "$cluster_binary"; do
        [[ -f $b && -x $b ]] || { echo "$tool: $b is not an executable" >&2; exit 1; }
    done

    stage="$(mktemp -d)"
    trap 'rm -rf "$stage"' EXIT
    if [[ -z $man_dir ]]; then
        man_dir="$stage/man"
        (cd "$root" && cargo run --quiet --locked -p kubeadm-manpages -- "$man_dir") >/dev/null
    fi
    compgen -G "$man_dir/kubeadm-cluster*.1" >/dev/null \
        || { echo "$tool: $man_dir has no kubeadm-cluster pages (kubeadm-manpages writes them)" >&2; exit 1; }

    # The package version is the Kubernetes release this kubeadm implements.
    k8s_version="$("$binary" version -o short)"
}

# stage_files DIR ZSH_DIR: lays out under DIR what both packages install, as the
# distribution's kubeadm package does (the binary and the kubelet's drop-in) plus
# kubeadm-cluster, the completions (zsh's under ZSH_DIR, which differs between
# distributions) and the man pages; files 0644, programs 0755.
stage_files() {
    local pkg="$1" zsh_dir="$2" page
    install -D -m 0755 "$binary" "$pkg/usr/bin/kubeadm"
    install -D -m 0755 "$cluster_binary" "$pkg/usr/bin/kubeadm-cluster"
    install -D -m 0644 "$root/packaging/systemd/10-kubeadm.conf" \
        "$pkg/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    install -d "$pkg/usr/share/bash-completion/completions" "$pkg$zsh_dir" \
        "$pkg/usr/share/fish/vendor_completions.d" "$pkg/usr/share/man/man1"
    "$binary" completion bash >"$pkg/usr/share/bash-completion/completions/kubeadm"
    "$binary" completion zsh >"$pkg$zsh_dir/_kubeadm"
    "$binary" completion fish >"$pkg/usr/share/fish/vendor_completions.d/kubeadm.fish"
    for page in "$man_dir"/*.1; do
        gzip -9n <"$page" >"$pkg/usr/share/man/man1/$(basename "$page").gz"
    done
    find "$pkg/usr" -type d -exec chmod 0755 {} +
    find "$pkg/usr" -type f -exec chmod 0644 {} +
    chmod 0755 "$pkg/usr/bin/kubeadm" "$pkg/usr/bin/kubeadm-cluster"
}

# package_arch DEB|RPM: the machine's architecture in that package format's words.
package_arch() {
    case "$1:$(uname -m)" in
        deb:x86_64) echo amd64 ;;
        deb:aarch64) echo arm64 ;;
        deb:ppc64le) echo ppc64el ;;
        *) uname -m ;;
    esac
}
