//! Access bindings, shaped like `yc`'s `list-access-bindings`, `set-access-bindings`,
//! `add-access-binding` and `remove-access-binding`: the flags that name a role and a subject
//! (shared by `signet kms asymmetric-signature-key ...` and `signet resource-manager folder
//! ...`), the requests they become, and the three RPCs on either kind of resource.
//!
//! Roles and subjects are checked only for shape here (non-empty, `TYPE:ID`); which roles and
//! subject types exist is the server's decision.

use signet_proto::yandex::cloud::access::{
    AccessBinding, AccessBindingAction, AccessBindingDelta, ListAccessBindingsRequest,
    SetAccessBindingsRequest, Subject, UpdateAccessBindingsRequest,
};

use super::Session;
use super::args::{FolderArgs, KeyRefArgs};
use super::error::ClientError;
use super::keys::{next_page, page_size, resolve};
use super::operation::finish_quietly;
use super::transport::Clients;

/// The subject type of service accounts.
pub const SERVICE_ACCOUNT: &str = "serviceAccount";
/// The subject type of user accounts.
pub const USER_ACCOUNT: &str = "userAccount";
/// The subject type of the built-in groups.
pub const SYSTEM: &str = "system";
/// The `system` subject that matches every authenticated caller.
pub const ALL_AUTHENTICATED_USERS: &str = "allAuthenticatedUsers";

/// A subject, as `TYPE:ID` on the command line (`serviceAccount:aje...`,
/// `system:allAuthenticatedUsers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectArg {
    pub kind: String,
    pub id: String,
}

impl SubjectArg {
    pub fn new(kind: &str, id: &str) -> SubjectArg {
        SubjectArg {
            kind: kind.to_owned(),
            id: id.to_owned(),
        }
    }

    pub fn to_wire(&self) -> Subject {
        Subject {
            id: self.id.clone(),
            r#type: self.kind.clone(),
        }
    }
}

/// One role bound to one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingArg {
    pub role: String,
    pub subject: SubjectArg,
}

impl BindingArg {
    pub fn to_wire(&self) -> AccessBinding {
        AccessBinding {
            role_id: self.role.clone(),
            subject: Some(self.subject.to_wire()),
        }
    }
}

/// Parses `TYPE:ID`, split at the first colon (system ids such as
/// `group:organization:ID:users` keep theirs).
pub fn parse_subject(text: &str) -> Result<SubjectArg, String> {
    let Some((kind, id)) = text.trim().split_once(':') else {
        return Err(format!(
            "subject {text:?} is not TYPE:ID (e.g. serviceAccount:ID, userAccount:ID, \
             system:allAuthenticatedUsers)"
        ));
    };
    if kind.is_empty() || id.is_empty() {
        return Err(format!("subject {text:?} has an empty type or id"));
    }
    if text.trim().contains(char::is_whitespace) {
        return Err(format!("subject {text:?} contains whitespace"));
    }
    Ok(SubjectArg::new(kind, id))
}

/// A role id, checked only for shape: non-empty, no whitespace, no `,` or `=` (which would
/// be a mistyped `--access-binding`). The server knows which roles exist.
pub fn parse_role(text: &str) -> Result<String, String> {
    let role = text.trim();
    if role.is_empty() {
        return Err("the role is empty".to_owned());
    }
    if role.contains(|c: char| c.is_whitespace() || c == ',' || c == '=') {
        return Err(format!(
            "role {role:?} contains whitespace, ',' or '=' (roles look like \
             kms.asymmetricSignatureKeys.signer)"
        ));
    }
    Ok(role.to_owned())
}

/// A non-empty id given to a subject flag.
fn parse_subject_id(text: &str) -> Result<String, String> {
    let id = text.trim();
    if id.is_empty() {
        return Err("the id is empty".to_owned());
    }
    if id.contains(char::is_whitespace) {
        return Err(format!("id {id:?} contains whitespace"));
    }
    Ok(id.to_owned())
}

