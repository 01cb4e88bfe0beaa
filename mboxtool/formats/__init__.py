"""One module per mailbox format: readers yield MailMessage, writers add them durably."""
