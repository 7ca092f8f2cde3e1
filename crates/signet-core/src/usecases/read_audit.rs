//! Reading the audit trail online (ADR 0006, "Reading it").
//!
//! The deployment admin reads every record. A service account needs `ReadAuditTrail`
//! (`kms.auditor`, or a role that includes it) on a folder, and then reads only the records
//! *about* that folder: those whose resource is the folder itself, a key whose row belongs to
//! the folder (deleted and destroyed keys included: their rows stay), or an operation on the
//! folder or on such a key. Nothing else (service accounts, authorized keys, unauthenticated
//! calls that name no resource) belongs to a folder. Folder ids are free-form, so a record's
//! resource is resolved as a key, an operation or an identity before it may count as the
//! folder's own name: a folder named like another folder's key does not see that key's records.
//!
//! Filtering is a scan in chain order: a page reads at most [`SCAN_FACTOR`] × `page_size`
//! records (at most 10,000), so a page may be short or even empty, and its token resumes after
//! the last record scanned, so that paging always progresses.

use crate::audit::{AuditCheckpoint, AuditHead, AuditRecord, META_CHECKPOINT_PUBLIC_KEY};
use crate::auth::{self, Principal, Resource};
use crate::domain::{
    AuthorizedKeyId, FolderId, Invalid, KeyId, OperationId, ServiceAccountId, Timestamp,
};
use crate::{CoreError, Kms, paging};
use std::collections::HashMap;

/// A page scans at most this many records per record it may return.
pub const SCAN_FACTOR: usize = 10;

/// Records read from the store per round trip while filtering.
const CHUNK: usize = 500;

/// Checkpoints read per round trip while looking for the last one.
const CHECKPOINT_PAGE: usize = 1000;

/// A validated ListRecords request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListAuditRecords {
    /// `None`: every record (the deployment admin only).
    pub folder_id: Option<FolderId>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
    /// Only records with a greater seq; 0 from the start.
    pub after_seq: i64,
    /// Already resolved: 1..=1000.
    pub page_size: usize,
    /// The raw token; checked against this listing here. Not together with `after_seq`.
    pub page_token: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    /// Empty when the scan reached the end of the trail.
    pub next_page_token: String,
    /// The seq the scan reached (where a later call with `after_seq` continues).
    pub last_scanned_seq: i64,
}

/// The chain head with the last checkpoint and the key that signs checkpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHeadView {
    pub head: AuditHead,
    pub last_checkpoint: Option<AuditCheckpoint>,
    /// The checkpoint key (SPKI PEM) the store records, if any.
    pub checkpoint_public_key_pem: Option<String>,
}

impl Kms {
    /// A page of the trail, filtered to what `principal` may read (see the module docs).
    pub async fn list_audit_records(
        &self,
        principal: &Principal,
        req: ListAuditRecords,
    ) -> Result<AuditPage, CoreError> {
        self.authorize_audit_read(principal, req.folder_id.as_ref())
            .await?;
        let since = req.since.unwrap_or(Timestamp::from_micros(i64::MIN));
        let scope = format!(
            "audit:{}:{}",
            req.folder_id.as_ref().map_or("", FolderId::as_str),
            since.as_micros()
        );
        let start = if req.page_token.is_empty() {
            req.after_seq
        } else {
            if req.after_seq != 0 {
                return Err(Invalid::one("after_seq", "cannot be given with a page_token").into());
            }
            let raw = paging::decode(self.vault.root(), &scope, "page_token", &req.page_token)?;
            let bytes: [u8; 8] = raw
                .try_into()
                .map_err(|_| Invalid::one("page_token", "is not a valid page token"))?;
            i64::from_be_bytes(bytes)
        };
        let Some(folder) = req.folder_id else {
            // Every record matches: read one more than a page to know whether more follow.
            let mut records = self
                .store
                .audit_records_since(since, start, req.page_size + 1)
                .await?;
            let more = records.len() > req.page_size;
            records.truncate(req.page_size);
            let last = records.last().map_or(start, |r| r.seq);
            return Ok(self.audit_page(&scope, records, more, last));
        };

        let budget = req.page_size.saturating_mul(SCAN_FACTOR);
        let mut owner = FolderOf::new(self, &folder);
        let mut records = Vec::new();
        let mut scanned = 0usize;
        let mut position = start;
        let mut more = true;
        'scan: while records.len() < req.page_size && scanned < budget {
            let want = CHUNK.min(budget - scanned);
            let chunk = self
                .store
                .audit_records_since(since, position, want)
                .await?;
            let short = chunk.len() < want;
            for record in chunk {
                scanned += 1;
                position = record.seq;
                if owner.matches(record.event.resource_id.as_deref()).await? {
                    records.push(record);
                    if records.len() == req.page_size {
                        break 'scan;
                    }
                }
            }
            if short {
                more = false;
                break;
            }
        }
        Ok(self.audit_page(&scope, records, more, position))
    }

    /// The chain head and the last checkpoint, for the same callers as the records.
    pub async fn audit_head_view(
        &self,
        principal: &Principal,
        folder_id: Option<&FolderId>,
    ) -> Result<AuditHeadView, CoreError> {
        self.authorize_audit_read(principal, folder_id).await?;
        let head = self.store.audit_head().await?;
        // Checkpoints come at least every 1000 records while records come; look back from the
        // head in growing windows rather than reading them all.
        let mut window: i64 = 4096;
        let last_checkpoint = loop {
            let mut after = head.seq.saturating_sub(window).max(0);
            let floor = after;
            let mut last = None;
            loop {
                let page = self.store.audit_checkpoints(after, CHECKPOINT_PAGE).await?;
                let full = page.len() == CHECKPOINT_PAGE;
                if let Some(cp) = page.into_iter().last() {
                    after = cp.seq;
                    last = Some(cp);
                }
                if !full {
                    break;
                }
            }
            if last.is_some() || floor == 0 {
                break last;
            }
            window = window.saturating_mul(8);
        };
        Ok(AuditHeadView {
            head,
            last_checkpoint,
            checkpoint_public_key_pem: self.store.get_meta(META_CHECKPOINT_PUBLIC_KEY).await?,
        })
    }

    /// The admin reads everything; anyone else needs `ReadAuditTrail` on the folder named.
    /// Reading the whole trail without a folder is the admin's alone (PERMISSION_DENIED).
    async fn authorize_audit_read(
        &self,
        principal: &Principal,
        folder: Option<&FolderId>,
    ) -> Result<(), CoreError> {
        let resource = match folder {
            Some(folder) => Resource::Folder(folder.clone()),
            None => Resource::Deployment,
        };
        self.authorize::<auth::ReadAuditTrail>(principal, resource)
            .await?;
        Ok(())
    }

    fn audit_page(
        &self,
        scope: &str,
        records: Vec<AuditRecord>,
        more: bool,
        position: i64,
    ) -> AuditPage {
        let next_page_token = if more {
            paging::encode(self.vault.root(), scope, &position.to_be_bytes())
        } else {
            String::new()
        };
        AuditPage {
            records,
            next_page_token,
            last_scanned_seq: position,
        }
    }
}

