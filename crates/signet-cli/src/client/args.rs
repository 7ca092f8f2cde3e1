//! The command-line surface of the client commands, shaped like `yc kms`.
//!
//! Everything here is plain data; the value parsers turn flag text into typed values once
//! (labels, algorithms, byte encodings) so that the commands never re-parse strings.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use signet_crypto::Algorithm;

/// File the token is read from when neither `--token` nor `SIGNET_TOKEN` is given; `signet
/// serve` keeps its admin token there, so a client run next to a local server needs no flag.
pub const DEFAULT_TOKEN_FILE: &str = "signet-data/admin-token";

/// Flags shared by every client command. They go before the subcommand:
/// `signet --endpoint kms.example:8443 --format json kms asymmetric-signature-key list`.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Address of the Signet gRPC API.
    #[arg(
        long,
        env = "SIGNET_ENDPOINT",
        default_value = "127.0.0.1:8443",
        value_name = "HOST:PORT"
    )]
    pub endpoint: String,

    /// Bearer token sent with every call. If neither --token nor SIGNET_TOKEN is set, the token
    /// is read from ./signet-data/admin-token when that file exists (where `signet serve` keeps
    /// its admin token); otherwise calls are sent without a token.
    #[arg(
        long,
        env = "SIGNET_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_token
    )]
    pub token: Option<Token>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Trust only this PEM CA certificate for TLS, instead of the system's roots.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,

    /// Connect without TLS. Refused unless the endpoint host is a loopback address or
    /// `localhost`.
    #[arg(long)]
    pub insecure: bool,
}

/// A bearer token. Its `Debug` is redacted so that it cannot leak through logs or panics.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    /// The token text, for the `authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

fn parse_token(value: &str) -> Result<Token, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("the token is empty".to_owned());
    }
    Ok(Token::new(value))
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A readable `field: value` listing (tables for lists), like `yc`.
    Text,
    /// The proto3 JSON mapping of the response message.
    Json,
    /// The same document as `json`, in YAML.
    Yaml,
}

/// `signet kms ...`: the Yandex Cloud KMS asymmetric-signature API.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KmsCommand {
    /// Manage asymmetric signature keys.
    #[command(subcommand, visible_alias = "asymmetric-signature-keys")]
    AsymmetricSignatureKey(KeyCommand),
    /// Sign with an asymmetric signature key, or fetch its public key.
    #[command(subcommand)]
    AsymmetricSignatureCrypto(CryptoCommand),
}

/// `signet kms asymmetric-signature-key ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeyCommand {
    /// Create a key pair and wait until it is ready.
    Create(CreateArgs),
    /// Show one key.
    Get(GetArgs),
    /// List the keys of a folder.
    List(ListArgs),
    /// Change a key's name, description, labels, status or deletion protection.
    Update(UpdateArgs),
    /// Delete keys.
    Delete(DeleteArgs),
    /// List the operations that touched a key.
    ListOperations(ListOperationsArgs),
    /// List the access bindings of a key.
    ListAccessBindings(super::access::KeyListBindingsArgs),
    /// Replace all access bindings of a key with the given ones.
    SetAccessBindings(super::access::KeySetBindingsArgs),
    /// Bind a role on a key to a subject.
    AddAccessBinding(super::access::KeyBindingArgs),
    /// Remove a role binding from a key.
    RemoveAccessBinding(super::access::KeyBindingArgs),
}

/// `signet kms asymmetric-signature-crypto ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CryptoCommand {
    /// Sign a message: the server hashes it with the key's hash and signs the digest.
    Sign(SignArgs),
    /// Sign a precomputed digest as is (it must have the key's hash length).
    SignHash(SignHashArgs),
    /// Print a key's public key (PEM, SubjectPublicKeyInfo).
    GetPublicKey(GetPublicKeyArgs),
}

/// The folder a command works in.
#[derive(Debug, Clone, clap::Args)]
pub struct FolderArgs {
    /// Folder to work in (keys are created and listed there, and --name is looked up there).
    #[arg(
        long,
        env = "SIGNET_FOLDER_ID",
        default_value = "default",
        value_name = "FOLDER-ID"
    )]
    pub folder_id: String,
}

/// Which key a command acts on: exactly one of a positional ID, `--id` or `--name`.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "key_ref", required = true, multiple = false)]
pub struct KeyRefArgs {
    /// Key ID.
    #[arg(value_name = "KEY-ID")]
    pub key_id: Option<String>,
    /// Key ID.
    #[arg(long = "id", value_name = "KEY-ID")]
    pub id: Option<String>,
    /// Key name, looked up in --folder-id; exactly one key must have it.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// A key named on the command line, before name resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Id(String),
    Name(String),
}

