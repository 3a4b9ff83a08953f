//! `connectionStatus`: who this connection is authenticated as (no one: branchdb
//! has no authentication yet).

use bson::{doc, Document};

use super::Invocation;
use crate::error::Result;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let mut auth_info = doc! { "authenticatedUsers": [], "authenticatedUserRoles": [] };
    if inv.body.get("showPrivileges").is_some_and(|v| crate::value::truthy(Some(v))) {
        auth_info.insert("authenticatedUserPrivileges", bson::Bson::Array(vec![]));
    }
    Ok(doc! { "authInfo": auth_info })
}
