//! The arguments of the authentication, user and role commands (`sasl.rs`,
//! `users.rs`, `roles.rs`).

use super::{ignored, implemented, unsupported, Args};

/// saslStart: https://www.mongodb.com/docs/manual/reference/command/saslStart/
/// MongoDB: sasl_commands.idl `saslStart`.
pub static SASL_START: Args = Args::strict(&[
    implemented("mechanism"),
    implemented("payload"),
    implemented("options"),
    ignored("autoAuthorize", "MongoDB ignores it: authorization always follows authentication"),
]);

/// saslContinue: https://www.mongodb.com/docs/manual/reference/command/saslContinue/
pub static SASL_CONTINUE: Args = Args::strict(&[implemented("conversationId"), implemented("payload")]);

/// authenticate: MONGODB-X509 only, refused until TLS is served.
pub static AUTHENTICATE: Args = Args::strict(&[implemented("mechanism"), implemented("user")]);

/// logout: https://www.mongodb.com/docs/manual/reference/command/logout/
pub static LOGOUT: Args = Args::strict(&[]);

const USER_ARGS: &[super::Arg] = &[
    implemented("pwd"),
    implemented("roles"),
    implemented("customData"),
    implemented("mechanisms"),
    implemented("digestPassword"),
    ignored("writeConcern", "users are written with j: true on the only node"),
    unsupported("authenticationRestrictions", "authentication restrictions are not supported"),
    ignored("comment", "recorded nowhere, as with other commands"),
];

/// createUser: https://www.mongodb.com/docs/manual/reference/command/createUser/
pub static CREATE_USER: Args = Args::strict(USER_ARGS);

/// updateUser: https://www.mongodb.com/docs/manual/reference/command/updateUser/
pub static UPDATE_USER: Args = Args::strict(USER_ARGS);

const WRITE_CONCERN_ONLY: &[super::Arg] =
    &[ignored("writeConcern", "users and roles are written with j: true on the only node")];

/// dropUser, dropAllUsersFromDatabase, dropRole.
pub static DROP_USER: Args = Args::strict(WRITE_CONCERN_ONLY);

/// grantRolesToUser and revokeRolesFromUser.
pub static USER_ROLES: Args =
    Args::strict(&[implemented("roles"), ignored("writeConcern", "users are written with j: true on the only node")]);

/// usersInfo: https://www.mongodb.com/docs/manual/reference/command/usersInfo/
pub static USERS_INFO: Args = Args::strict(&[
    implemented("showCredentials"),
    implemented("showPrivileges"),
    unsupported("showAuthenticationRestrictions", "authentication restrictions are not supported"),
    unsupported("showCustomData", "usersInfo always shows customData"),
    unsupported("filter", "usersInfo's filter is not supported yet"),
]);

/// createRole and updateRole.
pub static CREATE_ROLE: Args = Args::strict(&[
    implemented("privileges"),
    implemented("roles"),
    ignored("writeConcern", "roles are written with j: true on the only node"),
    unsupported("authenticationRestrictions", "authentication restrictions are not supported"),
]);

/// grantPrivilegesToRole.
pub static GRANT_PRIVILEGES: Args = Args::strict(&[
    implemented("privileges"),
    ignored("writeConcern", "roles are written with j: true on the only node"),
]);

/// revokePrivilegesFromRole: https://www.mongodb.com/docs/v8.0/reference/command/revokePrivilegesFromRole/
pub static REVOKE_PRIVILEGES: Args = Args::strict(&[
    implemented("privileges"),
    ignored("writeConcern", "roles are written with j: true on the only node"),
]);

/// grantRolesToRole and revokeRolesFromRole:
/// https://www.mongodb.com/docs/v8.0/reference/command/grantRolesToRole/
pub static ROLE_ROLES: Args =
    Args::strict(&[implemented("roles"), ignored("writeConcern", "roles are written with j: true on the only node")]);

/// invalidateUserCache: https://www.mongodb.com/docs/v8.0/reference/command/invalidateUserCache/
pub static INVALIDATE_USER_CACHE: Args = Args::strict(&[]);

/// rolesInfo: https://www.mongodb.com/docs/manual/reference/command/rolesInfo/
pub static ROLES_INFO: Args = Args::strict(&[
    implemented("showPrivileges"),
    implemented("showBuiltinRoles"),
    unsupported("showAuthenticationRestrictions", "authentication restrictions are not supported"),
]);