/// Whether a record's resource belongs to a folder, remembering the answer per resource id for
/// the page (a key never changes folder, and an operation never changes its resource).
struct FolderOf<'a> {
    kms: &'a Kms,
    folder: &'a FolderId,
    known: HashMap<String, bool>,
}

impl<'a> FolderOf<'a> {
    fn new(kms: &'a Kms, folder: &'a FolderId) -> FolderOf<'a> {
        FolderOf {
            kms,
            folder,
            known: HashMap::new(),
        }
    }

    /// Folder ids are free-form, so a folder may be named like a key, an operation, a service
    /// account or an authorized key of somewhere else: a record names the folder only if its
    /// resource is none of those, and the id-shaped resources are resolved first.
    async fn matches(&mut self, resource: Option<&str>) -> Result<bool, CoreError> {
        let Some(resource) = resource else {
            return Ok(false);
        };
        if let Some(known) = self.known.get(resource) {
            return Ok(*known);
        }
        let belongs = self.resolve(resource).await?;
        self.known.insert(resource.to_owned(), belongs);
        Ok(belongs)
    }

    async fn resolve(&self, resource: &str) -> Result<bool, CoreError> {
        use crate::domain::OperationKind as K;
        if let Some(belongs) = self.key_in_folder(resource).await? {
            return Ok(belongs);
        }
        let store = &self.kms.store;
        let op = store
            .get_operation(&OperationId::from_trusted(resource.to_owned()))
            .await?;
        if let Some(op) = op {
            return Ok(match op.kind {
                K::CreateKey
                | K::UpdateKey
                | K::DeleteKey
                | K::SetKeyAccessBindings
                | K::UpdateKeyAccessBindings => {
                    self.key_in_folder(&op.resource_id).await? == Some(true)
                }
                K::SetFolderAccessBindings | K::UpdateFolderAccessBindings => {
                    op.resource_id == self.folder.as_str()
                }
                K::CreateServiceAccount | K::DeleteServiceAccount => false,
            });
        }
        if resource != self.folder.as_str() {
            return Ok(false);
        }
        // Named like the folder: still not the folder's if it is an identity's id.
        let account = store
            .get_service_account(&ServiceAccountId::from_trusted(resource.to_owned()))
            .await?;
        let authorized_key = store
            .get_authorized_key(&AuthorizedKeyId::from_trusted(resource.to_owned()))
            .await?;
        Ok(account.is_none() && authorized_key.is_none())
    }

    /// `Some(in the folder)` if `id` is a key (deleted ones included), `None` if it is not.
    async fn key_in_folder(&self, id: &str) -> Result<Option<bool>, CoreError> {
        let key = self
            .kms
            .store
            .get_key(&KeyId::from_trusted(id.to_owned()))
            .await?;
        Ok(key.map(|k| &k.folder_id == self.folder))
    }
}
