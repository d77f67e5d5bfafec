"""Engine checkout: no pre-ping round trip, and a connection the server closed is replaced."""

from sqlalchemy import event, text

from civic_api.database import make_engine


def test_checkout_replaces_a_terminated_connection_without_a_ping(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    sent = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, sql, *a: sent.append(sql))
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        other = make_engine(database_url)
        with other.connect() as connection:
            # Waits (up to 10 s) until the backend has exited: its goodbye is on the socket.
            assert connection.scalar(
                text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": first}
            )
        other.dispose()
        sent.clear()
        with engine.connect() as connection:
            second = connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
        assert sent == ["SELECT pg_backend_pid()"]  # no SELECT 1 before it
        sent.clear()
        with engine.connect() as connection:  # a live pooled connection is kept
            assert connection.scalar(text("SELECT pg_backend_pid()")) == second
        assert sent == ["SELECT pg_backend_pid()"]
    finally:
        engine.dispose()
