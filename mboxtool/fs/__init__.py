"""Operating-system plumbing: durable writes, atomic delivery, locking, ownership, privilege
separation and opening what a mailbox's user controls without following it elsewhere."""
