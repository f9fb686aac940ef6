"""Pure domain of notifications: lunar calendar, holidays, deadline calendars, schedules, ledger."""
