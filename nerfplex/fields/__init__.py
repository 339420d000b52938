"""Neural fields: functions of space (and view direction) only."""
