"""The vocabulary every layer shares: errors and exit codes, the clock, limits, the one sanitiser,
plain views. Imports nothing of helpdesk outside core."""
