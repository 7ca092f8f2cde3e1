//! `signet iam ...`: service accounts, their authorized keys and IAM tokens, shaped like
//! `yc iam`. Everything here is administration (the admin token), except `revoke-token`,
//! which needs only the token being revoked.
//!
//! `key create` is the one place a private key reaches the client: the server returns it once,
//! in the Create response, and this command writes it straight into a new file (mode 0600,
//! never overwriting) in Yandex's authorized-key JSON format, which Yandex's SDKs read. It is
//! never printed.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use signet_proto::yandex::cloud::iam::v1::{
    CreateIamTokenForServiceAccountRequest, CreateKeyRequest, CreateServiceAccountRequest,
    DeleteKeyRequest, DeleteServiceAccountRequest, GetKeyRequest, GetServiceAccountRequest, Key,
    ListKeysRequest, ListServiceAccountsRequest, RevokeIamTokenRequest, ServiceAccount, key,
};
use zeroize::Zeroizing;

use crate::client::args::{Labels, OutputFormat, parse_labels};
use crate::client::files::{self, Access, NewFile};
use crate::client::keys::{next_page, page_size};
use crate::client::operation::{self, finish_quietly};
use crate::client::output::{key_algorithm_name, rfc3339};
use crate::client::transport::Clients;
use crate::client::{ClientError, Session, SessionCommand};

/// `signet iam ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum IamCommand {
    /// Manage service accounts (admin only).
    #[command(subcommand)]
    ServiceAccount(ServiceAccountCommand),
    /// Manage the authorized keys of service accounts (admin only).
    #[command(subcommand)]
    Key(AuthorizedKeyCommand),
    /// Issue an IAM token for a service account and print it, alone, on stdout (admin only).
    CreateToken(CreateTokenArgs),
    /// Revoke the IAM token read from standard input.
    RevokeToken,
}

/// `signet iam service-account ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServiceAccountCommand {
    /// Create a service account and wait until it exists.
    Create(AccountCreateArgs),
    /// Show one service account.
    Get(AccountGetArgs),
    /// List the service accounts of a folder.
    List(AccountListArgs),
    /// Delete a service account, its authorized keys, and revoke its tokens.
    Delete(AccountDeleteArgs),
}

/// `signet iam key ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuthorizedKeyCommand {
    /// Create a key pair for a service account and write it, private key included, to a new
    /// file (mode 0600) in Yandex's authorized-key JSON format.
    Create(KeyCreateArgs),
    /// Show one authorized key (its public part).
    Get(KeyIdArgs),
    /// List the authorized keys of a service account.
    List(KeyListArgs),
    /// Delete an authorized key: JWTs signed with it are refused from then on.
    Delete(KeyDeleteArgs),
}

/// The folder service accounts live in.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountFolderArgs {
    /// Folder of the service accounts (--name is looked up there too).
    #[arg(
        long,
        env = "SIGNET_FOLDER_ID",
        default_value = "default",
        value_name = "FOLDER-ID"
    )]
    pub folder_id: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AccountCreateArgs {
    #[command(flatten)]
    pub folder: AccountFolderArgs,
    /// Name: 3-63 lowercase letters, digits and '-', starting with a letter; unique in the
    /// folder.
    #[arg(long)]
    pub name: String,
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// Labels, as KEY=VALUE[,KEY=VALUE...].
    #[arg(long, value_name = "KEY=VALUE[,...]", value_parser = parse_labels)]
    pub labels: Option<Labels>,
    /// Print the operation instead of waiting for it.
    #[arg(long = "async")]
    pub async_: bool,
}

