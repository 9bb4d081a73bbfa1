"""Known-issue cases: the files, reproduction, the regression matrix, triage."""
