"""Graders measured against labelled replies: the check set, and each grader's sensitivity and
specificity on it, so a hospital can see how far to trust a safety verdict before acting on it."""