/// Which service account: exactly one of a positional ID, `--id` or `--name`.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "account_ref", required = true, multiple = false)]
pub struct AccountRefArgs {
    /// Service account ID.
    #[arg(value_name = "SERVICE-ACCOUNT-ID")]
    pub account_id: Option<String>,
    /// Service account ID.
    #[arg(long = "id", value_name = "SERVICE-ACCOUNT-ID")]
    pub id: Option<String>,
    /// Service account name, looked up in --folder-id.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AccountGetArgs {
    #[command(flatten)]
    pub account: AccountRefArgs,
    #[command(flatten)]
    pub folder: AccountFolderArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AccountListArgs {
    #[command(flatten)]
    pub folder: AccountFolderArgs,
    /// Show at most this many service accounts (default: all).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AccountDeleteArgs {
    #[command(flatten)]
    pub account: AccountRefArgs,
    #[command(flatten)]
    pub folder: AccountFolderArgs,
    /// Print the operation instead of waiting for it.
    #[arg(long = "async")]
    pub async_: bool,
}

/// Algorithms of authorized keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyAlgorithmArg {
    #[value(name = "rsa-2048")]
    Rsa2048,
    #[value(name = "rsa-4096")]
    Rsa4096,
}

impl KeyAlgorithmArg {
    pub fn wire(self) -> key::Algorithm {
        match self {
            KeyAlgorithmArg::Rsa2048 => key::Algorithm::Rsa2048,
            KeyAlgorithmArg::Rsa4096 => key::Algorithm::Rsa4096,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct KeyCreateArgs {
    /// The service account the key belongs to.
    #[arg(long, value_name = "ID")]
    pub service_account_id: String,
    /// Description of the key.
    #[arg(long)]
    pub description: Option<String>,
    /// Key algorithm.
    #[arg(long, value_enum, default_value_t = KeyAlgorithmArg::Rsa2048)]
    pub algorithm: KeyAlgorithmArg,
    /// The new key file (authorized-key JSON with the private key; created with mode 0600,
    /// never overwritten).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KeyIdArgs {
    /// Authorized key ID.
    #[arg(value_name = "KEY-ID")]
    pub key_id: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KeyListArgs {
    /// The service account whose keys to list.
    #[arg(long, value_name = "ID")]
    pub service_account_id: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct KeyDeleteArgs {
    /// Authorized key ID.
    #[arg(value_name = "KEY-ID")]
    pub key_id: String,
    /// Print the operation instead of waiting for it.
    #[arg(long = "async")]
    pub async_: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CreateTokenArgs {
    /// The service account the token acts as.
    #[arg(long, value_name = "ID")]
    pub service_account_id: String,
}

impl SessionCommand for IamCommand {
    fn check(&self) -> Result<(), ClientError> {
        if let IamCommand::Key(AuthorizedKeyCommand::Create(args)) = self
            && files::exists(&args.output)
        {
            return Err(ClientError::OutputExists {
                path: args.output.clone(),
            });
        }
        Ok(())
    }

    async fn run(self, session: &mut Session<'_>) -> Result<(), ClientError> {
        match self {
            IamCommand::ServiceAccount(cmd) => match cmd {
                ServiceAccountCommand::Create(args) => create_account(session, args).await,
                ServiceAccountCommand::Get(args) => get_account(session, args).await,
                ServiceAccountCommand::List(args) => list_accounts(session, args).await,
                ServiceAccountCommand::Delete(args) => delete_account(session, args).await,
            },
            IamCommand::Key(cmd) => match cmd {
                AuthorizedKeyCommand::Create(args) => create_key(session, args).await,
                AuthorizedKeyCommand::Get(args) => get_key(session, args).await,
                AuthorizedKeyCommand::List(args) => list_keys(session, args).await,
                AuthorizedKeyCommand::Delete(args) => delete_key(session, args).await,
            },
            IamCommand::CreateToken(args) => create_token(session, args).await,
            IamCommand::RevokeToken => revoke_token(session).await,
        }
    }
}

/// The request `service-account create` sends.
pub fn create_account_request(args: &AccountCreateArgs) -> CreateServiceAccountRequest {
    CreateServiceAccountRequest {
        folder_id: args.folder.folder_id.clone(),
        name: args.name.clone(),
        description: args.description.clone().unwrap_or_default(),
        labels: args.labels.clone().map(|l| l.0).unwrap_or_default(),
        expires_at: None,
    }
}

async fn create_account(
    session: &mut Session<'_>,
    args: AccountCreateArgs,
) -> Result<(), ClientError> {
    let op = session
        .clients
        .service_accounts
        .create(create_account_request(&args))
        .await?
        .into_inner();
    if args.async_ {
        return session.printer.operation(&op);
    }
    let done = operation::wait(&mut session.clients, op, session.progress).await?;
    let account: ServiceAccount = operation::response(&done)?;
    session.printer.service_account(&account)
}

async fn get_account(session: &mut Session<'_>, args: AccountGetArgs) -> Result<(), ClientError> {
    let id = resolve_account(&mut session.clients, &args.account, &args.folder.folder_id).await?;
    let account = session
        .clients
        .service_accounts
        .get(GetServiceAccountRequest {
            service_account_id: id,
        })
        .await?
        .into_inner();
    session.printer.service_account(&account)
}

async fn list_accounts(
    session: &mut Session<'_>,
    args: AccountListArgs,
) -> Result<(), ClientError> {
    let accounts =
        list_all_accounts(&mut session.clients, &args.folder.folder_id, args.limit).await?;
    session.printer.service_accounts(&accounts)
}

async fn delete_account(
    session: &mut Session<'_>,
    args: AccountDeleteArgs,
) -> Result<(), ClientError> {
    let id = resolve_account(&mut session.clients, &args.account, &args.folder.folder_id).await?;
    let op = session
        .clients
        .service_accounts
        .delete(DeleteServiceAccountRequest {
            service_account_id: id,
        })
        .await?
        .into_inner();
    finish_quietly(session, op, args.async_).await
}

/// The service account ID for a positional ID, `--id` or `--name`.
async fn resolve_account(
    clients: &mut Clients,
    account: &AccountRefArgs,
    folder_id: &str,
) -> Result<String, ClientError> {
    if let Some(id) = account.account_id.as_ref().or(account.id.as_ref()) {
        return Ok(id.clone());
    }
    // clap's required group leaves only --name; an empty one matches nothing.
    let name = account.name.clone().unwrap_or_default();
    let accounts = list_all_accounts(clients, folder_id, None).await?;
    // Names are unique in a folder.
    accounts
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.id)
        .ok_or_else(|| ClientError::AccountNameNotFound {
            name,
            folder_id: folder_id.to_owned(),
        })
}

/// Pages through a folder's service accounts, up to `limit` of them.
async fn list_all_accounts(
    clients: &mut Clients,
    folder_id: &str,
    limit: Option<u64>,
) -> Result<Vec<ServiceAccount>, ClientError> {
    let mut accounts = Vec::new();
    let mut page_token = String::new();
    loop {
        let remaining = limit.map_or(u64::MAX, |l| l.saturating_sub(accounts.len() as u64));
        let page = clients
            .service_accounts
            .list(ListServiceAccountsRequest {
                folder_id: folder_id.to_owned(),
                page_size: page_size(remaining),
                page_token: page_token.clone(),
                filter: String::new(),
            })
            .await?
            .into_inner();
        let take = usize::try_from(remaining).unwrap_or(usize::MAX);
        accounts.extend(page.service_accounts.into_iter().take(take));
        let full = limit.is_some_and(|l| accounts.len() as u64 >= l);
        if !next_page(&mut page_token, page.next_page_token)? || full {
            break;
        }
    }
    Ok(accounts)
}

/// The request `key create` sends.
pub fn create_key_request(args: &KeyCreateArgs) -> CreateKeyRequest {
    CreateKeyRequest {
        service_account_id: args.service_account_id.clone(),
        description: args.description.clone().unwrap_or_default(),
        format: 0,
        key_algorithm: args.algorithm.wire() as i32,
    }
}

/// Yandex's authorized-key file (`yc iam key create -o key.json`), in its field order. The
/// SDKs read `id`, `service_account_id` and `private_key`.
#[derive(Serialize)]
struct AuthorizedKeyFile<'a> {
    id: &'a str,
    service_account_id: &'a str,
    created_at: String,
    key_algorithm: String,
    public_key: &'a str,
    private_key: &'a str,
}

/// The authorized-key JSON for `key` and its private key. The buffer is wiped when dropped.
pub fn authorized_key_json(
    key: &Key,
    service_account_id: &str,
    private_key: &str,
) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    let service_account_id = match &key.subject {
        Some(key::Subject::ServiceAccountId(id)) => id.as_str(),
        _ => service_account_id,
    };
    let document = AuthorizedKeyFile {
        id: &key.id,
        service_account_id,
        created_at: key.created_at.as_ref().map(rfc3339).unwrap_or_default(),
        key_algorithm: key_algorithm_name(key.key_algorithm),
        public_key: &key.public_key,
        private_key,
    };
    // Sized up front so that growing the buffer leaves no stray copies of the key behind.
    let mut buffer = Zeroizing::new(Vec::with_capacity(
        16 * 1024 + private_key.len() + key.public_key.len(),
    ));
    serde_json::to_writer_pretty(&mut *buffer, &document)?;
    buffer.push(b'\n');
    Ok(buffer)
}

fn new_key_file(path: &Path) -> Result<NewFile, ClientError> {
    NewFile::create(path, Access::Private).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            ClientError::OutputExists {
                path: path.to_owned(),
            }
        } else {
            ClientError::WriteFile {
                path: path.to_owned(),
                source,
            }
        }
    })
}

