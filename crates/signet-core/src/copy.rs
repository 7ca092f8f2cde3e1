//! Copying a deployment from one store to another (`signet admin copy-store`): from the embedded
//! SQLite store to a PostgreSQL cluster, typically. Every row moves as it is stored, through
//! [`Store::export_rows`] and [`Store::import_rows`]: keys keep their sealed material (nothing is
//! unsealed, so the copy needs no root key and the target needs the same one), the audit chain
//! keeps its numbers, hashes and signed checkpoints (so `signet audit verify` passes on the
//! target), and the deployment facts (root key check value, admin token hash, checkpoint key)
//! come along, so the target opens with the same root key and admin token.
//!
//! The target must be empty. The deployment facts are copied last, in one transaction: a copy
//! cut short leaves a target that was never initialized, which `bootstrap` refuses to adopt and
//! a new copy refuses to overwrite (drop it and copy again). The source must not be in use
//! while it is copied (stop its server): the copy compares row counts and audit chain heads at
//! the end and fails if the source changed meanwhile.

use crate::audit::AuditHead;
use crate::bootstrap::META_ROOT_KEY_CHECK;
use crate::store::{Rows, Store, StoreError, Table};

/// Rows per page (one export query and one import transaction).
pub const PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the source store holds no Signet deployment (it was never initialized)")]
    SourceNotInitialized,
    #[error(
        "the target store is not empty (it holds {rows} rows of {}); copy only into a new, empty \
         database or schema",
        .table.name()
    )]
    TargetNotEmpty { table: Table, rows: u64 },
    #[error(
        "after the copy the target holds {target} rows of {} where the source holds {original}: \
         was the source in use during the copy? Stop its server, drop the target and copy again",
        .table.name()
    )]
    CountMismatch {
        table: Table,
        original: u64,
        target: u64,
    },
    #[error(
        "after the copy the audit chain ends at record {target} in the target but at {original} in \
         the source: was the source in use during the copy?"
    )]
    HeadMismatch { original: i64, target: i64 },
    #[error("store error during the copy")]
    Store(#[from] StoreError),
}

/// What a copy moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Rows per table, in copy order.
    pub tables: Vec<(Table, u64)>,
    /// The audit chain head, the same in both stores.
    pub audit_head: AuditHead,
}

/// Rows per table, in copy order (for sizing a progress bar).
pub async fn count_rows(store: &dyn Store) -> Result<Vec<(Table, u64)>, StoreError> {
    let mut counts = Vec::with_capacity(Table::COPY_ORDER.len());
    for table in Table::COPY_ORDER {
        counts.push((table, store.count_rows(table).await?));
    }
    Ok(counts)
}

/// Copies every row of `from` into the empty store `to`, calling `progress(table, rows)` after
/// each page. Checks before that the source is a deployment and the target empty, and after
/// that both hold the same number of rows in every table and end their audit chain at the same
/// record.
pub async fn copy_store<F>(
    from: &dyn Store,
    to: &dyn Store,
    mut progress: F,
) -> Result<CopyReport, CopyError>
where
    F: FnMut(Table, usize) + Send,
{
    if from.get_meta(META_ROOT_KEY_CHECK).await?.is_none() {
        return Err(CopyError::SourceNotInitialized);
    }
    for (table, rows) in count_rows(to).await? {
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty { table, rows });
        }
    }
    for table in Table::COPY_ORDER {
        if table == Table::Meta {
            // One transaction for all of them, the very last write (see the module docs).
            let meta = export_all(from, table, PAGE).await?;
            to.import_rows(&meta).await?;
            progress(table, meta.len());
            continue;
        }
        let mut after = None;
        loop {
            let page = from.export_rows(table, after.as_ref(), PAGE).await?;
            if page.is_empty() {
                break;
            }
            to.import_rows(&page).await?;
            progress(table, page.len());
            if page.len() < PAGE {
                break;
            }
            after = page.last_key();
        }
    }

    let source = count_rows(from).await?;
    let target = count_rows(to).await?;
    for ((table, source), (_, target)) in source.iter().zip(&target) {
        if source != target {
            return Err(CopyError::CountMismatch {
                table: *table,
                original: *source,
                target: *target,
            });
        }
    }
    let (source_head, target_head) = (from.audit_head().await?, to.audit_head().await?);
    if source_head != target_head {
        return Err(CopyError::HeadMismatch {
            original: source_head.seq,
            target: target_head.seq,
        });
    }
    Ok(CopyReport {
        tables: source,
        audit_head: source_head,
    })
}

/// Every row of `table`, in primary key order, in pages of `page` rows.
pub async fn export_all(store: &dyn Store, table: Table, page: usize) -> Result<Rows, StoreError> {
    let mut all = Rows::empty(table);
    let mut after = None;
    loop {
        let rows = store.export_rows(table, after.as_ref(), page).await?;
        let full = rows.len() >= page;
        after = rows.last_key();
        if !all.extend(rows) {
            return Err(StoreError::Corrupt(format!(
                "the store answered an export of {} with rows of another table",
                table.name()
            )));
        }
        if !full || after.is_none() {
            return Ok(all);
        }
    }
}
