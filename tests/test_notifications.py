"""The log push sender: the embedded default when no FCM credentials are configured."""

import logging

from notifications import LogSender, PushMessage, PushResult


def test_log_sender_reports_delivery_and_never_logs_tokens(caplog):
    caplog.set_level(logging.INFO, logger="notifications")
    messages = [
        PushMessage(
            key="report-1:acknowledged",
            title="Updated",
            body="b",
            token="device-tok-123",
            data={"type": "report_status", "report_id": "1"},
        ),
        PushMessage(key="announcement-7:sq", title="Njoftim", body="b", topic="prishtina-sq"),
    ]
    assert LogSender().send(messages) == [
        PushResult(key="report-1:acknowledged", delivered=True),
        PushResult(key="announcement-7:sq", delivered=True),
    ]
    assert "device-tok-123" not in caplog.text
    assert caplog.messages == [
        'push (log transport) report-1:acknowledged to a device: Updated {"report_id": "1", "type": "report_status"}',
        "push (log transport) announcement-7:sq to topic prishtina-sq: Njoftim {}",
    ]