fn fill_key_file(
    file: &mut NewFile,
    key: &Key,
    service_account_id: &str,
    private_key: &str,
) -> io::Result<()> {
    let json =
        authorized_key_json(key, service_account_id, private_key).map_err(io::Error::other)?;
    file.write_all(&json)
}

async fn create_key(session: &mut Session<'_>, args: KeyCreateArgs) -> Result<(), ClientError> {
    // The file first: if it cannot be created, no key is made on the server. It is removed
    // again if anything below fails.
    let mut file = new_key_file(&args.output)?;
    let mut response = session
        .clients
        .authorized_keys
        .create(create_key_request(&args))
        .await?
        .into_inner();
    let private_key = Zeroizing::new(std::mem::take(&mut response.private_key));
    let key = response.key.ok_or(ClientError::MissingInResponse("key"))?;
    if private_key.is_empty() {
        return Err(ClientError::MissingInResponse("private key"));
    }
    if let Err(source) = fill_key_file(&mut file, &key, &args.service_account_id, &private_key) {
        drop(file);
        // The private key is lost; a key nobody holds is only a liability.
        let deleted_again = delete_key_quietly(&mut session.clients, &key.id).await;
        return Err(ClientError::KeyFileNotWritten {
            path: args.output,
            key_id: key.id,
            deleted_again,
            source,
        });
    }
    file.keep();
    session.printer.authorized_key(&key)
}

