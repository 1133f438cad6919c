"""Callback requests: how the form reads replies, phone numbers, references, the store, notifications, the staff command line."""
