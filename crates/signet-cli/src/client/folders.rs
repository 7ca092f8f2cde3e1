//! `signet resource-manager folder ...`: a folder's access bindings, shaped like
//! `yc resource-manager folder list-access-bindings|set-access-bindings|add-access-binding|
//! remove-access-binding`. Roles bound on a folder apply to every key in it.

use signet_proto::yandex::cloud::access::AccessBindingAction;

use super::access::{self, BindingFlags, ResourceKind, SetBindingsFlags};
use super::error::ClientError;
use super::{Session, SessionCommand};

/// `signet resource-manager ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ResourceManagerCommand {
    /// Access bindings of folders.
    #[command(subcommand)]
    Folder(FolderCommand),
}

/// `signet resource-manager folder ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum FolderCommand {
    /// List the access bindings of a folder.
    ListAccessBindings(FolderListArgs),
    /// Replace all access bindings of a folder with the given ones.
    SetAccessBindings(FolderSetArgs),
    /// Bind a role on a folder to a subject.
    AddAccessBinding(FolderBindingArgs),
    /// Remove a role binding from a folder.
    RemoveAccessBinding(FolderBindingArgs),
}

/// The folder: a positional ID or `--id`.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "folder_ref", required = true, multiple = false)]
pub struct FolderRefArgs {
    /// Folder ID.
    #[arg(value_name = "FOLDER-ID")]
    pub folder: Option<String>,
    /// Folder ID.
    #[arg(long = "id", value_name = "FOLDER-ID")]
    pub id: Option<String>,
}

impl FolderRefArgs {
    pub fn folder_id(&self) -> String {
        // clap's required group guarantees one; an empty ID gets the server's
        // INVALID_ARGUMENT.
        self.folder
            .clone()
            .or_else(|| self.id.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct FolderListArgs {
    #[command(flatten)]
    pub folder: FolderRefArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FolderSetArgs {
    #[command(flatten)]
    pub folder: FolderRefArgs,
    #[command(flatten)]
    pub bindings: SetBindingsFlags,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FolderBindingArgs {
    #[command(flatten)]
    pub folder: FolderRefArgs,
    #[command(flatten)]
    pub binding: BindingFlags,
}

impl SessionCommand for ResourceManagerCommand {
    async fn run(self, session: &mut Session<'_>) -> Result<(), ClientError> {
        let ResourceManagerCommand::Folder(cmd) = self;
        match cmd {
            FolderCommand::ListAccessBindings(args) => {
                access::list(session, ResourceKind::Folder, &args.folder.folder_id()).await
            }
            FolderCommand::SetAccessBindings(args) => {
                access::set(
                    session,
                    ResourceKind::Folder,
                    args.folder.folder_id(),
                    &args.bindings,
                )
                .await
            }
            FolderCommand::AddAccessBinding(args) => {
                access::update(
                    session,
                    ResourceKind::Folder,
                    args.folder.folder_id(),
                    AccessBindingAction::Add,
                    &args.binding,
                )
                .await
            }
            FolderCommand::RemoveAccessBinding(args) => {
                access::update(
                    session,
                    ResourceKind::Folder,
                    args.folder.folder_id(),
                    AccessBindingAction::Remove,
                    &args.binding,
                )
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(subcommand)]
        command: ResourceManagerCommand,
    }

    fn parse(args: &[&str]) -> Result<FolderCommand, clap::Error> {
        let cli =
            TestCli::try_parse_from(["signet", "folder"].into_iter().chain(args.iter().copied()))?;
        let ResourceManagerCommand::Folder(cmd) = cli.command;
        Ok(cmd)
    }

    #[test]
    fn folder_commands_take_the_folder_by_position_or_id() {
        let FolderCommand::ListAccessBindings(args) =
            parse(&["list-access-bindings", "b1g"]).unwrap()
        else {
            panic!("not list");
        };
        assert_eq!(args.folder.folder_id(), "b1g");
        let FolderCommand::AddAccessBinding(args) = parse(&[
            "add-access-binding",
            "--id",
            "b1g",
            "--role",
            "kms.viewer",
            "--all-authenticated-users",
        ])
        .unwrap() else {
            panic!("not add");
        };
        assert_eq!(args.folder.folder_id(), "b1g");
        assert_eq!(args.binding.binding().subject.id, "allAuthenticatedUsers");
        let FolderCommand::SetAccessBindings(args) = parse(&[
            "set-access-bindings",
            "b1g",
            "--access-binding",
            "role=kms.admin,service-account-id=aje1",
            "--async",
        ])
        .unwrap() else {
            panic!("not set");
        };
        assert_eq!(args.bindings.bindings.len(), 1);
        assert!(args.bindings.async_);
        assert!(matches!(
            parse(&[
                "remove-access-binding",
                "b1g",
                "--role",
                "r",
                "--user-account-id",
                "u"
            ]),
            Ok(FolderCommand::RemoveAccessBinding(_))
        ));

        assert!(
            parse(&["list-access-bindings"]).is_err(),
            "a folder is required"
        );
        assert!(parse(&["list-access-bindings", "b1g", "--id", "b1h"]).is_err());
        assert!(parse(&["add-access-binding", "b1g", "--role", "r"]).is_err());
    }
}
