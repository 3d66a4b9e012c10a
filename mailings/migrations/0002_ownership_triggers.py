"""A mailing's message and clients belong to the mailing's owner: enforced by the database.

Django has no composite foreign keys, so triggers do it, in each engine's dialect. Owners of
clients and messages never change (ownership transfer is not a feature), which keeps the
checks to the two places where rows get linked: the mailing row and its client links.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """
    CREATE TRIGGER mailings_mailing_owner_ins BEFORE INSERT ON mailings_mailing
    WHEN (SELECT owner_id FROM mailings_message WHERE id = NEW.message_id) IS NOT NEW.owner_id
    BEGIN SELECT RAISE(ABORT, 'mailing and its message belong to different owners'); END
    """,
    """
    CREATE TRIGGER mailings_mailing_owner_upd BEFORE UPDATE OF message_id, owner_id
    ON mailings_mailing
    WHEN (SELECT owner_id FROM mailings_message WHERE id = NEW.message_id) IS NOT NEW.owner_id
      OR EXISTS (SELECT 1 FROM mailings_mailing_clients AS link
                 JOIN mailings_client AS client ON client.id = link.client_id
                 WHERE link.mailing_id = NEW.id AND client.owner_id <> NEW.owner_id)
    BEGIN SELECT RAISE(ABORT, 'mailing and its message or clients belong to different owners');
    END
    """,
    """
    CREATE TRIGGER mailings_mailing_clients_owner BEFORE INSERT ON mailings_mailing_clients
    WHEN (SELECT owner_id FROM mailings_client WHERE id = NEW.client_id)
         IS NOT (SELECT owner_id FROM mailings_mailing WHERE id = NEW.mailing_id)
    BEGIN SELECT RAISE(ABORT, 'mailing and client belong to different owners'); END
    """,
    """
    CREATE TRIGGER mailings_mailing_clients_owner_upd BEFORE UPDATE ON mailings_mailing_clients
    WHEN (SELECT owner_id FROM mailings_client WHERE id = NEW.client_id)
         IS NOT (SELECT owner_id FROM mailings_mailing WHERE id = NEW.mailing_id)
    BEGIN SELECT RAISE(ABORT, 'mailing and client belong to different owners'); END
    """,
    """
    CREATE TRIGGER mailings_client_owner_fixed BEFORE UPDATE OF owner_id ON mailings_client
    WHEN NEW.owner_id IS NOT OLD.owner_id
    BEGIN SELECT RAISE(ABORT, 'a client cannot change owner'); END
    """,
    """
    CREATE TRIGGER mailings_message_owner_fixed BEFORE UPDATE OF owner_id ON mailings_message
    WHEN NEW.owner_id IS NOT OLD.owner_id
    BEGIN SELECT RAISE(ABORT, 'a message cannot change owner'); END
    """,
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "mailings_mailing_owner_ins",
        "mailings_mailing_owner_upd",
        "mailings_mailing_clients_owner",
        "mailings_mailing_clients_owner_upd",
        "mailings_client_owner_fixed",
        "mailings_message_owner_fixed",
    )
]

POSTGRES_FORWARD = [
    """
    CREATE FUNCTION mailings_check_mailing_owner() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT owner_id FROM mailings_message WHERE id = NEW.message_id)
           IS DISTINCT FROM NEW.owner_id THEN
            RAISE EXCEPTION 'mailing and its message belong to different owners'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'UPDATE' AND EXISTS (
            SELECT 1 FROM mailings_mailing_clients AS link
            JOIN mailings_client AS client ON client.id = link.client_id
            WHERE link.mailing_id = NEW.id AND client.owner_id <> NEW.owner_id
        ) THEN
            RAISE EXCEPTION 'mailing and its clients belong to different owners'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER mailings_mailing_owner BEFORE INSERT OR UPDATE OF message_id, owner_id
    ON mailings_mailing FOR EACH ROW EXECUTE FUNCTION mailings_check_mailing_owner()
    """,
    """
    CREATE FUNCTION mailings_check_link_owner() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT owner_id FROM mailings_client WHERE id = NEW.client_id)
           IS DISTINCT FROM (SELECT owner_id FROM mailings_mailing WHERE id = NEW.mailing_id)
        THEN
            RAISE EXCEPTION 'mailing and client belong to different owners'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER mailings_mailing_clients_owner BEFORE INSERT OR UPDATE
    ON mailings_mailing_clients FOR EACH ROW EXECUTE FUNCTION mailings_check_link_owner()
    """,
    """
    CREATE FUNCTION mailings_owner_is_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
            RAISE EXCEPTION '% rows cannot change owner', TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER mailings_client_owner_fixed BEFORE UPDATE OF owner_id ON mailings_client
    FOR EACH ROW EXECUTE FUNCTION mailings_owner_is_fixed()
    """,
    """
    CREATE TRIGGER mailings_message_owner_fixed BEFORE UPDATE OF owner_id ON mailings_message
    FOR EACH ROW EXECUTE FUNCTION mailings_owner_is_fixed()
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS mailings_mailing_owner ON mailings_mailing",
    "DROP TRIGGER IF EXISTS mailings_mailing_clients_owner ON mailings_mailing_clients",
    "DROP TRIGGER IF EXISTS mailings_client_owner_fixed ON mailings_client",
    "DROP TRIGGER IF EXISTS mailings_message_owner_fixed ON mailings_message",
    "DROP FUNCTION IF EXISTS mailings_check_mailing_owner()",
    "DROP FUNCTION IF EXISTS mailings_check_link_owner()",
    "DROP FUNCTION IF EXISTS mailings_owner_is_fixed()",
]

STATEMENTS = {
    "sqlite": (SQLITE_FORWARD, SQLITE_BACKWARD),
    "postgresql": (POSTGRES_FORWARD, POSTGRES_BACKWARD),
}


def run(direction):
    def apply(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in STATEMENTS:
            raise RuntimeError(f"No ownership triggers for the {vendor} database.")
        for statement in STATEMENTS[vendor][direction]:
            schema_editor.execute(statement, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("mailings", "0001_initial")]

    operations = [migrations.RunPython(run(0), run(1))]
