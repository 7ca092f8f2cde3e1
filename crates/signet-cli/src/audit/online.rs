//! `signet audit tail|export` through the server: `signet.audit.v1.AuditTrailService`, with the
//! token and connection flags of the other client commands (`--endpoint`, `--token` /
//! `SIGNET_TOKEN` / `signet-data/admin-token`, `--ca`, `--insecure`). What the caller may read
//! is the server's decision: everything for the admin, a folder's records for `kms.auditor`
//! on `--folder-id`. Records print exactly as offline ([`super::print`]).

use super::{AuditCommand, BoxError, Format, print};
use crate::client::transport::{Auth, Authed, resolve_token};
use crate::client::{ClientError, GlobalArgs, connect};
use signet_core::audit::AuditRecord;
use signet_core::domain::Timestamp;
use signet_proto::convert;
use signet_proto::signet::audit::v1::audit_trail_service_client::AuditTrailServiceClient;
use signet_proto::signet::audit::v1::{GetAuditHeadRequest, ListAuditRecordsRequest};
use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

type Client = AuditTrailServiceClient<Authed>;

/// Records asked for per call (the server's maximum).
const PAGE_SIZE: i64 = 1000;
/// How often `tail --follow` asks for new records.
const POLL: Duration = Duration::from_secs(1);

pub(super) async fn run(
    global: &GlobalArgs,
    command: AuditCommand,
    since: Option<Timestamp>,
    out: &mut impl Write,
) -> Result<ExitCode, BoxError> {
    let auth = Auth::new(resolve_token(global)?.as_ref())?;
    let mut client = AuditTrailServiceClient::with_interceptor(connect(global).await?, auth);
    match command {
        AuditCommand::Tail {
            limit,
            format,
            folder_id,
            follow,
            ..
        } => {
            tail(
                &mut client,
                limit,
                format,
                folder_id.unwrap_or_default(),
                follow,
                out,
            )
            .await?;
        }
        AuditCommand::Export { folder_id, .. } => {
            let mut request = ListAuditRecordsRequest {
                folder_id: folder_id.unwrap_or_default(),
                since: since.map(convert::timestamp),
                page_size: PAGE_SIZE,
                ..ListAuditRecordsRequest::default()
            };
            loop {
                let page = next_page(&mut client, &mut request).await?;
                for r in &page.records {
                    print(r, Format::Json, out)?;
                }
                if page.at_end {
                    break;
                }
            }
        }
        AuditCommand::Verify { .. } => {
            return Err("`signet audit verify` runs offline only".into());
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The last `limit` records the caller may read, then (with `follow`) every new one.
async fn tail(
    client: &mut Client,
    limit: usize,
    format: Format,
    folder_id: String,
    follow: bool,
    out: &mut impl Write,
) -> Result<(), BoxError> {
    // The whole trail: start `limit` records before its head. A folder's records are spread
    // over the trail, so its last ones are found by reading it from the start.
    let after_seq = if folder_id.is_empty() {
        let head = client
            .get_head(GetAuditHeadRequest::default())
            .await
            .map_err(ClientError::from)?
            .into_inner();
        let back = i64::try_from(limit).unwrap_or(i64::MAX);
        head.seq.saturating_sub(back).max(0)
    } else {
        0
    };
    let mut request = ListAuditRecordsRequest {
        folder_id,
        after_seq,
        page_size: PAGE_SIZE,
        ..ListAuditRecordsRequest::default()
    };
    let mut last = VecDeque::with_capacity(limit.min(PAGE_SIZE as usize));
    loop {
        let page = next_page(client, &mut request).await?;
        for r in page.records {
            if last.len() == limit {
                last.pop_front();
            }
            if limit > 0 {
                last.push_back(r);
            }
        }
        if page.at_end {
            break;
        }
    }
    for r in &last {
        print(r, format, out)?;
    }
    out.flush()?;
    if !follow {
        return Ok(());
    }
    // Until interrupted (or the reader goes away: a broken pipe ends the command).
    loop {
        tokio::time::sleep(POLL).await;
        loop {
            let page = next_page(client, &mut request).await?;
            for r in &page.records {
                print(r, format, out)?;
            }
            out.flush()?;
            if page.at_end {
                break;
            }
        }
    }
}

struct Page {
    records: Vec<AuditRecord>,
    /// The scan reached the end of the trail (for now).
    at_end: bool,
}

/// Asks for the page `request` describes and moves `request` on to the next one: by its page
/// token, or, at the end of the trail, to after the last record scanned (so that asking again
/// later returns only newer records).
async fn next_page(
    client: &mut Client,
    request: &mut ListAuditRecordsRequest,
) -> Result<Page, BoxError> {
    let response = client
        .list_records(request.clone())
        .await
        .map_err(ClientError::from)?
        .into_inner();
    let records = response
        .records
        .iter()
        .map(convert::audit_record_from_wire)
        .collect::<Result<Vec<_>, _>>()?;
    let at_end = response.next_page_token.is_empty();
    if at_end {
        request.page_token.clear();
        request.after_seq = response.last_scanned_seq.max(request.after_seq);
    } else {
        request.page_token = response.next_page_token;
        request.after_seq = 0;
    }
    Ok(Page { records, at_end })
}
