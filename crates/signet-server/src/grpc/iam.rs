//! `yandex.cloud.iam.v1`: IAM tokens (exchange of a service account's signed JWT), service
//! accounts and their authorized keys. The two last are administration (admin only).

use super::wire_operation;
use crate::audit::AuditNote;
use crate::context::{CallContext, request_id_of};
use signet_core::domain::{
    AuthorizedKeyAlgorithm, AuthorizedKeyId, FolderId, Invalid, Labels, ServiceAccountId,
    Violations,
};
use signet_core::{CoreError, CreateServiceAccount, Kms, paging};
use signet_proto::convert;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::iam::v1 as iam;
use signet_proto::yandex::cloud::iam::v1::create_iam_token_request::Identity;
use signet_proto::yandex::cloud::operation::Operation;
use std::sync::Arc;
use tonic::{Request, Response, Status};

const MAX_JWT: usize = 8000;
const MAX_OAUTH: usize = 4000;

#[derive(Debug, Clone)]
pub struct IamTokenService {
    kms: Arc<Kms>,
}

impl IamTokenService {
    pub fn new(kms: Arc<Kms>) -> Self {
        IamTokenService { kms }
    }
}

fn issued(t: signet_core::IssuedToken) -> iam::CreateIamTokenResponse {
    iam::CreateIamTokenResponse {
        iam_token: t.token.expose().to_owned(),
        expires_at: Some(convert::timestamp(t.expires_at)),
    }
}

#[tonic::async_trait]
impl iam::iam_token_service_server::IamTokenService for IamTokenService {
    /// No authorization: the JWT is the credential.
    async fn create(
        &self,
        request: Request<iam::CreateIamTokenRequest>,
    ) -> Result<Response<iam::CreateIamTokenResponse>, Status> {
        let rid = request_id_of(&request);
        let fail = |e: CoreError| crate::error::to_status(&e, &rid);
        let audit = AuditNote::of(&request);
        let token = match &request.get_ref().identity {
            Some(Identity::Jwt(jwt)) if jwt.chars().count() > MAX_JWT => {
                return Err(fail(
                    Invalid::one("jwt", "must be at most 8000 characters").into(),
                ));
            }
            Some(Identity::Jwt(jwt)) => self.kms.exchange_jwt(jwt).await.map_err(fail)?,
            Some(Identity::YandexPassportOauthToken(t)) if t.chars().count() > MAX_OAUTH => {
                return Err(fail(
                    Invalid::one(
                        "yandex_passport_oauth_token",
                        "must be at most 4000 characters",
                    )
                    .into(),
                ));
            }
            Some(Identity::YandexPassportOauthToken(_)) => {
                return Err(fail(CoreError::Unauthenticated(
                    "Signet does not accept Yandex Passport OAuth tokens; sign a JWT with a \
                     service account's authorized key instead",
                )));
            }
            None => {
                return Err(fail(
                    Invalid::one(
                        "jwt",
                        "exactly one of jwt or yandex_passport_oauth_token is required",
                    )
                    .into(),
                ));
            }
        };
        // The JWT authenticated the service account: it is the subject.
        audit.subject(token.service_account_id.as_str());
        audit.resource(&token.service_account_id);
        Ok(Response::new(issued(token)))
    }

    async fn create_for_service_account(
        &self,
        request: Request<iam::CreateIamTokenForServiceAccountRequest>,
    ) -> Result<Response<iam::CreateIamTokenResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id =
            ServiceAccountId::parse("service_account_id", &request.get_ref().service_account_id)
                .map_err(|e| ctx.fail(e))?;
        let token = self
            .kms
            .create_token_for_service_account(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(issued(token)))
    }

    /// No authorization: holding the token is the right to revoke it.
    async fn revoke(
        &self,
        request: Request<iam::RevokeIamTokenRequest>,
    ) -> Result<Response<iam::RevokeIamTokenResponse>, Status> {
        let rid = request_id_of(&request);
        let fail = |e: CoreError| crate::error::to_status(&e, &rid);
        let token = &request.get_ref().iam_token;
        if token.is_empty() {
            return Err(fail(Invalid::one("iam_token", "is required").into()));
        }
        if token.chars().count() > 4096 {
            return Err(fail(
                Invalid::one("iam_token", "must be at most 4096 characters").into(),
            ));
        }
        let subject = self.kms.revoke_token(token).await.map_err(fail)?;
        AuditNote::of(&request).resource(&subject);
        Ok(Response::new(iam::RevokeIamTokenResponse {
            subject_id: subject.to_string(),
        }))
    }
}

