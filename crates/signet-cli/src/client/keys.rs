//! `signet kms asymmetric-signature-key ...`: the control plane.

use signet_proto::wkt::FieldMask;
use signet_proto::yandex::cloud::access::AccessBindingAction;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricSignatureKey, CreateAsymmetricSignatureKeyRequest,
    DeleteAsymmetricSignatureKeyRequest, GetAsymmetricSignatureKeyRequest,
    ListAsymmetricSignatureKeyOperationsRequest, ListAsymmetricSignatureKeysRequest,
    UpdateAsymmetricSignatureKeyRequest, asymmetric_signature_key::Status,
};
use signet_proto::yandex::cloud::operation::Operation;

use super::Session;
use super::access;
use super::args::{
    CreateArgs, DeleteArgs, GetArgs, KeyCommand, KeyRef, ListArgs, ListOperationsArgs, StatusArg,
    UpdateArgs, UpdateFields,
};
use super::error::ClientError;
use super::operation;
use super::transport::Clients;

/// The server's largest page.
const MAX_PAGE_SIZE: u64 = 1000;

pub async fn run(session: &mut Session<'_>, cmd: KeyCommand) -> Result<(), ClientError> {
    match cmd {
        KeyCommand::Create(args) => create(session, args).await,
        KeyCommand::Get(args) => get(session, args).await,
        KeyCommand::List(args) => list(session, args).await,
        KeyCommand::Update(args) => update(session, args).await,
        KeyCommand::Delete(args) => delete(session, args).await,
        KeyCommand::ListOperations(args) => list_operations(session, args).await,
        KeyCommand::ListAccessBindings(args) => access::key_list(session, args).await,
        KeyCommand::SetAccessBindings(args) => access::key_set(session, args).await,
        KeyCommand::AddAccessBinding(args) => {
            access::key_update(session, args, AccessBindingAction::Add).await
        }
        KeyCommand::RemoveAccessBinding(args) => {
            access::key_update(session, args, AccessBindingAction::Remove).await
        }
    }
}

/// The request `create` sends.
pub fn create_request(args: &CreateArgs) -> CreateAsymmetricSignatureKeyRequest {
    CreateAsymmetricSignatureKeyRequest {
        folder_id: args.folder.folder_id.clone(),
        name: args.name.clone().unwrap_or_default(),
        description: args.description.clone().unwrap_or_default(),
        labels: args.labels.clone().map(|l| l.0).unwrap_or_default(),
        signature_algorithm: args.signature_algorithm.wire_number(),
        deletion_protection: args.deletion_protection,
    }
}

async fn create(session: &mut Session<'_>, args: CreateArgs) -> Result<(), ClientError> {
    let op = session
        .clients
        .keys
        .create(create_request(&args))
        .await?
        .into_inner();
    finish(session, op, args.async_).await
}

async fn get(session: &mut Session<'_>, args: GetArgs) -> Result<(), ClientError> {
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    let key = session
        .clients
        .keys
        .get(GetAsymmetricSignatureKeyRequest { key_id })
        .await?
        .into_inner();
    session.printer.key(&key)
}

async fn list(session: &mut Session<'_>, args: ListArgs) -> Result<(), ClientError> {
    let keys = list_keys(&mut session.clients, &args.folder.folder_id, args.limit).await?;
    session.printer.keys(&keys)
}

/// The request `update` sends: the mask names exactly the fields whose flags were given, in
/// proto field order.
pub fn update_request(
    key_id: String,
    fields: &UpdateFields,
) -> Result<UpdateAsymmetricSignatureKeyRequest, ClientError> {
    let mut request = UpdateAsymmetricSignatureKeyRequest {
        key_id,
        ..Default::default()
    };
    let mut paths = Vec::new();
    if let Some(name) = &fields.new_name {
        request.name = name.clone();
        paths.push("name");
    }
    if let Some(description) = &fields.description {
        request.description = description.clone();
        paths.push("description");
    }
    if let Some(status) = fields.status {
        request.status = match status {
            StatusArg::Active => Status::Active,
            StatusArg::Inactive => Status::Inactive,
        } as i32;
        paths.push("status");
    }
    if let Some(labels) = &fields.labels {
        request.labels = labels.0.clone();
        paths.push("labels");
    }
    if fields.deletion_protection || fields.no_deletion_protection {
        request.deletion_protection = fields.deletion_protection;
        paths.push("deletion_protection");
    }
    if paths.is_empty() {
        return Err(ClientError::NothingToUpdate);
    }
    request.update_mask = Some(FieldMask {
        paths: paths.into_iter().map(str::to_owned).collect(),
    });
    Ok(request)
}

