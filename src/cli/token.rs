//! `kubeadm token`: bootstrap token management.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::client::{Api, DryRunClient, KubeClient};
use crate::token::{BootstrapToken, TokenSpec};

/// `kubeadm token` and the flags its subcommands share.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Whether to enable dry-run mode or not
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// The kubeconfig file to use when talking to the cluster. If the flag is not set, a set of standard locations can be searched for an existing kubeconfig file. [default: /etc/kubernetes/admin.conf]
    #[arg(long, global = true, value_name = "string")]
    pub kubeconfig: Option<PathBuf>,
    /// The token operation.
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// `kubeadm token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create bootstrap tokens on the server
    Create(TokenCreateArgs),
    /// Delete bootstrap tokens on the server
    Delete {
        /// Token values (abcdef.0123456789abcdef) or ids (abcdef) to delete.
        #[arg(value_name = "token-value", required = true)]
        tokens: Vec<String>,
    },
    /// Generate and print a bootstrap token, but do not create it on the server
    Generate,
    /// List bootstrap tokens on the server
    List(OutputArgs),
}

/// Flags of `kubeadm token create`.
#[derive(Debug, clap::Args)]
pub struct TokenCreateArgs {
    /// The token to create; a random one when not given.
    #[arg(value_name = "token")]
    pub token: Option<String>,
    /// When used together with '--print-join-command', print the full 'kubeadm join' flag needed to join the cluster as a control-plane. To create a new certificate key you must use 'kubeadm init phase upload-certs --upload-certs'.
    #[arg(long, value_name = "string")]
    pub certificate_key: Option<String>,
    /// Path to a kubeadm configuration file.
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,
    /// A human friendly description of how this token is used.
    #[arg(long, value_name = "string")]
    pub description: Option<String>,
    /// Extra groups that this token will authenticate as when used for authentication. Must match "\\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\z" [default: system:bootstrappers:kubeadm:default-node-token]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub groups: Vec<String>,
    /// Instead of printing only the token, print the full 'kubeadm join' flag needed to join the cluster using the token.
    #[arg(long)]
    pub print_join_command: bool,
    /// The duration before the token is automatically deleted (e.g. 1s, 2m, 3h). If set to '0', the token will never expire [default: 24h0m0s]
    #[arg(long, value_name = "duration", value_parser = crate::token::parse_ttl_flag, allow_hyphen_values = true)]
    pub ttl: Option<Duration>,
    /// Describes the ways in which this token can be used. You can pass --usages multiple times or provide a comma separated list of options. Valid options: [signing,authentication] [default: signing,authentication]
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub usages: Vec<String>,
}

/// The output flags of commands that print objects.
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// If true, ignore any errors in templates when a field or map key is missing in the template. Only applies to golang and jsonpath output formats.
    #[arg(long, value_name = "bool", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = super::argv::parse_go_bool, default_value_t = true)]
    pub allow_missing_template_keys: bool,
    /// Output format. One of: text|json|yaml|go-template|go-template-file|template|templatefile|jsonpath|jsonpath-as-json|jsonpath-file.
    #[arg(short = 'o', long, default_value = "text", value_name = "string")]
    pub output: String,
    /// If true, keep the managedFields when printing objects in JSON or YAML format.
    #[arg(long)]
    pub show_managed_fields: bool,
}

impl OutputArgs {
    /// The printer `-o` names (template files read through `host`); a bad `-o` is a usage
    /// error.
    pub fn printer(&self, host: &dyn crate::host::Host) -> anyhow::Result<crate::printer::Printer> {
        crate::printer::Printer::new(&self.output, self.allow_missing_template_keys, host)
            .map_err(super::usage_error)
    }
}

/// Runs a `kubeadm token` subcommand.
pub fn run(global: &super::GlobalArgs, args: TokenArgs) -> anyhow::Result<()> {
    let host = super::real_host(global);
    let kubeconfig = args
        .kubeconfig
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/kubernetes/admin.conf"));
    let dry = args.dry_run.then(DryRunClient::new);
    let api = || -> anyhow::Result<Box<dyn Api>> {
        Ok(Box::new(KubeClient::from_kubeconfig(
            host.as_ref(),
            &kubeconfig,
        )?))
    };
    let result = match args.command {
        TokenCommand::Generate => {
            println!("{}", BootstrapToken::generate()?);
            Ok(())
        }
        TokenCommand::Create(c) => {
            let spec = create_spec(host.as_ref(), &c)?;
            let client: Box<dyn Api> = match &dry {
                Some(_) => Box::new(DryRunClient::new()),
                None => api()?,
            };
            let api_ref: &dyn Api = match &dry {
                Some(d) => d,
                None => client.as_ref(),
            };
            create_token(api_ref, &spec)?;
            if c.print_join_command {
                println!(
                    "{}",
                    crate::phases::init::join_command(
                        host.as_ref(),
                        &kubeconfig,
                        &spec.token,
                        c.certificate_key.as_deref()
                    )?
                );
            } else {
                println!("{}", spec.token);
            }
            Ok(())
        }
        TokenCommand::Delete { tokens } => {
            let client: Box<dyn Api> = match &dry {
                Some(_) => Box::new(DryRunClient::new()),
                None => api()?,
            };
            let api_ref: &dyn Api = match &dry {
                Some(d) => d,
                None => client.as_ref(),
            };
            for t in &tokens {
                let id = token_id(t)?;
                let path = crate::client::object_path(
                    "Secret",
                    Some("kube-system"),
                    &format!("bootstrap-token-{id}"),
                );
                api_ref
                    .call("DELETE", &path, None, "application/json")
                    .map_err(|e| anyhow::anyhow!("failed to delete bootstrap token {id:?}: {e}"))?;
                println!("bootstrap token {id:?} deleted");
            }
            Ok(())
        }
        TokenCommand::List(o) => {
            let client: Box<dyn Api> = match &dry {
                Some(_) => Box::new(DryRunClient::new()),
                None => api()?,
            };
            let api_ref: &dyn Api = match &dry {
                Some(d) => d,
                None => client.as_ref(),
            };
            list_tokens(api_ref, &o.printer(host.as_ref())?)
        }
    };
    result
}

