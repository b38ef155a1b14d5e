"""k8s_check.py - validates Kubernetes manifests against the Kubernetes API
schemas shipped by kubernetes-validate (PyPI; strict: unknown fields are
errors) for each version given, and the project's rules: every Deployment's
containers have a readiness probe on /readyz, a liveness probe on /healthz,
CPU and memory requests and limits, and run as non-root; each Deployment has
a Service, an autoscaling/v2 HorizontalPodAutoscaler and a
PodDisruptionBudget selecting it; Secret values are marked placeholders; a
kustomization.yaml lists exactly the manifests beside it.

usage: k8s_check.py --k8s-version V [--k8s-version V...] [--project]
                    [--expect-error TEXT] FILE_OR_DIR...
"""
import os

import kubernetes_validate
import yaml

import checklib

KUSTOMIZATION = "kustomization.yaml"


def load(paths, problems):
    """(file, document) pairs of every manifest; kustomization files apart."""
    docs, kusts = [], []
    for p in paths:
        files = sorted(os.path.join(p, f) for f in os.listdir(p)
                       if f.endswith(".yaml")) if os.path.isdir(p) else [p]
        for f in files:
            try:
                with open(f, encoding="utf-8") as fh:
                    items = [d for d in yaml.safe_load_all(fh) if d is not None]
            except (OSError, yaml.YAMLError) as e:
                problems.append(f"{f}: cannot load: {e}")
                continue
            if os.path.basename(f) == KUSTOMIZATION:
                kusts += [(f, d) for d in items]
            else:
                docs += [(f, d) for d in items]
    return docs, kusts


def schema_problems(docs, versions):
    out = []
    for f, d in docs:
        name = f"{d.get('kind')}/{(d.get('metadata') or {}).get('name')}"
        for v in versions:
            try:
                kubernetes_validate.validate(d, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                loc = ".".join(str(x) for x in e.path) or "(top)"
                out.append(f"{f}: {name}: k8s {v}: {loc}: {e.message}")
            except (kubernetes_validate.SchemaNotFoundError, KeyError) as e:
                out.append(f"{f}: {name}: k8s {v}: no schema: {e}")
    return out


def probe_path(c, probe):
    return (((c.get(probe) or {}).get("httpGet")) or {}).get("path")


def container_problems(where, c):
    out = []
    if probe_path(c, "readinessProbe") != "/readyz":
        out.append(f"{where}: no readinessProbe on /readyz")
    if probe_path(c, "livenessProbe") != "/healthz":
        out.append(f"{where}: no livenessProbe on /healthz")
    res = c.get("resources") or {}
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(kind) or {}):
                out.append(f"{where}: no {r} {kind}")
    return out


def selects(selector, labels):
    want = (selector or {}).get("matchLabels", selector) or {}
    return bool(want) and all(labels.get(k) == v for k, v in want.items())


def deployment_problems(f, d, by_kind):
    name = d["metadata"]["name"]
    spec = d.get("spec") or {}
    pod = (spec.get("template") or {})
    labels = (pod.get("metadata") or {}).get("labels") or {}
    podspec = pod.get("spec") or {}
    out = []
    for c in podspec.get("containers") or []:
        out += container_problems(f"{f}: Deployment/{name}: container {c.get('name')}", c)
    if not (podspec.get("securityContext") or {}).get("runAsNonRoot"):
        out.append(f"{f}: Deployment/{name}: pods not runAsNonRoot")
    if not any(selects((s.get("spec") or {}).get("selector"), labels)
               for s in by_kind.get("Service", [])):
        out.append(f"{f}: Deployment/{name}: no Service selects it")
    if not any(h.get("apiVersion") == "autoscaling/v2" and
               ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name
               for h in by_kind.get("HorizontalPodAutoscaler", [])):
        out.append(f"{f}: Deployment/{name}: no autoscaling/v2 HorizontalPodAutoscaler")
    if not any(selects((p.get("spec") or {}).get("selector"), labels)
               for p in by_kind.get("PodDisruptionBudget", [])):
        out.append(f"{f}: Deployment/{name}: no PodDisruptionBudget")
    return out


def project_problems(docs, kusts):
    by_kind = {}
    for _, d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    out = []
    for f, d in docs:
        if d.get("kind") == "Deployment":
            out += deployment_problems(f, d, by_kind)
        if d.get("kind") == "Secret":
            for k, v in (d.get("stringData") or {}).items():
                if "REPLACE-ME" not in str(v):
                    out.append(f"{f}: Secret key {k} is not a marked placeholder (REPLACE-ME)")
    for kind in ("ConfigMap", "Secret", "Job"):
        if kind not in by_kind:
            out.append(f"no {kind}")
    for f, k in kusts:
        here = os.path.dirname(f)
        listed = set(k.get("resources") or [])
        present = {x for x in os.listdir(here) if x.endswith(".yaml") and x != KUSTOMIZATION}
        for missing in sorted(present - listed):
            out.append(f"{f}: {missing} is not in resources")
        for extra in sorted(listed - present):
            out.append(f"{f}: resource {extra} does not exist")
    return out


def check(args):
    problems = []
    docs, kusts = load(args.paths, problems)
    if not docs:
        problems.append("no manifest found")
    problems += schema_problems(docs, args.k8s_version)
    if args.project:
        problems += project_problems(docs, kusts)
    return problems


def describe(ap):
    ap.add_argument("--k8s-version", action="append", required=True)
    ap.add_argument("--project", action="store_true", help="also the project's rules")


if __name__ == "__main__":
    checklib.main("k8s_check", check, describe)