async fn update(session: &mut Session<'_>, args: UpdateArgs) -> Result<(), ClientError> {
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    let request = update_request(key_id, &args.fields)?;
    let op = session.clients.keys.update(request).await?.into_inner();
    finish(session, op, args.async_).await
}

async fn delete(session: &mut Session<'_>, args: DeleteArgs) -> Result<(), ClientError> {
    for key_ref in args.targets.key_refs() {
        let key_id = resolve(&mut session.clients, &key_ref, &args.folder.folder_id).await?;
        let op = session
            .clients
            .keys
            .delete(DeleteAsymmetricSignatureKeyRequest { key_id })
            .await?
            .into_inner();
        finish(session, op, args.async_).await?;
    }
    Ok(())
}

async fn list_operations(
    session: &mut Session<'_>,
    args: ListOperationsArgs,
) -> Result<(), ClientError> {
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    let mut operations = Vec::new();
    let mut page_token = String::new();
    loop {
        let remaining = args.limit.saturating_sub(operations.len() as u64);
        let page = session
            .clients
            .keys
            .list_operations(ListAsymmetricSignatureKeyOperationsRequest {
                key_id: key_id.clone(),
                page_size: page_size(remaining),
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        operations.extend(page.operations.into_iter().take(remaining as usize));
        if !next_page(&mut page_token, page.next_page_token)?
            || operations.len() as u64 >= args.limit
        {
            break;
        }
    }
    session.printer.operations(&operations)
}

/// Prints the operation (`--async`), or waits for it and prints the key it produced.
async fn finish(session: &mut Session<'_>, op: Operation, async_: bool) -> Result<(), ClientError> {
    if async_ {
        return session.printer.operation(&op);
    }
    let done = operation::wait(&mut session.clients, op, session.progress).await?;
    let key: AsymmetricSignatureKey = operation::response(&done)?;
    session.printer.key(&key)
}

/// The key ID for a positional ID, `--id` or `--name`.
pub async fn resolve(
    clients: &mut Clients,
    key_ref: &KeyRef,
    folder_id: &str,
) -> Result<String, ClientError> {
    match key_ref {
        KeyRef::Id(id) => Ok(id.clone()),
        KeyRef::Name(name) => {
            let keys = list_keys(clients, folder_id, None).await?;
            pick_by_name(&keys, name, folder_id)
        }
    }
}

/// The one key called `name`, or why there is not exactly one.
pub fn pick_by_name(
    keys: &[AsymmetricSignatureKey],
    name: &str,
    folder_id: &str,
) -> Result<String, ClientError> {
    let matches: Vec<&AsymmetricSignatureKey> = keys.iter().filter(|k| k.name == name).collect();
    match matches.as_slice() {
        [key] => Ok(key.id.clone()),
        [] => Err(ClientError::KeyNameNotFound {
            name: name.to_owned(),
            folder_id: folder_id.to_owned(),
        }),
        many => Err(ClientError::KeyNameAmbiguous {
            name: name.to_owned(),
            folder_id: folder_id.to_owned(),
            count: many.len(),
        }),
    }
}

/// Pages through a folder's keys, up to `limit` of them.
async fn list_keys(
    clients: &mut Clients,
    folder_id: &str,
    limit: Option<u64>,
) -> Result<Vec<AsymmetricSignatureKey>, ClientError> {
    let mut keys = Vec::new();
    let mut page_token = String::new();
    loop {
        let remaining = limit.map_or(MAX_PAGE_SIZE, |l| l.saturating_sub(keys.len() as u64));
        let page = clients
            .keys
            .list(ListAsymmetricSignatureKeysRequest {
                folder_id: folder_id.to_owned(),
                page_size: page_size(remaining),
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        let take = limit.map_or(usize::MAX, |_| remaining as usize);
        keys.extend(page.keys.into_iter().take(take));
        let full = limit.is_some_and(|l| keys.len() as u64 >= l);
        if !next_page(&mut page_token, page.next_page_token)? || full {
            break;
        }
    }
    Ok(keys)
}

pub(crate) fn page_size(remaining: u64) -> i64 {
    // Both bounds are small, so the conversion cannot fail; 1000 is the fallback anyway.
    i64::try_from(remaining.min(MAX_PAGE_SIZE)).unwrap_or(1000)
}

/// Moves to the next page; false when there is none. A server that repeats a token would make
/// the client loop for ever, so that is an error.
pub(crate) fn next_page(current: &mut String, next: String) -> Result<bool, ClientError> {
    if next.is_empty() {
        return Ok(false);
    }
    if next == *current {
        return Err(ClientError::PageTokenLoop);
    }
    *current = next;
    Ok(true)
}
