"""Push notifications: anonymous devices, subscriptions, report links, fan-out and delivery."""