impl KeyRefArgs {
    pub fn key_ref(&self) -> KeyRef {
        match (&self.key_id, &self.id, &self.name) {
            (Some(id), _, _) | (None, Some(id), _) => KeyRef::Id(id.clone()),
            (None, None, Some(name)) => KeyRef::Name(name.clone()),
            // clap's required group makes this unreachable; an empty ID gets the server's
            // INVALID_ARGUMENT rather than a panic.
            (None, None, None) => KeyRef::Id(String::new()),
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Name of the new key.
    #[arg(long)]
    pub name: Option<String>,
    /// Description of the new key.
    #[arg(long)]
    pub description: Option<String>,
    /// Labels, as KEY=VALUE[,KEY=VALUE...].
    #[arg(long, value_name = "KEY=VALUE[,...]", value_parser = parse_labels)]
    pub labels: Option<Labels>,
    /// Signature algorithm, by CLI or wire name (see `signet algorithms`). The default is the
    /// Terraform provider's.
    #[arg(
        long,
        value_name = "ALGORITHM",
        value_parser = parse_algorithm,
        default_value = "rsa-2048-sign-pss-sha-256"
    )]
    pub signature_algorithm: Algorithm,
    /// Protect the key from deletion.
    #[arg(long)]
    pub deletion_protection: bool,
    /// Print the operation instead of waiting for it.
    #[arg(long = "async")]
    pub async_: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Show at most this many keys (default: all).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    #[command(flatten)]
    pub fields: UpdateFields,
    /// Print the operation instead of waiting for it.
    #[arg(long = "async")]
    pub async_: bool,
}

/// The attributes `update` may change; each flag given adds its field to the update mask.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UpdateFields {
    /// New name of the key.
    #[arg(long)]
    pub new_name: Option<String>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// New status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Replace all labels, as KEY=VALUE[,KEY=VALUE...] ("" removes them all).
    #[arg(long, value_name = "KEY=VALUE[,...]", value_parser = parse_labels)]
    pub labels: Option<Labels>,
    /// Protect the key from deletion.
    #[arg(long, conflicts_with = "no_deletion_protection")]
    pub deletion_protection: bool,
    /// Allow the key to be deleted.
    #[arg(long)]
    pub no_deletion_protection: bool,
}

/// The statuses a caller may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusArg {
    Active,
    Inactive,
}

#[derive(Debug, Clone, clap::Args)]
#[group(id = "delete_targets", required = true, multiple = false)]
pub struct DeleteTargets {
    /// IDs of the keys to delete.
    #[arg(value_name = "KEY-ID", num_args = 1..)]
    pub key_ids: Vec<String>,
    /// Key ID.
    #[arg(long = "id", value_name = "KEY-ID")]
    pub id: Option<String>,
    /// Key name, looked up in --folder-id; exactly one key must have it.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

impl DeleteTargets {
    pub fn key_refs(&self) -> Vec<KeyRef> {
        let mut refs: Vec<KeyRef> = self.key_ids.iter().cloned().map(KeyRef::Id).collect();
        refs.extend(self.id.iter().cloned().map(KeyRef::Id));
        refs.extend(self.name.iter().cloned().map(KeyRef::Name));
        refs
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub targets: DeleteTargets,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Print the operations instead of waiting for them.
    #[arg(long = "async")]
    pub async_: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ListOperationsArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Show at most this many operations.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
}

/// How bytes are written in a file or on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// The bytes themselves.
    Raw,
    /// Hexadecimal text (whitespace ignored on input).
    Hex,
    /// Standard base64 text (whitespace and missing padding tolerated on input).
    Base64,
}

/// Where a signature goes and in which encoding.
#[derive(Debug, Clone, clap::Args)]
pub struct SignatureOutputArgs {
    /// Write the signature to this file (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub signature_output_file: Option<PathBuf>,
    /// Encoding of the signature. Default: raw into --signature-output-file; on standard output,
    /// base64 in --format text, and the whole response message in --format json|yaml.
    #[arg(long, value_enum, value_name = "ENCODING")]
    pub outform: Option<Encoding>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// File holding the message to sign (default: standard input).
    #[arg(long, value_name = "FILE")]
    pub message_file: Option<PathBuf>,
    /// Encoding of the message.
    #[arg(long, value_enum, value_name = "ENCODING", default_value_t = Encoding::Raw)]
    pub inform: Encoding,
    #[command(flatten)]
    pub output: SignatureOutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SignHashArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// File holding the digest to sign (default: standard input).
    #[arg(long, value_name = "FILE")]
    pub message_hash_file: Option<PathBuf>,
    /// Encoding of the digest (e.g. hex for `sha256sum` output cut to its first field).
    #[arg(long, value_enum, value_name = "ENCODING", default_value_t = Encoding::Raw)]
    pub inform: Encoding,
    #[command(flatten)]
    pub output: SignatureOutputArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GetPublicKeyArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Write the PEM public key to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

/// Key labels, parsed from `k=v[,k=v...]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(pub HashMap<String, String>);

/// Parses `k=v[,k=v...]`. An empty string is the empty set (so `update --labels ""` clears the
/// labels); values may be empty, keys may not, and a key may appear once. The server checks the
/// key and value patterns.
pub fn parse_labels(text: &str) -> Result<Labels, String> {
    let mut labels = HashMap::new();
    if text.trim().is_empty() {
        return Ok(Labels(labels));
    }
    for pair in text.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("label {pair:?} is not KEY=VALUE"));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(format!("label {pair:?} has an empty key"));
        }
        if labels.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(format!("label {key:?} is given twice"));
        }
    }
    Ok(Labels(labels))
}

/// Parses an algorithm by its CLI name (`ecdsa-nist-p256-sha-256`) or wire name.
pub fn parse_algorithm(text: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(text).ok_or_else(|| {
        let names: Vec<String> = Algorithm::ALL.iter().map(|a| a.cli_name()).collect();
        format!("unknown algorithm; expected one of: {}", names.join(", "))
    })
}
