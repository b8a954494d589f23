//! Migration 0010 on a database made before it (the same statement runs on PostgreSQL):
//! root users holding `users:write` gain the root permission `authz:check`, others keep
//! what they had.

use std::borrow::Cow;

use accountd_domain::{
    EmailAddress, IdentityRepository, Permission, PermissionSet, UnitOfWork, User, UserId, UserStatus, Version,
};
use accountd_sqlite::SqliteStore;

fn user(email: &str, root: PermissionSet) -> User {
    let now = chrono::Utc::now();
    User {
        id: UserId::from_uuid(uuid::Uuid::now_v7()),
        email: EmailAddress::parse(email).expect("email"),
        first_name: None,
        last_name: None,
        status: UserStatus::Active,
        root_permissions: root,
        version: Version::INITIAL,
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn migration_0010_gives_authz_check_to_the_platform_administrators_of_an_existing_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::connect(&dir.path().join("old.db").to_string_lossy()).await.expect("open sqlite");
    // The database as it was before 0010.
    let mut before = sqlx::migrate!("../../migrations/sqlite");
    before.migrations = Cow::Owned(before.migrations.iter().filter(|m| m.version < 10).cloned().collect());
    before.run(store.pool()).await.expect("migrate to 0009");
    let everything_then = PermissionSet::all().difference(PermissionSet::of(&[Permission::AuthzCheck]));
    let admin = user("admin@example.com", everything_then);
    let reader = user("reader@example.com", PermissionSet::of(&[Permission::UsersRead]));
    let tenant = user("tenant@example.com", PermissionSet::EMPTY);
    let mut tx = store.begin().await.expect("begin");
    for u in [&admin, &reader, &tenant] {
        tx.insert_user(u).await.expect("insert");
    }
    tx.commit().await.expect("commit");

    store.migrate().await.expect("migrate to the latest");
    let now = |u: &User| {
        let store = &store;
        let id = u.id;
        async move { store.get_user(id).await.expect("read").expect("user") }
    };
    let admin_now = now(&admin).await;
    assert_eq!(admin_now.root_permissions, PermissionSet::all(), "a platform administrator gains authz:check");
    assert_eq!(admin_now.version.get(), 2, "the change bumps the version (ETag)");
    assert!(
        admin_now.updated_at > admin.updated_at,
        "and its time: {} after {}",
        admin_now.updated_at,
        admin.updated_at
    );
    assert_eq!(now(&reader).await.root_permissions, reader.root_permissions, "no users:write, no authz:check");
    assert_eq!(now(&tenant).await.root_permissions, PermissionSet::EMPTY);
    store.migrate().await.expect("migrating again changes nothing");
    assert_eq!(now(&admin).await.version.get(), 2);
}
