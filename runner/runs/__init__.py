"""Run folders: writing their files, the manifest, the summary and its metrics; reading them back,
and which parts of several runs can be compared."""
