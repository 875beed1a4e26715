"""A strict parser for the Prometheus text exposition format (0.0.4), the
same rules `promtool check metrics` applies to what tether exposes."""

import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (%s)(?: -?[0-9]+)?$" % (NAME, VALUE))
LABEL_PAIR = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % LABEL)
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(text):
    """{family: {"type", "help", "samples": {labels-tuple: value}}}; raises
    ValueError naming the line on anything promtool would reject."""
    families, order, current = {}, [], None
    if text and not text.endswith("\n"):
        raise ValueError("no final newline")
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                continue  # a plain comment
            kind, name = parts[1], parts[2]
            if not re.fullmatch(NAME, name):
                raise ValueError("line %d: bad metric name %r" % (n, name))
            fam = families.setdefault(name, {"type": None, "help": None, "samples": {}})
            if fam["samples"]:
                raise ValueError("line %d: %s for %s after its samples" % (n, kind, name))
            field = "help" if kind == "HELP" else "type"
            if fam[field] is not None:
                raise ValueError("line %d: second %s for %s" % (n, kind, name))
            value = parts[3] if len(parts) > 3 else ""
            if kind == "TYPE" and value not in TYPES:
                raise ValueError("line %d: unknown type %r" % (n, value))
            fam[field] = value
            if name not in order:
                order.append(name)
            current = name
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("line %d: not a sample: %r" % (n, line))
        name, labels, value = m.group(1), m.group(2), m.group(3)
        if name != current:
            raise ValueError("line %d: sample of %s outside its family block" % (n, name))
        pairs = []
        if labels:
            rest = labels
            while rest:
                lm = LABEL_PAIR.match(rest)
                if not lm:
                    raise ValueError("line %d: bad labels %r" % (n, labels))
                pairs.append((lm.group(1), lm.group(2)))
                rest = rest[lm.end():]
                if rest.startswith(","):
                    rest = rest[1:]
                elif rest:
                    raise ValueError("line %d: bad labels %r" % (n, labels))
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("line %d: repeated label" % n)
        fam = families[name]
        key = tuple(sorted(pairs))
        if key in fam["samples"]:
            raise ValueError("line %d: duplicate series %s%s" % (n, name, key))
        if fam["type"] == "counter" and not name.endswith("_total"):
            raise ValueError("line %d: counter %s does not end in _total" % (n, name))
        fam["samples"][key] = float(value)
    for name, fam in families.items():
        if fam["type"] is None or fam["help"] is None:
            raise ValueError("%s lacks TYPE or HELP" % name)
    return families