fn token_id(text: &str) -> anyhow::Result<String> {
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let id = match text.split_once('.') {
        Some((id, secret)) if ok(id, 6) && ok(secret, 16) => id,
        None if ok(text, 6) => text,
        _ => anyhow::bail!(
            "given token didn't match pattern \"^(?P<token_id>[a-z0-9]{{6}})$\" or \"^(?P<token_id>[a-z0-9]{{6}})\\.(?P<token_secret>[a-z0-9]{{16}})$\""
        ),
    };
    Ok(id.to_string())
}

fn create_spec(host: &dyn crate::host::Host, c: &TokenCreateArgs) -> anyhow::Result<TokenSpec> {
    // A configuration file supplies the first bootstrapTokens entry's settings; flags win.
    let from_config = match &c.config {
        Some(p) => crate::config::load_file(host, p)?
            .init
            .and_then(|i| i.bootstrap_tokens.into_iter().next()),
        None => None,
    };
    let token = match (&c.token, from_config.as_ref().map(|t| t.token.as_str())) {
        (Some(t), _) => BootstrapToken::parse(t)?,
        (None, Some(t)) if !t.is_empty() => BootstrapToken::parse(t)?,
        _ => BootstrapToken::generate()?,
    };
    let ttl = c
        .ttl
        .or_else(|| {
            from_config
                .as_ref()
                .and_then(|t| t.ttl.as_ref().map(|d| d.0))
        })
        .unwrap_or(Duration::from_secs(24 * 3600));
    let pick = |flag: &Vec<String>, cfg: Option<&Vec<String>>, default: &[&str]| -> Vec<String> {
        if !flag.is_empty() {
            flag.clone()
        } else if let Some(v) = cfg.filter(|v| !v.is_empty()) {
            v.clone()
        } else {
            default.iter().map(|s| s.to_string()).collect()
        }
    };
    let spec = TokenSpec {
        token,
        description: c
            .description
            .clone()
            .or_else(|| from_config.as_ref().map(|t| t.description.clone()))
            .unwrap_or_default(),
        expires: (!ttl.is_zero()).then(|| {
            time::OffsetDateTime::now_utc()
                + time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX)
        }),
        usages: pick(
            &c.usages,
            from_config.as_ref().map(|t| &t.usages),
            &crate::token::DEFAULT_USAGES,
        ),
        groups: pick(
            &c.groups,
            from_config.as_ref().map(|t| &t.groups),
            &[crate::token::DEFAULT_GROUP],
        ),
    };
    spec.validate()?;
    Ok(spec)
}

/// Creates a token's Secret; one with the same id is an error, as upstream.
pub fn create_token(api: &dyn Api, spec: &TokenSpec) -> anyhow::Result<()> {
    let coll = crate::client::collection("Secret", Some("kube-system"));
    match crate::client::retry(5, || api.call("POST", &coll, Some(&spec.to_secret()), "application/json")) {
        Ok(_) => Ok(()),
        Err(e) if e.is_already_exists() => anyhow::bail!(
            "failed to create bootstrap token with name \"bootstrap-token-{}\": a token with id {:?} already exists",
            spec.token.id(),
            spec.token.id()
        ),
        Err(e) => Err(anyhow::anyhow!(e)).context("failed to create bootstrap token"),
    }
}

fn list_tokens(api: &dyn Api, printer: &crate::printer::Printer) -> anyhow::Result<()> {
    let path = format!(
        "{}?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken",
        crate::client::collection("Secret", Some("kube-system"))
    );
    let list = api
        .call("GET", &path, None, "application/json")
        .map_err(|e| anyhow::anyhow!("failed to list bootstrap tokens: {e}"))?;
    let tokens: Vec<TokenSpec> = list["items"]
        .as_array()
        .map(|items| items.iter().filter_map(TokenSpec::from_secret).collect())
        .unwrap_or_default();
    if printer.is_text() {
        let now = time::OffsetDateTime::now_utc();
        let mut rows = vec!["TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS".to_string()];
        rows.extend(tokens.iter().map(|t| t.list_row(now)));
        print!("{}", crate::output::tabwrite(&rows));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for t in &tokens {
        printer.print(&TokenOutput::new(t), &mut out)?;
    }
    Ok(())
}

/// One token as `token list -o json|yaml|...` prints it: upstream's
/// `output.kubeadm.k8s.io/v1alpha3` `BootstrapToken`, fields in its order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenOutput {
    kind: &'static str,
    api_version: &'static str,
    token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    usages: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
}

impl TokenOutput {
    fn new(t: &TokenSpec) -> Self {
        TokenOutput {
            kind: "BootstrapToken",
            api_version: "output.kubeadm.k8s.io/v1alpha3",
            token: t.token.to_string(),
            description: t.description.clone(),
            expires: t.expires.map(|e| {
                e.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            }),
            usages: t.usages.clone(),
            groups: t.groups.clone(),
        }
    }
}