/// Deletes an authorized key, reporting only whether that worked.
async fn delete_key_quietly(clients: &mut Clients, key_id: &str) -> bool {
    let request = DeleteKeyRequest {
        key_id: key_id.to_owned(),
    };
    match clients.authorized_keys.delete(request).await {
        Ok(response) => match operation::wait(clients, response.into_inner(), false).await {
            Ok(done) => operation::succeeded(&done).is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    }
}

async fn get_key(session: &mut Session<'_>, args: KeyIdArgs) -> Result<(), ClientError> {
    let key = session
        .clients
        .authorized_keys
        .get(GetKeyRequest {
            key_id: args.key_id,
            format: 0,
        })
        .await?
        .into_inner();
    session.printer.authorized_key(&key)
}

async fn list_keys(session: &mut Session<'_>, args: KeyListArgs) -> Result<(), ClientError> {
    let mut keys = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = session
            .clients
            .authorized_keys
            .list(ListKeysRequest {
                format: 0,
                service_account_id: args.service_account_id.clone(),
                page_size: page_size(u64::MAX),
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        keys.extend(page.keys);
        if !next_page(&mut page_token, page.next_page_token)? {
            break;
        }
    }
    session.printer.authorized_keys(&keys)
}

async fn delete_key(session: &mut Session<'_>, args: KeyDeleteArgs) -> Result<(), ClientError> {
    let op = session
        .clients
        .authorized_keys
        .delete(DeleteKeyRequest {
            key_id: args.key_id,
        })
        .await?
        .into_inner();
    finish_quietly(session, op, args.async_).await
}

async fn create_token(session: &mut Session<'_>, args: CreateTokenArgs) -> Result<(), ClientError> {
    let response = session
        .clients
        .iam_tokens
        .create_for_service_account(CreateIamTokenForServiceAccountRequest {
            service_account_id: args.service_account_id,
        })
        .await?
        .into_inner();
    match session.printer.format() {
        // The token alone, so that `TOKEN=$(signet iam create-token ...)` works.
        OutputFormat::Text => {
            let line = Zeroizing::new(format!("{}\n", response.iam_token));
            session.printer.raw(line.as_bytes())
        }
        _ => session.printer.document(&response),
    }
}

/// The token read from standard input: surrounding whitespace removed, not empty.
pub fn read_token(input: &mut (dyn Read + Send)) -> Result<Zeroizing<String>, ClientError> {
    let mut text = Zeroizing::new(String::new());
    input
        .read_to_string(&mut text)
        .map_err(ClientError::Stdin)?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ClientError::InvalidToken("empty"));
    }
    Ok(Zeroizing::new(token.to_owned()))
}

