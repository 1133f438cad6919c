"""What the assistant learns from visitors: answer votes and redacted unanswered questions, for staff."""