/// Parses one `--access-binding`: `role=ROLE` and exactly one of `service-account-id=ID`,
/// `user-account-id=ID` or `subject=TYPE:ID`, comma-separated, in any order.
pub fn parse_binding(text: &str) -> Result<BindingArg, String> {
    let mut role = None;
    let mut subject = None;
    for pair in text.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not KEY=VALUE"));
        };
        let (key, value) = (key.trim(), value.trim());
        let parsed = match key {
            "role" | "role-id" => {
                if role.replace(parse_role(value)?).is_some() {
                    return Err("role= is given twice".to_owned());
                }
                continue;
            }
            "service-account-id" => SubjectArg::new(SERVICE_ACCOUNT, &parse_subject_id(value)?),
            "user-account-id" => SubjectArg::new(USER_ACCOUNT, &parse_subject_id(value)?),
            "subject" => parse_subject(value)?,
            other => {
                return Err(format!(
                    "unknown key {other:?}; expected role, service-account-id, user-account-id \
                     or subject"
                ));
            }
        };
        if subject.replace(parsed).is_some() {
            return Err(
                "give one subject: service-account-id=, user-account-id= or subject=".to_owned(),
            );
        }
    }
    match (role, subject) {
        (Some(role), Some(subject)) => Ok(BindingArg { role, subject }),
        (None, _) => Err("role= is missing".to_owned()),
        (_, None) => Err(
            "the subject is missing: add service-account-id=, user-account-id= or subject="
                .to_owned(),
        ),
    }
}

/// The subject of `add-access-binding` / `remove-access-binding`: exactly one flag.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "binding_subject", required = true, multiple = false)]
pub struct SubjectFlags {
    /// A service account, by ID.
    #[arg(long, value_name = "ID", value_parser = parse_subject_id)]
    pub service_account_id: Option<String>,
    /// A user account, by ID.
    #[arg(long, value_name = "ID", value_parser = parse_subject_id)]
    pub user_account_id: Option<String>,
    /// Every authenticated caller (system:allAuthenticatedUsers).
    #[arg(long)]
    pub all_authenticated_users: bool,
    /// Any subject, as TYPE:ID (serviceAccount, userAccount, system).
    #[arg(long, value_name = "TYPE:ID", value_parser = parse_subject)]
    pub subject: Option<SubjectArg>,
}

impl SubjectFlags {
    pub fn subject(&self) -> SubjectArg {
        match (
            &self.service_account_id,
            &self.user_account_id,
            &self.subject,
        ) {
            (Some(id), _, _) => SubjectArg::new(SERVICE_ACCOUNT, id),
            (None, Some(id), _) => SubjectArg::new(USER_ACCOUNT, id),
            (None, None, Some(subject)) => subject.clone(),
            // Only --all-authenticated-users is left (clap requires one of the four).
            (None, None, None) => SubjectArg::new(SYSTEM, ALL_AUTHENTICATED_USERS),
        }
    }
}

/// `--role ROLE` and one subject: the one binding `add-` / `remove-access-binding` change.
#[derive(Debug, Clone, clap::Args)]
pub struct BindingFlags {
    /// Role to bind or unbind, e.g. kms.asymmetricSignatureKeys.signer.
    #[arg(long, value_name = "ROLE-ID", value_parser = parse_role)]
    pub role: String,
    #[command(flatten)]
    pub subject: SubjectFlags,
    /// Print the operation instead of waiting for it.
    #[arg(long = "async")]
    pub async_: bool,
}

impl BindingFlags {
    pub fn binding(&self) -> BindingArg {
        BindingArg {
            role: self.role.clone(),
            subject: self.subject.subject(),
        }
    }
}

/// The bindings `set-access-bindings` replaces all existing ones with.
#[derive(Debug, Clone, clap::Args)]
pub struct SetBindingsFlags {
    /// A binding, as role=ROLE,service-account-id=ID | user-account-id=ID | subject=TYPE:ID.
    /// Repeat the flag for more bindings. All bindings not listed are removed.
    #[arg(
        long = "access-binding",
        value_name = "role=ROLE,SUBJECT",
        value_parser = parse_binding,
        required = true
    )]
    pub bindings: Vec<BindingArg>,
    /// Print the operation instead of waiting for it.
    #[arg(long = "async")]
    pub async_: bool,
}

/// `signet kms asymmetric-signature-key list-access-bindings KEY`
#[derive(Debug, Clone, clap::Args)]
pub struct KeyListBindingsArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
}

/// `signet kms asymmetric-signature-key set-access-bindings KEY --access-binding ...`
#[derive(Debug, Clone, clap::Args)]
pub struct KeySetBindingsArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    #[command(flatten)]
    pub bindings: SetBindingsFlags,
}

