#!/usr/bin/env python3
"""Turns the statement log of one captured ApplyChanges (bench/pgbench/apply.log) into
a pgbench script: the statements between the transaction's BEGIN and COMMIT, with the
bound parameters written in, and the account, its lot, its photos, the edit just
inserted and the idempotency key turned into pgbench variables so 1,000 accounts can be spread over 32 clients.

Usage: from_log.py apply.log > apply.sql   (the captured account must be number 1,
owning lot 1 and photos 1 to 10; bench/capture-apply.sh sets the database up so).
"""
import re
import sys

LINE = re.compile(r"\[(\d+)\] \S+ (LOG|DETAIL):  (.*)")
PARAM = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


def statements(lines):
    """(backend, sql, {n: literal}) in log order."""
    out = []
    for line in lines:
        m = LINE.search(line)
        if not m:
            continue
        backend, kind, text = m.groups()
        if kind == "LOG":
            sql = re.sub(r"^(statement|execute \S+): ", "", text)
            out.append([backend, sql, {}])
        elif text.startswith("parameters: ") and out:
            out[-1][2] = {int(n): v for n, v in PARAM.findall(text)}
    return out


def columns_of(sql):
    """Which column each $n is bound to, where the statement says so."""
    bound = {}
    insert = re.match(r'INSERT INTO "\w+" \(([^)]*)\) VALUES \(([^)]*)\)', sql)
    if insert:
        cols = [c.strip().strip('"') for c in insert.group(1).split(",")]
        for col, value in zip(cols, insert.group(2).split(",")):
            bound[int(value.strip()[1:])] = col
    for table, col, n in re.findall(r'(?:"(\w+)"\.)?"(\w+)" = \$(\d+)', sql):
        bound[int(n)] = f"{table}.{col}" if table else col
    for table, col, values in re.findall(r'"(\w+)"\."(\w+)" IN \(([^)]*)\)', sql):
        for value in values.split(","):
            bound[int(value.strip()[1:])] = f"{table}.{col}"
    return bound


def variable(column, literal):
    value = literal.strip("'")
    if column in ("account_id", "accounts.id", "photos.account_id", "lots.account_id",
                  "render_jobs.account_id", "idempotency_records.account_id", "lot_id", "lots.id"):
        return ":account"
    if column in ("photo_id", "photos.id") and value.isdigit():
        return f"(:account * 10 - 10 + {value})"
    # The edit this transaction just inserted: its render job, the photo that shows it.
    if column in ("edit_id", "current_edit_id") and value.isdigit():
        return "currval('edits_id_seq')"
    if column in ("key", "idempotency_records.key"):
        return "'bench-' || :client_id || '-' || :key"
    return literal


def main():
    log = statements(open(sys.argv[1]))
    begin = next(i for i, s in enumerate(log) if s[1] == "BEGIN")
    backend = log[begin][0]
    print("\\set account random(1, 1000)")
    print("\\set key random(1, 1000000000000)")
    for b, sql, params in log[begin:]:
        if b != backend:
            continue
        bound = columns_of(sql)
        for n in sorted(params, reverse=True):
            sql = sql.replace(f"${n}", variable(bound.get(n, ""), params[n]))
        # The balance announcement names the accounts in its payload (a literal list).
        if sql.startswith("SELECT pg_notify("):
            sql = re.sub(r"string_to_array\('\d+', ", "string_to_array(:account::text, ", sql)
        print(sql + ";")
        if sql == "COMMIT":
            break


main()
