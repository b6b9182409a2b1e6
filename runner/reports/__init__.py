"""What people read, made from run folders alone (no model library is imported): the run report,
comparisons, leaderboards and blinded clinician review."""