/// `signet kms asymmetric-signature-key add-access-binding|remove-access-binding KEY ...`
#[derive(Debug, Clone, clap::Args)]
pub struct KeyBindingArgs {
    #[command(flatten)]
    pub key: KeyRefArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
    #[command(flatten)]
    pub binding: BindingFlags,
}

/// Which service holds the bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// An asymmetric signature key (`AsymmetricSignatureKeyService`).
    Key,
    /// A folder (`resourcemanager.v1.FolderService`).
    Folder,
}

/// The request `set-access-bindings` sends.
pub fn set_request(resource_id: String, bindings: &[BindingArg]) -> SetAccessBindingsRequest {
    SetAccessBindingsRequest {
        resource_id,
        access_bindings: bindings.iter().map(BindingArg::to_wire).collect(),
    }
}

/// The request `add-access-binding` (ADD) or `remove-access-binding` (REMOVE) sends.
pub fn update_request(
    resource_id: String,
    action: AccessBindingAction,
    binding: &BindingArg,
) -> UpdateAccessBindingsRequest {
    UpdateAccessBindingsRequest {
        resource_id,
        access_binding_deltas: vec![AccessBindingDelta {
            action: action as i32,
            access_binding: Some(binding.to_wire()),
        }],
    }
}

/// Every binding of a resource, across pages.
pub async fn list_bindings(
    clients: &mut Clients,
    kind: ResourceKind,
    resource_id: &str,
) -> Result<Vec<AccessBinding>, ClientError> {
    let mut bindings = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListAccessBindingsRequest {
            resource_id: resource_id.to_owned(),
            page_size: page_size(u64::MAX),
            page_token: page_token.clone(),
        };
        let page = match kind {
            ResourceKind::Key => clients.keys.list_access_bindings(request).await?,
            ResourceKind::Folder => clients.folders.list_access_bindings(request).await?,
        }
        .into_inner();
        bindings.extend(page.access_bindings);
        if !next_page(&mut page_token, page.next_page_token)? {
            break;
        }
    }
    Ok(bindings)
}

/// Lists and prints a resource's bindings.
pub async fn list(
    session: &mut Session<'_>,
    kind: ResourceKind,
    resource_id: &str,
) -> Result<(), ClientError> {
    let bindings = list_bindings(&mut session.clients, kind, resource_id).await?;
    session.printer.access_bindings(&bindings)
}

/// Replaces a resource's bindings.
pub async fn set(
    session: &mut Session<'_>,
    kind: ResourceKind,
    resource_id: String,
    flags: &SetBindingsFlags,
) -> Result<(), ClientError> {
    let request = set_request(resource_id, &flags.bindings);
    let op = match kind {
        ResourceKind::Key => session.clients.keys.set_access_bindings(request).await?,
        ResourceKind::Folder => session.clients.folders.set_access_bindings(request).await?,
    }
    .into_inner();
    finish_quietly(session, op, flags.async_).await
}

/// Adds or removes one binding of a resource.
pub async fn update(
    session: &mut Session<'_>,
    kind: ResourceKind,
    resource_id: String,
    action: AccessBindingAction,
    flags: &BindingFlags,
) -> Result<(), ClientError> {
    let request = update_request(resource_id, action, &flags.binding());
    let op = match kind {
        ResourceKind::Key => session.clients.keys.update_access_bindings(request).await?,
        ResourceKind::Folder => {
            session
                .clients
                .folders
                .update_access_bindings(request)
                .await?
        }
    }
    .into_inner();
    finish_quietly(session, op, flags.async_).await
}

/// `list-access-bindings` on a key named by ID or name.
pub async fn key_list(
    session: &mut Session<'_>,
    args: KeyListBindingsArgs,
) -> Result<(), ClientError> {
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    list(session, ResourceKind::Key, &key_id).await
}

/// `set-access-bindings` on a key named by ID or name.
pub async fn key_set(
    session: &mut Session<'_>,
    args: KeySetBindingsArgs,
) -> Result<(), ClientError> {
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    set(session, ResourceKind::Key, key_id, &args.bindings).await
}

