"""The gateways' PostgreSQL tables (users, products, product images, carts, notification
preferences and verified addresses, the outbox), as migrations.

One database, one ledger: these migrations are recorded in the projections' own
``schema_migrations`` table, with versions from 100 up so that they can never collide with the
projections' (1, 2, ...), which ``streams.projections.schema.migrate`` applies and which leaves
versions it does not know alone. ``migrate`` here runs the projections' migrations first, inside
its own transaction: their advisory lock is then held until the gateways' migrations are applied
too, so gateways and workers starting together still apply each migration exactly once, and the
gateways can rely on the projections' tables (``stock_levels``, ``orders``) existing.

The same rules as the projections' migrations hold: append, never edit an applied one, and stay
compatible with the previous release's code. Versions need not be contiguous: ``migrate`` applies
every listed migration not yet recorded, in list order, so a number left free for a change
developed alongside (104 is) is applied whenever it arrives. A version is recorded by number
alone: two changes must never claim the same one.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from streams.projections.schema import Migration
from streams.projections.schema import migrate as migrate_projections

FIRST_VERSION: Final = 100

MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        100,
        "gateway users",
        """
        CREATE TABLE users (
            user_id       text PRIMARY KEY,
            -- Normalised (trimmed, lower case) by the gateway before it gets here.
            email         text NOT NULL UNIQUE,
            name          text NOT NULL,
            password_hash text NOT NULL,
            role          text NOT NULL CHECK (role IN ('customer', 'admin')),
            -- Bumped when the password changes: refresh tokens issued before it are refused.
            token_version integer NOT NULL DEFAULT 1,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(
        101,
        "gateway catalog: products and their images",
        """
        CREATE TABLE products (
            sku         text PRIMARY KEY,
            name        text NOT NULL,
            description text NOT NULL DEFAULT '',
            category    text NOT NULL,
            price_cents bigint NOT NULL CHECK (price_cents >= 0),
            currency    char(3) NOT NULL,
            -- Weighted so that a match in the name ranks above one in the description. The
            -- two-argument to_tsvector is immutable, which a generated column requires.
            search      tsvector GENERATED ALWAYS AS (
                            setweight(to_tsvector('english', name), 'A')
                            || setweight(to_tsvector('english', category), 'B')
                            || setweight(to_tsvector('english', description), 'C')
                        ) STORED,
            -- Products are withdrawn, not deleted: orders and stock keep referring to the SKU,
            -- and a SKU is never reused for something else.
            deleted_at  timestamptz,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX products_search ON products USING gin (search);
        CREATE INDEX products_by_category_price ON products (category, price_cents)
            WHERE deleted_at IS NULL;
        CREATE INDEX products_by_price ON products (price_cents) WHERE deleted_at IS NULL;

        CREATE TABLE product_images (
            image_id     text PRIMARY KEY,
            sku          text NOT NULL REFERENCES products (sku),
            object_key   text NOT NULL,
            url          text NOT NULL,
            content_type text NOT NULL,
            size_bytes   integer NOT NULL CHECK (size_bytes > 0),
            created_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX product_images_by_sku ON product_images (sku, created_at);
        """,
    ),
    Migration(
        102,
        "storefront carts",
        """
        -- One cart per user, a row per line: kept across reloads and sign-ins. Quantities are
        -- what the customer asked for, capped by the stock when written; checkout checks again.
        CREATE TABLE cart_lines (
            user_id    text NOT NULL REFERENCES users (user_id),
            sku        text NOT NULL REFERENCES products (sku),
            quantity   integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
            added_at   timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, sku)
        );
        """,
    ),
    Migration(
        103,
        "notification preferences",
        """
        CREATE TABLE notification_preferences (
            user_id      text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
            email_opt_in boolean NOT NULL,
            sms_opt_in   boolean NOT NULL,
            push_opt_in  boolean NOT NULL,
            -- E.164, checked by the gateway; the CHECK keeps a bypassing writer honest.
            phone        text CHECK (phone ~ '^\\+[1-9][0-9]{1,14}$'),
            -- Where notifications go when not to the account's e-mail.
            email        text,
            CHECK (NOT sms_opt_in OR phone IS NOT NULL),
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    Migration(
        105,
        "gateway outbox: events written with the change they describe",
        """
        CREATE TABLE outbox (
            -- Commit order of one key's events is seq order: their writers hold the row lock
            -- of what they change (the product) until they commit.
            seq        bigserial PRIMARY KEY,
            event_id   uuid NOT NULL UNIQUE,
            -- The deployed topic (with its prefix): each relay sends only its own topics' rows.
            topic      text NOT NULL,
            key        text NOT NULL,
            payload    bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at    timestamptz
        );
        CREATE INDEX outbox_unsent ON outbox (topic, seq) WHERE sent_at IS NULL;
        """,
    ),
    Migration(
        106,
        "idempotency keys of POST /orders, claimed with the catalog read",
        """
        -- What the first answer to a key is rebuilt from (see api/idempotency.py): the order's
        -- and its event's identity and the prices read then. No payment token, no response
        -- text: the identical request (same fingerprint) supplies the rest.
        CREATE TABLE idempotency_keys (
            owner       text NOT NULL,
            key         text NOT NULL,
            fingerprint text NOT NULL,
            order_id    text NOT NULL,
            event_id    uuid NOT NULL,
            occurred_at timestamptz NOT NULL,
            trace_id    text NOT NULL,
            skus        text[] NOT NULL,
            price_cents bigint[] NOT NULL
                        CHECK (cardinality(price_cents) = cardinality(skus)),
            currency    char(3) NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            expires_at  timestamptz NOT NULL,
            PRIMARY KEY (owner, key)
        );
        CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
        """,
    ),
    Migration(
        107,
        "verified notification addresses and the codes that verify them",
        """
        -- An address (an e-mail address, a phone number) a customer proved is theirs: a code
        -- sent there came back. E-mail and SMS go only to these. Nothing is copied in: the
        -- phone numbers and e-mail addresses chosen before this table (the accounts' own
        -- among them, never confirmed at registration) are unverified until a code confirms
        -- them. A row is removed when its address stops being the channel's.
        CREATE TABLE verified_addresses (
            user_id     text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
            channel     text NOT NULL CHECK (channel IN ('email', 'sms')),
            address     text NOT NULL,
            verified_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, channel, address)
        );

        -- The one code a channel waits for. Only its HMAC is kept (api/address_codes.py), bound
        -- to the user, the channel and the address: a leaked table gives no code away, and a
        -- code never confirms another address. Spent by its right use, by too many wrong
        -- ones, or replaced by the next code sent.
        CREATE TABLE verification_codes (
            user_id    text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
            channel    text NOT NULL CHECK (channel IN ('email', 'sms')),
            address    text NOT NULL,
            code_mac   bytea NOT NULL,
            attempts   integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            sent_at    timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            PRIMARY KEY (user_id, channel)
        );
        """,
    ),
)


async def migrate(pool: asyncpg.Pool) -> list[int]:
    """Apply the projections' and then the gateways' missing migrations; return the versions.

    Idempotent and safe from several processes at once (see the module docstring).
    """
    async with pool.acquire() as connection, connection.transaction():
        # The projections' migrate takes the shared advisory lock and creates the ledger; as a
        # nested transaction (a savepoint) here, its lock lasts until this transaction ends.
        applied = await migrate_projections(connection)
        rows = await connection.fetch(
            "SELECT version FROM schema_migrations WHERE version >= $1", FIRST_VERSION
        )
        done = {row["version"] for row in rows}
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied.append(migration.version)
        return applied
