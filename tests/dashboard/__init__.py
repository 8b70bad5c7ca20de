DAY = "2025-11-10"  # the shipped day the dashboard tests replay