/// `add-access-binding` (ADD) or `remove-access-binding` (REMOVE) on a key.
pub async fn key_update(
    session: &mut Session<'_>,
    args: KeyBindingArgs,
    action: AccessBindingAction,
) -> Result<(), ClientError> {
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    update(session, ResourceKind::Key, key_id, action, &args.binding).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_split_at_the_first_colon() {
        assert_eq!(
            parse_subject("serviceAccount:aje123").unwrap(),
            SubjectArg::new("serviceAccount", "aje123")
        );
        assert_eq!(
            parse_subject("system:group:organization:o1:users").unwrap(),
            SubjectArg::new("system", "group:organization:o1:users")
        );
        for bad in ["", "aje123", ":aje", "serviceAccount:", "user Account:x"] {
            assert!(parse_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_are_checked_only_for_shape() {
        assert_eq!(
            parse_role("kms.asymmetricSignatureKeys.signer").unwrap(),
            "kms.asymmetricSignatureKeys.signer"
        );
        // Unknown roles pass: the server decides.
        assert_eq!(parse_role("made.up").unwrap(), "made.up");
        for bad in ["", "  ", "kms.admin,x", "a b", "role=kms.admin"] {
            assert!(parse_role(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn access_binding_flags_parse_in_any_order() {
        assert_eq!(
            parse_binding("role=kms.admin,service-account-id=aje1").unwrap(),
            BindingArg {
                role: "kms.admin".into(),
                subject: SubjectArg::new(SERVICE_ACCOUNT, "aje1"),
            }
        );
        assert_eq!(
            parse_binding("user-account-id=u1, role-id=kms.viewer").unwrap(),
            BindingArg {
                role: "kms.viewer".into(),
                subject: SubjectArg::new(USER_ACCOUNT, "u1"),
            }
        );
        assert_eq!(
            parse_binding("role=kms.auditor,subject=system:allAuthenticatedUsers").unwrap(),
            BindingArg {
                role: "kms.auditor".into(),
                subject: SubjectArg::new(SYSTEM, ALL_AUTHENTICATED_USERS),
            }
        );
    }

    #[test]
    fn malformed_access_bindings_are_refused() {
        for (bad, why) in [
            ("service-account-id=aje1", "role= is missing"),
            ("role=kms.admin", "subject is missing"),
            ("role=kms.admin,role=kms.viewer,subject=a:b", "twice"),
            (
                "role=kms.admin,service-account-id=a,user-account-id=b",
                "one subject",
            ),
            ("role=kms.admin,folder-id=x", "unknown key"),
            ("role=kms.admin,aje1", "not KEY=VALUE"),
            ("role=kms.admin,subject=aje1", "TYPE:ID"),
            ("role=kms.admin,service-account-id=", "empty"),
        ] {
            let err = parse_binding(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    fn key_binding(flags: &[&str]) -> Result<KeyBindingArgs, clap::Error> {
        use crate::client::KmsCommand;
        use crate::client::args::KeyCommand;
        let mut args = vec!["kms", "asymmetric-signature-key", "remove-access-binding"];
        args.extend_from_slice(flags);
        match crate::client::tests::parse(&args)?.1 {
            KmsCommand::AsymmetricSignatureKey(KeyCommand::RemoveAccessBinding(a)) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn add_and_remove_take_a_key_a_role_and_exactly_one_subject() {
        use crate::client::args::KeyRef;
        let subject = |flags: &[&str]| {
            let mut args = vec!["abj1", "--role", "kms.admin"];
            args.extend_from_slice(flags);
            key_binding(&args).map(|a| a.binding.subject.subject())
        };
        assert_eq!(
            subject(&["--service-account-id", "aje1"]).unwrap(),
            SubjectArg::new(SERVICE_ACCOUNT, "aje1")
        );
        assert_eq!(
            subject(&["--user-account-id", "u1"]).unwrap(),
            SubjectArg::new(USER_ACCOUNT, "u1")
        );
        assert_eq!(
            subject(&["--all-authenticated-users"]).unwrap(),
            SubjectArg::new(SYSTEM, ALL_AUTHENTICATED_USERS)
        );
        assert_eq!(
            subject(&["--subject", "system:allUsers"]).unwrap(),
            SubjectArg::new(SYSTEM, "allUsers")
        );
        // None, two, or a malformed one.
        assert!(subject(&[]).is_err());
        assert!(subject(&["--service-account-id", "a", "--all-authenticated-users"]).is_err());
        assert!(subject(&["--service-account-id", "a", "--user-account-id", "b"]).is_err());
        assert!(subject(&["--subject", "aje1"]).is_err());
        assert!(subject(&["--service-account-id", ""]).is_err());

        // The role is required; the key by ID, --id or --name (exactly one).
        assert!(key_binding(&["abj1", "--service-account-id", "a"]).is_err());
        let by_name = key_binding(&[
            "--name",
            "k",
            "--role",
            "r",
            "--service-account-id",
            "a",
            "--async",
        ])
        .unwrap();
        assert_eq!(by_name.key.key_ref(), KeyRef::Name("k".into()));
        assert!(by_name.binding.async_);
        assert!(
            key_binding(&[
                "abj1",
                "--id",
                "abj2",
                "--role",
                "r",
                "--service-account-id",
                "a"
            ])
            .is_err()
        );
    }

    #[test]
    fn set_takes_one_or_more_bindings() {
        use crate::client::KmsCommand;
        use crate::client::args::KeyCommand;
        let set = |flags: &[&str]| {
            let mut args = vec![
                "kms",
                "asymmetric-signature-key",
                "set-access-bindings",
                "abj1",
            ];
            args.extend_from_slice(flags);
            crate::client::tests::parse(&args).map(|(_, cmd)| match cmd {
                KmsCommand::AsymmetricSignatureKey(KeyCommand::SetAccessBindings(a)) => {
                    a.bindings.bindings
                }
                other => panic!("parsed as {other:?}"),
            })
        };
        let bindings = set(&[
            "--access-binding",
            "role=kms.admin,service-account-id=a",
            "--access-binding",
            "role=kms.viewer,subject=userAccount:u",
        ])
        .unwrap();
        assert_eq!(bindings.len(), 2);
        assert_eq!(bindings[1].subject, SubjectArg::new(USER_ACCOUNT, "u"));
        assert!(set(&[]).is_err(), "at least one binding");
        assert!(set(&["--access-binding", "role=kms.admin"]).is_err());
        let list = crate::client::tests::parse(&[
            "kms",
            "asymmetric-signature-key",
            "list-access-bindings",
            "--name",
            "k",
        ]);
        assert!(list.is_ok());
    }

    #[test]
    fn binding_operations_render_their_metadata() {
        use crate::client::args::OutputFormat;
        use crate::client::output::Printer;
        use prost::{Message, Name};
        use signet_proto::pbjson_types::Any;
        use signet_proto::yandex::cloud::access::UpdateAccessBindingsMetadata;
        use signet_proto::yandex::cloud::operation::{Operation, operation};

        let metadata = UpdateAccessBindingsMetadata {
            resource_id: "abj1".into(),
        };
        let op = Operation {
            id: "op1".into(),
            done: true,
            metadata: Some(Any {
                type_url: UpdateAccessBindingsMetadata::type_url(),
                value: metadata.encode_to_vec().into(),
            }),
            result: Some(operation::Result::Response(Any {
                type_url: "type.googleapis.com/google.protobuf.Empty".into(),
                value: Vec::new().into(),
            })),
            ..Default::default()
        };
        let mut out = Vec::new();
        Printer::new(OutputFormat::Text, &mut out)
            .operation(&op)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("  resource_id: abj1\n"), "{text}");
        let mut out = Vec::new();
        Printer::new(OutputFormat::Json, &mut out)
            .operation(&op)
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["metadata"]["resourceId"], "abj1");
        assert_eq!(
            json["metadata"]["@type"],
            "type.googleapis.com/yandex.cloud.access.UpdateAccessBindingsMetadata"
        );
    }

    #[test]
    fn requests_carry_the_bindings() {
        let binding =
            parse_binding("role=kms.asymmetricSignatureKeys.signer,service-account-id=aje1")
                .unwrap();
        let set = set_request("abj1".into(), std::slice::from_ref(&binding));
        assert_eq!(set.resource_id, "abj1");
        assert_eq!(set.access_bindings.len(), 1);
        assert_eq!(
            set.access_bindings[0].role_id,
            "kms.asymmetricSignatureKeys.signer"
        );
        let subject = set.access_bindings[0].subject.clone().unwrap();
        assert_eq!(
            (subject.r#type.as_str(), subject.id.as_str()),
            ("serviceAccount", "aje1")
        );

        let update = update_request("b1g".into(), AccessBindingAction::Remove, &binding);
        assert_eq!(update.resource_id, "b1g");
        assert_eq!(update.access_binding_deltas.len(), 1);
        assert_eq!(
            update.access_binding_deltas[0].action,
            AccessBindingAction::Remove as i32
        );
        assert_eq!(
            update.access_binding_deltas[0].access_binding,
            Some(binding.to_wire())
        );
    }
}
