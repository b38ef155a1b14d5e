"""compose_check.py - validates compose files against the Compose
Specification's JSON schema (schema/compose-spec.json of the pinned
compose-go module, fetched by deploy/lib/python.sh), after Compose's own
variable interpolation with an empty environment (so every ${VAR:-default}
takes its default), as `docker compose config` does; with --project, also
the project's rules for compose.yaml: the infrastructure from its official
images, a healthcheck on every long-running container (the services' on
/healthz), services waiting for the init job, ports on 127.0.0.1 only.

usage: compose_check.py --schema SCHEMA [--project] [--expect-error TEXT] FILE...
"""
import json
import os
import re

import jsonschema
import yaml

import checklib

INFRA_IMAGES = {"postgres": "postgres:", "redis": "redis:", "kafka": "apache/kafka:"}
SERVICES = ["ingest", "moderate", "search", "notify", "report"]
OPTIONAL = ["console"]  # required once services/<name> exists beside the compose file
VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}"
                 r"|([A-Za-z_][A-Za-z0-9_]*)|(\{))")


def interpolate_str(s, env, where, problems):
    def sub(m):
        esc, name, op, arg, bare, broken = m.groups()
        if esc:
            return "$"
        if broken:
            problems.append(f"{where}: invalid interpolation in {s!r}")
            return ""
        name = name or bare
        val = env.get(name)
        unset_or_empty = not val if op and op.startswith(":") else val is None
        if op in (":-", "-"):
            return interpolate_str(arg, env, where, problems) if unset_or_empty else val
        if op in (":?", "?"):
            if unset_or_empty:
                problems.append(f"{where}: required variable {name} is missing: {arg}")
            return val or ""
        if op in (":+", "+"):
            return "" if unset_or_empty else interpolate_str(arg, env, where, problems)
        return val or ""
    return VAR.sub(sub, s)


def interpolate(node, env, where, problems):
    if isinstance(node, dict):
        return {k: interpolate(v, env, f"{where}.{k}", problems) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env, f"{where}[{i}]", problems) for i, v in enumerate(node)]
    if isinstance(node, str):
        return interpolate_str(node, env, where, problems)
    return node


def schema_problems(doc, schema, path):
    v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    out = []
    for e in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        loc = ".".join(str(p) for p in e.absolute_path) or "(top)"
        out.append(f"{path}: schema: {loc}: {e.message}")
    return out


def healthcheck_problems(name, svc, path):
    hc = svc.get("healthcheck") or {}
    if svc.get("restart") == "no" and hc.get("disable") is True:
        return []  # a one-shot job: its exit status is its health
    if not hc.get("test") or hc.get("disable"):
        return [f"{path}: service {name}: no healthcheck"]
    if name in SERVICES + OPTIONAL and "/healthz" not in " ".join(hc["test"]):
        return [f"{path}: service {name}: healthcheck does not probe /healthz"]
    return []


def project_problems(doc, path):
    out = []
    services = doc.get("services") or {}
    root = os.path.dirname(os.path.abspath(path))
    present = [o for o in OPTIONAL if os.path.isdir(os.path.join(root, "services", o))]
    for want in list(INFRA_IMAGES) + SERVICES + present + ["init"]:
        if want not in services:
            out.append(f"{path}: service {want} missing")
    for name, prefix in INFRA_IMAGES.items():
        image = (services.get(name) or {}).get("image", "")
        if not image.startswith(prefix):
            out.append(f"{path}: service {name}: image {image!r} is not the official {prefix}*")
    for name, svc in services.items():
        out += healthcheck_problems(name, svc, path)
        for port in svc.get("ports") or []:
            if not str(port).startswith("127.0.0.1:"):
                out.append(f"{path}: service {name}: port {port!r} not bound to 127.0.0.1")
        build = svc.get("build") or {}
        if isinstance(build, dict) and build.get("dockerfile"):
            df = os.path.join(root, build.get("context", "."), build["dockerfile"])
            if not os.path.isfile(df):
                out.append(f"{path}: service {name}: no Dockerfile at {df}")
        if name in SERVICES + OPTIONAL:
            dep = (svc.get("depends_on") or {}).get("init") or {}
            if dep.get("condition") != "service_completed_successfully":
                out.append(f"{path}: service {name}: does not wait for init to complete")
    return out


def check(args):
    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    problems = []
    for path in args.paths:
        try:
            with open(path, encoding="utf-8") as f:
                raw = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            problems.append(f"{path}: cannot load: {e}")
            continue
        if not isinstance(raw, dict):
            problems.append(f"{path}: top level is not a mapping")
            continue
        doc = interpolate(raw, {}, "", problems)
        problems += schema_problems(doc, schema, path)
        if args.project:
            problems += project_problems(doc, path)
    return problems


def describe(ap):
    ap.add_argument("--schema", required=True, help="compose-spec.json")
    ap.add_argument("--project", action="store_true", help="also the project's rules")


if __name__ == "__main__":
    checklib.main("compose_check", check, describe)
