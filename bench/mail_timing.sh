#!/usr/bin/env bash
# Mail throughput on a release build, with the test harness's real servers on loopback (a
# private Dovecot and an aiosmtpd receiver; Debian dovecot-imapd and python3-aiosmtpd):
# 1,000 plain mails moved into the polled IMAP folder at once → items (SQLite), and 1,000
# queued notifications → the SMTP receiver. Prints two Markdown table rows.
set -euo pipefail
cd "$(dirname "$0")/.."
CI=1 cargo test --release --quiet --test it -- --ignored --exact mail::benchmark_mail_throughput --nocapture \
    | grep '^|'
