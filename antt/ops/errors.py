"""Errors of backup and restore, in Vietnamese and English with reason codes."""

from __future__ import annotations

from antt.errors import FailedPreconditionError, InvalidArgumentError


class BackupError(FailedPreconditionError):
    """A backup could not be written."""

    reason = "BACKUP_FAILED"


class RestoreTargetNotEmptyError(FailedPreconditionError):
    """Restore only ever writes into a fresh installation."""

    reason = "RESTORE_TARGET_NOT_EMPTY"


class BackupInvalidError(InvalidArgumentError):
    """The directory is not a complete antt backup."""

    reason = "BACKUP_INVALID"
