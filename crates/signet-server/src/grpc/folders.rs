//! `yandex.cloud.resourcemanager.v1.FolderService`: only the access-binding RPCs. Folders are not
//! managed objects in Signet (any folder id names one); the other RPCs answer UNIMPLEMENTED.

use super::bindings;
use crate::context::CallContext;
use signet_core::{CoreError, Kms};
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::operation::Operation;
use signet_proto::yandex::cloud::resourcemanager::v1 as rm;
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct FolderService {
    kms: Arc<Kms>,
}

impl FolderService {
    pub fn new(kms: Arc<Kms>) -> Self {
        FolderService { kms }
    }

    async fn unimplemented<T, R: crate::audit::Audited>(
        &self,
        request: &Request<R>,
        what: &'static str,
    ) -> Result<T, Status> {
        let ctx = CallContext::authenticate(&self.kms, request).await?;
        Err(ctx.fail(CoreError::Unimplemented(what)))
    }
}

#[tonic::async_trait]
impl rm::folder_service_server::FolderService for FolderService {
    async fn get(
        &self,
        request: Request<rm::GetFolderRequest>,
    ) -> Result<Response<rm::Folder>, Status> {
        self.unimplemented(&request, "FolderService.Get").await
    }

    async fn list(
        &self,
        request: Request<rm::ListFoldersRequest>,
    ) -> Result<Response<rm::ListFoldersResponse>, Status> {
        self.unimplemented(&request, "FolderService.List").await
    }

    async fn create(
        &self,
        request: Request<rm::CreateFolderRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.unimplemented(&request, "FolderService.Create").await
    }

    async fn update(
        &self,
        request: Request<rm::UpdateFolderRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.unimplemented(&request, "FolderService.Update").await
    }

    async fn delete(
        &self,
        request: Request<rm::DeleteFolderRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.unimplemented(&request, "FolderService.Delete").await
    }

    async fn list_operations(
        &self,
        request: Request<rm::ListFolderOperationsRequest>,
    ) -> Result<Response<rm::ListFolderOperationsResponse>, Status> {
        self.unimplemented(&request, "FolderService.ListOperations")
            .await
    }

    async fn list_access_bindings(
        &self,
        request: Request<access::ListAccessBindingsRequest>,
    ) -> Result<Response<access::ListAccessBindingsResponse>, Status> {
        bindings::list(&self.kms, request, bindings::folder_target).await
    }

    async fn set_access_bindings(
        &self,
        request: Request<access::SetAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        bindings::set(&self.kms, request, bindings::folder_target).await
    }

    async fn update_access_bindings(
        &self,
        request: Request<access::UpdateAccessBindingsRequest>,
    ) -> Result<Response<Operation>, Status> {
        bindings::update(&self.kms, request, bindings::folder_target).await
    }

    async fn list_access_policy_bindings(
        &self,
        request: Request<access::ListAccessPolicyBindingsRequest>,
    ) -> Result<Response<access::ListAccessPolicyBindingsResponse>, Status> {
        self.unimplemented(&request, "FolderService.ListAccessPolicyBindings")
            .await
    }

    async fn bind_access_policy(
        &self,
        request: Request<access::BindAccessPolicyRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.unimplemented(&request, "FolderService.BindAccessPolicy")
            .await
    }

    async fn unbind_access_policy(
        &self,
        request: Request<access::UnbindAccessPolicyRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.unimplemented(&request, "FolderService.UnbindAccessPolicy")
            .await
    }

    async fn update_access_policy_binding_parameters(
        &self,
        request: Request<access::UpdateAccessPolicyBindingParametersRequest>,
    ) -> Result<Response<Operation>, Status> {
        self.unimplemented(
            &request,
            "FolderService.UpdateAccessPolicyBindingParameters",
        )
        .await
    }
}