async fn revoke_token(session: &mut Session<'_>) -> Result<(), ClientError> {
    if session.interactive_input {
        eprintln!("Reading the IAM token to revoke from standard input (end with Ctrl-D)...");
    }
    let token = read_token(session.input)?;
    let response = session
        .clients
        .iam_tokens
        .revoke(RevokeIamTokenRequest {
            iam_token: token.to_string(),
        })
        .await?
        .into_inner();
    match session.printer.format() {
        OutputFormat::Text => {
            let line = format!(
                "subject_id: {}\n",
                crate::client::output::scalar(&response.subject_id)
            );
            session.printer.raw(line.as_bytes())
        }
        _ => session.printer.document(&response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use signet_proto::pbjson_types::Timestamp;

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        global: crate::client::GlobalArgs,
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum TestCommand {
        #[command(subcommand)]
        Iam(IamCommand),
    }

    fn parse(args: &[&str]) -> Result<IamCommand, clap::Error> {
        let cli =
            TestCli::try_parse_from(["signet", "iam"].into_iter().chain(args.iter().copied()))?;
        let TestCommand::Iam(cmd) = cli.command;
        Ok(cmd)
    }

    fn sample_key() -> Key {
        Key {
            id: "ajekey0000000000001".into(),
            subject: Some(key::Subject::ServiceAccountId("ajesa00000000000001".into())),
            created_at: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            description: String::new(),
            key_algorithm: key::Algorithm::Rsa2048 as i32,
            public_key: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n".into(),
            last_used_at: None,
        }
    }

    /// What `key create` does around its RPC: a new 0600 file holding the key JSON.
    fn write_key_file(
        path: &Path,
        key: &Key,
        service_account_id: &str,
        private_key: &str,
    ) -> Result<(), ClientError> {
        let mut file = new_key_file(path)?;
        fill_key_file(&mut file, key, service_account_id, private_key).map_err(|source| {
            ClientError::WriteFile {
                path: path.to_owned(),
                source,
            }
        })?;
        file.keep();
        Ok(())
    }

    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

    #[test]
    fn service_account_flags() {
        let IamCommand::ServiceAccount(ServiceAccountCommand::Create(args)) = parse(&[
            "service-account",
            "create",
            "--name",
            "robot",
            "--description",
            "CI",
            "--folder-id",
            "f1",
            "--labels",
            "team=ops",
        ])
        .unwrap() else {
            panic!("not create");
        };
        let request = create_account_request(&args);
        assert_eq!(request.name, "robot");
        assert_eq!(request.folder_id, "f1");
        assert_eq!(request.description, "CI");
        assert_eq!(request.labels.get("team").map(String::as_str), Some("ops"));
        assert!(
            parse(&["service-account", "create"]).is_err(),
            "--name is required"
        );

        for args in [
            &["service-account", "get", "aje1"][..],
            &["service-account", "get", "--id", "aje1"],
            &["service-account", "delete", "--name", "robot", "--async"],
        ] {
            parse(args).unwrap();
        }
        assert!(parse(&["service-account", "get"]).is_err());
        assert!(parse(&["service-account", "get", "aje1", "--name", "robot"]).is_err());
    }

    #[test]
    fn key_create_flags() {
        let IamCommand::Key(AuthorizedKeyCommand::Create(args)) = parse(&[
            "key",
            "create",
            "--service-account-id",
            "aje1",
            "-o",
            "key.json",
        ])
        .unwrap() else {
            panic!("not key create");
        };
        assert_eq!(args.algorithm, KeyAlgorithmArg::Rsa2048);
        assert_eq!(args.output, PathBuf::from("key.json"));
        assert_eq!(create_key_request(&args).key_algorithm, 1);

        let IamCommand::Key(AuthorizedKeyCommand::Create(args)) = parse(&[
            "key",
            "create",
            "--service-account-id",
            "aje1",
            "--algorithm",
            "rsa-4096",
            "--output",
            "k.json",
        ])
        .unwrap() else {
            panic!("not key create");
        };
        assert_eq!(create_key_request(&args).key_algorithm, 2);
        assert!(
            parse(&["key", "create", "--service-account-id", "aje1"]).is_err(),
            "the output file is required"
        );
        assert!(
            parse(&[
                "key",
                "create",
                "--service-account-id",
                "a",
                "--algorithm",
                "ec",
                "-o",
                "k"
            ])
            .is_err()
        );
    }

    #[test]
    fn token_commands() {
        let IamCommand::CreateToken(args) =
            parse(&["create-token", "--service-account-id", "aje1"]).unwrap()
        else {
            panic!("not create-token");
        };
        assert_eq!(args.service_account_id, "aje1");
        assert!(matches!(
            parse(&["revoke-token"]).unwrap(),
            IamCommand::RevokeToken
        ));
        let mut input: &[u8] = b"  t1.abc \n";
        assert_eq!(read_token(&mut input).unwrap().as_str(), "t1.abc");
        let mut input: &[u8] = b"\n";
        assert!(matches!(
            read_token(&mut input),
            Err(ClientError::InvalidToken(_))
        ));
    }

    #[test]
    fn the_key_file_is_yandex_json_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        write_key_file(&path, &sample_key(), "fallback", PRIVATE).unwrap();

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let object = json.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut expected = vec![
            "id",
            "service_account_id",
            "created_at",
            "key_algorithm",
            "public_key",
            "private_key",
        ];
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(sorted, expected);
        assert!(text.find("\"id\"").unwrap() < text.find("\"private_key\"").unwrap());
        assert_eq!(json["id"], "ajekey0000000000001");
        assert_eq!(json["service_account_id"], "ajesa00000000000001");
        assert_eq!(json["created_at"], "2023-11-14T22:13:20Z");
        assert_eq!(json["key_algorithm"], "RSA_2048");
        assert_eq!(json["private_key"], PRIVATE);
        assert!(json["public_key"].as_str().unwrap().contains("PUBLIC KEY"));

        // A second write is refused and leaves the first file as it was.
        let err = write_key_file(&path, &sample_key(), "x", "other").unwrap_err();
        assert!(matches!(err, ClientError::OutputExists { .. }), "{err:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(
            !err.report().contains("PRIVATE"),
            "errors never show the key"
        );

        // The command refuses before connecting, too.
        let cmd = parse(&[
            "key",
            "create",
            "--service-account-id",
            "aje1",
            "-o",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert!(matches!(cmd.check(), Err(ClientError::OutputExists { .. })));
    }

    #[test]
    fn a_key_without_a_subject_takes_the_requested_account() {
        let key = Key {
            subject: None,
            ..sample_key()
        };
        let json = authorized_key_json(&key, "ajerequested", PRIVATE).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(json["service_account_id"], "ajerequested");
    }
}
