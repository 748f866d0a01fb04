#!/bin/bash
# Every shell block of README.md and docs/*.md runs, and what each command
# prints agrees with what the document shows (tests/docs/run_docs.py: the
# conventions, in docs/tests.md for writers of docs).  One test per block;
# blocks shown but not run are listed with their reason.
#   tests/e2e/doc_commands.sh [DOC.md...]     these documents only
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/docs/run_docs.py "$@"
