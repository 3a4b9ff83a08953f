//! `connectionStatus`: who this connection is authenticated as, with their roles
//! and, with `showPrivileges`, what they may do.

use bson::{doc, Bson, Document};

use super::{user_store, Invocation};
use crate::error::Result;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let users = inv.connection.auth().users.clone();
    let mut roles = Vec::new();
    for user in &users {
        if let Some(doc) = user_store::user(inv.context, user)? {
            roles.extend(user_store::role_names(&doc));
        }
    }
    let mut auth_info = doc! {
        "authenticatedUsers": users.iter().map(|u| Bson::Document(doc! {"user": &u.user, "db": &u.db})).collect::<Vec<_>>(),
        "authenticatedUserRoles": roles.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>(),
    };
    if inv.body.get("showPrivileges").is_some_and(|v| crate::value::truthy(Some(v))) {
        let grants = user_store::grants_of(inv.context, &roles);
        let privileges: Vec<Bson> = grants.privileges.iter().map(|p| Bson::Document(p.to_document())).collect();
        auth_info.insert("authenticatedUserPrivileges", privileges);
    }
    Ok(doc! { "authInfo": auth_info })
}