#[derive(Debug, Clone)]
pub struct ServiceAccountService {
    kms: Arc<Kms>,
}

impl ServiceAccountService {
    pub fn new(kms: Arc<Kms>) -> Self {
        ServiceAccountService { kms }
    }
}

/// Service account names, as Yandex IAM accepts them: 3–63 characters, `[a-z][-a-z0-9]*[a-z0-9]`.
fn account_name(value: &str) -> Result<String, Invalid> {
    let ok = (3..=63).contains(&value.len())
        && value.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && value
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Invalid::one(
            "name",
            "must be 3-63 characters: lowercase letters, digits and '-', starting with a letter",
        ))
    }
}

fn unimplemented<T>(ctx: &CallContext, what: &'static str) -> Result<T, Status> {
    Err(ctx.fail(CoreError::Unimplemented(what)))
}

#[tonic::async_trait]
impl iam::service_account_service_server::ServiceAccountService for ServiceAccountService {
    async fn get(
        &self,
        request: Request<iam::GetServiceAccountRequest>,
    ) -> Result<Response<iam::ServiceAccount>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id =
            ServiceAccountId::parse("service_account_id", &request.get_ref().service_account_id)
                .map_err(|e| ctx.fail(e))?;
        let account = self
            .kms
            .get_service_account(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(convert::service_account(&account)))
    }

    async fn list(
        &self,
        request: Request<iam::ListServiceAccountsRequest>,
    ) -> Result<Response<iam::ListServiceAccountsResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let folder = v.take(FolderId::parse("folder_id", &req.folder_id));
        let size = v.take(paging::page_size("page_size", req.page_size));
        let (folder, size) = v
            .finish(|| Some((folder?, size?)))
            .map_err(|e| ctx.fail(e))?;
        let page = self
            .kms
            .list_service_accounts(&ctx.principal, &folder, size, &req.page_token)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(iam::ListServiceAccountsResponse {
            service_accounts: page.items.iter().map(convert::service_account).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn create(
        &self,
        request: Request<iam::CreateServiceAccountRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let folder_id = v.take(FolderId::parse("folder_id", &req.folder_id));
        let name = v.take(account_name(&req.name));
        let description = v.take(signet_core::domain::key::check_text(
            "description",
            &req.description,
            256,
        ));
        let labels = v.take(Labels::parse("labels", &req.labels));
        let cmd = v
            .finish(|| {
                Some(CreateServiceAccount {
                    folder_id: folder_id?,
                    name: name?,
                    description: description?,
                    labels: labels?,
                })
            })
            .map_err(|e| ctx.fail(e))?;
        let op = self
            .kms
            .create_service_account(&ctx.principal, cmd)
            .await
            .map_err(|e| ctx.fail(e))?;
        ctx.audit().resource(&op.resource_id);
        Ok(Response::new(wire_operation(&op)))
    }

    async fn update(
        &self,
        request: Request<iam::UpdateServiceAccountRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "ServiceAccountService.Update")
    }

    async fn delete(
        &self,
        request: Request<iam::DeleteServiceAccountRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id =
            ServiceAccountId::parse("service_account_id", &request.get_ref().service_account_id)
                .map_err(|e| ctx.fail(e))?;
        let op = self
            .kms
            .delete_service_account(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(wire_operation(&op)))
    }

    async fn list_access_bindings(
        &self,
        request: Request<access::ListAccessBindingsRequest>,
    ) -> Result<Response<access::ListAccessBindingsResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "ServiceAccountService.ListAccessBindings")
    }

    async fn set_access_bindings(
        &self,
        request: Request<access::SetAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "ServiceAccountService.SetAccessBindings")
    }

    async fn update_access_bindings(
        &self,
        request: Request<access::UpdateAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "ServiceAccountService.UpdateAccessBindings")
    }

    async fn list_operations(
        &self,
        request: Request<iam::ListServiceAccountOperationsRequest>,
    ) -> Result<Response<iam::ListServiceAccountOperationsResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "ServiceAccountService.ListOperations")
    }

    async fn suspend(
        &self,
        request: Request<iam::SuspendServiceAccountRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "ServiceAccountService.Suspend")
    }

    async fn reactivate(
        &self,
        request: Request<iam::ReactivateServiceAccountRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "ServiceAccountService.Reactivate")
    }
}

