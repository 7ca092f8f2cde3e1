//! Waiting for long-running operations and unpacking their results.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use prost::{Message, Name};
use signet_proto::yandex::cloud::operation::{GetOperationRequest, Operation, operation};

use super::error::ClientError;
use super::output::type_name;
use super::transport::Clients;

const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(2);

/// Polls `OperationService.Get` until the operation is done, with a spinner on stderr when
/// `progress` is set (indicatif draws nothing when stderr is not a terminal).
pub async fn wait(
    clients: &mut Clients,
    mut op: Operation,
    progress: bool,
) -> Result<Operation, ClientError> {
    if op.done {
        return Ok(op);
    }
    let started = Instant::now();
    let bar = if progress {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(describe(&op));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut delay = FIRST_POLL;
    let result = loop {
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(MAX_POLL);
        let request = GetOperationRequest {
            operation_id: op.id.clone(),
        };
        match clients.operations.get(request).await {
            Ok(resp) => {
                op = resp.into_inner();
                if op.done {
                    break Ok(op);
                }
            }
            Err(status) => break Err(ClientError::Rpc(status)),
        }
    };
    bar.finish_and_clear();
    if let (Ok(done), false) = (&result, bar.is_hidden()) {
        eprintln!(
            "{} ...done ({:.1}s)",
            describe(done),
            started.elapsed().as_secs_f64()
        );
    }
    result
}

fn describe(op: &Operation) -> String {
    if op.description.is_empty() {
        format!("operation {}", op.id)
    } else {
        format!("{} (operation {})", op.description, op.id)
    }
}

/// The response of a finished operation as `T`, or the operation's error.
pub fn response<T: Message + Name + Default>(op: &Operation) -> Result<T, ClientError> {
    match &op.result {
        Some(operation::Result::Error(status)) => Err(ClientError::OperationFailed {
            operation_id: op.id.clone(),
            code: status.code,
            message: status.message.clone(),
        }),
        Some(operation::Result::Response(any)) => {
            if type_name(&any.type_url) != T::full_name() {
                return Err(ClientError::UnexpectedResponseType {
                    operation_id: op.id.clone(),
                    expected: T::full_name(),
                    got: any.type_url.clone(),
                });
            }
            T::decode(any.value.as_ref()).map_err(|source| ClientError::DecodeResponse {
                operation_id: op.id.clone(),
                source,
            })
        }
        None => Err(ClientError::EmptyOperationResult {
            operation_id: op.id.clone(),
        }),
    }
}

/// Whether a finished operation succeeded, whatever its response type (for operations whose
/// response is `google.protobuf.Empty` or is not shown).
pub fn succeeded(op: &Operation) -> Result<(), ClientError> {
    match &op.result {
        Some(operation::Result::Error(status)) => Err(ClientError::OperationFailed {
            operation_id: op.id.clone(),
            code: status.code,
            message: status.message.clone(),
        }),
        Some(operation::Result::Response(_)) => Ok(()),
        None => Err(ClientError::EmptyOperationResult {
            operation_id: op.id.clone(),
        }),
    }
}

/// Prints the operation (`--async`), or waits for it and checks that it succeeded, printing
/// nothing on stdout (as `yc` does for operations without a resource to show).
pub async fn finish_quietly(
    session: &mut super::Session<'_>,
    op: Operation,
    async_: bool,
) -> Result<(), ClientError> {
    if async_ {
        return session.printer.operation(&op);
    }
    let done = wait(&mut session.clients, op, session.progress).await?;
    succeeded(&done)
}
