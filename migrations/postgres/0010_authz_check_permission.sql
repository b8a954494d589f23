-- The root permission authz:check (the decision API, issue 12). Root permissions are stored
-- as a comma-separated list of names, so a root user of an existing database does not hold a
-- permission added to the catalogue after it was made; and a root caller may grant only root
-- permissions it holds. Without this, no one could ever be given authz:check. Every root user
-- holding users:write (a platform administrator, who can make any user and token already)
-- gets it; other root users keep exactly what they had. Tokens need no change: a platform
-- token whose allow policy names every earlier permission implies authz:check (token.rs).
UPDATE users
SET root_permissions = root_permissions || ',authz:check',
    version = version + 1,
    updated_at = now()
WHERE (',' || root_permissions || ',') LIKE '%,users:write,%'
  AND (',' || root_permissions || ',') NOT LIKE '%,authz:check,%';