#[derive(Debug, Clone)]
pub struct KeyService {
    kms: Arc<Kms>,
}

impl KeyService {
    pub fn new(kms: Arc<Kms>) -> Self {
        KeyService { kms }
    }
}

#[tonic::async_trait]
impl iam::key_service_server::KeyService for KeyService {
    async fn get(
        &self,
        request: Request<iam::GetKeyRequest>,
    ) -> Result<Response<iam::Key>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id =
            AuthorizedKeyId::parse("key_id", &request.get_ref().key_id).map_err(|e| ctx.fail(e))?;
        let key = self
            .kms
            .get_authorized_key(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(convert::authorized_key(&key)))
    }

    async fn list(
        &self,
        request: Request<iam::ListKeysRequest>,
    ) -> Result<Response<iam::ListKeysResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let account = v.take(ServiceAccountId::parse(
            "service_account_id",
            &req.service_account_id,
        ));
        let size = v.take(paging::page_size("page_size", req.page_size));
        let (account, size) = v
            .finish(|| Some((account?, size?)))
            .map_err(|e| ctx.fail(e))?;
        let page = self
            .kms
            .list_authorized_keys(&ctx.principal, &account, size, &req.page_token)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(iam::ListKeysResponse {
            keys: page.items.iter().map(convert::authorized_key).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    /// Returns the private key once, in the response; Signet keeps only the public key.
    async fn create(
        &self,
        request: Request<iam::CreateKeyRequest>,
    ) -> Result<Response<iam::CreateKeyResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let account = v.take(ServiceAccountId::parse(
            "service_account_id",
            &req.service_account_id,
        ));
        let description = v.take(signet_core::domain::key::check_text(
            "description",
            &req.description,
            256,
        ));
        let algorithm = match req.key_algorithm {
            0 => Some(AuthorizedKeyAlgorithm::Rsa2048),
            n => match AuthorizedKeyAlgorithm::from_wire_number(n) {
                Some(a) => Some(a),
                None => {
                    v.add("key_algorithm", "must be RSA_2048 or RSA_4096");
                    None
                }
            },
        };
        let (account, description, algorithm) = v
            .finish(|| Some((account?, description?, algorithm?)))
            .map_err(|e| ctx.fail(e))?;
        let created = self
            .kms
            .create_authorized_key(&ctx.principal, &account, description, algorithm)
            .await
            .map_err(|e| ctx.fail(e))?;
        ctx.audit().resource(&created.key.id);
        let private_key = String::from_utf8(created.private_key_pem.expose().to_vec())
            .map_err(|e| ctx.fail(CoreError::internal_from(e)))?;
        Ok(Response::new(iam::CreateKeyResponse {
            key: Some(convert::authorized_key(&created.key)),
            private_key,
        }))
    }

    async fn update(
        &self,
        request: Request<iam::UpdateKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "KeyService.Update")
    }

    /// Deletion is immediate; the returned operation is already done and is not kept.
    async fn delete(
        &self,
        request: Request<iam::DeleteKeyRequest>,
    ) -> Result<Response<Operation>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        let id =
            AuthorizedKeyId::parse("key_id", &request.get_ref().key_id).map_err(|e| ctx.fail(e))?;
        self.kms
            .delete_authorized_key(&ctx.principal, &id)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(Response::new(Operation {
            id: signet_core::domain::OperationId::generate()
                .map_err(|e| ctx.fail(CoreError::from(e)))?
                .to_string(),
            description: "Delete authorized key".into(),
            created_by: ctx.principal.subject_id().to_owned(),
            done: true,
            metadata: Some(convert::pack(&iam::DeleteKeyMetadata {
                key_id: id.to_string(),
            })),
            result: Some(
                signet_proto::yandex::cloud::operation::operation::Result::Response(
                    signet_proto::pbjson_types::Any {
                        type_url: "type.googleapis.com/google.protobuf.Empty".into(),
                        value: Vec::new().into(),
                    },
                ),
            ),
            ..Default::default()
        }))
    }

    async fn list_operations(
        &self,
        request: Request<iam::ListKeyOperationsRequest>,
    ) -> Result<Response<iam::ListKeyOperationsResponse>, Status> {
        let ctx = CallContext::authenticate(&self.kms, &request).await?;
        unimplemented(&ctx, "KeyService.ListOperations")
    }
}
