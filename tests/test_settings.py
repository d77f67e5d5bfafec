"""Settings from the environment."""

from civic_api.settings import from_environment


def test_numbers_and_booleans_parse_but_secrets_stay_text():
    found = from_environment(
        {
            "CIVIC_SECRET_KEY": "123456789",
            "CIVIC_REPORT_MAX_AGE_DAYS": "180",
            "DATABASE_URL": "postgresql://u:p@h/db",
            "UNRELATED": "x",
        }
    )
    assert found == {
        "SECRET_KEY": "123456789",
        "REPORT_MAX_AGE_DAYS": 180,
        "DATABASE_URL": "postgresql://u:p@h/db",
    }
